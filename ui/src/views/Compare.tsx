import { useQueries, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, call, type Run, type Schemas } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { LineChart, type Series } from "../components/LineChart";
import { StateBadge, when } from "../components/Status";

type MetricSeries = Schemas["SeriesOut"];

/** The last value of each metric of a run ("task/key" when two tasks log the same key). */
export function finalMetrics(series: MetricSeries[]): Record<string, number> {
  const count = new Map<string, number>();
  for (const s of series) count.set(s.key, (count.get(s.key) ?? 0) + 1);
  const out: Record<string, number> = {};
  for (const s of series) {
    if (s.value.length) out[count.get(s.key)! > 1 ? `${s.task}/${s.key}` : s.key] = s.value[s.value.length - 1];
  }
  return out;
}

/** Series logged with steps (training curves), by key, labelled with their task. */
export function curves(series: MetricSeries[], prefix = ""): Series[] {
  return series
    .filter((s) => s.value.length > 1 && s.step.some((x) => x !== null))
    .map((s) => ({ label: `${prefix}${s.task}/${s.key}`, x: s.step.map((x, i) => x ?? i), y: s.value }));
}

export function CompareView() {
  const [params, setParams] = useSearchParams();
  const chosen = (params.get("runs") ?? "").split(",").filter(Boolean);
  const [pipeline, setPipeline] = useState("");
  const candidates = useQuery({
    queryKey: ["runs", "compare", pipeline],
    queryFn: () => call(api.GET("/api/v1/runs", { params: { query: { limit: 100, pipeline: pipeline || undefined } } })),
  });
  const details = useQueries({
    queries: chosen.map((id) => ({
      queryKey: ["run", id],
      queryFn: () => call(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })),
      refetchInterval: (q: { state: { data?: Run } }) =>
        ["queued", "running"].includes(q.state.data?.status ?? "") ? 2000 : (false as const),
    })),
  });
  const metrics = useQueries({
    queries: chosen.map((id, i) => ({
      queryKey: ["metric-series", id],
      queryFn: () => call(api.GET("/api/v1/runs/{run_id}/metric-series", { params: { path: { run_id: id } } })),
      // Curves of a running run grow; an ended run's are final (and may be long).
      refetchInterval: ["queued", "running"].includes(details[i]?.data?.status ?? "") ? 2000 : (false as const),
    })),
  });
  const toggle = (id: string) => {
    const next = chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id];
    const p = new URLSearchParams(params);
    if (next.length) p.set("runs", next.join(","));
    else p.delete("runs");
    setParams(p, { replace: true });
  };
  const runs = details.map((d) => d.data).filter(Boolean) as Run[];
  const finals = metrics.map((m) => finalMetrics(m.data ?? []));
  const paramKeys = Array.from(new Set(runs.flatMap((r) => Object.keys(r.parameters)))).sort();
  const metricKeys = Array.from(new Set(finals.flatMap((f) => Object.keys(f)))).sort();
  const series = useMemo(() => {
    const byKey: Record<string, Series[]> = {};
    metrics.forEach((m, i) => {
      for (const s of curves(m.data ?? [], chosen.length > 1 ? `${chosen[i].slice(-6)} ` : "")) {
        const key = s.label.split("/").pop()!;
        (byKey[key] ??= []).push(s);
      }
    });
    return byKey;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [metrics.map((m) => m.dataUpdatedAt).join(","), chosen.join(",")]);
  const [xKey, setXKey] = useState("");
  const [yKey, setYKey] = useState("");
  return (
    <>
      <h1>Compare runs</h1>
      <ErrorBox error={candidates.error} />
      <div className="grid2">
        <div>
          {chosen.length === 0 ? (
            <Empty title="Pick runs to compare">Tick two or more runs on the right: their parameters and metrics line up here, with overlaid training curves.</Empty>
          ) : (
            <>
              <h2>Parameters and metrics</h2>
              <div className="scroll">
                <table className="data" aria-label="run comparison">
                  <thead>
                    <tr>
                      <th />
                      {runs.map((r) => (
                        <th key={r.id}>
                          <Link to={`/runs/${r.id}`}>{r.id.slice(-8)}</Link> <StateBadge state={r.status} />
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {paramKeys.map((k) => (
                      <tr key={`p-${k}`}>
                        <th>{k}</th>
                        {runs.map((r) => (
                          <td key={r.id}>{JSON.stringify(r.parameters[k])}</td>
                        ))}
                      </tr>
                    ))}
                    {metricKeys.map((k) => (
                      <tr key={`m-${k}`}>
                        <th>{k}</th>
                        {finals.map((f, i) => (
                          <td key={i}>{f[k] === undefined ? "-" : Number(f[k].toPrecision(6))}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {Object.entries(series).map(([key, s]) => (
                <div key={key} className="card" style={{ marginTop: 10 }}>
                  <LineChart series={s} title={key} />
                </div>
              ))}
              {metricKeys.length + paramKeys.length >= 2 && runs.length >= 2 && (
                <Scatter runs={runs} finals={finals} keys={[...paramKeys.map((k) => `param:${k}`), ...metricKeys]} xKey={xKey} yKey={yKey} setX={setXKey} setY={setYKey} />
              )}
            </>
          )}
        </div>
        <div>
          <label>
            pipeline
            <input value={pipeline} onChange={(e) => setPipeline(e.target.value)} placeholder="any" />
          </label>
          <ul style={{ listStyle: "none", padding: 0 }} aria-label="runs to compare">
            {candidates.data?.items.map((r) => (
              <li key={r.id}>
                <label className="inline">
                  <input type="checkbox" checked={chosen.includes(r.id)} onChange={() => toggle(r.id)} />
                  <StateBadge state={r.status} /> {r.pipeline} <code>{r.id.slice(-8)}</code>{" "}
                  <span className="muted">{when(r.created_at)}</span>
                </label>
              </li>
            ))}
          </ul>
        </div>
      </div>
    </>
  );
}

function Scatter(props: {
  runs: Run[];
  finals: Record<string, number>[];
  keys: string[];
  xKey: string;
  yKey: string;
  setX: (k: string) => void;
  setY: (k: string) => void;
}) {
  const value = (i: number, k: string): number | undefined => {
    if (k.startsWith("param:")) {
      const v = props.runs[i].parameters[k.slice(6)];
      return typeof v === "number" ? v : undefined;
    }
    return props.finals[i][k];
  };
  // By default: the first numeric parameter that differs between the runs, against the
  // first metric that does (what a sweep varied, and what it changed).
  const varies = (k: string) => new Set(props.runs.map((_, i) => value(i, k)).filter((v) => v !== undefined)).size > 1;
  const x = props.xKey || props.keys.find((k) => k.startsWith("param:") && varies(k)) || props.keys[0];
  const y = props.yKey || props.keys.find((k) => !k.startsWith("param:") && varies(k)) || props.keys[1];
  const pts = props.runs
    .map((r, i) => ({ id: r.id, x: value(i, x), y: value(i, y) }))
    .filter((p) => p.x !== undefined && p.y !== undefined) as { id: string; x: number; y: number }[];
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (v: number) => 40 + ((v - x0) / (x1 - x0 || 1)) * 400;
  const sy = (v: number) => 220 - ((v - y0) / (y1 - y0 || 1)) * 200;
  return (
    <div className="card" style={{ marginTop: 10 }}>
      <div className="row">
        <strong>Sweep view</strong>
        <label className="inline">
          x <select value={x} onChange={(e) => props.setX(e.target.value)}>{props.keys.map((k) => <option key={k}>{k}</option>)}</select>
        </label>
        <label className="inline">
          y <select value={y} onChange={(e) => props.setY(e.target.value)}>{props.keys.map((k) => <option key={k}>{k}</option>)}</select>
        </label>
      </div>
      <svg width={460} height={240} role="img" aria-label={`scatter of ${y} against ${x}`}>
        <line x1={40} y1={220} x2={440} y2={220} stroke="var(--border)" />
        <line x1={40} y1={20} x2={40} y2={220} stroke="var(--border)" />
        {pts.map((p) => (
          <circle key={p.id} cx={sx(p.x)} cy={sy(p.y)} r={5} fill="var(--accent)">
            <title>{`${p.id}: ${x}=${p.x}, ${y}=${p.y}`}</title>
          </circle>
        ))}
        <text x={40} y={236} fontSize={10} fill="var(--muted)">{x0}</text>
        <text x={420} y={236} fontSize={10} fill="var(--muted)">{x1}</text>
        <text x={2} y={24} fontSize={10} fill="var(--muted)">{y1}</text>
      </svg>
    </div>
  );
}
