// The DAG of a pipeline spec as plain nodes and edges, and its layout (ELK, layered).

export interface GNode {
  id: string; // the node's name (unique within a pipeline's DAG)
  label: string; // a task's display_name where it has one, else its name
  kind: "task" | "condition" | "loop" | "exit_handler";
  parent?: string; // the group it sits in
  component?: string;
}

export interface GEdge {
  id: string;
  source: string;
  target: string;
  label?: string; // the artifact type carried, or the parameter name
  ordering: boolean; // .after(): no data flows
}

export interface Graph {
  nodes: GNode[];
  edges: GEdge[];
}

type Json = Record<string, unknown>;

function shortType(t: string | undefined | null): string | undefined {
  if (!t) return undefined;
  return t.replace(/^headwater\./, "");
}

/** Nodes and edges of a compiled spec (its root DAG; groups hold their members). */
export function graphFromSpec(spec: Json): Graph {
  const nodes: GNode[] = [];
  const edges: GEdge[] = [];
  const components = (spec.components ?? {}) as Record<string, Json>;
  const root = spec.root as Json;
  const rootDag = ((root?.implementation as Json)?.dag as Json) ?? { nodes: [] };
  const known = new Set<string>();
  const groupOf = new Map<string, string>();

  const outputType = (task: string, output: string): string | undefined => {
    const node = nodes.find((n) => n.id === task);
    const comp = node?.component ? components[node.component] : undefined;
    const io = (comp?.outputs as Record<string, Json> | undefined)?.[output];
    return shortType(io?.artifact_type as string | undefined) ?? (io ? "param" : undefined);
  };

  const pending: Array<{ from: string; to: string; output?: string; ordering: boolean }> = [];

  // A task's display_name: its own, else its component's, else the pipeline's task
  // default (the same layers the engine lays over each other).
  const displayName = (n: Json): string | undefined => {
    const layers = [n.options, components[n.component as string]?.options, spec.task_defaults];
    for (const layer of layers) {
      const name = (layer as Json | undefined)?.display_name;
      if (typeof name === "string" && name) return name;
    }
    return undefined;
  };

  const visit = (items: Json[], parent?: string) => {
    for (const n of items) {
      const name = n.name as string;
      const kind = n.kind as GNode["kind"];
      known.add(name);
      if (parent) groupOf.set(name, parent);
      nodes.push({
        id: name,
        label: (kind === "task" ? displayName(n) : undefined) ?? name,
        kind,
        parent,
        component: kind === "task" ? (n.component as string) : undefined,
      });
      for (const a of (n.after as string[]) ?? []) pending.push({ from: a, to: name, ordering: true });
      if (kind === "task") {
        for (const b of Object.values((n.inputs ?? {}) as Record<string, Json>)) {
          if (b.kind === "task_output" || b.kind === "collected")
            pending.push({ from: b.task as string, to: name, output: b.output as string, ordering: false });
        }
      } else if (kind === "condition") {
        for (const br of (n.branches as Json[]) ?? []) visit((br.nodes as Json[]) ?? [], name);
      } else if (kind === "loop") {
        const items = n.items as Json;
        // Combined items (cross or zip, from task mapping) hold several named lists.
        const lists =
          items?.kind === "cross" || items?.kind === "zip"
            ? ((items.lists as Json[]) ?? []).map((l) => l.items as Json)
            : [items];
        for (const source of lists) {
          if (source?.kind === "task_output")
            pending.push({ from: source.task as string, to: name, output: source.output as string, ordering: false });
        }
        visit((n.nodes as Json[]) ?? [], name);
      } else if (kind === "exit_handler") {
        visit((n.nodes as Json[]) ?? [], name);
        visit([n.exit_task as Json], name);
      }
    }
  };
  visit((rootDag.nodes as Json[]) ?? []);
  const seen = new Set<string>();
  for (const p of pending) {
    if (!known.has(p.from) || !known.has(p.to)) continue;
    const id = `${p.from}->${p.to}`;
    if (seen.has(id)) continue;
    seen.add(id);
    edges.push({
      id,
      source: p.from,
      target: p.to,
      ordering: p.ordering,
      label: p.output ? outputType(p.from, p.output) : undefined,
    });
  }
  return { nodes, edges };
}

export interface Placed {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  parent?: string;
}

