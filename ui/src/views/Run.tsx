import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, call, type Task } from "../api/client";
import { Dag, type NodeState } from "../components/Dag";
import { ErrorBox } from "../components/Empty";
import { Gantt } from "../components/Gantt";
import { LogView } from "../components/LogView";
import { duration, StateBadge, when } from "../components/Status";
import { graphFromSpec, nodeOfPath } from "../graph";

const LIVE = new Set(["queued", "running"]);
const RANK: Record<string, number> = {
  failed: 9, upstream_failed: 8, running: 7, up_for_retry: 6, queued: 5, waiting: 4, deferred: 4,
  cancelled: 3, pending: 2, succeeded: 1, cached: 1, skipped: 0,
};

/** The latest attempt of each task path. */
export function latestAttempts(tasks: Task[]): Task[] {
  const by = new Map<string, Task>();
  for (const t of tasks) {
    if (t.cleared) continue;
    const cur = by.get(t.path);
    if (!cur || t.attempt > cur.attempt) by.set(t.path, t);
  }
  return [...by.values()];
}

/** Per graph node: the most telling state of the tasks it stands for (a loop's iterations). */
export function nodeStates(tasks: Task[], names: Set<string>): Record<string, NodeState> {
  const out: Record<string, NodeState & { n: number; done: number }> = {};
  for (const t of latestAttempts(tasks)) {
    const node = nodeOfPath(t.path, names);
    const cur = out[node] ?? { state: t.status, n: 0, done: 0 };
    cur.n += 1;
    if (!LIVE.has(t.status) && t.status !== "waiting" && t.status !== "deferred") cur.done += 1;
    if ((RANK[t.status] ?? 0) > (RANK[cur.state ?? "pending"] ?? 0)) cur.state = t.status;
    cur.detail = cur.n > 1 ? `${cur.done}/${cur.n}` : duration(t.started_at, t.finished_at);
    out[node] = cur;
  }
  return out;
}

