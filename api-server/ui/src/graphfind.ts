// The graph's find and hide expressions: a subset of Kiali's syntax (GraphFind), parsed into predicates over node and
// edge data. No imports, so unit tests load it directly (tests/unit/graphfind.test.mjs).
//
// An expression is one or more conditions joined by `and` (or `&&`) or by `or` (or `||`), never both. A condition is
// `<field> <op> <value>` or a unary flag, optionally negated with `!`. Node fields: app, cluster, name, namespace (ns),
// node (its type), service (svc), version, workload (wl), httpin, httpout, grpcin, grpcout, tcpin, tcpout. Edge
// fields: protocol, http, grpc, tcp, %httperr, %grpcerr, responsetime (rt), mtls. Operators: = != > >= < <= and, for
// text, *= (contains) ^= (starts with) $= (ends with) and their negations !*= !^= !$=. Flags: dead, idle, outside,
// root, sidecar (has one), serviceentry (se), virtualservice (vs), circuitbreaker (cb), healthy, degraded, failure.

export interface FindNode {
  nodeType?: string;
  isBox?: string;
  cluster?: string;
  namespace?: string;
  app?: string;
  version?: string;
  workload?: string;
  service?: string;
  isDead?: boolean;
  isIdle?: boolean;
  isOutside?: boolean;
  isRoot?: boolean;
  isOutOfMesh?: boolean;
  isServiceEntry?: unknown;
  hasVS?: unknown;
  hasCB?: boolean;
  healthData?: unknown;
  traffic?: Array<{ protocol: string; rates?: Record<string, string> }>;
}

export interface FindEdge {
  traffic?: { protocol?: string; rates?: Record<string, string> };
  responseTime?: string | number;
  isMTLS?: string | number;
}

export type Compiled =
  | { ok: true; target: "node" | "edge" | "none"; node: (d: FindNode) => boolean; edge: (d: FindEdge) => boolean }
  | { ok: false; error: string };

const NODE_TEXT: Record<string, (d: FindNode) => string> = {
  app: (d) => d.app ?? "",
  cluster: (d) => d.cluster ?? "",
  name: (d) => d.workload || d.app || d.service || "",
  namespace: (d) => d.namespace ?? "",
  node: (d) => d.nodeType ?? "",
  service: (d) => d.service ?? "",
  version: (d) => d.version ?? "",
  workload: (d) => d.workload ?? "",
};
const NODE_ALIASES: Record<string, string> = { ns: "namespace", svc: "service", wl: "workload" };

const nodeRate = (proto: string, dir: "In" | "Out") => (d: FindNode) =>
  Number(d.traffic?.find((t) => t.protocol === proto)?.rates?.[`${proto}${dir}`] ?? 0);
const NODE_NUM: Record<string, (d: FindNode) => number> = {
  httpin: nodeRate("http", "In"),
  httpout: nodeRate("http", "Out"),
  grpcin: nodeRate("grpc", "In"),
  grpcout: nodeRate("grpc", "Out"),
  tcpin: nodeRate("tcp", "In"),
  tcpout: nodeRate("tcp", "Out"),
};

const edgeRateOf = (proto: string) => (d: FindEdge) => (d.traffic?.protocol === proto ? Number(d.traffic.rates?.[proto] ?? 0) : 0);
const EDGE_NUM: Record<string, (d: FindEdge) => number> = {
  http: edgeRateOf("http"),
  grpc: edgeRateOf("grpc"),
  tcp: edgeRateOf("tcp"),
  "%httperr": (d) => (d.traffic?.protocol === "http" ? Number(d.traffic.rates?.httpPercentErr ?? 0) : 0),
  "%grpcerr": (d) => (d.traffic?.protocol === "grpc" ? Number(d.traffic.rates?.grpcPercentErr ?? 0) : 0),
  responsetime: (d) => Number(d.responseTime ?? 0),
  mtls: (d) => Number(d.isMTLS ?? 0),
};
const EDGE_TEXT: Record<string, (d: FindEdge) => string> = { protocol: (d) => d.traffic?.protocol ?? "" };
const EDGE_ALIASES: Record<string, string> = { rt: "responsetime", "%httperror": "%httperr", "%grpcerror": "%grpcerr" };

// The server's healthData is the /api/clusters/health entry: the status is nested (`{status: {status: "Failure"}}`).
const health = (d: FindNode): string => {
  const h = d.healthData as { status?: { status?: string } | string } | string | null | undefined;
  if (typeof h === "string") return h.toLowerCase();
  const s = h?.status;
  return ((typeof s === "string" ? s : s?.status) ?? "").toLowerCase();
};
const NODE_FLAGS: Record<string, (d: FindNode) => boolean> = {
  dead: (d) => !!d.isDead,
  idle: (d) => !!d.isIdle,
  outside: (d) => !!d.isOutside,
  root: (d) => !!d.isRoot,
  sidecar: (d) => !d.isOutOfMesh,
  serviceentry: (d) => !!d.isServiceEntry,
  virtualservice: (d) => !!d.hasVS,
  circuitbreaker: (d) => !!d.hasCB,
  healthy: (d) => health(d) === "healthy",
  degraded: (d) => health(d) === "degraded",
  failure: (d) => health(d) === "failure",
};
const FLAG_ALIASES: Record<string, string> = { se: "serviceentry", vs: "virtualservice", cb: "circuitbreaker", outsider: "outside", unhealthy: "failure", trafficsource: "root" };

