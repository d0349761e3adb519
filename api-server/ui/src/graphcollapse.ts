// Level of detail for large graphs, as Kiali's box collapse: above COLLAPSE_MIN_NODES nodes the page first draws each
// namespace box (cluster boxes when there are no namespace boxes) as one node, with the edges that cross boxes
// aggregated per source, target and protocol; a box is expanded on demand. Dependency-free (unit-tested alone).

import type { GraphBody, GraphEdgeData, GraphNodeData } from "./api";

/** Above this many nodes (boxes not counted) the graph is first drawn with its boxes collapsed. */
export const COLLAPSE_MIN_NODES = 500;

/** The kind of box a large graph is drawn collapsed by (namespace boxes, else cluster boxes), or null: drawn whole. */
export function collapsibleKind(body: GraphBody, minNodes = COLLAPSE_MIN_NODES): "namespace" | "cluster" | null {
  const nodes = body.elements?.nodes ?? [];
  let leaves = 0;
  let ns = false;
  let cluster = false;
  for (const n of nodes) {
    if (!n.data.isBox) leaves++;
    else if (n.data.isBox === "namespace") ns = true;
    else if (n.data.isBox === "cluster") cluster = true;
  }
  if (leaves <= minNodes) return null;
  return ns ? "namespace" : cluster ? "cluster" : null;
}

/** The ids of the boxes of `kind`. */
export function boxIds(body: GraphBody, kind: string): string[] {
  return (body.elements?.nodes ?? []).filter((n) => n.data.isBox === kind).map((n) => n.data.id);
}

const n = (v: unknown): number => {
  const x = typeof v === "number" ? v : parseFloat(String(v ?? ""));
  return Number.isFinite(x) ? x : 0;
};

/** The rate an edge's percentages are of: grpc for gRPC, tcp for TCP, http otherwise. */
function mainRate(d: GraphEdgeData): number {
  const r = d.traffic?.rates ?? {};
  const p = d.traffic?.protocol;
  return n(p === "grpc" ? r.grpc : p === "tcp" ? r.tcp : r.http);
}

type Responses = Record<string, { flags?: Record<string, string | number>; hosts?: Record<string, string | number> }>;

interface Agg {
  data: GraphEdgeData;
  rates: Record<string, number>;
  /** Per percentage key (httpPercentErr, ...): the sum of percentage × rate. */
  pctWeighted: Record<string, number>;
  responses: Record<string, Record<string, number>>;
  weight: number;
  mtls: number;
  rt: number;
  count: number;
}

/**
 * The graph with the boxes of `collapsed` drawn as one node each: a box's descendants leave the graph, the box
 * becomes a leaf (`collapsed`: its kind, `collapsedNodes`: the nodes inside, no `isBox`), and the edges between
 * different boxes are summed per source, target and protocol (rates added; error percentages, responses and mTLS
 * weighted by rate; the highest response time; `aggregated`: how many edges). Edges inside one collapsed box go.
 */
export function collapseBoxes(body: GraphBody, collapsed: Set<string>): GraphBody {
  const nodes = body.elements?.nodes ?? [];
  const byId = new Map(nodes.map((x) => [x.data.id, x.data]));
  // Each node's outermost collapsed box (itself for a collapsed box with none above it), "" when none.
  const owner = new Map<string, string>();
  const ownerOf = (id: string): string => {
    const known = owner.get(id);
    if (known !== undefined) return known;
    const d = byId.get(id);
    const above = d?.parent ? ownerOf(d.parent) : "";
    const o = above || (collapsed.has(id) && d?.isBox ? id : "");
    owner.set(id, o);
    return o;
  };
  const inside = new Map<string, number>();
  for (const x of nodes) {
    const o = ownerOf(x.data.id);
    if (o && o !== x.data.id && !x.data.isBox) inside.set(o, (inside.get(o) ?? 0) + 1);
  }
  const out: Array<{ data: GraphNodeData }> = [];
  for (const x of nodes) {
    const d = x.data;
    const o = ownerOf(d.id);
    if (!o) out.push(x);
    else if (o === d.id) {
      const { isBox, ...rest } = d;
      out.push({ data: { ...rest, nodeType: "box", collapsed: isBox, collapsedNodes: inside.get(d.id) ?? 0 } });
    }
  }
  const edges: Array<{ data: GraphEdgeData }> = [];
  const aggs = new Map<string, Agg>();
  for (const e of body.elements?.edges ?? []) {
    const d = e.data;
    const s = ownerOf(d.source) || d.source;
    const t = ownerOf(d.target) || d.target;
    if (s === d.source && t === d.target) {
      edges.push(e);
      continue;
    }
    if (s === t) continue;
    const protocol = d.traffic?.protocol ?? "";
    const key = `${s}>${t}>${protocol}`;
    let a = aggs.get(key);
    if (!a) {
      a = { data: { id: `agg:${key}`, source: s, target: t }, rates: {}, pctWeighted: {}, responses: {}, weight: 0, mtls: 0, rt: 0, count: 0 };
      if (d.traffic) a.data.traffic = { protocol };
      aggs.set(key, a);
    }
    const w = mainRate(d);
    a.count++;
    a.weight += w;
    a.mtls += n(d.isMTLS) * w;
    a.rt = Math.max(a.rt, n(d.responseTime));
    for (const [k, v] of Object.entries(d.traffic?.rates ?? {})) {
      if (k.includes("Percent")) a.pctWeighted[k] = (a.pctWeighted[k] ?? 0) + n(v) * w;
      else a.rates[k] = (a.rates[k] ?? 0) + n(v);
    }
    for (const [code, r] of Object.entries((d.traffic?.responses ?? {}) as Responses)) {
      const flags = (a.responses[code] ??= {});
      for (const [f, p] of Object.entries(r?.flags ?? {})) flags[f] = (flags[f] ?? 0) + n(p) * w;
    }
  }
  for (const a of aggs.values()) {
    const d = a.data;
    const per = (x: number) => (a.weight > 0 ? x / a.weight : 0);
    if (d.traffic) {
      const rates: Record<string, string> = {};
      for (const [k, v] of Object.entries(a.rates)) rates[k] = v.toFixed(2);
      for (const [k, v] of Object.entries(a.pctWeighted)) rates[k] = per(v).toFixed(1);
      const responses: Responses = {};
      for (const [code, flags] of Object.entries(a.responses)) {
        responses[code] = { flags: Object.fromEntries(Object.entries(flags).map(([f, v]) => [f, per(v).toFixed(1)])), hosts: {} };
      }
      d.traffic.rates = rates;
      d.traffic.responses = responses;
    }
    if (a.mtls > 0) d.isMTLS = per(a.mtls).toFixed(0);
    if (a.rt > 0) d.responseTime = String(a.rt);
    d.aggregated = a.count;
    edges.push({ data: d });
  }
  return { ...body, elements: { nodes: out, edges } };
}
