// Cytoscape rendering of Kiali's graph JSON: boxes (cluster > namespace > app), nodes by type, edges coloured by
// error rate, labels on demand, and a layered layout (dagre for readable graphs, a linear-time layered layout for
// large ones).

import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import dagre from "cytoscape-dagre";
import type { GraphBody, GraphEdgeData, GraphNodeData } from "./api";
import { num } from "./format";
import { compileRules, edgeHealth, nodeHealth, type Rules } from "./graphhealth";

cytoscape.use(dagre);

export type EdgeLabel = "rate" | "error" | "rt";

export interface ViewOptions {
  edgeLabels: EdgeLabel[];
  security: boolean;
  /** The health configuration's tolerances for edge colours (Kiali's defaults when absent). */
  rules?: Rules;
  /** Node id to highlight (detail pages). */
  focus?: (d: GraphNodeData) => boolean;
  /**
   * Drawn as a large graph whatever its size (the layered layout, flattened boxes, the renderer's large-graph
   * settings): a collapsed large graph, whose few nodes carry hundreds of summed edges that dagre is slow on.
   */
  large?: boolean;
}

export interface Rendered {
  cy: Core;
  /** Milliseconds from the call to the first painted frame after layout. */
  renderMs: Promise<number>;
  layout: "dagre" | "layered";
  /**
   * Milliseconds per phase of the first render, filled as they end: `elements` (Kiali's JSON to Cytoscape's),
   * `layout` (positions; dagre's run when small), `cytoscape` (the instance with its elements and style), `paint`
   * (from there to the first painted frame).
   */
  phases: Record<string, number>;
}

/** Above this many nodes the layered layout replaces dagre (dagre is quadratic-ish on dense graphs). */
export const DAGRE_MAX_NODES = 250;

export function nodeLabel(d: GraphNodeData): string {
  if (d.collapsed) return `${d.collapsed === "cluster" ? d.cluster : d.namespace} (${d.collapsedNodes ?? 0} nodes)`;
  if (d.isBox === "cluster") return d.cluster;
  if (d.isBox === "namespace") return d.namespace;
  if (d.isBox === "app") return d.app ?? "";
  switch (d.nodeType) {
    case "service":
      return d.service ?? "";
    case "workload":
      return d.workload ?? "";
    case "app":
      return d.version && d.version !== "unknown" ? `${d.app} ${d.version}` : d.app ?? "";
    case "unknown":
      return "unknown";
    default:
      return d.workload || d.app || d.service || d.id.slice(0, 8);
  }
}

export function edgeRate(d: GraphEdgeData): { value: number; unit: string } {
  const t = d.traffic;
  const r = t?.rates ?? {};
  switch (t?.protocol) {
    case "grpc":
      return { value: num(r.grpc), unit: "rps" };
    case "tcp":
      return { value: num(r.tcp), unit: "bps" };
    default:
      return { value: num(r.http), unit: "rps" };
  }
}

export function edgeErrorPct(d: GraphEdgeData): number {
  const r = d.traffic?.rates ?? {};
  return d.traffic?.protocol === "grpc" ? num(r.grpcPercentErr) : num(r.httpPercentErr);
}

function edgeLabelText(d: GraphEdgeData, labels: EdgeLabel[]): string {
  const parts: string[] = [];
  for (const l of labels) {
    if (l === "rate") {
      const { value, unit } = edgeRate(d);
      if (value > 0) parts.push(`${value.toFixed(2)}${unit}`);
    } else if (l === "error") {
      const e = edgeErrorPct(d);
      if (e > 0) parts.push(`${e.toFixed(1)}%`);
    } else if (l === "rt") {
      const rt = num(d.responseTime);
      if (rt > 0) parts.push(`${Math.round(rt)}ms`);
    }
  }
  return parts.join("\n");
}

/**
 * The colours of the graph, shared by the Cytoscape style and the legend (Kiali's: PatternFly success, warning and
 * danger for health, blue for TCP, grey for idle).
 */
