// The objects of the service wizards "Traffic Shifting", "Request Routing" (one rule without matches), "Fault
// Injection" and "Request Timeouts", with the circuit breaker of the advanced options (DestinationRule traffic policy),
// built the way Kiali's wizard builds them, so that the same choice gives the same DestinationRule and VirtualService.
//
// Facts taken from Kiali's frontend, frontend/src/components/IstioWizards/WizardActions.ts (buildIstioConfig,
// getDefaultWeights; kiali/kiali commit 654fe759bab511bdaa25ae8b9bb06e598e8555b0):
// - apiVersion `networking.istio.io/v1`; both objects named after the service (or after the one existing object of
//   that kind, when exactly one exists under another name), in its namespace, labelled `kiali_wizard: <wizard type>`;
// - DestinationRule: `host` the service's FQDN (`<svc>.<ns>.<istioIdentityDomain>`, `svc.cluster.local` by
//   default), one subset per workload with a version label, named after the version and selecting it by that label;
//   `trafficPolicy: null` without advanced options; `metadata.annotations: null` without a PeerAuthentication;
// - VirtualService: `http: [{route: [...]}]`, one destination per non-mirrored workload weight
//   (`{destination: {host: FQDN, subset: <version>}, weight}`), the mirrored one as `mirror` + `mirrorPercentage`;
//   then `hosts: [<svc>]` and `gateways: null` (no gateway chosen). Nulls delete those fields on a JSON merge patch.
// - Default weights: 100 / n each, the remainder on the last workload.
// - Fault Injection (buildIstioConfig, case WIZARD_FAULT_INJECTION): `http: [{route, fault}]`, every workload weight
//   routed (none mirrored), `fault` only when a delay or an abort is chosen, `delay` before `abort`. Defaults
//   (getInitFaultInjectionRoute): delay `{percentage: {value: 100}, fixedDelay: "5s"}`, abort
//   `{percentage: {value: 100}, httpStatus: 503}`, neither chosen.
// - Request Timeouts (case WIZARD_REQUEST_TIMEOUTS): `http: [{route, timeout, retries}]`, each only when chosen.
//   Defaults (getInitTimeoutRetryRoute): timeout "2s"; retries `{attempts: 3, perTryTimeout: "2s",
//   retryOn: "gateway-error,connect-failure,refused-stream"}`.
// - Advanced options, any wizard: `trafficPolicy: {loadBalancer, connectionPool, outlierDetection}` (in that order,
//   each only when chosen), else `trafficPolicy: null`. A simple load balancer is `{simple, consistentHash: null}`.
//   Defaults (ServiceWizard.tsx, kiali/kiali commit 011dfb3252ae1ee37d8de49dd1277716a228c184): connection pool
//   `{tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}`, outlier detection `{consecutiveErrors: 1}`,
//   load balancer ROUND_ROBIN. (TLS and the PeerAuthentication of the advanced options are not built here.)
// - Reopening a wizard (getInitFaultInjectionRoute, getInitTimeoutRetryRoute, getInitLoadBalancer,
//   getInitConnectionPool, getInitOutlierDetection): with exactly one VirtualService of one HTTP route, its fault
//   (a missing percentage read as 100), timeout and retries (attempts, perTryTimeout; Kiali keeps its default
//   retryOn) are the starting choice; with exactly one DestinationRule, its traffic policy's parts.
//
// Ours (multi-cluster): the weights are chosen per version, and a version may run in several clusters (or only in
// another cluster than the one the objects go to). Kiali lists one row per workload; workloads of the same version
// in two clusters are one subset here (Kiali would write the subset twice, which Istio refuses).
// Pure: no DOM, tested by tests/unit/wizard.test.mjs against a golden file.

export const KIALI_WIZARD_LABEL = "kiali_wizard";
export const ISTIO_NETWORKING_VERSION = "networking.istio.io/v1";
export type WizardType = "traffic_shifting" | "request_routing" | "fault_injection" | "request_timeouts";

type Obj = Record<string, unknown>;

