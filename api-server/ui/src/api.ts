// The server's Kiali-compatible REST API (relative to <base href>, i.e. under server.web_root).

import { banner } from "./banners";
import type { RateRule } from "./graphhealth";

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public category: string,
    public path: string,
  ) {
    super(message);
  }
}

/** `/api/auth/info`: the strategy, the session, every cluster's login state, the CSRF token. */
export interface AuthInfo {
  strategy: string;
  /** `openid`, `openshift`: where the browser goes to log in (`?cluster=<name>` for one cluster). */
  authorizationEndpoint?: string;
  sessionInfo: { username?: string; expiresOn?: string };
  csrfToken: string;
  /** Only with a session (or under the anonymous strategy). */
  clusters?: Record<string, { name: string; isKialiHome: boolean; loggedIn: boolean }>;
}

/** The login state (also gives the browser its CSRF cookie). */
export async function authInfo(): Promise<AuthInfo> {
  const r = await fetch(apiUrl("api/auth/info"), { headers: { Accept: "application/json" } });
  return (await r.json()) as AuthInfo;
}

let authCache: Promise<AuthInfo> | null = null;

/** /api/auth/info, asked again for every page view (`refresh`) and shared by what that view draws. */
export function auth(refresh = false): Promise<AuthInfo> {
  if (!authCache || refresh) {
    authCache = authInfo();
    authCache.catch(() => {
      authCache = null;
    });
  }
  return authCache;
}

/** Whether the session may read `cluster` (no session-bound login, or a login to that cluster). */
export function loggedInTo(info: AuthInfo | null, cluster: string): boolean {
  return info?.clusters?.[cluster]?.loggedIn ?? true;
}

/** The event `get` sends when the server answers 401: the session ended (main shows the login page). */
export const UNAUTHORIZED = "meshglass:unauthorized";

let loginPages = false;

/** With a login page (`token`, `openid`, `openshift`), a 401 shows it instead of a banner. */
export function setLoginPages(on: boolean): void {
  loginPages = on;
}

/** A state-changing request: the CSRF token of /api/auth/info in `X-CSRF-Token`. */
async function write(path: string, body?: URLSearchParams): Promise<Response> {
  const info = await authInfo();
  const headers: Record<string, string> = { "X-CSRF-Token": info.csrfToken };
  if (body) headers["Content-Type"] = "application/x-www-form-urlencoded";
  return fetch(apiUrl(path), { method: "POST", headers, body });
}

/** The answer of a refused write: the HTTP status, the server's message and the API server's reason. */
export class WriteError extends ApiError {
  constructor(
    status: number,
    message: string,
    category: string,
    path: string,
    /** The cluster's reason (`Forbidden`, `Invalid`, `Conflict`, ...) when the cluster refused. */
    public reason: string,
    public cluster: string,
  ) {
    super(status, message, category, path);
  }
}

/**
 * A JSON write (POST, PATCH, DELETE) with the CSRF token of /api/auth/info; the session is the cookie. Returns the
 * answer's JSON (null for an empty one); a refusal is a WriteError with the server's message and the cluster's reason.
 */
export async function sendJson<T>(method: "POST" | "PATCH" | "DELETE", path: string, params?: Params, body?: unknown): Promise<T> {
  const info = await authInfo();
  const headers: Record<string, string> = { "X-CSRF-Token": info.csrfToken, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(apiUrl(path, params), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new WriteError(0, `the server did not answer (${(e as Error).message})`, "network", path, "", "");
  }
  const text = await resp.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) {
    const b = (json ?? {}) as { error?: string; category?: string; reason?: string; cluster?: string };
    if (resp.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED, { detail: b.error || "" }));
    throw new WriteError(resp.status, b.error || text || resp.statusText, b.category || "", path, b.reason || "", b.cluster || "");
  }
  return json as T;
}

