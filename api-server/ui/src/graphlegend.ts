// The graph's legend, in Kiali's sections (node shapes, node colours, node background, edges, boxes), each swatch
// drawn with the colours the graph itself uses (graphview COLORS), so what the legend says is what is drawn.

import { COLORS } from "./graphview";

const SVG = "http://www.w3.org/2000/svg";

function svg(width: number, height: number, ...children: SVGElement[]): SVGSVGElement {
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("width", String(width));
  s.setAttribute("height", String(height));
  s.setAttribute("viewBox", `0 0 ${width} ${height}`);
  s.append(...children);
  return s;
}

function el(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

type Shape = "round-rectangle" | "ellipse" | "round-triangle" | "diamond" | "round-tag";

/** A node of `shape` with its border and fill, as Cytoscape draws them. */
function node(shape: Shape, stroke: string, fill = "#fff", dash = "", opacity = 1): SVGSVGElement {
  const common = { stroke, fill, "stroke-width": 2, "stroke-dasharray": dash, opacity };
  switch (shape) {
    case "round-rectangle":
      return svg(22, 22, el("rect", { x: 2, y: 2, width: 18, height: 18, rx: 4, ...common }));
    case "ellipse":
      return svg(22, 22, el("circle", { cx: 11, cy: 11, r: 9, ...common }));
    case "round-triangle":
      return svg(22, 22, el("path", { d: "M11 3 L20 19 L2 19 Z", "stroke-linejoin": "round", ...common }));
    case "diamond":
      return svg(22, 22, el("path", { d: "M11 2 L20 11 L11 20 L2 11 Z", ...common }));
    case "round-tag":
      return svg(22, 22, el("path", { d: "M2 4 L14 4 L20 11 L14 18 L2 18 Z", "stroke-linejoin": "round", ...common }));
  }
}

/** An edge of `color`, dashed when idle, with the mTLS square at its source when `mtls`. */
function edge(color: string, dash = "", mtls = false): SVGSVGElement {
  const parts: SVGElement[] = [
    el("line", { x1: mtls ? 8 : 2, y1: 8, x2: 30, y2: 8, stroke: color, "stroke-width": mtls ? 2.5 : 1.5, "stroke-dasharray": dash }),
    el("path", { d: "M30 4 L38 8 L30 12 Z", fill: color }),
  ];
  if (mtls) parts.push(el("rect", { x: 1, y: 4.5, width: 7, height: 7, fill: COLORS.mtls }));
  return svg(40, 16, ...parts);
}

function box(color: string, dash = ""): SVGSVGElement {
  return svg(30, 20, el("rect", { x: 2, y: 2, width: 26, height: 16, rx: 3, fill: color, "fill-opacity": 0.06, stroke: color, "stroke-width": 2, "stroke-dasharray": dash }));
}

interface Item {
  label: string;
  icon: SVGSVGElement;
  /** What a test compares with the drawn graph: the colour this item stands for. */
  color?: string;
  id: string;
}

function section(title: string, items: Item[]): HTMLElement {
  const s = document.createElement("section");
  s.dataset.section = title;
  const h = document.createElement("h4");
  h.textContent = title;
  s.append(h);
  for (const it of items) {
    const row = document.createElement("div");
    row.className = "legend-item";
    row.setAttribute("data-testid", `legend-${it.id}`);
    if (it.color) row.dataset.color = it.color;
    const label = document.createElement("span");
    label.textContent = it.label;
    row.append(it.icon, label);
    s.append(row);
  }
  return s;
}

/** The legend panel (Kiali's "Legend" overlay). */
export function legendPanel(): HTMLElement {
  const panel = document.createElement("div");
  panel.className = "graph-legend";
  panel.setAttribute("data-testid", "graph-legend");
  const title = document.createElement("h3");
  title.textContent = "Legend";
  panel.append(
    title,
    section("Node Shapes", [
      { id: "shape-workload", label: "Workload", icon: node("ellipse", COLORS.nodeBorder) },
      { id: "shape-app", label: "App", icon: node("round-rectangle", COLORS.nodeBorder) },
      { id: "shape-service", label: "Service", icon: node("round-triangle", COLORS.nodeBorder) },
      { id: "shape-serviceentry", label: "Service Entry", icon: node("round-tag", COLORS.nodeBorder) },
      { id: "shape-unknown", label: "Unknown", icon: node("diamond", COLORS.nodeBorder, "#fff", "3 2") },
    ]),
    section("Node Colors", [
      { id: "node-healthy", label: "Healthy", icon: node("ellipse", COLORS.nodeBorder), color: COLORS.nodeBorder },
      { id: "node-degraded", label: "Warn (Degraded)", icon: node("ellipse", COLORS.nodeDegraded), color: COLORS.nodeDegraded },
      { id: "node-failure", label: "Unhealthy (Failure)", icon: node("ellipse", COLORS.nodeFailure), color: COLORS.nodeFailure },
      { id: "node-idle", label: "Idle", icon: node("ellipse", COLORS.nodeBorder, "#fff", "3 2", 0.55) },
    ]),
    section("Node Background", [
      { id: "bg-outside", label: "Unselected Namespace", icon: node("ellipse", COLORS.nodeBorder, COLORS.nodeOutside), color: COLORS.nodeOutside },
      { id: "bg-inaccessible", label: "Restricted", icon: node("ellipse", COLORS.nodeBorder, COLORS.nodeInaccessible, "1 2"), color: COLORS.nodeInaccessible },
    ]),
    section("Edges", [
      { id: "edge-failure", label: "Failure", icon: edge(COLORS.edgeFailure), color: COLORS.edgeFailure },
      { id: "edge-degraded", label: "Degraded", icon: edge(COLORS.edgeDegraded), color: COLORS.edgeDegraded },
      { id: "edge-healthy", label: "Healthy", icon: edge(COLORS.edgeHealthy), color: COLORS.edgeHealthy },
      { id: "edge-tcp", label: "TCP Connection", icon: edge(COLORS.edgeTcp), color: COLORS.edgeTcp },
      { id: "edge-idle", label: "Idle", icon: edge(COLORS.edgeIdle, "4 3"), color: COLORS.edgeIdle },
      { id: "edge-mtls", label: "mTLS (with Display: security)", icon: edge(COLORS.edgeHealthy, "", true), color: COLORS.mtls },
    ]),
    section("Boxes", [
      { id: "box-cluster", label: "Cluster", icon: box(COLORS.cluster, "4 3"), color: COLORS.cluster },
      { id: "box-namespace", label: "Namespace", icon: box(COLORS.namespace), color: COLORS.namespace },
      { id: "box-app", label: "App", icon: box(COLORS.appBox), color: COLORS.appBox },
    ]),
  );
  return panel;
}