export interface Percent {
  value: number;
}
export interface Delay {
  percentage: Percent;
  fixedDelay: string;
}
export interface Abort {
  percentage: Percent;
  httpStatus: number;
}
export interface Retries {
  attempts: number;
  perTryTimeout: string;
  retryOn?: string;
}
/** The chosen faults; a missing one is not injected. */
export interface FaultChoice {
  delay?: Delay;
  abort?: Abort;
}
export interface TimeoutChoice {
  timeout?: string;
  retries?: Retries;
}
export interface TrafficPolicyChoice {
  /** A simple load balancer: ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH. */
  loadBalancer?: string;
  connectionPool?: Obj;
  outlierDetection?: Obj;
}

export const DEFAULT_DELAY: Delay = { percentage: { value: 100 }, fixedDelay: "5s" };
export const DEFAULT_ABORT: Abort = { percentage: { value: 100 }, httpStatus: 503 };
export const DEFAULT_TIMEOUT = "2s";
export const DEFAULT_RETRIES: Retries = { attempts: 3, perTryTimeout: "2s", retryOn: "gateway-error,connect-failure,refused-stream" };
export const DEFAULT_CONNECTION_POOL = { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } };
export const DEFAULT_OUTLIER_DETECTION = { consecutiveErrors: 1 };
export const SIMPLE_LOAD_BALANCERS = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"];

export interface WizardWorkload {
  name: string;
  cluster: string;
  labels: Record<string, string>;
}

/** One row of the wizard: a version (every workload of it, in every cluster) and its weight. */
export interface VersionWeight {
  /** The version label's value; "" for a workload without one (routed without a subset). */
  version: string;
  /** The workloads of that version, as `cluster/name`. */
  workloads: string[];
  weight: number;
  mirrored?: boolean;
}

export interface WizardInput {
  type: WizardType;
  namespace: string;
  serviceName: string;
  workloads: WizardWorkload[];
  weights: VersionWeight[];
  /** Kiali's `istioIdentityDomain`. */
  identityDomain?: string;
  /** Kiali's `istioLabels.versionLabelName`. */
  versionLabel?: string;
  /** Names of the service's existing objects (Kiali keeps the name of a single existing one). */
  existingDestinationRules?: string[];
  existingVirtualServices?: string[];
  /** Fault Injection's choice (only read by that wizard). */
  fault?: FaultChoice;
  /** Request Timeouts' choice (only read by that wizard). */
  timeouts?: TimeoutChoice;
  /** The advanced options' traffic policy (every wizard). */
  trafficPolicy?: TrafficPolicyChoice;
}

export function fqdnServiceName(serviceName: string, namespace: string, identityDomain = "svc.cluster.local"): string {
  return `${serviceName}.${namespace}.${identityDomain}`;
}

/** The wizard's rows: one per version, in the order the workloads come; workloads without a version each alone. */
export function versionRows(workloads: WizardWorkload[], versionLabel = "version"): VersionWeight[] {
  const rows: VersionWeight[] = [];
  for (const w of workloads) {
    const v = w.labels?.[versionLabel] ?? "";
    const row = v ? rows.find((r) => r.version === v) : undefined;
    if (row) row.workloads.push(`${w.cluster}/${w.name}`);
    else rows.push({ version: v, workloads: [`${w.cluster}/${w.name}`], weight: 0 });
  }
  return rows;
}

/** Kiali's default weights: 100 / n each (none above 100 rows), the remainder on the last row. */
export function defaultWeights(rows: VersionWeight[]): VersionWeight[] {
  const n = rows.length;
  const each = n > 0 && n < 100 ? Math.floor(100 / n) : 0;
  const rest = n > 0 && n < 100 ? 100 % n : 0;
  const out = rows.map((r) => ({ ...r, weight: each, mirrored: false }));
  if (rest > 0) out[out.length - 1].weight += rest;
  return out;
}

/** Why the weights cannot be used (the wizard's own check: routed weights sum to 100), or null. */
export function weightsProblem(weights: VersionWeight[]): string | null {
  const routed = weights.filter((w) => !w.mirrored);
  if (routed.length === 0) return "at least one version must receive traffic";
  for (const w of weights) {
    if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) return `weight of ${w.version || w.workloads[0]} must be a whole number from 0 to 100 (got ${w.weight})`;
  }
  const sum = routed.reduce((s, w) => s + w.weight, 0);
  if (sum !== 100) return `the weights must add up to 100 (they add up to ${sum})`;
  if (weights.filter((w) => w.mirrored).length > 1) return "at most one version can be mirrored";
  return null;
}

