import { describe, expect, it } from "vitest";
import { allows, chooseNamespace, leastRole, namespaceHeaders, whyNot } from "./teams";

const table = {
  viewer: ["read"],
  editor: ["read", "run", "schedule"],
  admin: ["read", "run", "schedule", "members", "secrets"],
  owner: ["read", "run", "schedule", "members", "secrets", "namespaces"],
};

describe("the namespace a request names", () => {
  it("keeps the chosen one while the caller works there", () => {
    expect(chooseNamespace({ ml: "viewer", data: "editor" }, "ml")).toBe("ml");
  });
  it("chooses the first one for a member of several with none chosen", () => {
    expect(chooseNamespace({ ml: "viewer", data: "editor" }, null)).toBe("data");
    expect(chooseNamespace({ ml: "viewer", data: "editor" }, "gone")).toBe("data");
  });
  it("prefers default, and has none before /me answers or without namespaces", () => {
    expect(chooseNamespace({ ml: "owner", default: "owner" }, null)).toBe("default");
    expect(chooseNamespace(undefined, "ml")).toBeNull();
    expect(chooseNamespace({}, "ml")).toBeNull();
  });
  it("is sent as the X-Headwater-Namespace header", () => {
    expect(namespaceHeaders("ml")).toEqual({ "X-Headwater-Namespace": "ml" });
    expect(namespaceHeaders(null)).toEqual({});
  });
});

describe("what a role may do", () => {
  it("follows the server's table", () => {
    expect(allows(table, "viewer", "read")).toBe(true);
    expect(allows(table, "viewer", "run")).toBe(false);
    expect(allows(table, "editor", "run")).toBe(true);
    expect(allows(table, "admin", "namespaces")).toBe(false);
    expect(allows(table, "owner", "namespaces")).toBe(true);
    expect(allows(undefined, "owner", "read")).toBe(false);
    expect(allows(table, "nobody", "read")).toBe(false);
    expect(leastRole(table, "members")).toBe("admin");
  });
  it("says why not, and whom to ask", () => {
    expect(whyNot(table, "viewer", "run", "ml")).toBe("viewers may not run pipelines; ask an admin of ml for the editor role");
    expect(whyNot(table, "editor", "secrets", "ml")).toBe("editors may not change secrets; ask an admin of ml for the admin role");
    expect(whyNot(table, "admin", "namespaces", "ml")).toContain("only a server owner may");
    expect(whyNot(table, "editor", "run", "ml")).toBeNull();
    expect(whyNot(undefined, "viewer", "run", "ml")).toBeNull();
  });
});

describe("the namespace kept in the browser", () => {
  it("comes from ?ns= first, then localStorage, and switching updates both", async () => {
    const { storedNamespace, storeNamespace } = await import("./teams");
    localStorage.clear();
    window.history.replaceState(null, "", "/");
    expect(storedNamespace()).toBeNull();
    storeNamespace("ml");
    expect(storedNamespace()).toBe("ml");
    window.history.replaceState(null, "", "/?ns=data");
    expect(storedNamespace()).toBe("data");
    storeNamespace("ml");
    expect(window.location.search).toBe("?ns=ml");
    expect(localStorage.getItem("headwater.namespace")).toBe("ml");
  });
});
