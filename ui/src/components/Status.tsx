export const STATES = [
  "succeeded",
  "cached",
  "failed",
  "upstream_failed",
  "running",
  "queued",
  "waiting",
  "deferred",
  "pending",
  "skipped",
  "up_for_retry",
  "cancelled",
] as const;

export function stateColor(state: string | null | undefined): string {
  return `var(--s-${state ?? "pending"})`;
}

export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  return (
    <span className="badge" style={{ background: stateColor(state) }} data-state={state} data-testid={testId}>
      {state.replace("_", " ")}
    </span>
  );
}

export function StateSquare({ state, title }: { state: string; title?: string }) {
  return (
    <span
      className="sq"
      role="img"
      aria-label={title ?? state}
      title={title ?? state}
      style={{ background: stateColor(state) }}
    />
  );
}

export function duration(start?: string | null, end?: string | null): string {
  if (!start) return "-";
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function when(iso?: string | null): string {
  if (!iso) return "-";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}
