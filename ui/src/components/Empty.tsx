import type { ReactNode } from "react";

/** An empty state that tells a new user what to do next. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <strong>{title}</strong>
      {children && <div style={{ marginTop: 8 }}>{children}</div>}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as { message?: string; hint?: string };
  return (
    <div className="card error" role="alert">
      {e.message ?? String(error)}
      {e.hint && <div className="muted">fix: {e.hint}</div>}
    </div>
  );
}