const OPS = ["!*=", "!^=", "!$=", ">=", "<=", "!=", "*=", "^=", "$=", "=", ">", "<"] as const;
type Op = (typeof OPS)[number];
const TEXT_OPS: Op[] = ["=", "!=", "*=", "!*=", "^=", "!^=", "$=", "!$="];

type Cond = { target: "node"; test: (d: FindNode) => boolean } | { target: "edge"; test: (d: FindEdge) => boolean };

function textTest(op: Op, want: string): ((v: string) => boolean) | null {
  const w = want.toLowerCase();
  switch (op) {
    case "=":
      return (v) => v.toLowerCase() === w;
    case "!=":
      return (v) => v.toLowerCase() !== w;
    case "*=":
      return (v) => v.toLowerCase().includes(w);
    case "!*=":
      return (v) => !v.toLowerCase().includes(w);
    case "^=":
      return (v) => v.toLowerCase().startsWith(w);
    case "!^=":
      return (v) => !v.toLowerCase().startsWith(w);
    case "$=":
      return (v) => v.toLowerCase().endsWith(w);
    case "!$=":
      return (v) => !v.toLowerCase().endsWith(w);
    default:
      return null;
  }
}

function numTest(op: Op, want: number): ((v: number) => boolean) | null {
  switch (op) {
    case "=":
      return (v) => v === want;
    case "!=":
      return (v) => v !== want;
    case ">":
      return (v) => v > want;
    case ">=":
      return (v) => v >= want;
    case "<":
      return (v) => v < want;
    case "<=":
      return (v) => v <= want;
    default:
      return null;
  }
}

function condition(raw: string): Cond | string {
  const text = raw.trim();
  if (!text) return "an empty condition (a dangling `and` or `or`?)";
  const op = OPS.find((o) => text.includes(o));
  if (!op) {
    // A unary flag, possibly negated.
    const neg = text.startsWith("!");
    const name = (neg ? text.slice(1) : text).trim().toLowerCase();
    const flag = NODE_FLAGS[FLAG_ALIASES[name] ?? name];
    if (!flag) {
      return `unknown flag or missing operator in "${text}": a condition is <field> <op> <value> (ops ${OPS.join(" ")}) or one of ${Object.keys(NODE_FLAGS).join(", ")}`;
    }
    return { target: "node", test: neg ? (d) => !flag(d) : flag };
  }
  const at = text.indexOf(op);
  const field = text.slice(0, at).trim().toLowerCase();
  const value = text.slice(at + op.length).trim();
  if (!field) return `a field is missing before "${op}" in "${text}"`;
  if (!value) return `a value is missing after "${field} ${op}"`;
  const nodeField = NODE_ALIASES[field] ?? field;
  const edgeField = EDGE_ALIASES[field] ?? field;
  const num = Number(value);
  if (NODE_TEXT[nodeField] || EDGE_TEXT[edgeField]) {
    const t = textTest(op, value);
    if (!t) return `"${op}" does not apply to text field ${field} (use ${TEXT_OPS.join(" ")})`;
    if (NODE_TEXT[nodeField]) {
      const get = NODE_TEXT[nodeField];
      return { target: "node", test: (d) => t(get(d)) };
    }
    const get = EDGE_TEXT[edgeField];
    return { target: "edge", test: (d) => t(get(d)) };
  }
  if (NODE_NUM[nodeField] || EDGE_NUM[edgeField]) {
    if (!Number.isFinite(num)) return `${field} is a number: "${value}" is not one`;
    const t = numTest(op, num);
    if (!t) return `"${op}" does not apply to numeric field ${field} (use = != > >= < <=)`;
    if (NODE_NUM[nodeField]) {
      const get = NODE_NUM[nodeField];
      return { target: "node", test: (d) => t(get(d)) };
    }
    const get = EDGE_NUM[edgeField];
    return { target: "edge", test: (d) => t(get(d)) };
  }
  const known = [...Object.keys(NODE_TEXT), ...Object.keys(NODE_NUM), ...Object.keys(EDGE_TEXT), ...Object.keys(EDGE_NUM)];
  return `unknown field "${field}" (known: ${known.join(", ")})`;
}

/** Parses a find or hide expression; an empty one matches nothing. */
export function compile(expr: string): Compiled {
  const text = expr.trim();
  const none = { ok: true as const, target: "none" as const, node: () => false, edge: () => false };
  if (!text) return none;
  const hasAnd = /\s+and\b|&&/i.test(text);
  const hasOr = /\s+or\b|\|\|/i.test(text);
  if (hasAnd && hasOr) return { ok: false, error: "an expression can not mix `and` and `or`" };
  const parts = text.split(hasOr ? /\s+or\b|\|\|/i : /\s+and\b|&&/i);
  const conds: Cond[] = [];
  for (const p of parts) {
    const c = condition(p);
    if (typeof c === "string") return { ok: false, error: c };
    conds.push(c);
  }
  const targets = new Set(conds.map((c) => c.target));
  if (targets.size > 1) return { ok: false, error: "an expression can not mix node and edge conditions" };
  const target = conds[0].target;
  const all = (d: unknown) => (hasOr ? conds.some((c) => c.test(d as never)) : conds.every((c) => c.test(d as never)));
  return {
    ok: true,
    target,
    node: (d: FindNode) => target === "node" && !d.isBox && all(d),
    edge: (d: FindEdge) => target === "edge" && all(d),
  };
}
