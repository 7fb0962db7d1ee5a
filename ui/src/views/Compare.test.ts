import { curves, finalMetrics } from "./Compare";

const series = [
  { task: "train", key: "loss", step: [0, 1, 2], value: [1, 0.5, 0.25] },
  { task: "evaluate", key: "accuracy", step: [null], value: [0.9] },
  { task: "train", key: "accuracy", step: [null], value: [0.95] },
];

test("final values: the last of each series, named by task when keys clash", () => {
  expect(finalMetrics(series)).toEqual({ loss: 0.25, "evaluate/accuracy": 0.9, "train/accuracy": 0.95 });
});

test("curves: only series logged step by step", () => {
  expect(curves(series, "r1 ")).toEqual([{ label: "r1 train/loss", x: [0, 1, 2], y: [1, 0.5, 0.25] }]);
});
