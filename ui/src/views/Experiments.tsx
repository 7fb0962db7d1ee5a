import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, call, type Schemas } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { StateBadge, when } from "../components/Status";

type Comparison = Schemas["ComparisonOut"];
type Row = Schemas["ComparedRunOut"];

/** Experiments, the one with the newest run first, each linking to its runs table. */
export function ExperimentsView() {
  const q = useQuery({
    queryKey: ["experiments"],
    queryFn: () => call(api.GET("/api/v1/experiments", { params: { query: { limit: 1000 } } })),
    refetchInterval: 5000,
  });
  return (
    <>
      <h1>Experiments</h1>
      <ErrorBox error={q.error} />
      {q.data && q.data.length === 0 && (
        <Empty title="No experiments yet">
          Every run belongs to one: its pipeline's, or the one named with <code>headwater run --experiment NAME</code>.
        </Empty>
      )}
      {q.data && q.data.length > 0 && (
        <table className="data" aria-label="experiments">
          <thead>
            <tr>
              <th>experiment</th>
              <th>runs</th>
              <th>last run</th>
              <th>pipelines</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((e) => (
              <tr key={e.name}>
                <td>
                  <Link to={`/runs?experiment=${encodeURIComponent(e.name)}`}>{e.name}</Link>
                </td>
                <td>{e.runs.toLocaleString()}</td>
                <td>{when(e.last_run_at)}</td>
                <td className="muted">{e.pipelines.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** What a cell shows: numbers to six significant digits, other values as JSON. */
export function cellText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") return String(Number(value.toPrecision(6)));
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The conditions typed in the filter box: separated by commas or semicolons. */
export function conditions(text: string): string[] {
  return text
    .split(/[;,]/)
    .map((c) => c.trim())
    .filter(Boolean);
}

/** The next sort when a column's header is clicked: ascending, then descending, then none. */
export function nextSort(sort: string, order: string, column: string): { sort: string; order: string } {
  if (sort !== column) return { sort: column, order: "asc" };
  if (order === "asc") return { sort: column, order: "desc" };
  return { sort: "", order: "" };
}

function value(row: Row, column: string): unknown {
  return column.startsWith("params.") ? row.parameters[column.slice(7)] : row.metrics[column];
}

/** The runs of one experiment: parameter and metric columns the user picks, sorted by
 * clicking a header, filtered by thresholds ("accuracy>0.9"); state kept in the URL. */
export function ExperimentRuns({ name }: { name: string }) {
  const [params, setParams] = useSearchParams();
  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  const sort = params.get("sort") ?? "";
  const order = params.get("order") ?? "";
  const where = params.get("where") ?? "";
  const [draft, setDraft] = useState(where);
  const [picking, setPicking] = useState(false);
  const q = useQuery({
    queryKey: ["experiment-runs", name, sort, order, where],
    queryFn: () =>
      call(
        api.GET("/api/v1/experiments/{name}/runs", {
          params: {
            path: { name },
            query: {
              where: conditions(where),
              sort: sort || undefined,
              order: (order || "asc") as "asc" | "desc",
              limit: 1000,
            },
          },
        }),
      ),
    refetchInterval: 5000,
    placeholderData: keepPreviousData,
    retry: false,
  });
  const data: Comparison | undefined = q.data;
  const every = data ? [...data.parameters.map((p) => `params.${p}`), ...data.metrics] : [];
  const chosenParam = params.get("cols");
  const columns = chosenParam === null ? every : chosenParam.split(",").filter((c) => every.includes(c));
  const toggleColumn = (column: string) => {
    const next = columns.includes(column) ? columns.filter((c) => c !== column) : [...columns, column];
    set({ cols: every.filter((c) => next.includes(c)).join(",") || "-" });
  };
  const header = (column: string) => {
    const next = nextSort(sort, order, column);
    const arrow = sort === column ? (order === "desc" ? " ▼" : " ▲") : "";
    return (
      <th key={column} aria-sort={sort === column ? (order === "desc" ? "descending" : "ascending") : "none"}>
        <button className="link" onClick={() => set(next)} aria-label={`sort by ${column}`}>
          {column}
          {arrow}
        </button>
      </th>
    );
  };
  return (
    <>
      <form
        className="row"
        role="search"
        aria-label="filter runs by metrics and parameters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ where: draft.trim() });
        }}
      >
        <label>
          where
          <input
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="accuracy>0.9, params.optimizer=sgd"
            style={{ minWidth: 320 }}
          />
        </label>
        <button type="submit">filter</button>
        <button type="button" onClick={() => setPicking(!picking)} aria-expanded={picking}>
          columns ({columns.length}/{every.length})
        </button>
        {q.isFetching && <span className="muted">…</span>}
      </form>
      {picking && (
        <fieldset className="card row" aria-label="columns">
          {every.map((c) => (
            <label key={c} className="inline">
              <input type="checkbox" checked={columns.includes(c)} onChange={() => toggleColumn(c)} /> {c}
            </label>
          ))}
        </fieldset>
      )}
      <ErrorBox error={q.error} />
      {data && (
        <>
          <div className="muted" aria-live="polite">
            {data.matched < data.total
              ? `${data.matched.toLocaleString()} of ${data.total.toLocaleString()} run(s) match`
              : `${data.total.toLocaleString()} run(s)`}
            {data.runs.length < data.matched && `, the first ${data.runs.length.toLocaleString()} shown`}
          </div>
          <div className="scroll" style={{ maxHeight: "70vh" }}>
            <table className="data" aria-label={`runs of experiment ${name}`}>
              <thead>
                <tr>
                  <th>state</th>
                  <th>run</th>
                  <th>created</th>
                  {columns.map(header)}
                </tr>
              </thead>
              <tbody>
                {data.runs.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <StateBadge state={r.status} />
                    </td>
                    <td>
                      <Link to={`/runs/${r.id}`}>
                        <code>{r.id}</code>
                      </Link>
                    </td>
                    <td>{when(r.created_at)}</td>
                    {columns.map((c) => (
                      <td key={c} data-column={c}>
                        {cellText(value(r, c))}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
