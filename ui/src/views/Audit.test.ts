import { describe, expect, it } from "vitest";
import { auditQuery, bodyLine, filledRoute } from "./Audit";

const none = { user: "", method: "", route: "", outcome: "", since: "" };

describe("an audit row", () => {
  it("shows the path its call was made on", () => {
    expect(filledRoute({ route: "/api/v1/runs/{run_id}/cancel", path_params: { run_id: "01abc" } })).toBe(
      "/api/v1/runs/01abc/cancel",
    );
    expect(filledRoute({ route: "/api/v1/pools/{name}", path_params: { name: "a b/c" } })).toBe("/api/v1/pools/a%20b%2Fc");
    expect(filledRoute({ route: "/api/v1/no/such/route", path_params: null })).toBe("/api/v1/no/such/route");
  });

  it("shows its body summary on one bounded line", () => {
    expect(bodyLine(null)).toBe("-");
    expect(bodyLine({ parameters: { password: "[redacted]" } })).toBe('{"parameters":{"password":"[redacted]"}}');
    const long = bodyLine({ blob: "x".repeat(500) }, 40);
    expect(long).toHaveLength(40);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("the audit query", () => {
  it("pages and leaves out empty filters", () => {
    expect(auditQuery(none, 0)).toEqual({ limit: 50, offset: 0 });
    expect(auditQuery(none, 2)).toEqual({ limit: 50, offset: 100 });
  });

  it("sends the filters given, trimmed", () => {
    const now = Date.parse("2026-01-02T00:00:00Z");
    const query = auditQuery(
      { user: " alice ", method: "DELETE", route: "/api/v1/pools", outcome: "error", since: "24h" },
      0,
      now,
    );
    expect(query).toEqual({
      limit: 50,
      offset: 0,
      user: "alice",
      method: "DELETE",
      route: "/api/v1/pools",
      outcome: "error",
      since: "2026-01-01T00:00:00.000Z",
    });
  });

  it("drops values the server would refuse", () => {
    expect(auditQuery({ ...none, method: "GET", outcome: "maybe", since: "yesterday" }, 0)).toEqual({
      limit: 50,
      offset: 0,
    });
  });
});
