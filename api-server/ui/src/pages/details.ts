// Details of an app, workload or service: its clusters, a health explanation per cluster, inbound and outbound
// traffic, and the graph centred on it.

import { clusterList, config, get, GraphBody, GraphNodeData, healthByCluster, reportError } from "../api";
import { clear, h } from "../dom";
import { ms, percent, rate } from "../format";
import { edgeErrorPct, edgeRate, nodeLabel, render } from "../graphview";
import { explain } from "../health";
import { detailPath, link, navigate, route } from "../nav";
import { ServiceInstance, wizardPanel } from "./wizardpanel";

export type DetailKind = "applications" | "workloads" | "services";

interface Detail {
  clusters?: string[];
  instances?: Array<Record<string, unknown>>;
  /** Services: per cluster, the selected workloads and the VirtualServices/DestinationRules referring to it. */
  workloads?: Array<{ workloadName: string; cluster: string; istioSidecar: boolean }>;
  serviceNames?: string[];
}

export async function detailPage(app: HTMLElement, kind: DetailKind, ns: string, name: string, signal: AbortSignal): Promise<void> {
  const title = kind === "applications" ? "Application" : kind === "workloads" ? "Workload" : "Service";
  const info = h("section", null, h("p", { class: "muted" }, "Loading…"));
  const actions = h("div");
  const healthSec = h("section", { "data-testid": "detail-health" });
  const traffic = h("section", { "data-testid": "detail-traffic" });
  const canvas = h("div", { class: "cy cy-small", "data-testid": "detail-graph" });
  clear(
    app,
    h("div", { class: "toolbar" }, h("h1", null, `${title}: ${name}`), h("span", { class: "muted" }, `namespace ${ns}`), link(`console/${kind}?namespace=${encodeURIComponent(ns)}`, `← all ${kind}`)),
    info,
    actions,
    h("div", { class: "detail-cols" }, h("div", null, h("h2", null, "Health"), healthSec), h("div", null, h("h2", null, "Traffic"), traffic)),
    h("h2", null, "Graph"),
    canvas,
  );
  const cfg = await config();
  const reachable = clusterList(cfg).filter((c) => c.accessible).map((c) => c.name);
  let d: Detail | null = null;
  try {
    d = await get<Detail>(`api/namespaces/${encodeURIComponent(ns)}/${kind === "applications" ? "apps" : kind}/${encodeURIComponent(name)}`, undefined, signal);
  } catch (e) {
    reportError(title, e);
    clear(info, h("p", { class: "muted" }, `${title} ${name} could not be loaded.`));
  }
  const clusters = d?.clusters ?? [];
  if (d && kind === "services" && Array.isArray(d.instances)) {
    const home = clusterList(cfg).find((c) => c.isKialiHome)?.name;
    actions.replaceChildren(wizardPanel(ns, name, d.instances as unknown as ServiceInstance[], home, () => navigate(route() + location.search, true)));
  }
  if (d) {
    clear(
      info,
      h(
        "table",
        { class: "kv" },
        h("tr", null, h("th", null, "Clusters"), h("td", { "data-testid": "detail-clusters" }, clusters.map((c) => [h("span", { class: "cluster-chip ok" }, c), " "]))),
        kind === "applications" && d.workloads
          ? h(
              "tr",
              null,
              h("th", null, "Workloads"),
              h("td", null, d.workloads.map((w) => [link(detailPath("workloads", ns, w.workloadName), w.workloadName), ` (${w.cluster}) `])),
            )
          : null,
        kind === "applications" && d.serviceNames?.length
          ? h("tr", null, h("th", null, "Services"), h("td", null, d.serviceNames.map((s) => [link(detailPath("services", ns, s), s), " "])))
          : null,
      ),
    );
  }

  // Health per cluster, with the reasons.
  const hk = kind === "applications" ? "app" : kind === "workloads" ? "workload" : "service";
  const healthClusters = clusters.filter((c) => reachable.includes(c));
  void healthByCluster(healthClusters, hk, [ns]).then((m) => {
    if (signal.aborted) return;
    clear(
      healthSec,
      healthClusters.length === 0 ? h("p", { class: "muted" }, "No reachable cluster holds this object.") : null,
      healthClusters.map((c) => h("div", { class: "cluster-health", "data-cluster": c }, h("h3", null, h("span", { class: "cluster-chip ok" }, c)), explain(m.get(c)?.[ns]?.[name]))),
    );
  });

  // Graph centred on the object (node graph), and the traffic in and out of it.
  let g: GraphBody | null = null;
  try {
    g = await get<GraphBody>(
      `api/namespaces/${encodeURIComponent(ns)}/${kind}/${encodeURIComponent(name)}/graph`,
      { graphType: kind === "workloads" ? "workload" : "versionedApp", boxBy: "cluster", duration: "600s", injectServiceNodes: true },
      signal,
    );
  } catch (e) {
    reportError("Graph", e);
    clear(traffic, h("p", { class: "muted" }, "No traffic data (see the message above)."));
  }
  if (!g || signal.aborted) return;
  const focus = (n: GraphNodeData) =>
    n.namespace === ns &&
    (kind === "services" ? n.nodeType === "service" && n.service === name : kind === "workloads" ? n.workload === name : n.app === name && n.nodeType !== "service");
  const nodes = new Map((g.elements?.nodes ?? []).map((n) => [n.data.id, n.data]));
  const focal = new Set(Array.from(nodes.values()).filter((n) => !n.isBox && focus(n)).map((n) => n.id));
  const edges = g.elements?.edges ?? [];
  const table = (dir: "in" | "out") => {
    const list = edges.filter((e) => (dir === "in" ? focal.has(e.data.target) : focal.has(e.data.source)));
    if (list.length === 0) return h("p", { class: "muted" }, dir === "in" ? "No inbound traffic." : "No outbound traffic.");
    return h(
      "table",
      { class: "grid", "data-testid": `traffic-${dir}` },
      h("thead", null, h("tr", null, [dir === "in" ? "From" : "To", "Cluster", "Protocol", "Rate", "Errors", "Response time"].map((t) => h("th", null, t)))),
      h(
        "tbody",
        null,
        list.map((e) => {
          const other = nodes.get(dir === "in" ? e.data.source : e.data.target);
          const self = nodes.get(dir === "in" ? e.data.target : e.data.source);
          const { value, unit } = edgeRate(e.data);
          return h(
            "tr",
            null,
            h("td", null, other ? nodeLabel(other) : "?"),
            h("td", null, other ? `${other.cluster}${self && self.cluster !== other.cluster ? ` → ${self.cluster}` : ""}` : ""),
            h("td", null, e.data.traffic?.protocol ?? ""),
            h("td", null, unit === "bps" ? `${value.toFixed(2)} bps` : rate(value)),
            h("td", null, percent(edgeErrorPct(e.data))),
            h("td", null, Number(e.data.responseTime) > 0 ? ms(Number(e.data.responseTime)) : ""),
          );
        }),
      ),
    );
  };
  clear(traffic, h("h3", null, "Inbound"), table("in"), h("h3", null, "Outbound"), table("out"));
  if ((g.elements?.nodes ?? []).length === 0) {
    clear(canvas, h("p", { class: "muted" }, "No traffic to draw."));
    return;
  }
  const r = render(canvas, g, { edgeLabels: ["rate"], security: false, focus });
  signal.addEventListener("abort", () => r.cy.destroy());
  await r.renderMs;
  const f = r.cy.nodes(".focus");
  if (f.length) r.cy.center(f);
}