/** The DestinationRule and VirtualService Kiali's wizard creates for this choice. */
export function buildTrafficRouting(input: WizardInput): { destinationRule: Obj; virtualService: Obj } {
  const versionLabel = input.versionLabel ?? "version";
  const host = fqdnServiceName(input.serviceName, input.namespace, input.identityDomain);
  const drs = input.existingDestinationRules ?? [];
  const vss = input.existingVirtualServices ?? [];
  const drName = drs.length === 1 && drs[0] !== input.serviceName ? drs[0] : input.serviceName;
  const vsName = vss.length === 1 && vss[0] !== input.serviceName ? vss[0] : input.serviceName;
  const labels = { [KIALI_WIZARD_LABEL]: input.type };

  const versions: string[] = [];
  for (const w of input.workloads) {
    const v = w.labels?.[versionLabel];
    if (v && !versions.includes(v)) versions.push(v);
  }
  const drSpec: Obj = { host };
  if (versions.length > 0) drSpec.subsets = versions.map((v) => ({ name: v, labels: { [versionLabel]: v } }));
  const tp = input.trafficPolicy ?? {};
  if (tp.loadBalancer || tp.connectionPool || tp.outlierDetection) {
    const policy: Obj = {};
    if (tp.loadBalancer) policy.loadBalancer = { simple: tp.loadBalancer, consistentHash: null };
    if (tp.connectionPool) policy.connectionPool = structuredClone(tp.connectionPool);
    if (tp.outlierDetection) policy.outlierDetection = structuredClone(tp.outlierDetection);
    drSpec.trafficPolicy = policy;
  } else {
    drSpec.trafficPolicy = null;
  }
  const destinationRule: Obj = {
    kind: "DestinationRule",
    apiVersion: ISTIO_NETWORKING_VERSION,
    metadata: { namespace: input.namespace, name: drName, labels: { ...labels }, annotations: null },
    spec: drSpec,
  };

  const destination = (w: VersionWeight): Obj => {
    const d: Obj = { host };
    if (w.version) d.subset = w.version;
    return d;
  };
  const single = input.type === "fault_injection" || input.type === "request_timeouts";
  const route: Obj = {
    // Fault Injection and Request Timeouts route every row (they have no mirroring).
    route: input.weights.filter((w) => single || !w.mirrored).map((w) => ({ destination: destination(w), weight: w.weight })),
  };
  const mirror = single ? undefined : input.weights.filter((w) => w.mirrored).pop();
  if (input.type === "fault_injection" && (input.fault?.delay || input.fault?.abort)) {
    const fault: Obj = {};
    if (input.fault.delay) fault.delay = structuredClone(input.fault.delay);
    if (input.fault.abort) fault.abort = structuredClone(input.fault.abort);
    route.fault = fault;
  }
  if (input.type === "request_timeouts") {
    if (input.timeouts?.timeout) route.timeout = input.timeouts.timeout;
    if (input.timeouts?.retries) route.retries = structuredClone(input.timeouts.retries);
  }
  if (mirror) {
    route.mirror = destination(mirror);
    route.mirrorPercentage = { value: mirror.weight };
  }
  const virtualService: Obj = {
    kind: "VirtualService",
    apiVersion: ISTIO_NETWORKING_VERSION,
    metadata: { namespace: input.namespace, name: vsName, labels: { ...labels } },
    spec: { http: [route], hosts: [input.serviceName], gateways: null },
  };
  return { destinationRule, virtualService };
}

const DURATION = /^\d+(\.\d+)?(h|m|s|ms)$/;
const percentProblem = (what: string, p: Percent | undefined) =>
  !p || typeof p.value !== "number" || !Number.isFinite(p.value) || p.value < 0 || p.value > 100 ? `${what} percentage must be a number from 0 to 100 (got ${p?.value})` : null;
const durationProblem = (what: string, d: string | undefined) => (typeof d !== "string" || !DURATION.test(d) ? `${what} must be a duration such as 5s, 1.5s, 100ms or 1h (got "${d ?? ""}")` : null);

