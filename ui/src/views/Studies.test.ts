import { describe, expect, it } from "vitest";
import { axisPositions } from "./Studies";

describe("parallel coordinates", () => {
  it("scales numbers between their extremes", () => {
    expect(axisPositions([1, 3, 2])).toEqual([0, 1, 0.5]);
    expect(axisPositions([4, 4])).toEqual([0.5, 0.5]);
  });

  it("spreads categories in sorted order and leaves missing values out", () => {
    expect(axisPositions(["sgd", "adam", undefined, "sgd"])).toEqual([1, 0, null, 1]);
    expect(axisPositions([0.1, null, 0.3])).toEqual([0, null, 1]);
  });
});