export const COLORS = {
  nodeBorder: "#4f5b66",
  nodeDegraded: "#f0ab00",
  nodeFailure: "#c9190b",
  nodeOutside: "#eef1f4",
  nodeInaccessible: "#f0f0f0",
  edgeHealthy: "#3e8635",
  edgeDegraded: "#f0ab00",
  edgeFailure: "#c9190b",
  edgeTcp: "#0066cc",
  edgeIdle: "#8a96a3",
  mtls: "#3e8635",
  cluster: "#6a3d9a",
  namespace: "#1f78b4",
  appBox: "#8a96a3",
};

/** An edge's classes: its protocol, idle when without traffic, and its health (Kiali's edge colours). */
function edgeClass(d: GraphEdgeData, src: GraphNodeData | undefined, dst: GraphNodeData | undefined, rules: Rules): string {
  const cls: string[] = [];
  const tcp = d.traffic?.protocol === "tcp";
  if (tcp) cls.push("tcp");
  const { value } = edgeRate(d);
  if (value === 0) cls.push("idle");
  else if (!tcp) {
    const st = edgeHealth(d, src ?? {}, dst ?? {}, rules);
    cls.push(st === "Failure" ? "failure" : st === "Degraded" ? "degraded" : "healthy");
  }
  if (num(d.isMTLS) > 0) cls.push("mtls");
  return cls.join(" ");
}

/** The node's health class, from the status the server put in healthData (the lists' rule): red Failure, orange Degraded. */
export function healthClass(d: GraphNodeData): string {
  switch (nodeHealth(d)) {
    case "Failure":
      return "h-failure";
    case "Degraded":
      return "h-degraded";
    case "Healthy":
      return "h-healthy";
    default:
      return "";
  }
}

export function toElements(body: GraphBody, opts: ViewOptions): ElementDefinition[] {
  const els: ElementDefinition[] = [];
  for (const n of body.elements?.nodes ?? []) {
    const d = n.data;
    const cls: string[] = [];
    if (d.isBox) cls.push("box", `box-${d.isBox}`);
    else if (d.collapsed) cls.push("collapsed", `collapsed-${d.collapsed}`);
    else cls.push(`t-${d.nodeType}`);
    if (d.isDead) cls.push("dead");
    if (d.isIdle) cls.push("idle");
    if (d.isRoot) cls.push("root");
    if (d.isOutside) cls.push("outside");
    if (d.isServiceEntry) cls.push("serviceentry");
    if (d.isInaccessible) cls.push("inaccessible");
    const hc = healthClass(d);
    if (hc) cls.push(hc);
    if (opts.focus && !d.isBox && opts.focus(d)) cls.push("focus");
    els.push({ group: "nodes", data: { ...d, label: nodeLabel(d) }, classes: cls.join(" ") });
  }
  const byId = new Map((body.elements?.nodes ?? []).map((n) => [n.data.id, n.data]));
  const rules = opts.rules ?? compileRules(undefined);
  for (const e of body.elements?.edges ?? []) {
    const d = e.data;
    // No `label` field without a label: the label's style (`edge[label]`) then costs nothing per edge.
    const label = edgeLabelText(d, opts.edgeLabels);
    els.push({
      group: "edges",
      data: label ? { ...d, label } : { ...d },
      classes: edgeClass(d, byId.get(d.source), byId.get(d.target), rules) + (opts.security && num(d.isMTLS) > 0 ? " secure" : ""),
    });
  }
  return els;
}

