// Health in the graph, as Kiali's graph shows it: a node's status is the one the server put in its `healthData`
// (the `/api/clusters/health` entry of its object, `status.status`); an edge's status comes from its responses with
// the health configuration's tolerances (`/api/config` `healthConfig.rate`, then Kiali's defaults): the source's
// outbound tolerances and the target's inbound ones, the worse of the two (Kiali's `getEdgeHealth`). No imports, so
// unit tests load it directly (tests/unit/graphhealth.test.mjs).

export type Status = "Failure" | "Degraded" | "Healthy" | "NA";

export interface Tolerance {
  code: string;
  degraded: number;
  failure: number;
  protocol?: string;
  direction?: string;
}

export interface RateRule {
  namespace?: string;
  kind?: string;
  name?: string;
  tolerance: Tolerance[];
}

/** Kiali's default tolerances (the server appends the same ones: engine `HealthConfig::kiali_default`). */
export const DEFAULT_RULE: RateRule = {
  namespace: ".*",
  kind: ".*",
  name: ".*",
  tolerance: [
    { code: "5XX", degraded: 0, failure: 10, protocol: "http", direction: ".*" },
    { code: "4XX", degraded: 10, failure: 20, protocol: "http", direction: ".*" },
    { code: "^[1-9]$|^1[0-6]$", degraded: 0, failure: 10, protocol: "grpc", direction: ".*" },
    { code: "-", degraded: 0, failure: 10, protocol: "http|grpc", direction: ".*" },
  ],
};

interface CompiledTolerance {
  code: RegExp;
  degraded: number;
  failure: number;
  protocol: RegExp;
  direction: RegExp;
}
interface CompiledRule {
  namespace: RegExp;
  kind: RegExp;
  name: RegExp;
  tolerance: CompiledTolerance[];
}
export interface Rules {
  rules: CompiledRule[];
}

// Anchored as the server anchors them; an `X` in a code stands for a digit.
const anchored = (p: string | undefined) => new RegExp(`^(?:${p || ".*"})$`);
const compileTolerance = (t: Tolerance): CompiledTolerance => ({
  code: anchored(t.code.replace(/[xX]/g, "\\d")),
  degraded: Number(t.degraded) || 0,
  failure: Number(t.failure) || 0,
  protocol: anchored(t.protocol),
  direction: anchored(t.direction),
});

/** The configured rules with Kiali's defaults last; a rule whose regex does not compile is skipped. */
export function compileRules(rate: RateRule[] | undefined): Rules {
  const rules: CompiledRule[] = [];
  for (const r of [...(rate ?? []), DEFAULT_RULE]) {
    try {
      rules.push({ namespace: anchored(r.namespace), kind: anchored(r.kind), name: anchored(r.name), tolerance: (r.tolerance ?? []).map(compileTolerance) });
    } catch {
      // The server refuses such a configuration at start; nothing to colour by here.
    }
  }
  return { rules };
}

/** A `health.kiali.io/rate` annotation: `code,degraded,failure[,protocol[,direction]]`, `;`-separated. */
export function parseRateAnnotation(value: string): Tolerance[] | null {
  const out: Tolerance[] = [];
  for (const item of value.split(";").map((s) => s.trim()).filter(Boolean)) {
    const p = item.split(",").map((s) => s.trim());
    const d = Number(p[1]);
    const f = Number(p[2]);
    if (p.length < 3 || p.length > 5 || !(d >= 0) || !(f >= 0)) return null;
    out.push({ code: p[0], degraded: d, failure: f, protocol: p[3] ?? ".*", direction: p[4] ?? ".*" });
  }
  return out;
}

export interface HealthNode {
  nodeType?: string;
  namespace?: string;
  app?: string;
  workload?: string;
  service?: string;
  healthData?: unknown;
  hasHealthConfig?: Record<string, string> | null;
}

export interface HealthEdge {
  traffic?: { protocol?: string; responses?: unknown };
}

/** The tolerances that apply to a node: its own annotation, else the first rule matching it. */
function tolerancesOf(n: HealthNode, rules: Rules): CompiledTolerance[] {
  const ann = n.hasHealthConfig?.["health.kiali.io/rate"];
  if (ann) {
    const parsed = parseRateAnnotation(ann);
    if (parsed) {
      try {
        return parsed.map(compileTolerance);
      } catch {
        // A bad regex in the annotation: the configured rules apply.
      }
    }
  }
  const kind = n.nodeType ?? "";
  const name = (kind === "app" ? n.app : kind === "workload" ? n.workload : kind === "service" ? n.service : "") ?? "";
  return rules.rules.find((r) => r.namespace.test(n.namespace ?? "") && r.kind.test(kind) && r.name.test(name))?.tolerance ?? [];
}

const RANK: Record<Status, number> = { NA: 0, Healthy: 1, Degraded: 2, Failure: 3 };
const worse = (a: Status, b: Status): Status => (RANK[b] > RANK[a] ? b : a);

/** Kiali's ascending threshold check of a percentage. */
function threshold(pct: number, t: CompiledTolerance): Status {
  if (pct > 0) {
    if (pct >= t.failure) return "Failure";
    if (pct > t.degraded) return "Degraded";
  }
  return "Healthy";
}

/** Code → percentage of the edge's requests (the sum of its flags' percentages, as Kiali's transformEdgeResponses). */
export function responsePercents(edge: HealthEdge): Record<string, number> {
  const out: Record<string, number> = {};
  const responses = (edge.traffic?.responses ?? {}) as Record<string, { flags?: Record<string, string | number> }>;
  for (const [code, r] of Object.entries(responses)) {
    out[code] = Object.values(r?.flags ?? {}).reduce<number>((a, v) => a + (Number(v) || 0), 0);
  }
  return out;
}

function statusFor(pcts: Record<string, number>, protocol: string, tols: CompiledTolerance[], direction: string): Status {
  const total = Object.values(pcts).reduce((a, b) => a + b, 0);
  let s: Status = "NA";
  for (const t of tols) {
    if (!t.direction.test(direction) || !t.protocol.test(protocol)) continue;
    let errs = 0;
    let matched = false;
    for (const [code, v] of Object.entries(pcts)) {
      if (t.code.test(code)) {
        errs += v;
        matched = true;
      }
    }
    if (matched && total > 0) s = worse(s, threshold((100 * errs) / total, t));
  }
  return s === "NA" && Object.keys(pcts).length > 0 ? "Healthy" : s;
}

/** The edge's status (Kiali's `getEdgeHealth`); "NA" for TCP and for edges without responses. */
export function edgeHealth(edge: HealthEdge, source: HealthNode, target: HealthNode, rules: Rules): Status {
  const protocol = edge.traffic?.protocol ?? "";
  if (protocol === "tcp") return "NA";
  const pcts = responsePercents(edge);
  return worse(statusFor(pcts, protocol, tolerancesOf(source, rules), "outbound"), statusFor(pcts, protocol, tolerancesOf(target, rules), "inbound"));
}

/** A node's status as the server computed it: `healthData.status.status` (the mesh graph sends a plain string). */
export function nodeHealth(d: { healthData?: unknown }): string {
  const h = d.healthData as { status?: { status?: string } | string } | string | null | undefined;
  if (typeof h === "string") return h;
  const s = h?.status;
  return (typeof s === "string" ? s : s?.status) ?? "";
}
