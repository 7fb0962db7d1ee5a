import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, call, type Run } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { duration, STATES, StateBadge, stateColor, when } from "../components/Status";
import { ExperimentRuns } from "./Experiments";

const PAGE = 100;
const RUN_STATES = ["queued", "running", "succeeded", "failed", "cancelled"];

function useFilters() {
  const [params, setParams] = useSearchParams();
  const get = (k: string) => params.get(k) ?? "";
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };
  return { get, set };
}

/** Runs with filters: a virtualised list (server pages) or, for one pipeline, the grid. */
export function RunsView() {
  const f = useFilters();
  const pipeline = f.get("pipeline");
  const experiment = f.get("experiment");
  const view = f.get("view") || (pipeline ? "grid" : "list");
  return (
    <>
      <h1>Runs{experiment && ` of experiment ${experiment}`}</h1>
      <div className="row" role="search" style={{ marginBottom: 12 }}>
        <label>
          experiment
          <input value={experiment} onChange={(e) => f.set("experiment", e.target.value)} placeholder="any" />
        </label>
        {/* An experiment's table filters by metrics and parameters (below) instead. */}
        {!experiment && (
          <>
            <label>
              pipeline
              <input value={pipeline} onChange={(e) => f.set("pipeline", e.target.value)} placeholder="any" />
            </label>
            <label>
              state
              <select value={f.get("status")} onChange={(e) => f.set("status", e.target.value)}>
                <option value="">any</option>
                {RUN_STATES.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            </label>
            <label>
              trigger
              <select value={f.get("trigger")} onChange={(e) => f.set("trigger", e.target.value)}>
                <option value="">any</option>
                {["manual", "api", "schedule", "asset", "backfill"].map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            </label>
            <label>
              from
              <input type="date" value={f.get("after")} onChange={(e) => f.set("after", e.target.value)} />
            </label>
            <label>
              to
              <input type="date" value={f.get("before")} onChange={(e) => f.set("before", e.target.value)} />
            </label>
            <label>
              tag
              <input value={f.get("tag")} onChange={(e) => f.set("tag", e.target.value)} placeholder="any" />
            </label>
            <label>
              version
              <input value={f.get("version")} onChange={(e) => f.set("version", e.target.value)} placeholder="any" />
            </label>
          </>
        )}
        {pipeline && !experiment && (
          <label>
            view
            <select value={view} onChange={(e) => f.set("view", e.target.value)}>
              <option value="grid">grid</option>
              <option value="list">list</option>
            </select>
          </label>
        )}
      </div>
      {experiment ? (
        <ExperimentRuns name={experiment} />
      ) : view === "grid" && pipeline ? (
        <RunGrid filters={f.get} />
      ) : (
        <RunList filters={f.get} />
      )}
    </>
  );
}

function isoDay(day: string, end = false): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00Z`);
  if (end) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

function RunList({ filters }: { filters: (k: string) => string }) {
  const query = {
    pipeline: filters("pipeline") || undefined,
    status: (filters("status") || undefined) as Run["status"] | undefined,
    trigger: filters("trigger") || undefined,
    version: filters("version") || undefined,
    tag: filters("tag") || undefined,
    created_after: isoDay(filters("after")),
    created_before: isoDay(filters("before"), true),
  };
  const q = useInfiniteQuery({
    queryKey: ["runs", query],
    initialPageParam: 0,
    queryFn: ({ pageParam }) =>
      call(api.GET("/api/v1/runs", { params: { query: { ...query, limit: PAGE, offset: pageParam } as never } })),
    getNextPageParam: (last) => last.next_offset ?? undefined,
    refetchInterval: 2000,
    placeholderData: keepPreviousData,
  });
  const rows = q.data?.pages.flatMap((p) => p.items) ?? [];
  const total = q.data?.pages[0]?.total ?? 0;
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: total,
    getScrollElement: () => parent.current,
    estimateSize: () => 34,
    overscan: 20,
  });
  const items = virtual.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : 0;
  if (lastIndex >= rows.length - 1 && q.hasNextPage && !q.isFetchingNextPage) void q.fetchNextPage();
  const navigate = useNavigate();
  if (q.error) return <ErrorBox error={q.error} />;
  if (q.data && total === 0)
    return (
      <Empty title="No runs match">
        Trigger one from a pipeline's page, with <code>headwater trigger PIPELINE</code>, or change the filters.
      </Empty>
    );
  return (
    <>
      <div className="muted" aria-live="polite">
        {total.toLocaleString()} run(s)
      </div>
      <div ref={parent} className="scroll" style={{ height: "70vh" }} role="table" aria-label="runs" aria-rowcount={total}>
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {items.map((v) => {
            const r = rows[v.index];
            return (
              <div
                key={v.key}
                role="row"
                tabIndex={0}
                className="row"
                onClick={() => r && navigate(`/runs/${r.id}`)}
                onKeyDown={(e) => e.key === "Enter" && r && navigate(`/runs/${r.id}`)}
                style={{
                  position: "absolute",
                  top: 0,
                  left: 0,
                  right: 0,
                  height: 34,
                  transform: `translateY(${v.start}px)`,
                  borderBottom: "1px solid var(--border)",
                  cursor: "pointer",
                  flexWrap: "nowrap",
                }}
              >
                {r ? (
                  <>
                    <span role="cell" style={{ width: 110 }}>
                      <StateBadge state={r.status} />
                    </span>
                    <span role="cell" style={{ width: 230 }}>
                      <code>{r.id}</code>
                    </span>
                    <span role="cell" style={{ width: 180 }}>{r.pipeline}</span>
                    <span role="cell" style={{ width: 170 }}>{when(r.created_at)}</span>
                    <span role="cell" style={{ width: 100 }}>{duration(r.started_at, r.finished_at)}</span>
                    <span role="cell" className="muted">{r.trigger}</span>
                  </>
                ) : (
                  <span className="muted">loading…</span>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </>
  );
}

function RunGrid({ filters }: { filters: (k: string) => string }) {
  const q = useQuery({
    queryKey: ["grid", filters("pipeline"), filters("status"), filters("after"), filters("before"), filters("version")],
    queryFn: () =>
      call(
        api.GET("/api/v1/grid", {
          params: {
            query: {
              pipeline: filters("pipeline"),
              limit: 30,
              status: (filters("status") || undefined) as never,
              version: filters("version") || undefined,
              created_after: isoDay(filters("after")),
              created_before: isoDay(filters("before"), true),
            },
          },
        }),
      ),
    refetchInterval: 2000,
    placeholderData: keepPreviousData,
  });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <div className="muted">loading…</div>;
  if (q.data.runs.length === 0) return <Empty title="No runs of this pipeline yet">Trigger one from its page.</Empty>;
  const runs = [...q.data.runs].reverse();
  return (
    <div className="gridview card">
      <table aria-label="runs by tasks">
        <thead>
          <tr>
            <th />
            {runs.map((r) => (
              <th key={r.id} title={`${r.id} ${r.status}`}>
                <Link to={`/runs/${r.id}`} aria-label={`run ${r.id}`}>
                  <span className="sq" style={{ background: stateColor(r.status), height: 24 }} />
                </Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {q.data.tasks.map((t) => (
            <tr key={t}>
              <td style={{ paddingRight: 10, whiteSpace: "nowrap" }}>{t}</td>
              {runs.map((r) => {
                const s = q.data.states[r.id]?.[t];
                return (
                  <td key={r.id} className="cell">
                    {s ? (
                      <Link
                        to={`/runs/${r.id}?task=${encodeURIComponent(t)}`}
                        style={{ background: stateColor(s) }}
                        title={`${t}: ${s}`}
                        aria-label={`${t} in run ${r.id}: ${s}`}
                      />
                    ) : null}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row muted" style={{ marginTop: 8, fontSize: 12 }}>
        {STATES.map((s) => (
          <span key={s}>
            <span className="sq" style={{ background: stateColor(s) }} /> {s}
          </span>
        ))}
      </div>
    </div>
  );
}
