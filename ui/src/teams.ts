// Namespaces and roles in the UI (docs/teams-and-security.md): which namespace a request
// goes to, and what the caller's role there allows. Pure functions, tested in teams.test.ts;
// the permission table itself comes from the server (GET /api/v1/permissions).

export const NAMESPACE_HEADER = "X-Headwater-Namespace";
const NAMESPACE_KEY = "headwater.namespace";
/** The roles, least to most (as the server orders them). */
export const ROLES = ["viewer", "editor", "admin", "owner"] as const;

/** role -> the permissions it grants, as GET /api/v1/permissions answers. */
export type PermissionTable = Record<string, string[]>;

/** What each permission lets one do, to say why a button is disabled. */
const DOING: Record<string, string> = {
  read: "read this namespace",
  run: "run pipelines",
  deploy: "deploy pipelines",
  schedule: "change schedules or start backfills",
  models: "change model aliases",
  serve: "change deployments",
  variables: "change variables",
  members: "change members",
  tokens: "manage other users' tokens",
  pools: "change pools",
  secrets: "change secrets",
  connections: "change connections",
  audit: "read the audit log",
  namespaces: "create or delete namespaces",
  users: "create users",
};

/** The namespace a request should name: the chosen one if the caller still works there,
 * else 'default' if they work there, else their first namespace (by name); null while the
 * caller's namespaces are not known or they have none. */
export function chooseNamespace(namespaces: Record<string, string> | undefined, chosen: string | null): string | null {
  if (!namespaces) return null;
  const names = Object.keys(namespaces).sort();
  if (chosen && names.includes(chosen)) return chosen;
  if (names.includes("default")) return "default";
  return names[0] ?? null;
}

/** The headers that name ``namespace`` (none when it is not chosen yet: the server's default). */
export function namespaceHeaders(namespace: string | null): Record<string, string> {
  return namespace ? { [NAMESPACE_HEADER]: namespace } : {};
}

/** Whether ``role`` grants ``permission`` (an unknown role or table: no). */
export function allows(table: PermissionTable | undefined, role: string | null | undefined, permission: string): boolean {
  if (!table || !role) return false;
  return (table[role] ?? []).includes(permission);
}

/** The least role that grants ``permission``. */
export function leastRole(table: PermissionTable, permission: string): string | null {
  return ROLES.find((r) => (table[r] ?? []).includes(permission)) ?? null;
}

/** Why ``role`` may not do ``permission`` in ``namespace``, and whom to ask; null if it may
 * (or while the table is not loaded: the server decides then, and says why). */
export function whyNot(
  table: PermissionTable | undefined,
  role: string | null | undefined,
  permission: string,
  namespace: string | null,
): string | null {
  if (!table || !role || allows(table, role, permission)) return null;
  const doing = DOING[permission] ?? `use '${permission}'`;
  const needed = leastRole(table, permission);
  const ask =
    needed === "owner" || !needed
      ? "only a server owner may"
      : `ask an admin of ${namespace ?? "this namespace"} for the ${needed} role`;
  return `${role}s may not ${doing}; ${ask}`;
}

export function storedNamespace(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get("ns");
  return fromUrl || localStorage.getItem(NAMESPACE_KEY);
}

/** Keep ``namespace`` as the one every request names (announced with 'headwater-namespace'). */
export function storeNamespace(namespace: string): void {
  const url = new URL(window.location.href);
  if (url.searchParams.has("ns") && url.searchParams.get("ns") !== namespace) {
    url.searchParams.set("ns", namespace); // a reload stays where the switcher went
    window.history.replaceState(window.history.state, "", url);
  }
  if (localStorage.getItem(NAMESPACE_KEY) === namespace) return;
  localStorage.setItem(NAMESPACE_KEY, namespace);
  window.dispatchEvent(new Event("headwater-namespace"));
}
