import type { Task } from "../api/client";
import { latestAttempts, nodeStates, studyOf } from "./Run";

function task(path: string, attempt: number, status: string, cleared = false): Task {
  return {
    id: `${path}-${attempt}`, run_id: "r", path, task: path, component: "c", attempt, status,
    inputs: null, outputs: null, cache_key: null, cached_from: null, exit_code: null, error: null,
    created_at: "2026-01-01T00:00:00Z", started_at: "2026-01-01T00:00:00Z", finished_at: null,
    retry_at: null, pool: null, priority: null, cleared,
  } as Task;
}

test("the latest live attempt of each task counts; cleared ones do not", () => {
  const got = latestAttempts([task("a", 1, "failed"), task("a", 2, "succeeded"), task("b", 1, "failed", true)]);
  expect(got.map((t) => [t.path, t.status])).toEqual([["a", "succeeded"]]);
});

test("a loop's node shows its worst state and how many iterations are done", () => {
  const names = new Set(["loop", "train"]);
  const states = nodeStates(
    [task("loop[0].train", 1, "succeeded"), task("loop[1].train", 1, "running"), task("loop[2].train", 1, "failed")],
    names,
  );
  expect(states.train.state).toBe("failed");
  expect(states.train.detail).toBe("2/3");
});

test("a tune step's attempt names its study; other tasks name none", () => {
  const tune = { ...task("tune-training", 1, "running"), inputs: { width: 2, "headwater.study": "training-01ab-tune" } };
  expect(studyOf(tune as Task)).toBe("training-01ab-tune");
  expect(studyOf(task("train", 1, "running"))).toBeUndefined();
  expect(studyOf({ ...task("x", 1, "running"), inputs: { "headwater.study": 3 } } as unknown as Task)).toBeUndefined();
});
