import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { Link } from "react-router-dom";
import { api, call } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { StateSquare, when } from "../components/Status";

export function PipelinesView() {
  const client = useQueryClient();
  const q = useQuery({
    queryKey: ["pipelines"],
    queryFn: () => call(api.GET("/api/v1/pipelines", { params: { query: { limit: 200, recent: 12 } } })),
    refetchInterval: 2000,
    placeholderData: keepPreviousData,
  });
  const access = useAccess();
  const pause = useMutation({
    mutationFn: ({ name, paused }: { name: string; paused: boolean }) =>
      call(api.PATCH("/api/v1/schedules/{pipeline}", { params: { path: { pipeline: name } }, body: { paused } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["pipelines"] }),
  });
  return (
    <>
      <h1>Pipelines</h1>
      <ErrorBox error={q.error ?? pause.error} />
      {q.data && q.data.items.length === 0 && (
        <Empty title="No pipeline deployed yet">
          Deploy one with <code>headwater deploy examples/ml_pipeline.py</code>; it appears here with its
          schedule, and you can trigger it from its page.
        </Empty>
      )}
      {q.data && q.data.items.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>pipeline</th>
              <th>tags</th>
              <th>owner</th>
              <th>schedule</th>
              <th>next run</th>
              <th>paused</th>
              <th>last runs</th>
            </tr>
          </thead>
          <tbody>
            {q.data.items.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/pipelines/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                </td>
                <td>{p.tags.join(", ") || <span className="muted">-</span>}</td>
                <td>{p.owner ?? <span className="muted">-</span>}</td>
                <td>
                  <code>{p.schedule ?? "-"}</code>
                </td>
                <td>{when(p.next_run_at)}</td>
                <td>
                  {p.paused === null || p.paused === undefined ? (
                    <span className="muted">-</span>
                  ) : (
                    <label className="inline">
                      <input
                        type="checkbox"
                        checked={p.paused}
                        aria-label={`pause ${p.name}`}
                        disabled={!access.may("schedule")}
                        title={access.why("schedule")}
                        onChange={(e) => pause.mutate({ name: p.name, paused: e.target.checked })}
                      />
                      {p.paused ? "paused" : "active"}
                    </label>
                  )}
                </td>
                <td>
                  {[...p.recent_runs].reverse().map((r) => (
                    <Link key={r.id} to={`/runs/${r.id}`} aria-label={`run ${r.id} ${r.status}`}>
                      <StateSquare state={r.status} title={`${r.id} ${r.status} ${when(r.created_at)}`} />
                    </Link>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
