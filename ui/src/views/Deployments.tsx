import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, call, type Schemas } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { when } from "../components/Status";

type Deployment = Schemas["DeploymentOut"];
type Serving = Schemas["ServingOut"];

/** The share of requests each route gets: the canary its percentage, the main version
 * the rest (all of it without a canary). */
export function trafficSplit(d: Pick<Deployment, "canary" | "canary_percent">): { main: number; canary: number } {
  if (!d.canary) return { main: 100, canary: 0 };
  const canary = Math.min(100, Math.max(0, d.canary_percent));
  return { main: 100 - canary, canary };
}

/** A canary percentage typed by a user: a number from 0 to 100, or what is wrong with it. */
export function parsePercent(text: string): { value: number; error?: undefined } | { value?: undefined; error: string } {
  const t = text.trim();
  if (t === "") return { error: "enter the canary's share of requests, a number from 0 to 100" };
  const value = Number(t);
  if (!Number.isFinite(value)) return { error: `"${t}" is not a number: enter one from 0 to 100, e.g. 10` };
  if (value < 0 || value > 100) return { error: `${t} is outside 0 to 100: the canary's share is a percentage` };
  return { value };
}

/** The registered model a reference (NAME@ALIAS, NAME:VERSION or NAME) names. */
export function refModel(ref: string): string {
  return ref.split(/[@:/]/)[0];
}

/** A server's name as servers record it, HOST:PID, split (a name without a pid is all host). */
export function serverHost(server: string): { host: string; pid: string | null } {
  const at = server.lastIndexOf(":");
  const pid = at < 0 ? "" : server.slice(at + 1);
  return /^\d+$/.test(pid) ? { host: server.slice(0, at), pid } : { host: server, pid: null };
}

/** The servers serving a deployment now (rows not stopped), by name, each once. */
export function servedBy(rows: Pick<Serving, "server" | "until">[]): string[] {
  return Array.from(new Set(rows.filter((r) => !r.until).map((r) => r.server))).sort();
}

/** The routes of ``deployments`` that name version ``version`` of ``model`` now. */
export function routesTo(
  deployments: Pick<Deployment, "name" | "model" | "model_version" | "canary" | "canary_version" | "shadow" | "shadow_version">[],
  model: string,
  version: number,
): { deployment: string; role: string }[] {
  const found: { deployment: string; role: string }[] = [];
  for (const d of deployments) {
    const routes: [string, string | null, number | null][] = [
      ["main", d.model, d.model_version],
      ["canary", d.canary, d.canary_version],
      ["shadow", d.shadow, d.shadow_version],
    ];
    for (const [role, ref, v] of routes)
      if (ref && refModel(ref) === model && v === version) found.push({ deployment: d.name, role });
  }
  return found;
}

function percent(p: number): string {
  return `${Number(p.toFixed(2))}%`;
}

/** A link to the model version a reference names now, or why there is none. */
function VersionLink({ reference, version }: { reference: string | null; version: number | null }) {
  if (!reference) return <span className="muted">-</span>;
  const model = refModel(reference);
  if (version === null) return <span className="error">names no version now</span>;
  return <Link to={`/models/${encodeURIComponent(model)}?version=${version}`}>{`${model} v${version}`}</Link>;
}

function ServedBy({ name }: { name: string }) {
  const q = useQuery({
    queryKey: ["deployment-serving", name],
    queryFn: () =>
      call(api.GET("/api/v1/deployments/{name}/serving", { params: { path: { name }, query: { limit: 100 } } })),
    refetchInterval: 5000,
  });
  if (q.error) return <span className="error">{(q.error as Error).message}</span>;
  if (!q.data) return <span className="muted">…</span>;
  const servers = servedBy(q.data);
  if (servers.length === 0) return <span className="muted">not served</span>;
  return (
    <span>
      <span className="badge" style={{ background: "var(--s-succeeded)" }}>
        serving
      </span>{" "}
      {servers.join(", ")}
    </span>
  );
}