/** Why the chosen faults cannot be used, or null. */
export function faultProblem(f: FaultChoice): string | null {
  if (f.delay) {
    const why = percentProblem("delay", f.delay.percentage) ?? durationProblem("fixed delay", f.delay.fixedDelay);
    if (why) return why;
  }
  if (f.abort) {
    const why = percentProblem("abort", f.abort.percentage);
    if (why) return why;
    const s = f.abort.httpStatus;
    if (!Number.isInteger(s) || s < 100 || s > 599) return `abort HTTP status must be a whole number from 100 to 599 (got ${s})`;
  }
  return null;
}

/** Why the chosen timeout and retries cannot be used, or null. */
export function timeoutProblem(t: TimeoutChoice): string | null {
  if (t.timeout !== undefined) {
    const why = durationProblem("timeout", t.timeout);
    if (why) return why;
  }
  if (t.retries) {
    const a = t.retries.attempts;
    if (!Number.isInteger(a) || a < 0) return `retry attempts must be a whole number of 0 or more (got ${a})`;
    const why = durationProblem("per-try timeout", t.retries.perTryTimeout);
    if (why) return why;
  }
  return null;
}

/** Why the advanced options' traffic policy cannot be used, or null. */
export function trafficPolicyProblem(tp: TrafficPolicyChoice): string | null {
  if (tp.loadBalancer && !SIMPLE_LOAD_BALANCERS.includes(tp.loadBalancer)) return `load balancer must be one of ${SIMPLE_LOAD_BALANCERS.join(", ")} (got ${tp.loadBalancer})`;
  const counts: Array<[string, unknown]> = [
    ["connection pool tcp.maxConnections", (tp.connectionPool?.tcp as Obj | undefined)?.maxConnections],
    ["connection pool http.http1MaxPendingRequests", (tp.connectionPool?.http as Obj | undefined)?.http1MaxPendingRequests],
    ["outlier detection consecutiveErrors", tp.outlierDetection?.consecutiveErrors],
  ];
  for (const [what, v] of counts) {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) return `${what} must be a whole number of 1 or more (got ${v})`;
  }
  return null;
}

type Named = { spec?: Obj };
const onlyRoute = (vss: Named[]): Obj | undefined => {
  const http = vss.length === 1 ? (vss[0].spec?.http as Obj[] | undefined) : undefined;
  return http && http.length === 1 ? http[0] : undefined;
};

/** The starting delay/abort of Fault Injection, read from the service's existing VirtualServices as Kiali does. */
export function initFault(vss: Named[]): FaultChoice {
  const fault = onlyRoute(vss)?.fault as { delay?: Obj; abort?: Obj } | undefined;
  const out: FaultChoice = {};
  const pct = (x: Obj) => ({ value: typeof (x.percentage as Percent | undefined)?.value === "number" ? (x.percentage as Percent).value : 100 });
  if (fault?.delay) out.delay = { percentage: pct(fault.delay), fixedDelay: String(fault.delay.fixedDelay ?? DEFAULT_DELAY.fixedDelay) };
  if (fault?.abort) out.abort = { percentage: pct(fault.abort), httpStatus: Number(fault.abort.httpStatus ?? DEFAULT_ABORT.httpStatus) };
  return out;
}

/** The starting timeout/retries of Request Timeouts, read as Kiali does. */
export function initTimeouts(vss: Named[]): TimeoutChoice {
  const r = onlyRoute(vss);
  const out: TimeoutChoice = {};
  if (typeof r?.timeout === "string" && r.timeout) out.timeout = r.timeout;
  const retries = r?.retries as Obj | undefined;
  if (retries) {
    out.retries = { ...DEFAULT_RETRIES, attempts: Number(retries.attempts ?? 0) };
    if (typeof retries.perTryTimeout === "string" && retries.perTryTimeout) out.retries.perTryTimeout = retries.perTryTimeout;
  }
  return out;
}

/** The starting advanced options, read from the service's one existing DestinationRule as Kiali does. */
export function initTrafficPolicy(drs: Named[]): TrafficPolicyChoice {
  const tp = drs.length === 1 ? (drs[0].spec?.trafficPolicy as Obj | null | undefined) : undefined;
  const out: TrafficPolicyChoice = {};
  const simple = (tp?.loadBalancer as Obj | undefined)?.simple;
  if (typeof simple === "string" && simple) out.loadBalancer = simple;
  if (tp?.connectionPool) out.connectionPool = tp.connectionPool as Obj;
  if (tp?.outlierDetection) out.outlierDetection = tp.outlierDetection as Obj;
  return out;
}
