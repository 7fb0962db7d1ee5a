// The caller's namespaces and role (GET /api/v1/me), the permission table (GET
// /api/v1/permissions), the namespace switcher, and `may`/`why` for role-aware buttons.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, call, setRequestNamespace, type Schemas } from "./api/client";
import { chooseNamespace, storedNamespace, storeNamespace, whyNot, allows, type PermissionTable } from "./teams";

export type Access = {
  me: Schemas["Me"] | undefined;
  namespace: string | null;
  role: string | null;
  /** Whether the caller's role in the namespace grants ``permission``. */
  may: (permission: string) => boolean;
  /** Why not (for a disabled button's title), or undefined if it may. */
  why: (permission: string) => string | undefined;
  switchTo: (namespace: string) => void;
};

const AccessContext = createContext<Access | null>(null);

export function useAccess(): Access {
  const found = useContext(AccessContext);
  if (!found) throw new Error("useAccess outside <AccessProvider>");
  return found;
}

/** Loads /me and the permission table, chooses the namespace, and renders ``children`` once
 * it is chosen (so no request goes out naming none, or a stale one). */
export function AccessProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const me = useQuery({ queryKey: ["me"], queryFn: () => call(api.GET("/api/v1/me")), staleTime: 30_000 });
  const table = useQuery({
    queryKey: ["permissions"],
    queryFn: () => call(api.GET("/api/v1/permissions")) as Promise<PermissionTable>,
    staleTime: Infinity,
  });
  const [chosen, setChosen] = useState<string | null>(storedNamespace());
  const namespace = chooseNamespace(me.data?.namespaces, chosen);
  setRequestNamespace(namespace ?? chosen);
  useEffect(() => {
    if (namespace) storeNamespace(namespace);
  }, [namespace]);
  const role = namespace ? (me.data?.namespaces[namespace] ?? null) : null;
  const access: Access = {
    me: me.data,
    namespace,
    role,
    may: (p) => (table.data ? allows(table.data, role, p) : true),
    why: (p) => whyNot(table.data, role, p, namespace) ?? undefined,
    switchTo: (next) => {
      if (next === namespace) return;
      setRequestNamespace(next);
      storeNamespace(next);
      setChosen(next);
      // Every page's data is of the namespace it was loaded in: load it again.
      void client.resetQueries({ predicate: (q) => q.queryKey[0] !== "me" && q.queryKey[0] !== "permissions" });
    },
  };
  if (me.isError) return <div className="signin card error">could not load who you are: {String(me.error)}</div>;
  if (!me.data) return <div className="muted" style={{ padding: 20 }}>loading…</div>;
  if (!namespace)
    return (
      <div className="signin card">
        <h2>No namespace</h2>
        <p>User {me.data.user} is no member of any namespace yet: ask an admin to add you.</p>
      </div>
    );
  return <AccessContext.Provider value={access}>{children}</AccessContext.Provider>;
}

/** The namespace switcher: the caller's namespaces with their role in each. */
export function NamespaceSwitcher() {
  const { me, namespace, switchTo } = useAccess();
  const names = Object.entries(me?.namespaces ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <label className="nsswitch">
      <span className="muted">namespace</span>
      <select aria-label="namespace" value={namespace ?? ""} onChange={(e) => switchTo(e.target.value)}>
        {names.map(([name, role]) => (
          <option key={name} value={name}>
            {name} ({role})
          </option>
        ))}
      </select>
      <span className="muted" title={`signed in as ${me?.user}`}>{me?.user}</span>
    </label>
  );
}
