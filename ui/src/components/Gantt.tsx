import type { Task } from "../api/client";
import { duration, stateColor } from "./Status";

/** One bar per task attempt, from start to end (or now, while running). */
export function Gantt({ tasks, onSelect }: { tasks: Task[]; onSelect?: (path: string) => void }) {
  const started = tasks.filter((t) => t.started_at);
  if (started.length === 0) return <div className="muted">No task has started yet.</div>;
  const t0 = Math.min(...started.map((t) => Date.parse(t.started_at!)));
  const now = Date.now();
  const end = Math.max(...started.map((t) => (t.finished_at ? Date.parse(t.finished_at) : now)));
  const span = Math.max(1, end - t0);
  const rowH = 18;
  const labelW = 220;
  const width = 900;
  const rows = [...started].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!));
  return (
    <div className="scroll" style={{ maxHeight: 420 }}>
      <svg
        width={labelW + width + 10}
        height={rows.length * rowH + 24}
        role="img"
        aria-label={`Gantt chart of ${rows.length} task attempts`}
      >
        <text x={labelW} y={12} fontSize={10} fill="var(--muted)">0</text>
        <text x={labelW + width - 60} y={12} fontSize={10} fill="var(--muted)">
          {duration(new Date(t0).toISOString(), new Date(end).toISOString())}
        </text>
        {rows.map((t, i) => {
          const s = Date.parse(t.started_at!);
          const e = t.finished_at ? Date.parse(t.finished_at) : now;
          const x = labelW + ((s - t0) / span) * width;
          const w = Math.max(2, ((e - s) / span) * width);
          const y = 18 + i * rowH;
          return (
            <g key={t.id} onClick={() => onSelect?.(t.path)} style={{ cursor: "pointer" }}>
              <text x={0} y={y + 12} fontSize={11} fill="var(--text)">
                {t.path.length > 32 ? `…${t.path.slice(-31)}` : t.path}
                {t.attempt > 1 ? ` #${t.attempt}` : ""}
              </text>
              <rect x={x} y={y + 2} width={w} height={rowH - 5} rx={2} fill={stateColor(t.status)}>
                <title>{`${t.path} attempt ${t.attempt}: ${t.status}, ${duration(t.started_at, t.finished_at)}`}</title>
              </rect>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
