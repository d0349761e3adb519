// Mesh: the clusters, the control planes (istiod) in each with revision, version and status, the data-plane
// namespaces each manages, and the console's infrastructure, drawn from `api/mesh/graph` as Kiali's mesh page
// does; a side panel for a control plane (`api/mesh/controlplanes`) and the component status table
// (`api/istio/status`).

import cytoscape, { type Core, type ElementDefinition, type EventObject } from "cytoscape";
import dagre from "cytoscape-dagre";
import { get, reportError } from "../api";
import { clear, h } from "../dom";
import { separateBoxes } from "../graphview";

cytoscape.use(dagre);

interface MeshNodeData {
  id: string;
  parent?: string;
  cluster: string;
  infraName: string;
  infraType: string;
  namespace: string;
  nodeType: string;
  healthData: string | null;
  infraData?: any;
  isBox?: string;
  isExternal?: boolean;
  isInaccessible?: boolean;
  version?: string;
}

interface MeshGraph {
  elements: { nodes: Array<{ data: MeshNodeData }>; edges: Array<{ data: { id: string; source: string; target: string } }> };
}

interface KubeCluster {
  name: string;
  accessible: boolean;
  network?: string;
}

interface ControlPlane {
  cluster: KubeCluster;
  config: { network?: string };
  istiodName: string;
  istiodNamespace: string;
  managedClusters: KubeCluster[];
  managedNamespaces: Array<{ name: string; cluster: string; revision: string }>;
  revision: string;
  status: string;
  version: { version: string };
}

interface ComponentStatus {
  cluster: string;
  name: string;
  namespace: string;
  status: string;
  is_core: boolean;
}

declare global {
  interface Window {
    __meshglassMesh?: { cy: Core; rendered: boolean };
  }
}

const HEALTH_COLOUR: Record<string, string> = {
  Healthy: "#3e8635",
  Unhealthy: "#c9190b",
  NotReady: "#f0ab00",
  NotFound: "#c9190b",
  Unreachable: "#8a8d90",
};

function label(d: MeshNodeData): string {
  switch (d.infraType) {
    case "cluster":
      return d.isInaccessible && !d.isExternal ? `${d.infraName} (unreachable)` : d.infraName;
    case "istiod":
      return `${d.infraName}\nrev ${d.infraData?.revision ?? "default"} · ${d.version ?? ""}`;
    case "dataplane": {
      const n = Array.isArray(d.infraData) ? d.infraData.length : 0;
      return `Data Plane (${d.version})\n${n} namespace${n === 1 ? "" : "s"}`;
    }
    default:
      return d.infraName;
  }
}

function elements(g: MeshGraph): ElementDefinition[] {
  const nodes = g.elements.nodes.map((n) => ({
    group: "nodes" as const,
    data: { ...n.data, label: label(n.data), colour: HEALTH_COLOUR[n.data.healthData ?? ""] ?? "#6a6e73" },
    classes: [n.data.isBox ? `box box-${n.data.isBox}` : `infra-${n.data.infraType}`, n.data.isInaccessible ? "inaccessible" : ""].join(" "),
  }));
  const edges = g.elements.edges.map((e) => ({ group: "edges" as const, data: e.data }));
  return [...nodes, ...edges];
}

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "text-wrap": "wrap",
      "font-size": 11,
      "text-valign": "bottom",
      "text-margin-y": 4,
      "background-color": "#fff",
      "border-width": 3,
      "border-color": "data(colour)",
      width: 36,
      height: 36,
    },
  },
  { selector: ".infra-istiod", style: { shape: "hexagon", width: 44, height: 44 } },
  { selector: ".infra-dataplane", style: { shape: "round-rectangle", width: 60, height: 30 } },
  { selector: ".infra-kiali", style: { shape: "star" } },
  { selector: ".infra-metricStore", style: { shape: "diamond" } },
  {
    selector: ".box-cluster",
    style: {
      shape: "round-rectangle",
      "background-color": "#f5f7fa",
      "border-width": 2,
      "text-valign": "top",
      "text-halign": "center",
      "font-size": 14,
      "font-weight": "bold",
      padding: "24px",
    },
  },
  { selector: ".box-namespace", style: { shape: "round-rectangle", "background-color": "#fff", "border-width": 1, "border-style": "dashed", "border-color": "#8a8d90", "text-valign": "top", padding: "12px" } },
  { selector: ".inaccessible", style: { "border-style": "dashed", color: "#6a6e73" } },
  { selector: ".box-cluster.inaccessible", style: { width: 140, height: 60 } },
  { selector: "edge", style: { width: 1.5, "line-color": "#8a8d90", "target-arrow-shape": "triangle", "target-arrow-color": "#8a8d90", "curve-style": "bezier" } },
];

