// The typed API client: types come from the server's OpenAPI document (npm run gen:api).
import createClient, { type Middleware } from "openapi-fetch";
import { namespaceHeaders, storedNamespace } from "../teams";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Run = Schemas["RunOut"];
export type RunDetail = Schemas["RunDetail"];
export type Task = Schemas["TaskOut"];
export type Pipeline = Schemas["PipelineOut"];
export type Artifact = Schemas["ArtifactOut"];
export type Schedule = Schemas["ScheduleOut"];
export type Metric = Schemas["MetricOut"];

const TOKEN_KEY = "headwater.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
    sessionStorage.removeItem(PROBLEM_KEY);
  } else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("headwater-auth"));
}

const PROBLEM_KEY = "headwater.auth-problem";

/** Why the server last refused the token (shown on the sign-in screen, even after a
 * reload), if it did. */
export function authProblem(): string | null {
  return sessionStorage.getItem(PROBLEM_KEY);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public hint?: string | null,
  ) {
    super(message);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    for (const [k, v] of Object.entries(namespaceHeaders(currentNamespace))) request.headers.set(k, v);
    return request;
  },
  async onResponse({ response }) {
    if (response.status === 401) {
      const body = await response.clone().json().catch(() => ({}));
      sessionStorage.setItem(PROBLEM_KEY, body.error ?? "the token was refused");
      setToken(null);
    }
    return response;
  },
};

// The namespace every request names (the header), set by the namespace switcher once the
// caller's namespaces are known; until then the one kept from the last visit.
let currentNamespace: string | null = storedNamespace();

export function setRequestNamespace(namespace: string | null): void {
  currentNamespace = namespace;
}

export function requestNamespace(): string | null {
  return currentNamespace;
}

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

/** Unwraps an openapi-fetch result: the data, or an ApiError with the server's message. */
export async function call<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending;
  if (error !== undefined || !response.ok) {
    const body = (error ?? {}) as { error?: string; hint?: string };
    throw new ApiError(response.status, body.error ?? response.statusText, body.hint);
  }
  return data as T;
}

export function authHeader(): Record<string, string> {
  const token = getToken();
  return { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...namespaceHeaders(currentNamespace) };
}