export function RunView() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const selected = params.get("task");
  const [tab, setTab] = useState<"graph" | "gantt">("graph");
  const client = useQueryClient();
  const run = useQuery({
    queryKey: ["run", id],
    queryFn: () => call(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })),
    refetchInterval: (q) => (q.state.data && !LIVE.has(q.state.data.status) ? 2000 : 1000),
    placeholderData: keepPreviousData,
  });
  const version = useQuery({
    queryKey: ["version", run.data?.version_id],
    enabled: !!run.data,
    staleTime: Infinity,
    queryFn: () =>
      call(api.GET("/api/v1/versions/{version_id}", { params: { path: { version_id: run.data!.version_id } } })),
  });
  const graph = useMemo(
    () => (version.data ? graphFromSpec(version.data.spec as Record<string, unknown>) : null),
    [version.data],
  );
  const tasks = useMemo(() => run.data?.tasks ?? [], [run.data]);
  const latest = useMemo(() => latestAttempts(tasks), [tasks]);
  const names = useMemo(() => new Set(graph?.nodes.map((n) => n.id) ?? []), [graph]);
  const states = useMemo(() => nodeStates(tasks, names), [tasks, names]);
  const access = useAccess();
  const act = useMutation({
    mutationFn: async (what: "cancel" | "retry" | { clear: string }) => {
      const path = { run_id: id };
      if (what === "cancel") return call(api.POST("/api/v1/runs/{run_id}/cancel", { params: { path } }));
      if (what === "retry") return call(api.POST("/api/v1/runs/{run_id}/retry", { params: { path } }));
      return call(
        api.POST("/api/v1/runs/{run_id}/tasks/{task}/clear", {
          params: { path: { ...path, task: what.clear } },
          body: { downstream: true },
        }),
      );
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ["run", id] }),
  });
  const select = (path: string | null) => {
    const next = new URLSearchParams(params);
    if (path) next.set("task", path);
    else next.delete("task");
    setParams(next, { replace: true });
  };
  if (run.error) return <ErrorBox error={run.error} />;
  if (!run.data) return <div className="muted">loading…</div>;
  const r = run.data;
  const live = LIVE.has(r.status);
  const failed = latest.some((t) => ["failed", "upstream_failed", "cancelled"].includes(t.status));
  const chosen = selected ? tasks.filter((t) => t.path === selected) : [];
  const onNode = (node: string) => {
    const match = latest.find((t) => t.path === node || nodeOfPath(t.path, names) === node);
    if (match) select(match.path);
  };
  return (
    <>
      <h1>
        <Link to={`/pipelines/${encodeURIComponent(r.pipeline)}`}>{r.pipeline}</Link> · run <code>{r.id}</code>
      </h1>
      <div className="row" style={{ marginBottom: 10 }}>
        <StateBadge state={r.status} testId="run-status" />
        <span className="muted">
          {r.trigger} · created {when(r.created_at)} · {duration(r.started_at, r.finished_at)}
          {r.data_interval_start && ` · interval ${when(r.data_interval_start)} → ${when(r.data_interval_end)}`}
        </span>
        <button className="danger" disabled={!live || act.isPending || !access.may("run")} title={access.why("run")} onClick={() => act.mutate("cancel")}>
          Cancel run
        </button>
        <button disabled={live || !failed || act.isPending || !access.may("run")} title={access.why("run")} onClick={() => act.mutate("retry")}>
          Retry failed tasks
        </button>
        <Link to={`/compare?runs=${r.id}`}>metrics</Link>
      </div>
      {r.error && <div className="card error">{r.error}</div>}
      <ErrorBox error={act.error} />
      <details>
        <summary>parameters</summary>
        <pre className="log">{JSON.stringify(r.parameters, null, 2)}</pre>
      </details>
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "graph"} onClick={() => setTab("graph")}>graph</button>
        <button role="tab" aria-selected={tab === "gantt"} onClick={() => setTab("gantt")}>gantt</button>
      </div>
      <div className="grid2">
        <div>
          {tab === "graph" && graph && <Dag graph={graph} states={states} onSelect={onNode} selected={selected && nodeOfPath(selected, names)} />}
          {tab === "gantt" && <Gantt tasks={tasks} onSelect={select} />}
          <h2>Tasks ({latest.length})</h2>
          <TaskList tasks={latest} selected={selected} onSelect={select} />
        </div>
        <div>
          {chosen.length > 0 ? (
            <TaskPanel
              runId={r.id}
              attempts={chosen}
              runLive={live}
              onClear={(p) => act.mutate({ clear: p })}
            />
          ) : (
            <div className="empty">Pick a task in the graph or the list to see its attempts, logs, inputs and outputs.</div>
          )}
        </div>
      </div>
    </>
  );
}

function TaskList({ tasks, selected, onSelect }: { tasks: Task[]; selected: string | null; onSelect: (p: string) => void }) {
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: tasks.length, getScrollElement: () => parent.current, estimateSize: () => 30, overscan: 15 });
  return (
    <div ref={parent} className="scroll card" style={{ height: Math.min(420, tasks.length * 30 + 8), padding: 0 }} role="listbox" aria-label="tasks">
      <div style={{ height: v.getTotalSize(), position: "relative" }}>
        {v.getVirtualItems().map((item) => {
          const t = tasks[item.index];
          return (
            <div
              key={t.path}
              role="option"
              aria-selected={selected === t.path}
              tabIndex={0}
              onClick={() => onSelect(t.path)}
              onKeyDown={(e) => e.key === "Enter" && onSelect(t.path)}
              className="row"
              data-testid={`task-${t.path}`}
              style={{
                position: "absolute", top: 0, left: 0, right: 0, height: 30, padding: "0 8px",
                transform: `translateY(${item.start}px)`, cursor: "pointer", flexWrap: "nowrap",
                background: selected === t.path ? "var(--bg)" : undefined,
              }}
            >
              <span style={{ width: 130 }}><StateBadge state={t.status} /></span>
              <span style={{ flex: 1, overflow: "hidden", textOverflow: "ellipsis" }}>{t.path}</span>
              <span className="muted">{duration(t.started_at, t.finished_at)}</span>
            </div>
          );
        })}
      </div>
    </div>
  );
}

