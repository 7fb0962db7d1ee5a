import { graphFromSpec, layout, nodeOfPath } from "./graph";

const spec = {
  components: {
    make: { outputs: { data: { kind: "artifact", artifact_type: "headwater.Dataset" } } },
    train: { outputs: { model: { kind: "artifact", artifact_type: "headwater.Model" }, output: { kind: "parameter" } } },
    use: { outputs: {} },
  },
  root: {
    implementation: {
      type: "dag",
      dag: {
        nodes: [
          { kind: "task", name: "make", component: "make", inputs: {}, after: [] },
          {
            kind: "task",
            name: "train",
            component: "train",
            inputs: { data: { kind: "task_output", task: "make", output: "data" } },
            after: [],
          },
          {
            kind: "condition",
            name: "condition-1",
            after: [],
            branches: [
              {
                condition: null,
                nodes: [
                  {
                    kind: "task",
                    name: "use",
                    component: "use",
                    inputs: { m: { kind: "task_output", task: "train", output: "model" } },
                    after: ["make"],
                  },
                ],
              },
            ],
          },
        ],
      },
    },
  },
};

test("tasks, groups and edges come from the spec, with artifact types on edges", () => {
  const g = graphFromSpec(spec);
  expect(g.nodes.map((n) => [n.id, n.kind, n.parent])).toEqual([
    ["make", "task", undefined],
    ["train", "task", undefined],
    ["condition-1", "condition", undefined],
    ["use", "task", "condition-1"],
  ]);
  const edges = Object.fromEntries(g.edges.map((e) => [e.id, [e.label, e.ordering]]));
  expect(edges["make->train"]).toEqual(["Dataset", false]);
  expect(edges["train->use"]).toEqual(["Model", false]);
  expect(edges["make->use"]).toEqual([undefined, true]);
});

test("the layout places every node, members inside their group", async () => {
  const g = graphFromSpec(spec);
  const placed = await layout(g);
  expect([...placed.keys()].sort()).toEqual(["condition-1", "make", "train", "use"]);
  expect(placed.get("use")!.parent).toBe("condition-1");
  expect(placed.get("train")!.x).toBeGreaterThan(placed.get("make")!.x);
});

test("a thousand-task graph lays out", async () => {
  const nodes = Array.from({ length: 1000 }, (_, i) => ({
    kind: "task",
    name: `t${i}`,
    component: "use",
    inputs: i ? { x: { kind: "task_output", task: `t${Math.floor((i - 1) / 3)}`, output: "output" } } : {},
    after: [],
  }));
  const g = graphFromSpec({ components: spec.components, root: { implementation: { dag: { nodes } } } });
  expect(g.edges).toHaveLength(999);
  const placed = await layout(g);
  expect(placed.size).toBe(1000);
  for (const e of g.edges) expect(placed.get(e.target)!.x).toBeGreaterThan(placed.get(e.source)!.x);
  const spots = new Set([...placed.values()].map((p) => `${p.x},${p.y}`));
  expect(spots.size).toBe(1000); // no two nodes on top of each other
});

test("task paths map onto graph nodes", () => {
  const names = new Set(["make", "loop", "train", "nested"]);
  expect(nodeOfPath("make", names)).toBe("make");
  expect(nodeOfPath("loop[3].train", names)).toBe("train");
  expect(nodeOfPath("nested.inner", names)).toBe("nested");
});

test("a task's display_name labels its node: its own, else its component's, else the default", () => {
  const named = {
    task_defaults: { display_name: "a step" },
    components: {
      make: { options: { display_name: "Make data" }, outputs: {} },
      train: { options: {}, outputs: {} },
      use: { outputs: {} },
    },
    root: {
      implementation: {
        type: "dag",
        dag: {
          nodes: [
            { kind: "task", name: "make", component: "make", inputs: {}, after: [] },
            { kind: "task", name: "train", component: "train", options: { display_name: "Train (nightly)" }, inputs: {}, after: [] },
            { kind: "task", name: "use", component: "use", inputs: {}, after: [] },
            { kind: "loop", name: "loop-1", items: { kind: "constant", value: [1] }, nodes: [], after: [] },
          ],
        },
      },
    },
  };
  const g = graphFromSpec(named);
  expect(g.nodes.map((n) => [n.id, n.label])).toEqual([
    ["make", "Make data"],
    ["train", "Train (nightly)"],
    ["use", "a step"],
    ["loop-1", "loop-1"],
  ]);
  expect(graphFromSpec(spec).nodes.map((n) => n.label)).toEqual(["make", "train", "condition-1", "use"]);
});

test("a loop over combined lists (task mapping) waits for each task output among them", () => {
  const mapped = {
    components: spec.components,
    root: {
      implementation: {
        dag: {
          nodes: [
            { kind: "task", name: "make", component: "make", inputs: {}, after: [] },
            {
              kind: "loop",
              name: "train-map",
              mapped: true,
              items: {
                kind: "cross",
                lists: [
                  { name: "data", items: { kind: "task_output", task: "make", output: "data" } },
                  { name: "lr", items: { kind: "constant", value: [0.1, 0.01] } },
                ],
              },
              nodes: [{ kind: "task", name: "train", component: "train", inputs: {}, after: [] }],
              after: [],
            },
          ],
        },
      },
    },
  };
  const g = graphFromSpec(mapped);
  expect(g.nodes.map((n) => [n.id, n.parent])).toEqual([
    ["make", undefined],
    ["train-map", undefined],
    ["train", "train-map"],
  ]);
  expect(g.edges.map((e) => [e.id, e.label])).toEqual([["make->train-map", "Dataset"]]);
});
