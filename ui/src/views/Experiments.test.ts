import { describe, expect, it } from "vitest";
import { cellText, conditions, nextSort } from "./Experiments";

describe("experiment runs table", () => {
  it("splits the filter box into conditions", () => {
    expect(conditions(" accuracy>0.9 , params.optimizer=sgd;loss<1 ,")).toEqual([
      "accuracy>0.9",
      "params.optimizer=sgd",
      "loss<1",
    ]);
    expect(conditions("")).toEqual([]);
  });

  it("cycles a header's sort: ascending, descending, none", () => {
    expect(nextSort("", "", "accuracy")).toEqual({ sort: "accuracy", order: "asc" });
    expect(nextSort("accuracy", "asc", "accuracy")).toEqual({ sort: "accuracy", order: "desc" });
    expect(nextSort("accuracy", "desc", "accuracy")).toEqual({ sort: "", order: "" });
    expect(nextSort("accuracy", "desc", "loss")).toEqual({ sort: "loss", order: "asc" });
  });

  it("shows numbers to six digits and other values as JSON", () => {
    expect(cellText(0.123456789)).toBe("0.123457");
    expect(cellText(3)).toBe("3");
    expect(cellText("sgd")).toBe("sgd");
    expect(cellText([1, 2])).toBe("[1,2]");
    expect(cellText(undefined)).toBe("");
  });
});
