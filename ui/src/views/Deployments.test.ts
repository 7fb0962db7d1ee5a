import { describe, expect, it } from "vitest";
import { parsePercent, refModel, routesTo, servedBy, serverHost, trafficSplit } from "./Deployments";

describe("a deployment's traffic", () => {
  it("gives the canary its share and the main version the rest", () => {
    expect(trafficSplit({ canary: "churn:4", canary_percent: 10 })).toEqual({ main: 90, canary: 10 });
    expect(trafficSplit({ canary: "churn:4", canary_percent: 0 })).toEqual({ main: 100, canary: 0 });
    expect(trafficSplit({ canary: "churn:4", canary_percent: 100 })).toEqual({ main: 0, canary: 100 });
    expect(trafficSplit({ canary: "churn:4", canary_percent: 12.5 })).toEqual({ main: 87.5, canary: 12.5 });
  });

  it("sends everything to the main version without a canary", () => {
    expect(trafficSplit({ canary: null, canary_percent: 0 })).toEqual({ main: 100, canary: 0 });
    expect(trafficSplit({ canary: null, canary_percent: 30 })).toEqual({ main: 100, canary: 0 });
  });
});

describe("a canary percentage typed in", () => {
  it("is a number from 0 to 100", () => {
    expect(parsePercent("25")).toEqual({ value: 25 });
    expect(parsePercent(" 0 ")).toEqual({ value: 0 });
    expect(parsePercent("100")).toEqual({ value: 100 });
    expect(parsePercent("2.5")).toEqual({ value: 2.5 });
  });

  it("says what is wrong otherwise", () => {
    expect(parsePercent("").error).toMatch(/from 0 to 100/);
    expect(parsePercent("ten").error).toBe('"ten" is not a number: enter one from 0 to 100, e.g. 10');
    expect(parsePercent("Infinity").error).toMatch(/is not a number/);
    expect(parsePercent("150").error).toBe("150 is outside 0 to 100: the canary's share is a percentage");
    expect(parsePercent("-1").error).toMatch(/outside 0 to 100/);
  });
});

describe("references and servers", () => {
  it("names the model of a reference", () => {
    expect(refModel("churn@champion")).toBe("churn");
    expect(refModel("churn:3")).toBe("churn");
    expect(refModel("churn")).toBe("churn");
  });

  it("splits a server's name into host and pid", () => {
    expect(serverHost("web-1.internal:4242")).toEqual({ host: "web-1.internal", pid: "4242" });
    expect(serverHost("laptop")).toEqual({ host: "laptop", pid: null });
    expect(serverHost("a:b")).toEqual({ host: "a:b", pid: null });
  });

  it("lists each server serving now once", () => {
    const rows = [
      { server: "b:2", until: null },
      { server: "a:1", until: null },
      { server: "b:2", until: null },
      { server: "c:3", until: "2026-01-01T00:00:00Z" },
    ];
    expect(servedBy(rows)).toEqual(["a:1", "b:2"]);
    expect(servedBy([])).toEqual([]);
  });

  it("finds the deployment routes that name a model version now", () => {
    const deployments = [
      { name: "web", model: "churn@champion", model_version: 3, canary: "churn:4", canary_version: 4, shadow: null, shadow_version: null },
      { name: "batch", model: "churn", model_version: 4, canary: null, canary_version: null, shadow: "other:4", shadow_version: 4 },
    ];
    expect(routesTo(deployments, "churn", 4)).toEqual([
      { deployment: "web", role: "canary" },
      { deployment: "batch", role: "main" },
    ]);
    expect(routesTo(deployments, "churn", 3)).toEqual([{ deployment: "web", role: "main" }]);
    expect(routesTo(deployments, "churn", 9)).toEqual([]);
  });
});
