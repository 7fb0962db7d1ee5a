import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api, call } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { when } from "../components/Status";

/** An external event's metadata as short JSON text ("-" without any). */
export function metadataText(metadata: Record<string, unknown> | null | undefined, max = 80): string {
  if (!metadata || Object.keys(metadata).length === 0) return "-";
  const text = JSON.stringify(metadata);
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

export function AssetsView() {
  const [picked, setPicked] = useState<string | null>(null);
  const assets = useQuery({
    queryKey: ["assets"],
    queryFn: () => call(api.GET("/api/v1/assets", { params: { query: { limit: 500 } } })),
    refetchInterval: 2000,
  });
  const events = useQuery({
    queryKey: ["asset-events", picked],
    queryFn: () =>
      call(api.GET("/api/v1/asset-events", { params: { query: { limit: 100, asset: picked ?? undefined } } })),
    refetchInterval: 2000,
  });
  return (
    <>
      <h1>Assets</h1>
      <ErrorBox error={assets.error ?? events.error} />
      {assets.data && assets.data.items.length === 0 ? (
        <Empty title="No assets yet">
          An asset is updated by a task, or from outside with <code>headwater assets emit NAME</code>. A task updates an asset with <code>@component(assets=&#123;"table": "warehouse://sales"&#125;)</code>; a pipeline
          runs when assets update with <code>@pipeline(schedule=Asset("warehouse://sales"))</code>.
        </Empty>
      ) : (
        <div className="grid2">
          <div>
            <h2>{picked ? `Events of ${picked}` : "Latest events"}</h2>
            <table className="data" aria-label="asset events">
              <thead>
                <tr>
                  <th>#</th>
                  <th>asset</th>
                  <th>when</th>
                  <th>from</th>
                  <th>artifact</th>
                  <th>metadata</th>
                  <th>triggered</th>
                </tr>
              </thead>
              <tbody>
                {events.data?.items.map((e) => (
                  <tr key={e.id}>
                    <td>{e.id}</td>
                    <td>{e.asset}</td>
                    <td>{when(e.created_at)}</td>
                    <td>
                      {e.run_id ? (
                        <Link to={`/runs/${e.run_id}`}>run {e.run_id.slice(-8)}</Link>
                      ) : (
                        <span title="reported from outside a run">external: {e.source ?? "?"}</span>
                      )}
                    </td>
                    <td>{e.artifact_id ? <Link to={`/artifacts/${e.artifact_id}`}>{e.artifact_id.slice(-8)}</Link> : "-"}</td>
                    <td className="muted">{metadataText(e.metadata)}</td>
                    <td>
                      {e.triggered.length === 0
                        ? "-"
                        : e.triggered.map((r) => (
                            <Link key={r} to={`/runs/${r}`} style={{ marginRight: 6 }}>
                              {r.slice(-8)}
                            </Link>
                          ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div>
            <h2>Assets</h2>
            <table className="data" aria-label="assets">
              <tbody>
                {assets.data?.items.map((a) => (
                  <tr
                    key={a.id}
                    className={`clickable ${picked === a.name ? "selected" : ""}`}
                    tabIndex={0}
                    onClick={() => setPicked(picked === a.name ? null : a.name)}
                    onKeyDown={(e) => e.key === "Enter" && setPicked(picked === a.name ? null : a.name)}
                  >
                    <td>{a.name}</td>
                    <td>{a.events} event(s)</td>
                    <td className="muted">{when(a.last_event_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </>
  );
}
