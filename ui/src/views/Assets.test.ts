import { describe, expect, it } from "vitest";
import { metadataText } from "./Assets";

describe("metadataText", () => {
  it("shows no metadata as a dash", () => {
    expect(metadataText(null)).toBe("-");
    expect(metadataText(undefined)).toBe("-");
    expect(metadataText({})).toBe("-");
  });

  it("shows metadata as compact JSON, cut to the width", () => {
    expect(metadataText({ rows: 1200 })).toBe('{"rows":1200}');
    const long = metadataText({ path: "x".repeat(200) }, 20);
    expect(long).toHaveLength(20);
    expect(long.endsWith("...")).toBe(true);
  });
});
