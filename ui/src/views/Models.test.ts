import { describe, expect, it } from "vitest";
import { metricColumns } from "./Models";

describe("model versions side by side", () => {
  it("names a metric by its key, or by task when several tasks log it", () => {
    const versions: { metrics: Record<string, Record<string, number>> }[] = [
      { metrics: { train: { loss: 0.2 }, evaluate: { accuracy: 0.9 } } },
      { metrics: { evaluate: { accuracy: 0.95 }, check: { accuracy: 0.5 } } },
    ];
    const { columns, value } = metricColumns(versions);
    expect(columns).toEqual(["check.accuracy", "evaluate.accuracy", "loss"]);
    expect(value(versions[0], "evaluate.accuracy")).toBe(0.9);
    expect(value(versions[1], "check.accuracy")).toBe(0.5);
    expect(value(versions[1], "loss")).toBeUndefined();
    expect(value(versions[0], "loss")).toBe(0.2);
  });
});
