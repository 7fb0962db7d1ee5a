// End-to-end tests of the web UI in a real browser (Debian's chromium, driven by
// playwright-core) against a real `headwater standalone`. Every view is screenshotted to
// ui/e2e/screenshots/. `--bench` only measures how fast a 1,000-task run opens;
// `--deployments` only checks the deployments pages (with the models they need);
// `--teams` only checks namespaces and roles (switcher, disabled buttons, members, secrets).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const BIN = join(ROOT, ".venv/bin/headwater");
const SHOTS = join(HERE, "screenshots");
const BENCH = process.argv.includes("--bench");
const DEPLOYMENTS_ONLY = process.argv.includes("--deployments");
const TEAMS_ONLY = process.argv.includes("--teams");
const BROWSER = process.env.HEADWATER_CHROMIUM ?? "/usr/bin/chromium";

function fail(message) {
  throw new Error(message);
}

async function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function headwater(env, ...args) {
  return execFileSync(BIN, args, { env, cwd: ROOT, encoding: "utf8" });
}

async function waitFor(check, what, timeout = 60000) {
  const end = Date.now() + timeout;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main() {
  if (!existsSync(join(ROOT, "headwater/ui/index.html"))) fail("the UI is not built: run `npm run build` in ui/");
  if (!existsSync(BROWSER)) fail(`no browser at ${BROWSER}: apt-get install chromium (or set HEADWATER_CHROMIUM)`);
  mkdirSync(SHOTS, { recursive: true });
  const home = mkdtempSync(join(tmpdir(), "hw-e2e-"));
  const env = { ...process.env, HEADWATER_HOME: home };
  delete env.HEADWATER_DATABASE_URL;
  delete env.HEADWATER_SERVER;
  delete env.HEADWATER_TOKEN;
  if (DEPLOYMENTS_ONLY) headwater(env, "deploy", "ui/e2e/models.py");
  else if (TEAMS_ONLY) headwater(env, "deploy", "ui/e2e/scores.py");
  else {
    if (!BENCH) {
      headwater(env, "deploy", "examples/ml_pipeline.py");
      headwater(env, "deploy", "examples/sweep.py");
      headwater(env, "deploy", "ui/e2e/scores.py");
      headwater(env, "deploy", "ui/e2e/models.py");
    }
    headwater(env, "deploy", "ui/e2e/thousand.py");
    headwater(env, "deploy", "ui/e2e/curve.py");
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ["standalone", "--port", String(port)], { env, cwd: ROOT, detached: true });
  let output = "";
  server.stdout.on("data", (d) => (output += d));
  server.stderr.on("data", (d) => (output += d));
  const token = await waitFor(() => output.match(/hw_[A-Za-z0-9_-]{20,}/)?.[0], "the admin token");
  await waitFor(async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.ok, "the server");
  const apiCall = async (method, path, body) => {
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!r.ok) fail(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const finished = (id, timeout = 180000) =>
    waitFor(async () => {
      const run = await apiCall("GET", `/runs/${id}`);
      return ["succeeded", "failed", "cancelled"].includes(run.status) ? run : null;
    }, `run ${id} to end`, timeout);

  const browser = await chromium.launch({ executablePath: BROWSER, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const results = {};
  const children = [];
  const registerModels = async () => {
    for (const c of [0.01, 1.0]) {
      const r = await apiCall("POST", "/pipelines/e2e_models/runs", { parameters: { c } });
      if ((await finished(r.id)).status !== "succeeded") fail(`the e2e_models run ${r.id} did not succeed`);
    }
  };
  try {
    if (DEPLOYMENTS_ONLY) {
      await registerModels();
      await page.goto(base);
      await page.evaluate((t) => localStorage.setItem("headwater.token", t), token);
      await page.reload();
      await checkDeployments({ page, base, env, apiCall, shot, children });
      console.log(`e2e: the deployments pages checked; screenshots in ${SHOTS}`);
      return;
    }
    if (TEAMS_ONLY) {
      await page.goto(base);
      await page.evaluate((t) => localStorage.setItem("headwater.token", t), token);
      await page.reload();
      await checkTeams({ page, base, env, token, apiCall, finished, shot });
      console.log(`e2e: namespaces and roles checked; screenshots in ${SHOTS}`);
      return;
    }
    // ------------------------------------------------------------ a 1,000-task run
    const big = await apiCall("POST", "/pipelines/thousand/runs", { parameters: {} });
    const bigRun = await finished(big.id, 240000);
    if (bigRun.status !== "succeeded") fail(`the 1,000-task run ${bigRun.status}`);
    await page.goto(base);
    await page.evaluate((t) => localStorage.setItem("headwater.token", t), token);
    await page.reload();
    const loads = [];
    const afterData = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${base}/#/`);
      await page.reload();
      await page.getByRole("heading", { name: "Pipelines" }).waitFor();
      const started = Date.now();
      // "The data": the run with its 1,000 task attempts, and the pipeline's version.
      const arrived = Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/api/v1/runs/${big.id}`)).then((r) => r.finished()),
        page.waitForResponse((r) => r.url().includes("/api/v1/versions/")).then((r) => r.finished()),
      ]).then(() => Date.now());
      await page.goto(`${base}/#/runs/${big.id}`);
      await page.waitForSelector(".react-flow__node", { timeout: 30000 });
      await page.waitForSelector('[role="listbox"][aria-label="tasks"] [role="option"]');
      await page.getByText("Tasks (1000)").waitFor();
      const shown = Date.now();
      loads.push(shown - started);
      afterData.push(shown - (await arrived));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    results.thousand_task_run_open_ms = loads;
    results.thousand_task_run_after_data_ms = afterData;
    console.log(
      `1,000-task run: graph and task list shown ${median(afterData)} ms after the data arrived ` +
        `(runs: ${afterData.join(", ")} ms); ${median(loads)} ms from navigation (${loads.join(", ")} ms)`,
    );
    await shot("run-1000-tasks");

    // ------------------------------------------------------------ a 100,000-point metric series
    const curve = await apiCall("POST", "/pipelines/long_curve/runs", { parameters: {} });
    const curveRun = await finished(curve.id, 240000);
    if (curveRun.status !== "succeeded") fail(`the long-curve run ${curveRun.status}`);
    await page.goto(`${base}/#/`);
    await page.reload();
    await page.getByRole("heading", { name: "Pipelines" }).waitFor();
    await page.evaluate(() => {
      window.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
      }).observe({ type: "longtask", buffered: false });
    });
    const chartStart = Date.now();
    await page.goto(`${base}/#/compare?runs=${curve.id}`);
    await page.locator("[aria-label='loss'] canvas").waitFor({ timeout: 60000 });
    const chartShown = Date.now() - chartStart;
    const longest = Math.round(await page.evaluate(() => window.__longest));
    results.metric_series_100k_ms = chartShown;
    results.metric_series_100k_longest_block_ms = longest;
    console.log(
      `100,000-point metric series: chart drawn ${chartShown} ms after navigation; ` +
        `longest main-thread block ${longest} ms`,
    );
    await shot("metrics-100k-points");

    // ------------------------------------------------------------ 10,000 runs in the runs list
    execFileSync(join(ROOT, ".venv/bin/python"), [join(HERE, "seed_runs.py"), "thousand", "10000"], { env, cwd: ROOT });
    await page.goto(`${base}/#/`);
    await page.reload();
    await page.getByRole("heading", { name: "Pipelines" }).waitFor();
    await page.evaluate(() => {
      window.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
      }).observe({ type: "longtask", buffered: false });
    });
    const listStart = Date.now();
    await page.goto(`${base}/#/runs`);
    await page.getByText(/10,00\d run\(s\)/).waitFor({ timeout: 30000 });
    await page.locator("[role='table'][aria-label='runs'] [role='row'] code").first().waitFor();
    const listShown = Date.now() - listStart;
    const list = page.locator("[role='table'][aria-label='runs']");
    for (let i = 0; i < 40; i++) {
      await list.evaluate((el) => (el.scrollTop += 2000));
      await page.waitForTimeout(25);
    }
    await page.locator("[role='table'][aria-label='runs'] [role='row'] code").first().waitFor();
    const scrollLongest = Math.round(await page.evaluate(() => window.__longest));
    results.runs_list_10k_first_rows_ms = listShown;
    results.runs_list_10k_longest_block_ms = scrollLongest;
    console.log(
      `runs list with 10,000 runs: first rows ${listShown} ms after navigation; ` +
        `longest main-thread block while scrolling 80,000 px: ${scrollLongest} ms`,
    );
    await shot("runs-list-10k");
    if (BENCH) return;

    // ------------------------------------------------------------ sign in
    await page.evaluate(() => localStorage.clear());
    await page.goto(base);
    await page.getByLabel("API token").fill("hw_not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("the token is not known").waitFor();
    await shot("signin-refused");
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();

    // ------------------------------------------------------------ pipelines
    await page.getByRole("link", { name: "ml_pipeline" }).waitFor();
    await shot("pipelines");
    await page.getByRole("link", { name: "ml_pipeline" }).click();
    await page.waitForSelector(".react-flow__node");
    await shot("pipeline-graph");
    await page.getByRole("tab", { name: "versions" }).click();
    await page.getByText("ml_pipeline.py").first().waitFor();
    await shot("pipeline-versions");

    // ------------------------------------------------------------ trigger with a changed parameter
    await page.getByRole("tab", { name: "trigger" }).click();
    await page.getByLabel(/n_samples/).fill("3000");
    await shot("pipeline-trigger");
    await page.getByRole("button", { name: "Trigger run" }).click();
    await page.waitForURL(/#\/runs\//);
    const first = page.url().split("/runs/")[1].split("?")[0];
    const run1 = await apiCall("GET", `/runs/${first}`);
    if (run1.parameters.n_samples !== 3000) fail(`the run got n_samples=${run1.parameters.n_samples}`);
    // watch it finish live: the badge changes without a reload
    await page.locator("[data-testid='run-status'][data-state='succeeded']").waitFor({ timeout: 180000 });
    await page.waitForSelector(".react-flow__node[data-id='train'] [data-state='succeeded']");
    await shot("run-graph");
    await page.getByRole("tab", { name: "gantt" }).click();
    await page.getByRole("img", { name: /Gantt chart/ }).waitFor();
    await shot("run-gantt");

    // ------------------------------------------------------------ a task's logs
    await page.getByTestId("task-train").click();
    const log = page.getByTestId("task-log");
    await log.waitFor();
    await waitFor(async () => ((await log.textContent()) ?? "").length > 0, "the train log");
    await shot("task-logs");

    // ------------------------------------------------------------ artifacts: preview, lineage
    await page.getByTestId("task-evaluate").click();
    await page.getByRole("link", { name: "metrics" }).last().click();
    await page.getByRole("table", { name: "confusion matrix" }).waitFor();
    await page.getByRole("img", { name: "ROC curve" }).waitFor();
    await shot("artifact-classification-metrics");
    await page.goBack();
    await page.getByTestId("task-make_dataset").click();
    await page.getByRole("link", { name: /^(data|dataset|raw)/ }).first().click();
    await page.getByRole("heading", { name: "Preview" }).waitFor();
    await shot("artifact-preview");
    await page.goBack();
    await page.getByTestId("task-train").click();
    await page.getByRole("link", { name: "model", exact: true }).click();
    await page.getByRole("heading", { name: "Lineage" }).waitFor();
    await page.waitForSelector(".react-flow__node");
    const lineageNodes = await page.locator(".react-flow__node").count();
    if (lineageNodes < 3) fail(`the model's lineage shows ${lineageNodes} node(s)`);
    await shot("artifact-model-lineage");

    // ------------------------------------------------------------ a second run, then compare
    await page.goto(`${base}/#/pipelines/ml_pipeline`);
    await page.getByRole("tab", { name: "trigger" }).click();
    await page.getByLabel(/n_samples/).fill("2000");
    await page.getByRole("button", { name: "Trigger run" }).click();
    await page.waitForURL((url) => url.hash.startsWith("#/runs/") && !url.hash.includes(first));
    const second = { id: page.url().split("/runs/")[1].split("?")[0] };
    await page.locator("[data-testid='run-status'][data-state='succeeded']").waitFor({ timeout: 180000 });
    // compare the two: pick them in the list of runs
    await page.getByRole("link", { name: "Compare" }).click();
    await page.getByRole("list", { name: "runs to compare" }).getByRole("checkbox").first().waitFor();
    for (const id of [first, second.id]) {
      await page
        .getByRole("list", { name: "runs to compare" })
        .locator("li", { hasText: id.slice(-8) })
        .getByRole("checkbox")
        .check();
    }
    await page.getByRole("table", { name: "run comparison" }).waitFor();
    await page.getByRole("table", { name: "run comparison" }).getByText("accuracy").first().waitFor();
    await waitFor(
      async () => (await page.getByRole("table", { name: "run comparison" }).locator("th a").count()) === 2,
      "both runs in the comparison",
    );
    await shot("compare-runs");

    // ------------------------------------------------------------ runs grid and list
    await page.goto(`${base}/#/runs?pipeline=ml_pipeline`);
    await page.getByRole("table", { name: "runs by tasks" }).waitFor();
    await shot("runs-grid");
    await page.goto(`${base}/#/runs`);
    await page.getByRole("table", { name: "runs" }).waitFor();
    await shot("runs-list");

    // ------------------------------------------------------------ an experiment's runs
    const scored = [];
    for (const lr of [0.05, 0.1, 0.3]) {
      const r = await apiCall("POST", "/pipelines/scores/runs", { parameters: { lr }, experiment: "e2e-sweep" });
      scored.push(r.id);
    }
    for (const id of scored) {
      if ((await finished(id)).status !== "succeeded") fail(`the scores run ${id} did not succeed`);
    }
    await page.goto(`${base}/#/experiments`);
    await page.getByRole("link", { name: "e2e-sweep" }).click();
    const xpTable = page.getByRole("table", { name: "runs of experiment e2e-sweep" });
    await xpTable.waitFor();
    const headers = await xpTable.locator("thead th").allInnerTexts();
    for (const col of ["params.lr", "params.depth", "accuracy", "loss"]) {
      if (!headers.some((h) => h.startsWith(col))) fail(`no ${col} column in ${headers.join(" | ")}`);
    }
    // Sort by accuracy, highest first: two clicks on its header.
    await xpTable.getByRole("button", { name: "sort by accuracy" }).click();
    await xpTable.getByRole("button", { name: "sort by accuracy" }).click();
    await page.waitForFunction(
      (first) => document.querySelector("table[aria-label='runs of experiment e2e-sweep'] tbody tr code")?.textContent === first,
      scored[1],
    );
    const accuracies = await xpTable.locator("td[data-column='accuracy']").allInnerTexts();
    if (accuracies.join(",") !== "0.98,0.93,0.78") fail(`accuracy sorted descending: ${accuracies}`);
    // A threshold filter, then a column hidden.
    await page.getByLabel("where").fill("accuracy>0.9");
    await page.getByRole("button", { name: "filter" }).click();
    await page.getByText("2 of 3 run(s) match").waitFor();
    await page.getByRole("button", { name: /^columns/ }).click();
    await page.getByRole("group", { name: "columns" }).getByLabel("loss").uncheck();
    await page.waitForFunction(
      () => !document.querySelector("table[aria-label='runs of experiment e2e-sweep'] td[data-column='loss']"),
    );
    await shot("experiment-runs");
    await page.getByLabel("where").fill("accuracy>>1");
    await page.getByRole("button", { name: "filter" }).click();
    await page.getByRole("alert").getByText(/is a number/).waitFor();

    // ------------------------------------------------------------ a tuning study
    headwater(
      env, "tune", "ui/e2e/scores.py", "--space", "ui/e2e/space.yaml", "--objective", "score.accuracy",
      "--direction", "maximize", "--trials", "6", "--parallel", "2", "--study", "e2e-study", "--seed", "1",
    );
    await page.goto(`${base}/#/studies`);
    await page.getByRole("link", { name: "e2e-study" }).click();
    await page.getByRole("heading", { name: /Study e2e-study/ }).waitFor();
    await page.getByLabel("best trial").getByText(/Best: trial \d+/).waitFor();
    const trialRows = await page.getByRole("table", { name: "trials" }).locator("tbody tr").count();
    if (trialRows !== 6) fail(`the study page shows ${trialRows} trials, not 6`);
    await page.getByRole("table", { name: "parameter importance" }).getByText("depth").waitFor();
    await page.getByRole("img", { name: "parallel coordinates of the trials" }).waitFor();
    await page.getByLabel("optimization history").locator("canvas").waitFor();
    await shot("study");
    await page.getByRole("table", { name: "trials" }).getByRole("link").first().click();
    await page.waitForSelector(".react-flow__node");
    await page.goto(`${base}/#/studies/no-such-study`);
    await page.getByRole("alert").getByText(/no-such-study/).waitFor();

    // ------------------------------------------------------------ the model registry
    await registerModels();
    await apiCall("PUT", "/models/e2e-churn/aliases/champion", { version: 1 });
    await page.goto(`${base}/#/models`);
    await page.getByRole("link", { name: "e2e-churn" }).click();
    await page.getByRole("heading", { name: "Model e2e-churn" }).waitFor();
    const versionRows = page.getByRole("table", { name: "model versions" }).locator("tbody tr");
    await waitFor(async () => (await versionRows.count()) === 2, "two model versions");
    const accuracy = await page.locator("table[aria-label='model versions'] td[data-column='accuracy']").allInnerTexts();
    if (accuracy.length !== 2 || accuracy.some((a) => !a)) fail(`version accuracies: ${accuracy}`);
    await page.getByLabel("lineage of version 1").getByRole("link", { name: "data" }).waitFor();
    // Move the champion to version 2 from the page; the history shows the move.
    await page.getByLabel("move an alias").getByLabel("version").selectOption("2");
    await page.getByRole("button", { name: "point it there" }).click();
    await page.getByLabel("aliases").getByText("@champion → v2").waitFor();
    await page.getByRole("table", { name: "alias history" }).getByText("v1").first().waitFor();
    const moved = await apiCall("GET", "/models/e2e-churn");
    if (moved.aliases.champion !== 2) fail(`the champion is v${moved.aliases.champion}`);
    await shot("model");
    await page.goto(`${base}/#/models/no-such-model`);
    await page.getByRole("alert").getByText(/no-such-model/).waitFor();

    // ------------------------------------------------------------ deployments of the model
    await checkDeployments({ page, base, env, apiCall, shot, children });

    // ------------------------------------------------------------ pause a schedule
    await page.goto(`${base}/#/schedules`);
    await page.getByRole("button", { name: "pause ml_pipeline" }).click();
    await page.getByRole("button", { name: "unpause ml_pipeline" }).waitFor();
    const sched = await apiCall("GET", "/schedules/ml_pipeline");
    if (!sched.paused) fail("the schedule is not paused");
    await shot("schedules");
    await page.goto(`${base}/#/assets`);
    await page.getByRole("heading", { name: "Assets", level: 1 }).waitFor();
    await shot("assets");

    // ------------------------------------------------------------ namespaces and roles
    await checkTeams({ page, base, env, token, apiCall, finished, shot });

    // ------------------------------------------------------------ themes, narrow window
    await page.goto(`${base}/#/`);
    await page.getByRole("button", { name: /switch to (dark|light) theme/ }).click();
    await shot("pipelines-other-theme");
    await page.setViewportSize({ width: 700, height: 900 });
    await shot("pipelines-narrow");
    await page.setViewportSize({ width: 1400, height: 900 });

    // ------------------------------------------------------------ a revoked token
    headwater(env, "tokens", "revoke", token);
    await page.goto(`${base}/#/runs`);
    await page.getByRole("alert").getByText(/can no longer be used/).waitFor();
    await shot("signin-revoked");
    console.log(`e2e: every view checked; screenshots in ${SHOTS}`);
  } finally {
    if (!DEPLOYMENTS_ONLY && !TEAMS_ONLY) writeFileSync(join(SHOTS, "results.json"), JSON.stringify(results, null, 1));
    await browser.close();
    for (const child of children) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
  }
}

// Namespaces and roles: the owner switches namespace and sees that namespace's runs; an
// admin of it adds a member on the Members page and sets a secret (whose value never
// appears in the page); a viewer sees the trigger and cancel buttons disabled, saying why.
// Ends signed in as the owner again, in 'default'.
async function checkTeams({ page, base, env, token, apiCall, finished, shot }) {
  const newToken = (out) => out.match(/hw_[A-Za-z0-9_-]{43}/)?.[0] ?? fail(`no token in: ${out}`);
  const signIn = async (t, namespace) => {
    await page.evaluate(
      ([t, ns]) => {
        localStorage.setItem("headwater.token", t);
        if (ns) localStorage.setItem("headwater.namespace", ns);
        else localStorage.removeItem("headwater.namespace");
      },
      [t, namespace],
    );
    await page.reload();
  };
  const made = await apiCall("POST", "/namespaces", { name: "e2e-team", description: "the e2e team" });
  if (made.role !== "owner") fail(`POST /namespaces answered ${JSON.stringify(made)}`);
  headwater(env, "--namespace", "e2e-team", "deploy", "ui/e2e/scores.py");
  const inTeam = await fetch(`${base}/api/v1/pipelines/scores/runs`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "X-Headwater-Namespace": "e2e-team" },
    body: JSON.stringify({ parameters: { lr: 0.1 } }),
  });
  if (inTeam.status !== 201) fail(`a run in e2e-team: ${inTeam.status} ${await inTeam.text()}`);
  const teamRun = (await inTeam.json()).id;
  const inDefault = await apiCall("POST", "/pipelines/scores/runs", { parameters: { lr: 0.2 } });
  await finished(inDefault.id);

  // The owner switches namespace: the runs list is that namespace's.
  await signIn(token, "default");
  await page.goto(`${base}/#/runs`);
  const runsList = page.locator("[role='table'][aria-label='runs']");
  await runsList.getByText(inDefault.id).waitFor();
  const switcher = page.getByRole("combobox", { name: "namespace" });
  const options = await switcher.locator("option").allInnerTexts();
  if (!options.includes("e2e-team (owner)") || !options.includes("default (owner)")) fail(`switcher: ${options}`);
  await switcher.selectOption("e2e-team");
  await page.getByText(/^1 run\(s\)/).waitFor();
  await runsList.getByText(teamRun).waitFor();
  if ((await runsList.getByText(inDefault.id).count()) !== 0) fail("the default namespace's run is listed in e2e-team");
  if ((await page.evaluate(() => localStorage.getItem("headwater.namespace"))) !== "e2e-team") fail("the namespace is not kept");
  await shot("namespace-switched");

  // An admin of e2e-team adds a member on the Members page.
  const ada = newToken(headwater(env, "users", "create", "e2e-ada", "--role", "admin", "--namespace", "e2e-team"));
  const vera = newToken(headwater(env, "users", "create", "e2e-vera", "--role", "viewer", "--namespace", "default"));
  await signIn(ada, null); // her only namespace is chosen for her
  await page.goto(`${base}/#/members`);
  await page.getByRole("heading", { name: "Members of e2e-team" }).waitFor();
  await page.getByRole("textbox", { name: "user" }).fill("e2e-vera");
  await page.getByRole("combobox", { name: "new member's role" }).selectOption("viewer");
  await page.getByRole("button", { name: "add member" }).click();
  await page.getByRole("table", { name: "members" }).getByText("e2e-vera").waitFor();
  await shot("members");

  // She sets a secret: its value is never in the page afterwards, nor after a reload.
  const SECRET = "e2e-S3cret-never-shown";
  await page.goto(`${base}/#/secrets`);
  await page.getByRole("textbox", { name: "secret name" }).fill("e2e_api_key");
  await page.getByLabel("secret value").fill(SECRET);
  await page.getByRole("button", { name: "save secret" }).click();
  await page.getByRole("table", { name: "secrets" }).getByText("e2e_api_key").waitFor();
  const valueLeft = async () =>
    (await page.content()).includes(SECRET) ||
    (await page.evaluate((v) => [...document.querySelectorAll("input")].some((i) => i.value === v), SECRET));
  if (await valueLeft()) fail("the secret's value is still in the page after saving");
  await page.reload();
  await page.getByRole("table", { name: "secrets" }).getByText("e2e_api_key").waitFor();
  if (await valueLeft()) fail("the secret's value is in the page after a reload");
  await shot("secrets");

  // The viewer (now in default and e2e-team, none chosen): the first is chosen for her,
  // and the buttons that need more than her role are disabled, saying why.
  await signIn(vera, null);
  await page.goto(`${base}/#/pipelines/scores`);
  await page.getByRole("tab", { name: "trigger" }).click();
  const trigger = page.getByRole("button", { name: "Trigger run" });
  await trigger.waitFor();
  if (!(await trigger.isDisabled())) fail("a viewer's trigger button is enabled");
  const why = await trigger.getAttribute("title");
  if (why !== "viewers may not run pipelines; ask an admin of default for the editor role") fail(`the trigger says: ${why}`);
  await page.goto(`${base}/#/runs/${inDefault.id}`);
  const retry = page.getByRole("button", { name: "Retry failed tasks" });
  await retry.waitFor();
  if (!(await retry.isDisabled()) || !(await retry.getAttribute("title"))?.startsWith("viewers may not run")) fail("a viewer's retry button");
  await page.goto(`${base}/#/secrets`);
  const save = page.getByRole("button", { name: "save secret" });
  if (!(await save.isDisabled()) || !(await save.getAttribute("title"))?.includes("for the admin role")) fail("a viewer's save-secret button");
  await shot("viewer-disabled-buttons");
  await signIn(token, "default");
}

