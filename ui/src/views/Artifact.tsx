import { useQuery } from "@tanstack/react-query";
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, authHeader, call, type Schemas } from "../api/client";
import { Dag } from "../components/Dag";
import { ErrorBox } from "../components/Empty";
import { when } from "../components/Status";
import type { Graph } from "../graph";

type Lineage = Schemas["Lineage"];

/** Lineage as a graph: artifacts as nodes, edges through the attempts that link them. */
export function lineageGraph(l: Lineage): Graph {
  const label = (a: Schemas["ArtifactOut"]) => `${a.name} · ${a.type.replace(/^headwater\./, "")}`;
  const nodes = new Map<string, Graph["nodes"][number]>();
  const add = (a: Schemas["ArtifactOut"]) => nodes.set(a.id, { id: a.id, label: label(a), kind: "task" });
  add(l.artifact);
  const edges: Graph["edges"] = [];
  const byDepth = (list: Lineage["upstream"]) => {
    const m = new Map<number, Lineage["upstream"]>();
    for (const n of list) m.set(n.depth, [...(m.get(n.depth) ?? []), n]);
    return m;
  };
  const up = byDepth(l.upstream);
  for (const [depth, list] of up) {
    for (const n of list) {
      add(n.artifact);
      const prev = depth === 1 ? [{ artifact: l.artifact }] : (up.get(depth - 1) ?? []);
      for (const p of prev)
        if (p.artifact.task_run_id === n.task_run_id)
          edges.push({ id: `${n.artifact.id}->${p.artifact.id}`, source: n.artifact.id, target: p.artifact.id, label: n.task ?? undefined, ordering: false });
    }
  }
  const down = byDepth(l.downstream);
  for (const [depth, list] of down) {
    for (const n of list) {
      add(n.artifact);
      const prev = depth === 1 ? [{ artifact: l.artifact }] : (down.get(depth - 1) ?? []);
      for (const p of prev)
        edges.push({ id: `${p.artifact.id}->${n.artifact.id}`, source: p.artifact.id, target: n.artifact.id, label: n.task ?? undefined, ordering: false });
    }
  }
  return { nodes: [...nodes.values()], edges };
}

async function download(id: string, name: string) {
  const r = await fetch(`/api/v1/artifacts/${id}/download`, { headers: authHeader() });
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

export function ArtifactView() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const art = useQuery({
    queryKey: ["artifact", id],
    queryFn: () => call(api.GET("/api/v1/artifacts/{artifact_id}", { params: { path: { artifact_id: id } } })),
  });
  const preview = useQuery({
    queryKey: ["preview", id],
    retry: false,
    queryFn: () => call(api.GET("/api/v1/artifacts/{artifact_id}/preview", { params: { path: { artifact_id: id }, query: { rows: 20 } } })),
  });
  const lineage = useQuery({
    queryKey: ["lineage", id],
    queryFn: () => call(api.GET("/api/v1/artifacts/{artifact_id}/lineage", { params: { path: { artifact_id: id } } })),
  });
  const graph = useMemo(() => (lineage.data ? lineageGraph(lineage.data) : null), [lineage.data]);
  if (art.error) return <ErrorBox error={art.error} />;
  if (!art.data) return <div className="muted">loading…</div>;
  const a = art.data;
  const meta = a.metadata as Record<string, unknown>;
  return (
    <>
      <h1>
        {a.name} <span className="muted">· {a.type}</span>
      </h1>
      <div className="row">
        <button className="primary" onClick={() => download(a.id, a.uri.split("/").pop() ?? a.name)}>
          Download
        </button>
        {a.run_id && <Link to={`/runs/${a.run_id}`}>run {a.run_id}</Link>}
        <span className="muted">
          {a.size ?? "?"} bytes · {when(a.created_at)} · <code>{a.digest}</code>
        </span>
      </div>
      <div className="grid2" style={{ marginTop: 12 }}>
        <div>
          <h2>Preview</h2>
          <Classification meta={meta} />
          {preview.error ? (
            <div className="muted">{(preview.error as Error).message}</div>
          ) : (
            preview.data && <PreviewBox p={preview.data} />
          )}
        </div>
        <div>
          <h2>Metadata</h2>
          <pre className="log">{JSON.stringify(meta, null, 2)}</pre>
          <div className="muted">
            <code>{a.uri}</code>
          </div>
        </div>
      </div>
      <h2>Lineage</h2>
      {graph && graph.nodes.length > 1 ? (
        <Dag graph={graph} onSelect={(node) => node !== a.id && navigate(`/artifacts/${node}`)} selected={a.id} />
      ) : (
        <div className="muted">Nothing was made from this artifact, and it was made from nothing recorded.</div>
      )}
    </>
  );
}

function PreviewBox({ p }: { p: Schemas["Preview"] }) {
  if (p.kind === "table")
    return (
      <div className="scroll card" style={{ maxHeight: 420 }}>
        <table className="data" aria-label="table preview">
          <thead>
            <tr>{(p.columns ?? []).map((c) => <th key={c}>{c}</th>)}</tr>
          </thead>
          <tbody>
            {(p.rows ?? []).map((r, i) => (
              <tr key={i}>{r.map((v, j) => <td key={j}>{String(v)}</td>)}</tr>
            ))}
          </tbody>
        </table>
        {p.truncated && <div className="muted">… more rows</div>}
      </div>
    );
  if (p.kind === "html")
    return <iframe title="HTML preview" sandbox="" srcDoc={p.text ?? ""} style={{ width: "100%", height: 400, border: "1px solid var(--border)", background: "#fff" }} />;
  if (p.kind === "markdown")
    return <div className="card" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(marked.parse(p.text ?? "") as string) }} />;
  return <pre className="log">{p.text}{p.truncated ? "\n…" : ""}</pre>;
}

function Classification({ meta }: { meta: Record<string, unknown> }) {
  const cm = meta.confusion_matrix as { categories: string[]; matrix: number[][] } | undefined;
  const roc = meta.roc_curve as { fpr: number[]; tpr: number[] } | undefined;
  if (!cm && !roc) return null;
  const max = cm ? Math.max(1, ...cm.matrix.flat()) : 1;
  return (
    <div className="row" style={{ alignItems: "flex-start", marginBottom: 12 }}>
      {cm && (
        <table className="data" aria-label="confusion matrix" style={{ width: "auto" }}>
          <thead>
            <tr>
              <th>true \ predicted</th>
              {cm.categories.map((c) => <th key={c}>{c}</th>)}
            </tr>
          </thead>
          <tbody>
            {cm.matrix.map((row, i) => (
              <tr key={i}>
                <th>{cm.categories[i]}</th>
                {row.map((v, j) => (
                  <td key={j} style={{ background: `rgba(36,87,197,${(0.85 * v) / max})`, color: v / max > 0.5 ? "#fff" : undefined }}>
                    {v}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {roc && (
        <svg width={220} height={220} viewBox="-0.08 -0.05 1.13 1.13" role="img" aria-label="ROC curve">
          <rect x={0} y={0} width={1} height={1} fill="none" stroke="var(--border)" strokeWidth={0.005} />
          <line x1={0} y1={1} x2={1} y2={0} stroke="var(--muted)" strokeDasharray="0.02" strokeWidth={0.004} />
          <polyline
            fill="none"
            stroke="var(--accent)"
            strokeWidth={0.012}
            points={roc.fpr.map((f, i) => `${f},${1 - roc.tpr[i]}`).join(" ")}
          />
          <text x={0.35} y={1.09} fontSize={0.05} fill="var(--muted)">false positive rate</text>
        </svg>
      )}
    </div>
  );
}