/** A refused write as the user reads it: the status, the cluster's reason and the API server's message. */
export function writeErrorText(e: unknown): string {
  if (e instanceof WriteError) {
    // The server's message names the cluster ("cluster west: ... is forbidden: User ... cannot patch ...").
    return e.status === 0 ? e.message : `HTTP ${e.status}${e.reason ? ` ${e.reason}` : ""}: ${e.message}`;
  }
  return (e as Error)?.message ?? String(e);
}

/** Logs in with a token (`token` strategy): the server keeps the session in an HttpOnly cookie. */
export async function login(token: string): Promise<void> {
  const r = await write("api/authenticate", new URLSearchParams({ token }));
  if (!r.ok) {
    const b = (await r.json().catch(() => ({}))) as { error?: string };
    throw new ApiError(r.status, b.error || r.statusText, "unauthorized", "api/authenticate");
  }
}

/** Ends the session (every cluster's login). */
export async function logout(): Promise<void> {
  await write("api/logout");
}

type Params = Record<string, string | number | boolean | undefined | null>;

export function apiUrl(path: string, params?: Params): string {
  const u = new URL(path.replace(/^\//, ""), document.baseURI);
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  return u.toString();
}

/** GETs JSON; reports missing clusters as banners; throws ApiError on HTTP or network errors. */
export async function get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  // The session is the HttpOnly cookie the browser sends by itself; no token is kept in the page.
  const headers: Record<string, string> = { Accept: "application/json" };
  let resp: Response;
  try {
    resp = await fetch(apiUrl(path, params), { headers, signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `the server did not answer (${(e as Error).message})`, "network", path);
  }
  const text = await resp.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const b = (body ?? {}) as { error?: string; category?: string };
    if (resp.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED, { detail: b.error || "" }));
    throw new ApiError(resp.status, b.error || text || resp.statusText, b.category || "", path);
  }
  const missing = (body as { missingClusters?: Array<{ name: string; error?: string }> } | null)
    ?.missingClusters;
  if (Array.isArray(missing)) {
    for (const m of missing) {
      banner(`cluster-${m.name}`, "warning", `Cluster ${m.name} is unreachable; this view lacks it: ${m.error || "no answer"}`);
    }
  }
  return body as T;
}

/** Shows an API error as a banner (never a blank page). */
export function reportError(context: string, e: unknown): void {
  if ((e as Error)?.name === "AbortError") return;
  if (e instanceof ApiError && e.status === 401 && loginPages) return;
  if (e instanceof ApiError) {
    const what =
      e.status === 503
        ? "a backing service is unavailable (Prometheus?)"
        : e.status === 401
          ? "not authenticated"
          : e.status === 403
            ? "forbidden"
            : e.status === 0
              ? "network error"
              : `HTTP ${e.status}`;
    banner(`err-${context}`, e.status === 401 || e.status === 403 ? "auth" : "error", `${context}: ${what}: ${e.message}`);
  } else {
    banner(`err-${context}`, "error", `${context}: ${(e as Error)?.message ?? String(e)}`);
  }
}

// ---- response types (the fields the UI reads) ----

export interface ClusterInfo {
  name: string;
  accessible: boolean;
  isKialiHome: boolean;
  error?: string | null;
  apiEndpoint?: string;
}
export interface ServerConfig {
  clusters: Record<string, ClusterInfo> | ClusterInfo[];
  clusterName?: string;
  istioNamespace?: string;
  authStrategy?: string;
  /** The health configuration's rate rules (Kiali's defaults apply after them). */
  healthConfig?: { rate?: RateRule[] };
}
export interface Namespace {
  name: string;
  cluster: string;
  isControlPlane?: boolean;
  labels?: Record<string, string>;
}
export interface Rates {
  [code: string]: number;
}
export interface Requests {
  inbound?: Record<string, Rates>;
  outbound?: Record<string, Rates>;
}
export interface WorkloadStatus {
  name: string;
  desiredReplicas: number;
  currentReplicas: number;
  availableReplicas: number;
}
export interface Health {
  status: { status: string; errorRatio?: number };
  requests?: Requests;
  workloadStatuses?: WorkloadStatus[];
  workloadStatus?: WorkloadStatus | null;
}
export type HealthBody = Record<string, Record<string, Record<string, Health>>>;