function style(large: boolean): cytoscape.StylesheetJson {
  return [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "font-size": 10,
        "text-valign": "bottom",
        "text-margin-y": 3,
        width: 22,
        height: 22,
        "background-color": "#fff",
        "border-width": 2,
        "border-color": COLORS.nodeBorder,
        color: "#1b2733",
        "min-zoomed-font-size": large ? 9 : 0,
        "z-index": 10,
      },
    },
    { selector: "node.t-app", style: { shape: "round-rectangle" } },
    { selector: "node.t-workload", style: { shape: "ellipse" } },
    { selector: "node.t-service", style: { shape: "round-triangle", width: 24, height: 20 } },
    { selector: "node.t-unknown", style: { shape: "diamond", "border-style": "dashed" } },
    { selector: "node.serviceentry", style: { shape: "round-tag" } },
    { selector: "node.root", style: { "border-width": 3 } },
    { selector: "node.dead, node.idle", style: { opacity: 0.55, "border-style": "dashed" } },
    { selector: "node.outside", style: { "background-color": COLORS.nodeOutside } },
    { selector: "node.inaccessible", style: { "border-style": "dotted", "background-color": COLORS.nodeInaccessible, color: "#6a6e73" } },
    { selector: "node.h-degraded", style: { "border-color": COLORS.nodeDegraded, "border-width": 3 } },
    { selector: "node.h-failure", style: { "border-color": COLORS.nodeFailure, "border-width": 3 } },
    { selector: "node.focus", style: { "border-color": "#0066cc", "border-width": 5 } },
    {
      selector: "node.box",
      style: {
        "text-valign": "top",
        "text-halign": "center",
        "text-margin-y": -2,
        shape: "round-rectangle",
        "background-opacity": 0.04,
        "background-color": "#4f5b66",
        padding: "12px",
        "font-weight": "bold",
      },
    },
    {
      selector: "node.box-cluster",
      style: {
        "border-width": 3,
        "border-style": "dashed",
        "border-color": COLORS.cluster,
        "background-color": COLORS.cluster,
        "background-opacity": 0.06,
        color: COLORS.cluster,
        "font-size": 14,
        padding: "24px",
      },
    },
    { selector: "node.box-namespace", style: { "border-width": 2, "border-color": COLORS.namespace, color: COLORS.namespace, "font-size": 12 } },
    { selector: "node.box-app", style: { "border-width": 1, "border-color": COLORS.appBox, "font-size": 10 } },
    // A collapsed box (graphcollapse.ts): one node in the box's colour, expanded by a double-click.
    {
      selector: "node.collapsed",
      style: { shape: "round-rectangle", width: 64, height: 36, "border-width": 3, "border-style": "double", "background-opacity": 0.12, "font-weight": "bold" },
    },
    { selector: "node.collapsed-namespace", style: { "border-color": COLORS.namespace, "background-color": COLORS.namespace, color: COLORS.namespace } },
    { selector: "node.collapsed-cluster", style: { "border-color": COLORS.cluster, "background-color": COLORS.cluster, color: COLORS.cluster } },
    {
      selector: "node.flatbox",
      style: {
        width: "data(w)",
        height: "data(h)",
        "z-compound-depth": "bottom",
        "z-index-compare": "manual",
        "z-index": "data(z)" as unknown as number,
        // The size is the extent of what the box holds, its padding included.
        padding: "0px",
        events: "no",
        "text-valign": "top",
        "text-margin-y": -4,
      },
    },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "z-index": 5,
        "line-color": COLORS.edgeIdle,
        "target-arrow-color": COLORS.edgeIdle,
        "target-arrow-shape": "triangle",
        "arrow-scale": 0.8,
        "curve-style": large ? "straight" : "bezier",
      },
    },
    {
      selector: "edge[label]",
      style: {
        label: "data(label)",
        "font-size": 8,
        "text-wrap": "wrap",
        "text-background-color": "#fff",
        "text-background-opacity": 0.8,
        "text-background-padding": "1px",
        "min-zoomed-font-size": large ? 9 : 0,
      },
    },
    { selector: "edge.healthy", style: { "line-color": COLORS.edgeHealthy, "target-arrow-color": COLORS.edgeHealthy } },
    { selector: "edge.degraded", style: { "line-color": COLORS.edgeDegraded, "target-arrow-color": COLORS.edgeDegraded } },
    { selector: "edge.failure", style: { "line-color": COLORS.edgeFailure, "target-arrow-color": COLORS.edgeFailure } },
    { selector: "edge.tcp", style: { "line-color": COLORS.edgeTcp, "target-arrow-color": COLORS.edgeTcp } },
    { selector: "edge.idle", style: { "line-style": "dashed", opacity: 0.6 } },
    {
      selector: "edge.secure",
      style: { "source-arrow-shape": "square", "source-arrow-color": COLORS.mtls, "line-style": "solid", width: 2.5 },
    },
    { selector: ":selected", style: { "overlay-color": "#0066cc", "overlay-opacity": 0.25, "overlay-padding": 4 } },
    // Find highlights what its expression selects; hide takes it (and boxes left empty) off the graph.
    { selector: ".find-match", style: { "overlay-color": "#f5c211", "overlay-opacity": 0.35, "overlay-padding": 6 } },
    { selector: ".hidden-by-hide", style: { display: "none" } },
  ];
}