// ELK is big (about 1.5 MB): loaded on the first layout, not with the page.
type Elk = import("elkjs/lib/elk-api").ELK;
let elk: Elk | null = null;
async function getElk(): Promise<Elk> {
  if (!elk) {
    const { default: ELK } = await import("elkjs/lib/elk.bundled.js");
    elk = new ELK();
  }
  return elk;
}

export const NODE_W = 180;
export const NODE_H = 44;
/** Above this many nodes ELK takes seconds; a one-pass layering keeps big runs instant. */
export const BIG_GRAPH = 300;

/** Layers by longest path from the sources, each layer ordered by the mean position of
 * its nodes' predecessors (one sweep). Groups are drawn flat. O(nodes + edges). */
export function fastLayout(graph: Graph): Map<string, Placed> {
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const n of graph.nodes) {
    preds.set(n.id, []);
    succs.set(n.id, []);
  }
  for (const e of graph.edges) {
    if (!preds.has(e.target) || !succs.has(e.source)) continue;
    preds.get(e.target)!.push(e.source);
    succs.get(e.source)!.push(e.target);
  }
  const rank = new Map<string, number>();
  const indegree = new Map(graph.nodes.map((n) => [n.id, preds.get(n.id)!.length]));
  const queue = graph.nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const next of succs.get(id)!) {
      rank.set(next, Math.max(rank.get(next) ?? 0, rank.get(id)! + 1));
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  for (const n of graph.nodes) if (!rank.has(n.id)) rank.set(n.id, 0); // a cycle: cannot happen in a DAG
  const layers: string[][] = [];
  for (const n of graph.nodes) (layers[rank.get(n.id)!] ??= []).push(n.id);
  const position = new Map<string, number>();
  const placed = new Map<string, Placed>();
  layers.forEach((layer, r) => {
    const keyed = layer.map((id, i) => {
      const ps = preds.get(id)!.map((p) => position.get(p) ?? 0);
      return { id, key: ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : i };
    });
    keyed.sort((a, b) => a.key - b.key);
    keyed.forEach(({ id }, i) => {
      position.set(id, i);
      placed.set(id, { id, x: r * (NODE_W + 60), y: i * (NODE_H + 18), width: NODE_W, height: NODE_H });
    });
  });
  return placed;
}

/** Positions for every node (group members relative to their group), left to right. */
export async function layout(graph: Graph): Promise<Map<string, Placed>> {
  if (graph.nodes.length > BIG_GRAPH) return fastLayout(graph);
  type ElkNode = { id: string; width?: number; height?: number; children?: ElkNode[]; layoutOptions?: Record<string, string> };
  const byId = new Map<string, ElkNode>();
  const top: ElkNode[] = [];
  for (const n of graph.nodes) {
    const e: ElkNode =
      n.kind === "task"
        ? { id: n.id, width: NODE_W, height: NODE_H }
        : { id: n.id, children: [], layoutOptions: { "elk.padding": "[top=34,left=14,bottom=14,right=14]" } };
    byId.set(n.id, e);
  }
  for (const n of graph.nodes) {
    const e = byId.get(n.id)!;
    if (n.parent && byId.get(n.parent)?.children) byId.get(n.parent)!.children!.push(e);
    else top.push(e);
  }
  for (const e of byId.values()) {
    if (e.children && e.children.length === 0) {
      e.width = NODE_W;
      e.height = NODE_H;
      delete e.children;
    }
  }
  const result = await (await getElk()).layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "60",
      "elk.spacing.nodeNode": "18",
    },
    children: top,
    edges: graph.edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  } as never);
  const placed = new Map<string, Placed>();
  const walk = (items: ElkNode[] | undefined, parent?: string) => {
    for (const c of items ?? []) {
      const r = c as ElkNode & { x?: number; y?: number };
      placed.set(c.id, { id: c.id, x: r.x ?? 0, y: r.y ?? 0, width: r.width ?? NODE_W, height: r.height ?? NODE_H, parent });
      walk(c.children, c.id);
    }
  };
  walk((result as { children?: ElkNode[] }).children);
  return placed;
}

/** A task path's node in the spec graph: "loop[3].train" -> "train"; "nested.inner" -> "nested". */
export function nodeOfPath(path: string, names: Set<string>): string {
  if (names.has(path)) return path;
  const parts = path.split(".").map((p) => p.replace(/\[\d+\]$/, ""));
  const last = parts[parts.length - 1];
  return names.has(last) ? last : parts[0];
}
