// Details of an app, workload or service, in Kiali's tabs (`?tab=`): Overview (its clusters, a health explanation
// per cluster, inbound and outbound traffic, the graph centred on it), Inbound and Outbound Metrics, and a
// workload's Logs (its pods in every cluster it runs in), Traces (src/pages/traces.ts), and a workload's Envoy
// configuration (src/pages/envoy.ts).

import { clusterList, config, get, GraphBody, GraphNodeData, healthByCluster, reportError } from "../api";
import { clear, h } from "../dom";
import { ms, percent, rate } from "../format";
import { edgeErrorPct, edgeRate, nodeLabel, render } from "../graphview";
import { explain } from "../health";
import { detailPath, link, navigate, route } from "../nav";
import { envoyTab } from "./envoy";
import { logViewer, PodRef } from "./logs";
import { metricsTab } from "./metrics";
import { tracesTab } from "./traces";
import { meshTls, mtlsIcon, NamespaceTls, nsWideStatus } from "../tls";
import { ServiceInstance, wizardPanel } from "./wizardpanel";

export type DetailKind = "applications" | "workloads" | "services";

interface Detail {
  clusters?: string[];
  instances?: Array<Record<string, unknown> & { cluster?: string; pods?: PodRef[] }>;
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
  const overview = h(
    "div",
    { "data-tab": "info" },
    info,
    actions,
    h("div", { class: "detail-cols" }, h("div", null, h("h2", null, "Health"), healthSec), h("div", null, h("h2", null, "Traffic"), traffic)),
    h("h2", null, "Graph"),
    canvas,
  );
  // Kiali's tab names (`tab=info`, `in_metrics`, `out_metrics`); a service has inbound metrics only, as in Kiali.
  const tabs: Array<[string, string]> = [
    ["info", "Overview"],
    ["in_metrics", "Inbound Metrics"],
    ...(kind === "services" ? [] : ([["out_metrics", "Outbound Metrics"]] as Array<[string, string]>)),
    ...(kind === "workloads" ? ([["logs", "Logs"]] as Array<[string, string]>) : []),
    ["traces", "Traces"],
    ...(kind === "workloads" ? ([["envoy", "Envoy"]] as Array<[string, string]>) : []),
  ];
  const panes = new Map<string, HTMLElement>([["info", overview]]);
  const tabBar = h("div", { class: "tabs", role: "tablist", "data-testid": "detail-tabs" });
  const body = h("div", { class: "tab-body" });
  clear(
    app,
    h("div", { class: "toolbar" }, h("h1", null, `${title}: ${name}`), h("span", { class: "muted" }, `namespace ${ns}`), link(`console/${kind}?namespace=${encodeURIComponent(ns)}`, `← all ${kind}`)),
    tabBar,
    body,
  );
  let detailKnown: (d: Detail | null) => void = () => {};
  const detailP = new Promise<Detail | null>((res) => (detailKnown = res));
  const show = async (tab: string) => {
    if (!tabs.some(([t]) => t === tab)) tab = "info";
    const u = new URL(location.href);
    if (tab === "info") u.searchParams.delete("tab");
    else u.searchParams.set("tab", tab);
    history.replaceState(null, "", u.toString());
    clear(tabBar, tabs.map(([t, label]) => h("button", { role: "tab", class: t === tab ? "tab active" : "tab", "aria-selected": t === tab ? "true" : "false", "data-tab": t, onclick: () => void show(t) }, label)));
    let pane = panes.get(tab);
    if (!pane) {
      const d = await detailP;
      const pods = (d?.instances ?? []).flatMap((i) => (i.pods ?? []).map((p) => ({ ...p, cluster: p.cluster || String(i.cluster ?? "") })));
      if (tab === "logs") {
        pane = h("section", { "data-testid": "detail-logs" }, logViewer(ns, pods, signal));
      } else if (tab === "envoy") {
        pane = h("section", { "data-testid": "detail-envoy" }, envoyTab(ns, pods, signal));
      } else if (tab === "traces") {
        pane = tracesTab(kind, ns, name, signal);
      } else {
        pane = metricsTab(kind, ns, name, tab === "in_metrics" ? "inbound" : "outbound", d?.clusters ?? [], signal);
      }
      pane.dataset.tab = tab;
      panes.set(tab, pane);
    }
    clear(body, pane);
    if (tab === "info") onInfoShown();
  };
  // The graph is drawn while its tab may be hidden: it fits itself when the tab shows.
  let onInfoShown = () => {};
  void show(new URLSearchParams(location.search).get("tab") ?? "info");
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
  detailKnown(d);
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

  // The namespace's mTLS lock in each cluster holding the object, as Kiali shows it beside the namespace.
  const tlsCell = h("td", { "data-testid": "detail-mtls" });
  info.querySelector("table")?.appendChild(h("tr", null, h("th", null, "Namespace mTLS"), tlsCell));
  void Promise.all(
    clusters
      .filter((c) => reachable.includes(c))
      .map((c) =>
        Promise.all([get<NamespaceTls>(`api/namespaces/${encodeURIComponent(ns)}/tls`, { clusterName: c }, signal), meshTls(c, signal)])
          .then(([t, mesh]) => h("span", { class: "mtls-cluster", "data-cluster": c }, c, mtlsIcon(nsWideStatus(t.status, mesh)), " "))
          .catch((e) => {
            reportError(`mTLS status of ${c}`, e);
            return null;
          }),
      ),
  ).then((spans) => !signal.aborted && clear(tlsCell, spans));

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
  onInfoShown = () => {
    r.cy.resize();
    r.cy.fit(undefined, 20);
    const f = r.cy.nodes(".focus");
    if (f.length) r.cy.center(f);
  };
}