/**
 * A layered layout in O(nodes + edges): rank = longest path from a source (edges closing cycles are ignored),
 * and inside each rank nodes are ordered by their box path (cluster/namespace/app) with one vertical band per box,
 * so that boxes never overlap.
 */
export function layeredPositions(body: GraphBody): Map<string, { x: number; y: number }> {
  const nodes = (body.elements?.nodes ?? []).map((n) => n.data);
  const byId = new Map(nodes.map((d) => [d.id, d]));
  const leaves = nodes.filter((d) => !d.isBox);
  const out = new Map<string, string[]>();
  const indeg = new Map<string, number>();
  for (const d of leaves) {
    out.set(d.id, []);
    indeg.set(d.id, 0);
  }
  for (const e of body.elements?.edges ?? []) {
    const { source, target } = e.data;
    if (!out.has(source) || !indeg.has(target) || source === target) continue;
    out.get(source)?.push(target);
    indeg.set(target, (indeg.get(target) ?? 0) + 1);
  }
  // Kahn's algorithm; when only cycles remain, break one at the node with the fewest remaining in-edges.
  const rank = new Map<string, number>();
  const remaining = new Map(indeg);
  let queue = leaves.filter((d) => (remaining.get(d.id) ?? 0) === 0).map((d) => d.id);
  let done = 0;
  const pending = new Set(leaves.map((d) => d.id));
  while (done < leaves.length) {
    if (queue.length === 0) {
      let best = "";
      let bestDeg = Infinity;
      for (const id of pending) {
        const dg = remaining.get(id) ?? 0;
        if (dg < bestDeg) {
          best = id;
          bestDeg = dg;
        }
      }
      remaining.set(best, 0);
      queue = [best];
    }
    const next: string[] = [];
    for (const id of queue) {
      if (!pending.has(id)) continue;
      pending.delete(id);
      done++;
      const r = rank.get(id) ?? 0;
      for (const t of out.get(id) ?? []) {
        if (!pending.has(t)) continue;
        rank.set(t, Math.max(rank.get(t) ?? 0, r + 1));
        const left = (remaining.get(t) ?? 0) - 1;
        remaining.set(t, left);
        if (left === 0) next.push(t);
      }
    }
    queue = next;
  }
  const boxPath = (d: GraphNodeData): string => {
    const parts: string[] = [];
    let p = d.parent ? byId.get(d.parent) : undefined;
    while (p) {
      parts.unshift(p.id);
      p = p.parent ? byId.get(p.parent) : undefined;
    }
    return parts.join("/");
  };
  // Group → rank → members.
  const groups = new Map<string, Map<number, string[]>>();
  for (const d of leaves) {
    const g = boxPath(d);
    if (!groups.has(g)) groups.set(g, new Map());
    const gr = groups.get(g) as Map<number, string[]>;
    const r = rank.get(d.id) ?? 0;
    if (!gr.has(r)) gr.set(r, []);
    gr.get(r)?.push(d.id);
  }
  const pos = new Map<string, { x: number; y: number }>();
  const dx = 140;
  const dy = 56;
  let y0 = 0;
  let prev = "";
  for (const g of Array.from(groups.keys()).sort()) {
    // Extra gap when leaving a box, more when the outer box changes.
    const common = commonPrefix(prev.split("/"), g.split("/"));
    const depth = Math.max(prev.split("/").length, g.split("/").length) - common;
    y0 += prev === "" ? 0 : depth * 30;
    prev = g;
    let gr = groups.get(g) as Map<number, string[]>;
    // Collapsed boxes (graphcollapse.ts) are joined by summed edges in every direction: ranks mean nothing there, and
    // a grid of about √n columns keeps the box they are in compact.
    const members = Array.from(gr.values()).flat();
    if (members.every((id) => byId.get(id)?.collapsed)) {
      members.sort((a, b) => nodeLabel(byId.get(a) as GraphNodeData).localeCompare(nodeLabel(byId.get(b) as GraphNodeData)));
      const cols = Math.ceil(Math.sqrt(members.length));
      gr = new Map();
      members.forEach((id, i) => gr.set(i % cols, [...(gr.get(i % cols) ?? []), id]));
    }
    let height = 0;
    for (const [r, ids] of gr) {
      ids.sort((a, b) => nodeLabel(byId.get(a) as GraphNodeData).localeCompare(nodeLabel(byId.get(b) as GraphNodeData)));
      ids.forEach((id, i) => pos.set(id, { x: r * dx, y: y0 + i * dy }));
      height = Math.max(height, ids.length);
    }
    y0 += height * dy;
  }
  return pos;
}