export async function meshPage(app: HTMLElement, signal: AbortSignal): Promise<void> {
  const canvas = h("div", { class: "cy mesh-canvas", "data-testid": "mesh-graph" });
  const panel = h("aside", { class: "side-panel", "data-testid": "side-panel", hidden: true });
  const planes = h("div", { "data-testid": "control-planes" }, h("p", { class: "muted" }, "Loading control planes…"));
  const status = h("div", { "data-testid": "istio-status" }, h("p", { class: "muted" }, "Loading component status…"));
  clear(
    app,
    h("div", { class: "toolbar" }, h("h1", null, "Mesh")),
    h("div", { class: "graph-area mesh-area" }, canvas, panel),
    h("h2", null, "Control planes"),
    planes,
    h("h2", null, "Istio components"),
    status,
  );

  const [graph, cps, comps] = await Promise.all([
    get<MeshGraph>("api/mesh/graph", undefined, signal).catch((e) => {
      reportError("Mesh graph", e);
      return null;
    }),
    get<ControlPlane[]>("api/mesh/controlplanes", undefined, signal).catch((e) => {
      reportError("Control planes", e);
      return [] as ControlPlane[];
    }),
    get<ComponentStatus[]>("api/istio/status", undefined, signal).catch((e) => {
      reportError("Istio status", e);
      return [] as ComponentStatus[];
    }),
  ]);

  clear(planes, controlPlaneTable(cps));
  clear(status, statusTable(comps));
  if (!graph) {
    clear(canvas, h("p", { class: "muted" }, "The mesh could not be loaded; see the message above."));
    return;
  }
  const cy = cytoscape({ container: canvas, elements: elements(graph), style: STYLE, boxSelectionEnabled: false, minZoom: 0.1, maxZoom: 3 });
  window.__meshglassMesh = { cy, rendered: false };
  const layout = cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 30, rankSep: 90, fit: true, padding: 30, animate: false } as cytoscape.LayoutOptions);
  layout.one("layoutstop", () => {
    separateBoxes(cy);
    cy.fit(undefined, 30);
    requestAnimationFrame(() => {
      if (window.__meshglassMesh?.cy === cy) window.__meshglassMesh.rendered = true;
    });
  });
  layout.run();
  cy.on("tap", "node", (ev: EventObject) => showNode(panel, ev.target.data() as MeshNodeData, cps));
  cy.on("tap", (ev: EventObject) => {
    if (ev.target === cy) panel.hidden = true;
  });
}

function statusChip(s: string): HTMLElement {
  return h("span", { class: `status-chip`, style: `border-color: ${HEALTH_COLOUR[s] ?? "#6a6e73"}`, "data-status": s }, s);
}

function controlPlaneTable(cps: ControlPlane[]): HTMLElement {
  if (cps.length === 0) return h("p", { class: "muted" }, "No control plane visible.");
  return h(
    "table",
    { class: "grid" },
    h("thead", null, h("tr", null, ["Control plane", "Cluster", "Revision", "Version", "Status", "Manages clusters", "Data-plane namespaces"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      cps.map((cp) =>
        h(
          "tr",
          { "data-istiod": cp.istiodName, "data-cluster": cp.cluster.name },
          h("td", null, h("strong", null, cp.istiodName), h("span", { class: "muted" }, ` (${cp.istiodNamespace})`)),
          h("td", null, cp.cluster.name),
          h("td", null, cp.revision),
          h("td", null, cp.version?.version ?? ""),
          h("td", null, statusChip(cp.status)),
          h("td", { "data-testid": "managed-clusters" }, cp.managedClusters.map((c) => c.name).join(", ")),
          h("td", null, String(cp.managedNamespaces.length)),
        ),
      ),
    ),
  );
}

function statusTable(comps: ComponentStatus[]): HTMLElement {
  if (comps.length === 0) return h("p", { class: "muted" }, "No component visible.");
  return h(
    "table",
    { class: "grid" },
    h("thead", null, h("tr", null, ["Component", "Cluster", "Namespace", "Status", ""].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      comps.map((c) =>
        h(
          "tr",
          { "data-component": c.name, "data-cluster": c.cluster },
          h("td", null, c.name),
          h("td", null, c.cluster),
          h("td", null, c.namespace),
          h("td", null, statusChip(c.status)),
          h("td", { class: "muted" }, c.is_core ? "core" : "add-on"),
        ),
      ),
    ),
  );
}

function showNode(panel: HTMLElement, d: MeshNodeData, cps: ControlPlane[]): void {
  const rows: Array<[string, Node | string]> = [["Cluster", h("span", { "data-testid": "panel-cluster" }, d.cluster)]];
  if (d.namespace) rows.push(["Namespace", d.namespace]);
  if (d.healthData) rows.push(["Status", statusChip(d.healthData)]);
  const extra: HTMLElement[] = [];
  if (d.infraType === "istiod") {
    const cp = cps.find((c) => c.cluster.name === d.cluster && c.istiodName === d.infraName);
    rows.push(["Revision", String(d.infraData?.revision ?? "")], ["Version", d.version ?? ""]);
    if (cp) {
      rows.push(["Network", cp.config?.network || "—"]);
      extra.push(
        h("h3", null, "Managed clusters"),
        h("ul", { "data-testid": "panel-managed-clusters" }, cp.managedClusters.map((c) => h("li", null, c.name, c.accessible ? "" : " (unreachable)"))),
        h("h3", null, "Data-plane namespaces"),
        h("ul", { "data-testid": "panel-namespaces" }, cp.managedNamespaces.map((n) => h("li", null, `${n.cluster}/${n.name}`))),
      );
    }
  } else if (d.infraType === "dataplane") {
    rows.push(["Revision", d.version ?? ""]);
    const list = Array.isArray(d.infraData) ? d.infraData : [];
    extra.push(h("h3", null, "Namespaces"), h("ul", { "data-testid": "panel-namespaces" }, list.map((n: any) => h("li", null, String(n.name)))));
  } else if (d.infraType === "cluster" && d.infraData) {
    rows.push(["Reachable", d.infraData.accessible ? "yes" : "no"], ["Network", d.infraData.network || "—"]);
    if (d.infraData.error) rows.push(["Error", String(d.infraData.error)]);
  }
  clear(
    panel,
    h("button", { class: "close", "aria-label": "close", onclick: () => (panel.hidden = true) }, "×"),
    h("h2", { "data-testid": "panel-title" }, d.infraName),
    h("p", { class: "muted" }, d.infraType),
    h("table", { class: "kv" }, rows.map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v)))),
    extra,
  );
  panel.hidden = false;
}