/** The study a tune step drives: it keeps the name among its recorded inputs. */
export function studyOf(t: Task): string | undefined {
  const name = (t.inputs as Record<string, unknown> | null | undefined)?.["headwater.study"];
  return typeof name === "string" ? name : undefined;
}

function TaskPanel({ runId, attempts, runLive, onClear }: { runId: string; attempts: Task[]; runLive: boolean; onClear: (p: string) => void }) {
  const access = useAccess();
  const sorted = [...attempts].sort((a, b) => b.attempt - a.attempt);
  const [pick, setPick] = useState<number | null>(null);
  const t = sorted.find((a) => a.attempt === pick) ?? sorted[0];
  const outputs = (t.outputs ?? {}) as { parameters?: Record<string, unknown>; artifacts?: Record<string, string> };
  const study = studyOf(t);
  return (
    <div className="card" aria-label={`task ${t.path}`}>
      <h2 style={{ marginTop: 0 }}>{t.path}</h2>
      <div className="row">
        <StateBadge state={t.status} />
        <label className="inline">
          attempt
          <select value={t.attempt} onChange={(e) => setPick(Number(e.target.value))}>
            {sorted.map((a) => (
              <option key={a.id} value={a.attempt}>
                {a.attempt} · {a.status}{a.cleared ? " (cleared)" : ""}
              </option>
            ))}
          </select>
        </label>
        <button
          disabled={runLive || !access.may("run")}
          onClick={() => onClear(t.path)}
          title={access.why("run") ?? "run this task and everything after it again"}
        >
          Clear from here
        </button>
      </div>
      <p className="muted">
        {t.component} · started {when(t.started_at)} · {duration(t.started_at, t.finished_at)}
        {t.pool ? ` · pool ${t.pool}` : ""}
        {t.node ? ` · on ${t.node}` : ""}
        {t.cached_from && (
          <>
            {" "}· cached from attempt <code>{t.cached_from}</code>
          </>
        )}
      </p>
      {study && (
        <p>
          Tune step: study <Link to={`/studies/${encodeURIComponent(study)}`}>{study}</Link> ·{" "}
          <Link to={`/runs?experiment=${encodeURIComponent(study)}`}>its trial runs</Link>
        </p>
      )}
      {(t.deferred_at || t.status === "deferred") && (
        <p data-testid="sensor-wait">
          Sensor: {t.status === "deferred" ? "waiting, holding no process or slot" : "waited"}
          {t.deferred_at ? ` since ${when(t.deferred_at)}` : ""}
          {t.status === "deferred" && t.wake_at ? ` · next check ${when(t.wake_at)}` : ""}
          {t.pokes != null ? ` · ${t.pokes} check(s) not ready` : ""}
        </p>
      )}
      {t.error && <pre className="log error">{t.error}</pre>}
      <h2>Inputs</h2>
      <pre className="log">{JSON.stringify(t.inputs ?? {}, null, 2)}</pre>
      <h2>Outputs</h2>
      {outputs.parameters && Object.keys(outputs.parameters).length > 0 && (
        <pre className="log">{JSON.stringify(outputs.parameters, null, 2)}</pre>
      )}
      <ul>
        {Object.entries(outputs.artifacts ?? {}).map(([name, aid]) => (
          <li key={name}>
            <Link to={`/artifacts/${aid}`}>{name}</Link>
          </li>
        ))}
      </ul>
      <h2>Log</h2>
      <LogView runId={runId} task={t.path} attempt={t.attempt} live={t.status === "running" || t.status === "queued"} />
    </div>
  );
}
