import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api, call, type Schemas } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { LineChart } from "../components/LineChart";
import { StateBadge, stateColor, when } from "../components/Status";
import { cellText } from "./Experiments";

type Trial = Schemas["TrialOut"];

const TRIAL_COLORS: Record<string, string> = {
  complete: "succeeded",
  pruned: "skipped",
  failed: "failed",
  running: "running",
  lost: "cancelled",
};

/** Tuning studies with their trials counted by state. */
export function StudiesView() {
  const q = useQuery({
    queryKey: ["studies"],
    queryFn: () => call(api.GET("/api/v1/studies", { params: { query: { limit: 1000 } } })),
    refetchInterval: 5000,
  });
  return (
    <>
      <h1>Studies</h1>
      <ErrorBox error={q.error} />
      {q.data && q.data.length === 0 && (
        <Empty title="No tuning studies yet">
          Start one with <code>headwater tune FILE --space space.yaml --objective TASK.METRIC</code>.
        </Empty>
      )}
      {q.data && q.data.length > 0 && (
        <table className="data" aria-label="studies">
          <thead>
            <tr>
              <th>study</th>
              <th>state</th>
              <th>pipeline</th>
              <th>objective</th>
              <th>trials</th>
              <th>started</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((s) => (
              <tr key={s.name}>
                <td>
                  <Link to={`/studies/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                </td>
                <td>
                  <StateBadge state={s.status} />
                </td>
                <td>{s.pipeline}</td>
                <td>
                  {s.direction} {s.objective}
                </td>
                <td>
                  {Object.entries(s.trials)
                    .map(([k, v]) => `${v} ${k}`)
                    .join(", ")}
                </td>
                <td>{when(s.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Numeric positions of a parameter's values on a parallel-coordinates axis (0..1):
 * numbers scaled between their extremes, other values spread in sorted order. */
export function axisPositions(values: unknown[]): (number | null)[] {
  const numbers = values.filter((v): v is number => typeof v === "number");
  if (numbers.length === values.filter((v) => v !== undefined && v !== null).length && numbers.length) {
    const lo = Math.min(...numbers);
    const hi = Math.max(...numbers);
    return values.map((v) => (typeof v === "number" ? (hi === lo ? 0.5 : (v - lo) / (hi - lo)) : null));
  }
  const labels = Array.from(new Set(values.filter((v) => v !== undefined && v !== null).map((v) => cellText(v)))).sort();
  return values.map((v) =>
    v === undefined || v === null ? null : labels.length === 1 ? 0.5 : labels.indexOf(cellText(v)) / (labels.length - 1),
  );
}

function Parallel({ trials, params, objective }: { trials: Trial[]; params: string[]; objective: string }) {
  const done = trials.filter((t) => t.state === "complete" && t.value !== null);
  if (done.length < 2 || params.length === 0) return null;
  const axes = [...params, objective];
  const columns = axes.map((a, i) =>
    axisPositions(done.map((t) => (i === params.length ? t.value : t.params[a]))),
  );
  const values = done.map((t) => t.value as number);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const width = Math.max(360, axes.length * 140);
  const x = (i: number) => 40 + (i * (width - 80)) / Math.max(1, axes.length - 1);
  const y = (p: number) => 230 - p * 200;
  const shade = (v: number) => `hsl(${220 - ((v - lo) / (hi - lo || 1)) * 200}, 70%, 45%)`;
  return (
    <div className="card scroll" style={{ marginTop: 10 }}>
      <div>
        <strong>Parallel coordinates</strong>
      </div>
      <svg width={width} height={260} role="img" aria-label="parallel coordinates of the trials">
        {axes.map((a, i) => (
          <g key={a}>
            <line x1={x(i)} y1={30} x2={x(i)} y2={230} stroke="var(--border)" />
            <text x={x(i)} y={250} fontSize={11} textAnchor="middle" fill="var(--muted)">
              {a}
            </text>
          </g>
        ))}
        {done.map((t, k) => (
          <polyline
            key={t.number}
            fill="none"
            stroke={shade(values[k])}
            strokeOpacity={0.7}
            points={columns
              .map((col, i) => (col[k] === null ? null : `${x(i)},${y(col[k] as number)}`))
              .filter(Boolean)
              .join(" ")}
          >
            <title>{`trial ${t.number}: ${objective} ${t.value}`}</title>
          </polyline>
        ))}
      </svg>
    </div>
  );
}

/** One study: its settings, the best trial, the optimisation history, parameter
 * importance, parallel coordinates and every trial (each a link to its run). */
export function StudyView() {
  const { name = "" } = useParams();
  const q = useQuery({
    queryKey: ["study", name],
    queryFn: () => call(api.GET("/api/v1/studies/{name}", { params: { path: { name } } })),
    refetchInterval: (query) => (query.state.data?.status === "running" ? 3000 : false),
    retry: false,
  });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <div className="muted">loading…</div>;
  const s = q.data;
  const params = Array.from(new Set(s.trial_list.flatMap((t) => Object.keys(t.params)))).sort();
  const best = s.trial_list.find((t) => t.number === s.best);
  const importance = Object.entries(s.importance);
  return (
    <>
      <h1>
        Study {s.name} <StateBadge state={s.status} />
      </h1>
      <p className="muted">
        {s.direction} <code>{s.objective}</code> of pipeline <Link to={`/pipelines/${s.pipeline}`}>{s.pipeline}</Link> · {s.sampler} sampler · {s.pruner} pruner ·{" "}
        <Link to={`/runs?experiment=${encodeURIComponent(s.name)}`}>its runs</Link>
      </p>
      {best ? (
        <div className="card" aria-label="best trial">
          <strong>Best: trial {best.number}</strong>, {s.objective} = {cellText(best.value)} with{" "}
          {Object.entries(best.params)
            .map(([k, v]) => `${k}=${cellText(v)}`)
            .join(", ")}
          {best.run_id && (
            <>
              {" "}
              (<Link to={`/runs/${best.run_id}`}>run</Link>)
            </>
          )}
        </div>
      ) : (
        <Empty title="No completed trial yet" />
      )}
      <div className="grid2">
        {s.history.length > 0 && (
          <div className="card" style={{ marginTop: 10 }} aria-label="optimization history">
            <LineChart
              title="Optimization history"
              series={[
                { label: s.objective, x: s.history.map((p) => p.number), y: s.history.map((p) => p.value) },
                { label: "best so far", x: s.history.map((p) => p.number), y: s.history.map((p) => p.best) },
              ]}
            />
          </div>
        )}
        {importance.length > 0 && (
          <div className="card" style={{ marginTop: 10 }}>
            <strong>Parameter importance</strong>
            <table className="data" aria-label="parameter importance">
              <tbody>
                {importance.map(([k, v]) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td style={{ width: "60%" }}>
                      <div style={{ background: "var(--accent)", height: 10, width: `${Math.round(v * 100)}%` }} />
                    </td>
                    <td>{v.toFixed(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <Parallel trials={s.trial_list} params={params} objective={s.objective} />
      <h2>Trials ({s.trial_list.length})</h2>
      <div className="scroll" style={{ maxHeight: "60vh" }}>
        <table className="data" aria-label="trials">
          <thead>
            <tr>
              <th>trial</th>
              <th>state</th>
              <th>{s.objective}</th>
              {params.map((p) => (
                <th key={p}>{p}</th>
              ))}
              <th>run</th>
            </tr>
          </thead>
          <tbody>
            {s.trial_list.map((t) => (
              <tr key={t.number} className={t.number === s.best ? "selected" : undefined}>
                <td>{t.number}</td>
                <td>
                  <span className="badge" style={{ background: stateColor(TRIAL_COLORS[t.state]) }} data-state={t.state}>
                    {t.state}
                  </span>
                </td>
                <td data-column="value">{cellText(t.value)}</td>
                {params.map((p) => (
                  <td key={p}>{cellText(t.params[p])}</td>
                ))}
                <td>{t.run_id && <Link to={`/runs/${t.run_id}`}>{t.run_id.slice(-8)}</Link>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
