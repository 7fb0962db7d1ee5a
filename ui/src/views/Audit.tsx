import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, call, type Schemas } from "../api/client";
import type { operations } from "../api/schema";
import { Empty, ErrorBox } from "../components/Empty";
import { when } from "../components/Status";

type AuditRow = Schemas["AuditOut"];
type AuditQuery = NonNullable<operations["list_audit_api_v1_audit_get"]["parameters"]["query"]>;

const PAGE = 50;
const METHODS = ["POST", "PUT", "PATCH", "DELETE"] as const;
const SINCE: Record<string, number> = { "": 0, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

/** The path a row's call was made on: its route template with the path values filled in. */
export function filledRoute(row: Pick<AuditRow, "route" | "path_params">): string {
  let path = row.route;
  for (const [key, value] of Object.entries(row.path_params ?? {}))
    path = path.split(`{${key}}`).join(encodeURIComponent(String(value)));
  return path;
}

/** A request body's summary as one short line of JSON (none: a dash). */
export function bodyLine(body: unknown, most = 120): string {
  if (body === null || body === undefined) return "-";
  const text = JSON.stringify(body);
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}

/** The query of GET /api/v1/audit for the filters on the page (empty ones left out). */
export function auditQuery(
  filters: { user: string; method: string; route: string; outcome: string; since: string },
  page: number,
  now: number = Date.now(),
): AuditQuery {
  const query: AuditQuery = { limit: PAGE, offset: page * PAGE };
  if (filters.user.trim()) query.user = filters.user.trim();
  const method = METHODS.find((m) => m === filters.method);
  if (method) query.method = method;
  if (filters.route.trim()) query.route = filters.route.trim();
  if (filters.outcome === "ok" || filters.outcome === "error") query.outcome = filters.outcome;
  const seconds = SINCE[filters.since];
  if (seconds) query.since = new Date(now - seconds * 1000).toISOString();
  return query;
}

/** The audit log: every mutating API call, newest first, with filters. */
export function AuditView() {
  const [params, setParams] = useSearchParams();
  const get = (k: string) => params.get(k) ?? "";
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    if (k !== "page") next.delete("page");
    setParams(next, { replace: true });
  };
  const filters = { user: get("user"), method: get("method"), route: get("route"), outcome: get("outcome"), since: get("since") };
  const page = Math.max(0, Number(get("page")) || 0);
  const q = useQuery({
    queryKey: ["audit", filters, page],
    queryFn: () => call(api.GET("/api/v1/audit", { params: { query: auditQuery(filters, page) } })),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <h1>Audit log</h1>
      <div className="row" role="search" style={{ marginBottom: 12 }}>
        <label>
          user
          <input value={filters.user} onChange={(e) => set("user", e.target.value)} placeholder="any" />
        </label>
        <label>
          method
          <select value={filters.method} onChange={(e) => set("method", e.target.value)}>
            <option value="">any</option>
            {METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          route
          <input value={filters.route} onChange={(e) => set("route", e.target.value)} placeholder="/api/v1/runs" />
        </label>
        <label>
          outcome
          <select value={filters.outcome} onChange={(e) => set("outcome", e.target.value)}>
            <option value="">any</option>
            <option value="ok">ok</option>
            <option value="error">error</option>
          </select>
        </label>
        <label>
          since
          <select value={filters.since} onChange={(e) => set("since", e.target.value)}>
            {Object.keys(SINCE).map((s) => (
              <option key={s} value={s}>
                {s || "any time"}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={q.error} />
      {q.data && q.data.items.length === 0 && <Empty title="No calls recorded">Nothing matches these filters.</Empty>}
      {q.data && q.data.items.length > 0 && (
        <>
          <table className="data" aria-label="audit log">
            <thead>
              <tr>
                <th>when</th>
                <th>user</th>
                <th>call</th>
                <th>status</th>
                <th>body</th>
                <th>client</th>
                <th>ms</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((r) => (
                <tr key={r.id} title={`request ${r.request_id} · namespace ${r.namespace}`}>
                  <td>{when(r.at)}</td>
                  <td>{r.user}</td>
                  <td>
                    <code>{r.method}</code> {filledRoute(r)}
                  </td>
                  <td className={r.outcome === "error" ? "error" : undefined}>
                    {r.status}
                    {r.error && <div className="muted">{r.error}</div>}
                  </td>
                  <td>
                    <code>{bodyLine(r.body)}</code>
                  </td>
                  <td>{r.client ?? "-"}</td>
                  <td>{Math.round(r.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row" style={{ marginTop: 8 }}>
            <button disabled={page === 0} onClick={() => set("page", String(page - 1))}>
              newer
            </button>
            <span className="muted">
              {q.data.offset + 1}–{q.data.offset + q.data.items.length} of {q.data.total}
            </span>
            <button disabled={q.data.next_offset === null} onClick={() => set("page", String(page + 1))}>
              older
            </button>
          </div>
        </>
      )}
    </>
  );
}
