import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { type FormEvent, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api, call, type Schedule } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { StateBadge, when } from "../components/Status";

function describe(s: Schedule): string {
  if (s.kind === "assets") return (s.assets ?? []).join(s.asset_mode === "all" ? " & " : " | ");
  if (s.cron) return `${s.cron} (${s.timezone})`;
  if (s.interval_seconds) return `every ${s.interval_seconds}s`;
  return s.kind ?? "-";
}

export function SchedulesView() {
  const client = useQueryClient();
  const q = useQuery({
    queryKey: ["schedules"],
    queryFn: () => call(api.GET("/api/v1/schedules")),
    refetchInterval: 2000,
  });
  const access = useAccess();
  const pause = useMutation({
    mutationFn: ({ pipeline, paused }: { pipeline: string; paused: boolean }) =>
      call(api.PATCH("/api/v1/schedules/{pipeline}", { params: { path: { pipeline } }, body: { paused } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["schedules"] }),
  });
  const backfills = useQuery({
    queryKey: ["runs", "backfills"],
    queryFn: () => call(api.GET("/api/v1/runs", { params: { query: { trigger: "backfill", limit: 50 } } })),
    refetchInterval: 2000,
  });
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <>
      <h1>Schedules</h1>
      <ErrorBox error={q.error ?? pause.error} />
      {q.data && q.data.length === 0 && (
        <Empty title="No schedules yet">
          Deploy a pipeline with <code>@pipeline(schedule="0 3 * * *")</code> (or scheduled on assets) using{" "}
          <code>headwater deploy FILE</code>.
        </Empty>
      )}
      {q.data && q.data.length > 0 && (
        <table className="data" aria-label="schedules">
          <thead>
            <tr>
              <th>pipeline</th>
              <th>schedule</th>
              <th>catchup</th>
              <th>max active runs</th>
              <th>last interval</th>
              <th>next run</th>
              <th>state</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {q.data.map((s) => (
              <tr key={s.pipeline}>
                <td>
                  <Link to={`/pipelines/${encodeURIComponent(s.pipeline)}`}>{s.pipeline}</Link>
                </td>
                <td>
                  <code>{describe(s)}</code>
                  {s.overrides && <span className="muted"> (edited)</span>}
                </td>
                <td>{s.catchup ? "yes" : "no"}</td>
                <td>{s.max_active_runs ?? "-"}</td>
                <td>{s.last_start ? `${when(s.last_start)} → ${when(s.last_end)}` : "-"}</td>
                <td>{when(s.next_end)}</td>
                <td>
                  <button
                    onClick={() => pause.mutate({ pipeline: s.pipeline, paused: !s.paused })}
                    aria-label={`${s.paused ? "unpause" : "pause"} ${s.pipeline}`}
                    disabled={!access.may("schedule")}
                    title={access.why("schedule")}
                  >
                    {s.paused ? "▶ unpause" : "⏸ pause"}
                  </button>{" "}
                  {s.paused && <span className="muted">paused</span>}
                </td>
                <td>
                  <button onClick={() => setEditing(editing === s.pipeline ? null : s.pipeline)}>edit</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && <ScheduleEditor pipeline={editing} />}
      <h2>Backfills</h2>
      {backfills.data && backfills.data.items.length === 0 ? (
        <div className="muted">No backfill runs yet: start one from a schedule's editor.</div>
      ) : (
        <table className="data" aria-label="backfill runs">
          <tbody>
            {backfills.data?.items.map((r) => (
              <tr key={r.id}>
                <td><StateBadge state={r.status} /></td>
                <td><Link to={`/runs/${r.id}`}>{r.id}</Link></td>
                <td>{r.pipeline}</td>
                <td>{when(r.data_interval_start)} → {when(r.data_interval_end)}</td>
                <td className="muted">{r.trigger}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Edit a schedule without redeploying, and start backfills. */
export function ScheduleEditor({ pipeline }: { pipeline: string }) {
  const client = useQueryClient();
  const q = useQuery({
    queryKey: ["schedule", pipeline],
    queryFn: () => call(api.GET("/api/v1/schedules/{pipeline}", { params: { path: { pipeline } } })),
    retry: false,
  });
  const [cron, setCron] = useState("");
  const [tz, setTz] = useState("");
  const [catchup, setCatchup] = useState(false);
  const [maxRuns, setMaxRuns] = useState("");
  useEffect(() => {
    if (!q.data) return;
    setCron(q.data.cron ?? (q.data.interval_seconds ? "" : ""));
    setTz(q.data.timezone ?? "UTC");
    setCatchup(q.data.catchup);
    setMaxRuns(q.data.max_active_runs ? String(q.data.max_active_runs) : "");
  }, [q.data]);
  const access = useAccess();
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH("/api/v1/schedules/{pipeline}", {
          params: { path: { pipeline } },
          body: {
            ...(cron ? { cron } : {}),
            ...(tz ? { timezone: tz } : {}),
            catchup,
            ...(maxRuns ? { max_active_runs: Number(maxRuns) } : {}),
          },
        }),
      ),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: ["schedules"] });
      client.invalidateQueries({ queryKey: ["schedule", pipeline] });
    },
  });
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [reprocess, setReprocess] = useState("none");
  const backfill = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/schedules/{pipeline}/backfills", {
          params: { path: { pipeline } },
          body: { start: `${start}T00:00:00Z`, end: `${end}T00:00:00Z`, reprocess },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["runs"] }),
  });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return null;
  const timed = q.data.kind !== "assets";
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <div className="card" style={{ marginTop: 12 }} aria-label={`schedule of ${pipeline}`}>
      <h2 style={{ marginTop: 0 }}>Schedule of {pipeline}</h2>
      <form onSubmit={submit} className="row">
        {timed && (
          <>
            <label>
              cron or preset
              <input value={cron} onChange={(e) => setCron(e.target.value)} placeholder="0 3 * * *" />
            </label>
            <label>
              time zone
              <input value={tz} onChange={(e) => setTz(e.target.value)} />
            </label>
          </>
        )}
        <label className="inline">
          <input type="checkbox" checked={catchup} onChange={(e) => setCatchup(e.target.checked)} /> catchup
        </label>
        <label>
          max active runs
          <input value={maxRuns} onChange={(e) => setMaxRuns(e.target.value)} inputMode="numeric" style={{ width: 80 }} />
        </label>
        <button className="primary" type="submit" disabled={save.isPending || !access.may("schedule")} title={access.why("schedule")}>
          Save
        </button>
        {save.isSuccess && <span className="muted">saved</span>}
      </form>
      <ErrorBox error={save.error} />
      {timed && (
        <>
          <h2>Backfill</h2>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              backfill.mutate();
            }}
          >
            <label>
              from
              <input type="date" value={start} onChange={(e) => setStart(e.target.value)} required />
            </label>
            <label>
              to (exclusive)
              <input type="date" value={end} onChange={(e) => setEnd(e.target.value)} required />
            </label>
            <label>
              reprocess
              <select value={reprocess} onChange={(e) => setReprocess(e.target.value)}>
                <option value="none">none: skip intervals with runs</option>
                <option value="failed">failed: re-run failed ones</option>
                <option value="all">all</option>
              </select>
            </label>
            <button type="submit" disabled={backfill.isPending || !start || !end || !access.may("schedule")} title={access.why("schedule")}>
              Start backfill
            </button>
          </form>
          <ErrorBox error={backfill.error} />
          {backfill.data && (
            <p className="muted">
              {backfill.data.runs.length} run(s) queued, {backfill.data.skipped.length} interval(s) already covered.
            </p>
          )}
        </>
      )}
    </div>
  );
}
