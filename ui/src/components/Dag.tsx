import {
  Background,
  Controls,
  type Edge,
  MarkerType,
  type Node,
  ReactFlow,
  type NodeProps,
  Handle,
  Position,
} from "@xyflow/react";
import { memo, useEffect, useMemo, useState } from "react";
import { BIG_GRAPH, type Graph, layout, type Placed } from "../graph";
import { stateColor } from "./Status";

export interface NodeState {
  state?: string;
  detail?: string; // e.g. "12/50 done" for a loop, or a duration
}

type TaskData = { name: string; label: string; kind: string; state?: string; detail?: string };

const TaskNode = memo(function TaskNode({ data }: NodeProps<Node<TaskData>>) {
  const group = data.kind !== "task";
  return (
    <div
      style={{
        width: "100%",
        height: "100%",
        borderRadius: 8,
        border: `2px solid ${data.state ? stateColor(data.state) : "var(--border)"}`,
        background: group ? "transparent" : "var(--bg)",
        padding: "4px 8px",
        fontSize: 12,
        overflow: "hidden",
      }}
      data-testid={`node-${data.name}`}
      data-state={data.state ?? ""}
    >
      <Handle type="target" position={Position.Left} style={{ opacity: 0 }} />
      <div style={{ fontWeight: 600, whiteSpace: "nowrap", textOverflow: "ellipsis", overflow: "hidden" }}>
        {group ? `${data.kind === "loop" ? "⟳" : data.kind === "condition" ? "◇" : "⤷"} ` : ""}
        {data.label}
      </div>
      {!group && (
        <div className="muted" style={{ fontSize: 11 }}>
          {data.state ?? ""} {data.detail ?? ""}
        </div>
      )}
      <Handle type="source" position={Position.Right} style={{ opacity: 0 }} />
    </div>
  );
});

const nodeTypes = { task: TaskNode };

/** The pipeline's DAG: tasks, groups drawn around their members, artifact types on edges. */
export function Dag({
  graph,
  states,
  onSelect,
  selected,
}: {
  graph: Graph;
  states?: Record<string, NodeState>;
  onSelect?: (id: string) => void;
  selected?: string | null;
}) {
  const [placed, setPlaced] = useState<Map<string, Placed> | null>(null);
  useEffect(() => {
    let live = true;
    layout(graph).then((p) => live && setPlaced(p));
    return () => {
      live = false;
    };
  }, [graph]);
  const nodes: Node<TaskData>[] = useMemo(() => {
    if (!placed) return [];
    return graph.nodes.map((n) => {
      const p = placed.get(n.id)!;
      const st = states?.[n.id];
      return {
        id: n.id,
        type: "task",
        position: { x: p.x, y: p.y },
        parentId: p.parent,
        extent: p.parent ? ("parent" as const) : undefined,
        selectable: true,
        draggable: false,
        selected: selected === n.id,
        style: { width: p.width, height: p.height, zIndex: n.kind === "task" ? 1 : 0 },
        data: { name: n.id, label: n.label, kind: n.kind, state: st?.state, detail: st?.detail },
      };
    });
  }, [graph, placed, states, selected]);
  const edges: Edge[] = useMemo(
    () =>
      graph.edges.map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        label: e.label,
        animated: states?.[e.source]?.state === "running",
        style: e.ordering ? { strokeDasharray: "4 3" } : undefined,
        markerEnd: { type: MarkerType.ArrowClosed },
        labelStyle: { fontSize: 10 },
      })),
    [graph, states],
  );
  if (!placed) return <div className="dag muted" aria-busy="true">laying out the graph…</div>;
  if (graph.nodes.length > BIG_GRAPH)
    return <BigDag graph={graph} placed={placed} states={states} onSelect={onSelect} selected={selected} />;
  return (
    <div className="dag" aria-label="pipeline graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        minZoom={0.05}
        onlyRenderVisibleElements={graph.nodes.length > 200}
        onNodeClick={(_, n) => onSelect?.(n.id)}
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

/** Big graphs as one SVG (no per-node DOM measuring): a thousand tasks draw at once. */
function BigDag({
  graph,
  placed,
  states,
  onSelect,
  selected,
}: {
  graph: Graph;
  placed: Map<string, Placed>;
  states?: Record<string, NodeState>;
  onSelect?: (id: string) => void;
  selected?: string | null;
}) {
  const [zoom, setZoom] = useState(0.35);
  let w = 0;
  let h = 0;
  for (const p of placed.values()) {
    w = Math.max(w, p.x + p.width);
    h = Math.max(h, p.y + p.height);
  }
  return (
    <div className="dag" style={{ overflow: "auto", position: "relative" }} aria-label="pipeline graph">
      <div className="row" style={{ position: "sticky", top: 0, left: 0, zIndex: 1, padding: 4 }}>
        <button onClick={() => setZoom((z) => z * 1.25)} aria-label="zoom in">+</button>
        <button onClick={() => setZoom((z) => z / 1.25)} aria-label="zoom out">−</button>
        <span className="muted">{graph.nodes.length} tasks</span>
      </div>
      <svg width={w * zoom + 20} height={h * zoom + 20} role="img" aria-label={`graph of ${graph.nodes.length} tasks`}>
        <g transform={`scale(${zoom}) translate(10,10)`}>
          {graph.edges.map((e) => {
            const a = placed.get(e.source);
            const b = placed.get(e.target);
            if (!a || !b) return null;
            return (
              <line
                key={e.id}
                x1={a.x + a.width}
                y1={a.y + a.height / 2}
                x2={b.x}
                y2={b.y + b.height / 2}
                stroke="var(--muted)"
                strokeWidth={1.5}
                strokeDasharray={e.ordering ? "4 3" : undefined}
              />
            );
          })}
          {graph.nodes.map((n) => {
            const p = placed.get(n.id)!;
            const st = states?.[n.id]?.state;
            return (
              <g
                key={n.id}
                className="react-flow__node"
                data-id={n.id}
                onClick={() => onSelect?.(n.id)}
                style={{ cursor: "pointer" }}
              >
                <rect
                  x={p.x}
                  y={p.y}
                  width={p.width}
                  height={p.height}
                  rx={6}
                  fill="var(--bg)"
                  stroke={st ? stateColor(st) : "var(--border)"}
                  strokeWidth={selected === n.id ? 6 : 3}
                />
                <text x={p.x + 8} y={p.y + 27} fontSize={16} fill="var(--text)">
                  {n.label.length > 20 ? `${n.label.slice(0, 19)}…` : n.label}
                </text>
                <title>{`${n.label}${n.label !== n.id ? ` (${n.id})` : ""}: ${st ?? "not run"}`}</title>
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}