export interface GraphNodeData {
  id: string;
  parent?: string;
  nodeType: string;
  cluster: string;
  namespace: string;
  workload?: string;
  app?: string;
  version?: string;
  service?: string;
  isBox?: string;
  isDead?: boolean;
  isIdle?: boolean;
  isRoot?: boolean;
  isOutside?: boolean;
  isServiceEntry?: unknown;
  isInaccessible?: boolean;
  /** The health of the node's object, as /api/clusters/health answers it (null: none). */
  healthData?: Health | null;
  /** The object's `health.kiali.io/*` annotations, when it has any. */
  hasHealthConfig?: Record<string, string> | null;
  traffic?: Array<{ protocol: string; rates: Record<string, string> }>;
  /** A box drawn as one node (graphcollapse.ts): its kind ("namespace", "cluster"), and how many nodes it holds. */
  collapsed?: string;
  collapsedNodes?: number;
}
export interface GraphEdgeData {
  id: string;
  source: string;
  target: string;
  traffic?: { protocol: string; rates?: Record<string, string>; responses?: unknown };
  isMTLS?: string | number;
  responseTime?: string | number;
  throughput?: string | number;
  /** How many edges this one sums (the edges between collapsed boxes, graphcollapse.ts). */
  aggregated?: number;
}
export interface GraphBody {
  timestamp?: number;
  duration?: number;
  graphType?: string;
  elements: { nodes: Array<{ data: GraphNodeData }>; edges: Array<{ data: GraphEdgeData }> };
}

export function clusterList(cfg: ServerConfig): ClusterInfo[] {
  const c = cfg.clusters;
  const list = Array.isArray(c) ? c : Object.entries(c ?? {}).map(([name, v]) => ({ ...v, name: v.name || name }));
  return list.sort((a, b) => a.name.localeCompare(b.name));
}

let configCache: Promise<ServerConfig> | null = null;

/** /api/config, cached for one page view; unreachable clusters become banners. */
export function config(refresh = false): Promise<ServerConfig> {
  if (!configCache || refresh) {
    configCache = get<ServerConfig>("api/config").then((cfg) => {
      for (const c of clusterList(cfg)) {
        if (!c.accessible) {
          banner(`cluster-${c.name}`, "warning", `Cluster ${c.name} is unreachable: ${c.error || "no answer"}`);
        }
      }
      return cfg;
    });
    configCache.catch(() => {
      configCache = null;
    });
  }
  return configCache;
}

/** Health of every entity of `kind` per cluster: cluster → namespace → name → health. */
export async function healthByCluster(
  clusters: string[],
  kind: "app" | "workload" | "service",
  namespaces?: string[],
  rateInterval = "10m",
): Promise<Map<string, Record<string, Record<string, Health>>>> {
  const key =
    kind === "app" ? "namespaceAppHealth" : kind === "workload" ? "namespaceWorkloadHealth" : "namespaceServiceHealth";
  const out = new Map<string, Record<string, Record<string, Health>>>();
  const results = await Promise.allSettled(
    clusters.map((c) =>
      get<HealthBody>("api/clusters/health", {
        type: kind,
        clusterName: c,
        namespaces: namespaces?.join(","),
        rateInterval,
      }).then((b) => out.set(c, b?.[key] ?? {})),
    ),
  );
  for (const r of results) {
    if (r.status === "rejected") reportError(`Health (${kind})`, r.reason);
  }
  return out;
}

export function inboundRate(h: Health | undefined): number {
  let sum = 0;
  for (const codes of Object.values(h?.requests?.inbound ?? {})) {
    for (const v of Object.values(codes)) sum += Number(v) || 0;
  }
  return sum;
}
