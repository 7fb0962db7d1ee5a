import { useEffect, useMemo, useState } from "react";
import { authHeader } from "../api/client";

/** A task attempt's log: read, then followed while the attempt runs (server-sent events
 * over fetch, so the token goes in a header); searchable. */
export function LogView({ runId, task, attempt, live }: { runId: string; task: string; attempt: number; live: boolean }) {
  const [text, setText] = useState("");
  const [search, setSearch] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText("");
    setError(null);
    const ctrl = new AbortController();
    const base = `/api/v1/runs/${runId}/tasks/${encodeURIComponent(task)}/logs`;
    (async () => {
      try {
        if (!live) {
          const r = await fetch(`${base}?attempt=${attempt}`, { headers: authHeader(), signal: ctrl.signal });
          const body = await r.json();
          if (!r.ok) throw new Error(body.error ?? r.statusText);
          setText(body.text);
          return;
        }
        const r = await fetch(`${base}/follow?attempt=${attempt}`, { headers: authHeader(), signal: ctrl.signal });
        if (!r.ok || !r.body) throw new Error(`log stream: ${r.status}`);
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          const events = buffer.split("\n\n");
          buffer = events.pop() ?? "";
          for (const ev of events) {
            const data = ev.split("\n").find((l) => l.startsWith("data: "));
            if (ev.startsWith("event: end")) return;
            if (data) {
              const chunk = JSON.parse(data.slice(6)) as { text?: string };
              if (chunk.text) setText((t) => t + chunk.text);
            }
          }
        }
      } catch (e) {
        if (!ctrl.signal.aborted) setError(String((e as Error).message ?? e));
      }
    })();
    return () => ctrl.abort();
  }, [runId, task, attempt, live]);
  const shown = useMemo(() => {
    if (!search) return text;
    return text
      .split("\n")
      .filter((l) => l.toLowerCase().includes(search.toLowerCase()))
      .join("\n");
  }, [text, search]);
  return (
    <div>
      <div className="row" style={{ marginBottom: 6 }}>
        <label className="inline">
          search
          <input value={search} onChange={(e) => setSearch(e.target.value)} aria-label="search the log" />
        </label>
        {live && <span className="muted">following…</span>}
      </div>
      {error && <div className="error">{error}</div>}
      <pre className="log" aria-label={`log of ${task} attempt ${attempt}`} data-testid="task-log">
        {shown || <span className="muted">(empty)</span>}
      </pre>
    </div>
  );
}