/** Deployments: what each follows, the version that resolves to now, and who serves it. */
export function DeploymentsView() {
  const q = useQuery({
    queryKey: ["deployments"],
    queryFn: () => call(api.GET("/api/v1/deployments", { params: { query: { limit: 1000 } } })),
    refetchInterval: 5000,
  });
  return (
    <>
      <h1>Deployments</h1>
      <ErrorBox error={q.error} />
      {q.data && q.data.length === 0 && (
        <Empty title="No deployments yet">
          Create one with <code>headwater deployments create churn-api --model churn@champion</code> and serve it
          with <code>headwater serve --deployment churn-api</code>.
        </Empty>
      )}
      {q.data && q.data.length > 0 && (
        <table className="data" aria-label="deployments">
          <thead>
            <tr>
              <th>deployment</th>
              <th>model</th>
              <th>canary</th>
              <th>shadow</th>
              <th>status</th>
              <th>updated</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((d) => (
              <tr key={d.name}>
                <td>
                  <Link to={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link>
                </td>
                <td>
                  <code>{d.model}</code> <VersionLink reference={d.model} version={d.model_version} />
                </td>
                <td>
                  {d.canary ? (
                    <>
                      <code>{d.canary}</code> <VersionLink reference={d.canary} version={d.canary_version} />{" "}
                      ({percent(d.canary_percent)})
                    </>
                  ) : (
                    <span className="muted">-</span>
                  )}
                </td>
                <td>
                  {d.shadow ? (
                    <>
                      <code>{d.shadow}</code> <VersionLink reference={d.shadow} version={d.shadow_version} />
                    </>
                  ) : (
                    <span className="muted">-</span>
                  )}
                </td>
                <td>
                  <ServedBy name={d.name} />
                </td>
                <td>
                  {when(d.updated_at)} <span className="muted">(revision {d.revision})</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The main/canary split as a bar. */
export function TrafficBar({ deployment }: { deployment: Deployment }) {
  const split = trafficSplit(deployment);
  const label = deployment.canary
    ? `traffic: main ${percent(split.main)}, canary ${percent(split.canary)}`
    : "traffic: main 100%";
  return (
    <div
      role="img"
      aria-label={label}
      title={label}
      style={{ display: "flex", height: 24, borderRadius: 6, overflow: "hidden", border: "1px solid var(--border)" }}
    >
      {split.main > 0 && (
        <div
          data-route="main"
          style={{ width: `${split.main}%`, background: "var(--accent)", color: "#fff", paddingLeft: 6, whiteSpace: "nowrap" }}
        >
          main {percent(split.main)}
        </div>
      )}
      {split.canary > 0 && (
        <div
          data-route="canary"
          style={{ width: `${split.canary}%`, background: "var(--s-skipped)", color: "#000", paddingLeft: 6, whiteSpace: "nowrap" }}
        >
          canary {percent(split.canary)}
        </div>
      )}
    </div>
  );
}

function CanaryForm({ deployment, onSaved }: { deployment: Deployment; onSaved: () => void }) {
  const [text, setText] = useState(String(deployment.canary_percent));
  const [problem, setProblem] = useState<string | null>(null);
  const access = useAccess();
  const save = useMutation({
    mutationFn: (value: number) =>
      call(
        api.PATCH("/api/v1/deployments/{name}", {
          params: { path: { name: deployment.name } },
          body: { canary_percent: value },
        }),
      ),
    onSuccess: onSaved,
  });
  return (
    <>
      <form
        className="row"
        aria-label="canary share"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const parsed = parsePercent(text);
          setProblem(parsed.error ?? null);
          if (parsed.value !== undefined) save.mutate(parsed.value);
        }}
      >
        <label>
          canary percent{" "}
          <input
            value={text}
            inputMode="decimal"
            aria-invalid={problem !== null}
            aria-describedby={problem ? "canary-percent-problem" : undefined}
            onChange={(e) => {
              setText(e.target.value);
              setProblem(null);
            }}
            style={{ width: 80 }}
          />
        </label>
        <button type="submit" disabled={save.isPending || !access.may("serve")} title={access.why("serve")}>
          set canary percent
        </button>
      </form>
      {problem && (
        <div id="canary-percent-problem" className="error" role="alert">
          {problem}
        </div>
      )}
      <ErrorBox error={save.error} />
    </>
  );
}

function DeleteButton({ name }: { name: string }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [asking, setAsking] = useState(false);
  const [force, setForce] = useState(false);
  const access = useAccess();
  const remove = useMutation({
    mutationFn: () =>
      call(api.DELETE("/api/v1/deployments/{name}", { params: { path: { name }, query: { force } } })),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["deployments"] });
      navigate("/deployments");
    },
  });
  if (!asking)
    return (
      <button onClick={() => setAsking(true)} className="error" disabled={!access.may("serve")} title={access.why("serve")}>
        delete…
      </button>
    );
  return (
    <div className="card" role="group" aria-label="confirm delete" style={{ flexBasis: "100%", background: "var(--bg)" }}>
      Delete deployment <strong>{name}</strong> with its history? Clients calling it get 404 from servers that
      reload it.
      <div className="row" style={{ marginTop: 8 }}>
        <label className="inline">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> even if a server
          says it serves it (force)
        </label>
        <button className="error" onClick={() => remove.mutate()} disabled={remove.isPending}>
          yes, delete {name}
        </button>
        <button
          onClick={() => {
            setAsking(false);
            remove.reset();
          }}
        >
          cancel
        </button>
      </div>
      <ErrorBox error={remove.error} />
    </div>
  );
}

/** One deployment: its routes and their versions, the traffic split, who serves it since
 * when, its revisions, and the actions that change it. */
export function DeploymentView() {
  const { name = "" } = useParams();
  const client = useQueryClient();
  const path = { params: { path: { name } } };
  const deployment = useQuery({
    queryKey: ["deployment", name],
    queryFn: () => call(api.GET("/api/v1/deployments/{name}", path)),
    refetchInterval: 5000,
    retry: false,
  });
  const serving = useQuery({
    queryKey: ["deployment-serving", name],
    queryFn: () =>
      call(api.GET("/api/v1/deployments/{name}/serving", { params: { path: { name }, query: { limit: 100 } } })),
    enabled: deployment.isSuccess,
    refetchInterval: 5000,
  });
  const revisions = useQuery({
    queryKey: ["deployment-revisions", name],
    queryFn: () => call(api.GET("/api/v1/deployments/{name}/revisions", path)),
    enabled: deployment.isSuccess,
  });
  const changed = () =>
    client.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).startsWith("deployment") });
  const access = useAccess();
  const promote = useMutation({
    mutationFn: () => call(api.POST("/api/v1/deployments/{name}/promote", path)),
    onSuccess: changed,
  });
  const rollback = useMutation({
    mutationFn: () => call(api.POST("/api/v1/deployments/{name}/rollback", path)),
    onSuccess: changed,
  });
  if (deployment.error) return <ErrorBox error={deployment.error} />;
  if (!deployment.data) return <div className="muted">loading…</div>;
  const d = deployment.data;
  const split = trafficSplit(d);
  const routes: [string, string | null, number | null, string][] = [
    ["main", d.model, d.model_version, percent(split.main)],
    ["canary", d.canary, d.canary_version, d.canary ? percent(split.canary) : "-"],
    ["shadow", d.shadow, d.shadow_version, d.shadow ? "a copy of every request" : "-"],
  ];
  return (
    <>
      <h1>Deployment {d.name}</h1>
      <p className="muted">
        revision {d.revision}, updated {when(d.updated_at)}; created {when(d.created_at)}
        {d.created_by && ` by ${d.created_by}`}. Clients call <code>/v2/models/{d.name}/infer</code> on{" "}
        <code>headwater serve --deployment {d.name}</code>.
      </p>
      <table className="data" aria-label="routes">
        <thead>
          <tr>
            <th>route</th>
            <th>follows</th>
            <th>version now</th>
            <th>requests</th>
          </tr>
        </thead>
        <tbody>
          {routes.map(([role, reference, version, share]) => (
            <tr key={role} data-route={role}>
              <td>{role}</td>
              <td>{reference ? <code>{reference}</code> : <span className="muted">none</span>}</td>
              <td>
                <VersionLink reference={reference} version={version} />
              </td>
              <td>{share}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Traffic</h2>
      <TrafficBar deployment={d} />
      <div className="card" style={{ marginTop: 10 }} aria-label="actions">
        {d.canary ? (
          <CanaryForm key={`${d.revision}`} deployment={d} onSaved={changed} />
        ) : (
          <div className="muted">
            No canary: give it one with <code>headwater deployments update {d.name} --canary MODEL</code>.
          </div>
        )}
        <div className="row" style={{ marginTop: 8 }}>
          <button
            onClick={() => promote.mutate()}
            disabled={!d.canary || promote.isPending || !access.may("serve")}
            title={access.why("serve") ?? (d.canary ? `${d.canary} becomes the main version` : "no canary to promote")}
          >
            promote canary
          </button>
          <button
            onClick={() => rollback.mutate()}
            disabled={rollback.isPending || !access.may("serve")}
            title={access.why("serve") ?? "back to the main version served before the current one"}
          >
            roll back
          </button>
          <DeleteButton name={d.name} />
        </div>
        <ErrorBox error={promote.error} />
        <ErrorBox error={rollback.error} />
      </div>
      <h2>Served by</h2>
      <ErrorBox error={serving.error} />
      {serving.data && serving.data.length === 0 && (
        <Empty title="No server has served it yet">
          Serve it with <code>headwater serve --deployment {d.name}</code>.
        </Empty>
      )}
      {serving.data && serving.data.length > 0 && (
        <table className="data" aria-label="serving">
          <thead>
            <tr>
              <th>route</th>
              <th>version</th>
              <th>server</th>
              <th>host</th>
              <th>since</th>
              <th>stopped</th>
            </tr>
          </thead>
          <tbody>
            {serving.data.map((s, i) => (
              <tr key={i}>
                <td>{s.role}</td>
                <td>
                  <VersionLink reference={s.model} version={s.version} />
                </td>
                <td>
                  <code>{s.server}</code>
                </td>
                <td>{serverHost(s.server).host}</td>
                <td>{when(s.since)}</td>
                <td>{s.until ? when(s.until) : <span className="badge" style={{ background: "var(--s-succeeded)" }}>serving</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>History</h2>
      <ErrorBox error={revisions.error} />
      <table className="data" aria-label="revisions">
        <thead>
          <tr>
            <th>revision</th>
            <th>action</th>
            <th>model</th>
            <th>canary</th>
            <th>shadow</th>
            <th>by</th>
            <th>when</th>
          </tr>
        </thead>
        <tbody>
          {(revisions.data ?? []).map((r) => (
            <tr key={r.revision}>
              <td>{r.revision}</td>
              <td>{r.action}</td>
              <td>
                <code>{r.model}</code>
              </td>
              <td>{r.canary ? `${r.canary} (${percent(r.canary_percent)})` : "-"}</td>
              <td>{r.shadow ?? "-"}</td>
              <td className="muted">{r.actor}</td>
              <td>{when(r.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