// The deployments pages on the two versions of 'e2e-churn': a deployment with a canary,
// served by a real `headwater serve --deployment`; the canary share changed from the page
// (a bad one refused inline), the canary promoted, a delete refused while served, a
// rollback, and the delete once the server stopped. The history grows with each change.
async function checkDeployments({ page, base, env, apiCall, shot, children }) {
  await page.goto(`${base}/#/deployments`);
  await page.getByRole("status").getByText("No deployments yet").waitFor();
  await apiCall("PUT", "/models/e2e-churn/aliases/champion", { version: 2 });
  await apiCall("POST", "/deployments", {
    name: "e2e-web",
    model: "e2e-churn@champion",
    canary: "e2e-churn:1",
    canary_percent: 20,
  });
  // A real server serving it records its main and canary versions.
  const serve = spawn(BIN, ["serve", "--deployment", "e2e-web", "--port", "0", "--grpc-port", "0"], {
    env,
    cwd: ROOT,
    detached: true,
  });
  children.push(serve);
  let serveOutput = "";
  serve.stdout.on("data", (d) => (serveOutput += d));
  serve.stderr.on("data", (d) => (serveOutput += d));
  const openRoles = async () =>
    (await apiCall("GET", "/deployments/e2e-web/serving"))
      .filter((s) => !s.until)
      .map((s) => `${s.role} v${s.version}`)
      .sort()
      .join(", ");
  await waitFor(async () => {
    if (serve.exitCode !== null) fail(`headwater serve exited: ${serveOutput}`);
    return (await openRoles()) === "canary v1, main v2";
  }, "the server to serve e2e-web");

  // The list: what it follows, the versions that names now, who serves it.
  await page.goto(`${base}/#/deployments`);
  const row = page.getByRole("table", { name: "deployments" }).locator("tr", { hasText: "e2e-web" });
  await row.getByText("e2e-churn@champion").waitFor();
  await row.getByRole("link", { name: "e2e-churn v2" }).waitFor();
  await row.getByText("(20%)").waitFor();
  await row.getByText("serving", { exact: true }).waitFor();
  await shot("deployments");

  // The detail: routes with their versions, the traffic bar, the servers, the history.
  await row.getByRole("link", { name: "e2e-web" }).click();
  await page.getByRole("heading", { name: "Deployment e2e-web" }).waitFor();
  const routes = page.getByRole("table", { name: "routes" });
  await routes.locator("tr[data-route='main']").getByRole("link", { name: "e2e-churn v2" }).waitFor();
  await routes.locator("tr[data-route='canary']").getByRole("link", { name: "e2e-churn v1" }).waitFor();
  await page.getByRole("img", { name: "traffic: main 80%, canary 20%" }).waitFor();
  const serving = page.getByRole("table", { name: "serving" });
  await waitFor(async () => (await serving.locator("tbody tr").count()) >= 2, "two serving rows");
  await serving.getByText(`:${serve.pid}`).first().waitFor();
  const history = page.getByRole("table", { name: "revisions" }).locator("tbody tr");
  await waitFor(async () => (await history.count()) === 1, "one revision");
  await shot("deployment");

  // A share outside 0 to 100 is refused on the page, and nothing is sent.
  const percent = page.getByRole("form", { name: "canary share" }).getByLabel("canary percent");
  await percent.fill("150");
  await page.getByRole("button", { name: "set canary percent" }).click();
  await page.getByRole("alert").getByText("150 is outside 0 to 100").waitFor();
  await shot("deployment-bad-percent");
  if ((await apiCall("GET", "/deployments/e2e-web")).revision !== 1) fail("a refused percentage was sent");
  await percent.fill("35");
  await page.getByRole("button", { name: "set canary percent" }).click();
  await page.getByRole("img", { name: "traffic: main 65%, canary 35%" }).waitFor();
  if ((await apiCall("GET", "/deployments/e2e-web")).canary_percent !== 35) fail("the canary share is not 35%");
  await waitFor(async () => (await history.count()) === 2, "two revisions");
  await history.first().getByText("update").waitFor();

  // Promote: the canary becomes the main version; the server follows.
  await page.getByRole("button", { name: "promote canary" }).click();
  await page.getByRole("img", { name: "traffic: main 100%" }).waitFor();
  await routes.locator("tr[data-route='main']").getByText("e2e-churn:1").waitFor();
  await routes.locator("tr[data-route='main']").getByRole("link", { name: "e2e-churn v1" }).waitFor();
  await waitFor(async () => (await history.count()) === 3, "three revisions");
  await history.first().getByText("promote").waitFor();
  await waitFor(async () => (await openRoles()) === "main v1", "the server to serve version 1 alone");
  await page.reload();
  await serving.locator("tr", { hasText: "e2e-churn v1" }).getByText("serving").first().waitFor();
  await shot("deployment-promoted");

  // Deleting it while served is refused with the server's message.
  await page.getByRole("button", { name: "delete…" }).click();
  await page.getByRole("button", { name: "yes, delete e2e-web" }).click();
  await page.getByRole("group", { name: "confirm delete" }).getByRole("alert").getByText(/is being served/).waitFor();
  await shot("deployment-delete-refused");
  await page.getByRole("button", { name: "cancel" }).click();

  // The version's model page links to the deployment that routes to it.
  await page.goto(`${base}/#/models/e2e-churn?version=1`);
  await page.getByLabel("deployments of version 1").getByRole("link", { name: "e2e-web" }).click();
  await page.getByRole("heading", { name: "Deployment e2e-web" }).waitFor();

  // Roll back: to the main version served before (version 2, pinned).
  await page.getByRole("button", { name: "roll back" }).click();
  await routes.locator("tr[data-route='main']").getByText("e2e-churn:2").waitFor();
  await waitFor(async () => (await history.count()) === 4, "four revisions");
  await history.first().getByText("rollback").waitFor();
  const actions = (await apiCall("GET", "/deployments/e2e-web/revisions")).map((r) => r.action);
  if (actions.join(",") !== "rollback,promote,update,create") fail(`revisions: ${actions}`);

  // With the server stopped, the delete goes through and the list is empty again.
  process.kill(-serve.pid, "SIGTERM");
  await waitFor(async () => (await openRoles()) === "", "the server to stop serving");
  await page.getByRole("button", { name: "delete…" }).click();
  await page.getByRole("button", { name: "yes, delete e2e-web" }).click();
  await page.getByRole("heading", { name: "Deployments", exact: true }).waitFor();
  await page.getByRole("status").getByText("No deployments yet").waitFor();
  await page.goto(`${base}/#/deployments/e2e-web`);
  await page.getByRole("alert").getByText(/no deployment 'e2e-web'/).waitFor();
}

main().catch((e) => {
  console.error(`e2e failed: ${e.message}`);
  process.exit(1);
});