function commonPrefix(a: string[], b: string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * dagre lays compound nodes out without guaranteeing that sibling boxes stay apart (two cluster boxes can
 * overlap). Bottom-up, every group of sibling boxes is pushed down until no two of them overlap, so each cluster
 * (and each namespace inside it) is a separate region; the layout inside each box is kept.
 */
export function separateBoxes(cy: Core, gap = 40): void {
  const boxes = cy.nodes(".box");
  if (boxes.length < 2) return;
  const depth = (n: cytoscape.NodeSingular) => n.ancestors().length;
  const parents = new Map<string, cytoscape.NodeSingular[]>();
  boxes.forEach((b) => {
    const p = b.parent();
    const key = p.length ? p[0].id() : "";
    parents.set(key, [...(parents.get(key) ?? []), b]);
  });
  const order = Array.from(parents.entries()).sort(
    ([a], [b]) => (b ? depth(cy.getElementById(b)) + 1 : 0) - (a ? depth(cy.getElementById(a)) + 1 : 0),
  );
  cy.batch(() => {
    for (const [, siblings] of order) {
      if (siblings.length < 2) continue;
      const placed: cytoscape.BoundingBox12[] = [];
      siblings.sort((a, b) => a.boundingBox().y1 - b.boundingBox().y1 || a.id().localeCompare(b.id()));
      for (const box of siblings) {
        let bb = box.boundingBox();
        let dy = 0;
        for (;;) {
          const hit = placed.find((p) => bb.x1 < p.x2 && p.x1 < bb.x2 && bb.y1 + dy < p.y2 + gap && p.y1 < bb.y2 + dy + gap);
          if (!hit) break;
          dy = hit.y2 + gap - bb.y1;
        }
        if (dy > 0) {
          box.descendants().filter((d) => !d.isParent()).shift({ x: 0, y: dy });
          // Inside the batch a compound's bounds are not recomputed yet: the box moved by dy.
          bb = { ...bb, y1: bb.y1 + dy, y2: bb.y2 + dy };
        }
        placed.push({ x1: bb.x1, x2: bb.x2, y1: bb.y1, y2: bb.y2 });
      }
    }
  });
}

/**
 * Compound nodes make every frame of Cytoscape recompute and redraw nested bounds, which costs seconds per
 * zoom or pan at 1,000 nodes. For large graphs the boxes become plain rectangles drawn under the nodes, sized
 * from the (already computed) positions of what they contain; leaves keep their box in `data.box`.
 */
function flattenBoxes(elements: ElementDefinition[], positions: Map<string, { x: number; y: number }>): void {
  const byId = new Map(elements.filter((e) => e.group === "nodes").map((e) => [String(e.data.id), e]));
  const extent = new Map<string, { x1: number; y1: number; x2: number; y2: number; depth: number }>();
  const depthOf = (id: string): number => {
    let d = 0;
    let p = byId.get(id)?.data.parent;
    while (p) {
      d++;
      p = byId.get(String(p))?.data.parent;
    }
    return d;
  };
  for (const el of elements) {
    if (el.group !== "nodes" || el.data.isBox) continue;
    const pos = positions.get(String(el.data.id));
    let parent = el.data.parent ? String(el.data.parent) : "";
    let level = 0;
    while (pos && parent) {
      const e = extent.get(parent) ?? { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity, depth: depthOf(parent) };
      // Outer boxes get more padding than inner ones.
      const pad = 24 + 14 * level;
      e.x1 = Math.min(e.x1, pos.x - pad);
      e.x2 = Math.max(e.x2, pos.x + pad);
      e.y1 = Math.min(e.y1, pos.y - pad);
      e.y2 = Math.max(e.y2, pos.y + pad + 10);
      extent.set(parent, e);
      parent = byId.get(parent)?.data.parent ? String(byId.get(parent)?.data.parent) : "";
      level++;
    }
    el.data.box = el.data.parent;
    delete el.data.parent;
  }
  for (const el of elements) {
    if (el.group !== "nodes" || !el.data.isBox) continue;
    const e = extent.get(String(el.data.id));
    el.data.box = el.data.parent;
    delete el.data.parent;
    if (!e) continue;
    el.data.w = e.x2 - e.x1;
    el.data.h = e.y2 - e.y1;
    el.data.z = e.depth;
    el.position = { x: (e.x1 + e.x2) / 2, y: (e.y1 + e.y2) / 2 };
    el.classes = `${el.classes ?? ""} flatbox`;
    el.selectable = false;
    el.grabbable = false;
  }
}

export function render(container: HTMLElement, body: GraphBody, opts: ViewOptions): Rendered {
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  let tPhase = t0;
  const phase = (name: string) => {
    const t = performance.now();
    phases[name] = (phases[name] ?? 0) + t - tPhase;
    tPhase = t;
  };
  const leafCount = (body.elements?.nodes ?? []).filter((n) => !n.data.isBox).length;
  const large = leafCount > DAGRE_MAX_NODES || Boolean(opts.large);
  const elements = toElements(body, opts);
  const layoutKind = large ? "layered" : "dagre";
  phase("elements");
  if (large) {
    // Positions go in with the elements: no second pass over the graph.
    const positions = layeredPositions(body);
    for (const el of elements) {
      const p = el.group === "nodes" ? positions.get(String(el.data.id)) : undefined;
      if (p) el.position = p;
    }
    flattenBoxes(elements, positions);
    phase("layout");
  }
  const cy = cytoscape({
    container,
    elements,
    style: style(large),
    minZoom: 0.05,
    maxZoom: 4,
    textureOnViewport: large,
    hideEdgesOnViewport: large,
    motionBlur: false,
    pixelRatio: large ? 1 : "auto",
    boxSelectionEnabled: false,
    layout: { name: "preset", fit: true, padding: 30 },
  });
  phase("cytoscape");
  const rendered: Rendered = { cy, renderMs: Promise.resolve(0), layout: layoutKind, phases };
  const layoutDone = large
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        const layout = cy.layout({
          name: "dagre",
          rankDir: "LR",
          nodeSep: 25,
          rankSep: 80,
          edgeSep: 10,
          fit: true,
          padding: 30,
          animate: false,
        } as cytoscape.LayoutOptions);
        layout.one("layoutstop", () => {
          separateBoxes(cy);
          phase("layout");
          resolve();
        });
        try {
          layout.run();
        } catch (e) {
          // dagre throws on some graphs with boxes ("Not possible to find intersection inside of the rectangle": two
          // connected nodes put on one point); the layered layout places them instead of leaving the page blank.
          console.warn(`dagre failed (${(e as Error).message}); using the layered layout`);
          const positions = layeredPositions(body);
          cy.batch(() => {
            cy.nodes().forEach((n) => {
              const p = positions.get(n.id());
              if (p && !n.isParent()) n.position(p);
            });
          });
          separateBoxes(cy);
          rendered.layout = "layered";
          phase("layout");
          resolve();
        }
      });
  rendered.renderMs = layoutDone.then(
    () =>
      new Promise<number>((resolve) => {
        cy.fit(undefined, 30);
        requestAnimationFrame(() =>
          requestAnimationFrame(() => {
            phase("paint");
            resolve(performance.now() - t0);
          }),
        );
      }),
  );
  return rendered;
}
