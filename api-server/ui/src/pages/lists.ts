// Lists of applications, workloads and services (Istio config: ./istio.ts), each row with cluster, namespace, health and
// validation badges; filters by cluster, namespace and name.

import { clusterList, config, get, Health, healthByCluster, reportError } from "../api";
import { clear, h } from "../dom";
import { statusBadge } from "../health";
import { detailPath, link, setQuery } from "../nav";

export type ListKind = "applications" | "workloads" | "services";

interface Row {
  name: string;
  namespace: string;
  cluster: string;
  healthKey?: string;
  badges: HTMLElement[];
  detail?: string;
}

const TITLES: Record<ListKind, string> = {
  applications: "Applications",
  workloads: "Workloads",
  services: "Services",
};

export async function listPage(app: HTMLElement, kind: ListKind, signal: AbortSignal): Promise<void> {
  const q = new URLSearchParams(location.search);
  const filters = { cluster: q.get("cluster") ?? "", namespace: q.get("namespace") ?? "", name: q.get("name") ?? "" };
  const cfg = await config();
  const clusters = clusterList(cfg);
  const clusterSel = h(
    "select",
    { "aria-label": "cluster", "data-testid": "cluster-filter" },
    h("option", { value: "" }, "All clusters"),
    clusters.map((c) => h("option", { value: c.name, selected: c.name === filters.cluster }, c.name)),
  );
  const nsInput = h("input", { type: "search", placeholder: "Namespace", value: filters.namespace, "data-testid": "namespace-filter" });
  const nameInput = h("input", { type: "search", placeholder: "Name", value: filters.name, "data-testid": "name-filter" });
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  clear(app, h("div", { class: "toolbar" }, h("h1", null, TITLES[kind]), clusterSel, nsInput, nameInput), body);

  let rows: Row[] = [];
  const health = new Map<string, Record<string, Record<string, Health>>>();
  let healthLoaded = false;
  const draw = () => {
    setQuery(filters);
    const visible = rows.filter(
      (r) =>
        (!filters.cluster || r.cluster === filters.cluster) &&
        (!filters.namespace || r.namespace.includes(filters.namespace)) &&
        (!filters.name || r.name.includes(filters.name)),
    );
    clear(
      body,
      h("p", { class: "muted", "data-testid": "row-count" }, `${visible.length} of ${rows.length}`),
      h(
        "table",
        { class: "grid", "data-testid": "list-table" },
        h(
          "thead",
          null,
          h("tr", null, ["Name", "Namespace", "Cluster", "Health", "Details"].map((t) => h("th", null, t))),
        ),
        h(
          "tbody",
          null,
          visible.map((r) => {
            let healthCell: Node | string = "";
            if (!healthLoaded) healthCell = h("span", { class: "muted" }, "…");
            else {
              const hl = health.get(r.cluster)?.[r.namespace]?.[r.healthKey ?? r.name];
              healthCell = statusBadge(hl?.status?.status ?? "NA");
            }
            return h(
              "tr",
              { "data-cluster": r.cluster, "data-namespace": r.namespace, "data-name": r.name },
              h("td", null, r.detail ? link(r.detail, r.name) : r.name),
              h("td", null, r.namespace),
              h("td", null, h("span", { class: "cluster-chip ok" }, r.cluster)),
              h("td", null, healthCell),
              h("td", { class: "badges" }, r.badges),
            );
          }),
        ),
      ),
    );
  };
  clusterSel.addEventListener("change", () => {
    filters.cluster = clusterSel.value;
    draw();
  });
  nsInput.addEventListener("input", () => {
    filters.namespace = nsInput.value.trim();
    draw();
  });
  nameInput.addEventListener("input", () => {
    filters.name = nameInput.value.trim();
    draw();
  });

  const reachable = clusters.filter((c) => c.accessible).map((c) => c.name);
  try {
    rows = await inventoryRows(kind, signal);
  } catch (e) {
    reportError(TITLES[kind], e);
  }
  rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.cluster.localeCompare(b.cluster));
  draw();
  const hk = kind === "applications" ? "app" : kind === "workloads" ? "workload" : "service";
  const m = await healthByCluster(reachable, hk);
  if (signal.aborted) return;
  for (const [k, v] of m) health.set(k, v);
  healthLoaded = true;
  draw();
}

interface Item {
  name: string;
  namespace: string;
  cluster: string;
  istioSidecar?: boolean;
  appLabel?: boolean;
  versionLabel?: boolean;
  labels?: Record<string, string>;
  gvk?: { Kind: string };
}

async function inventoryRows(kind: ListKind, signal: AbortSignal): Promise<Row[]> {
  const path = kind === "applications" ? "api/clusters/apps" : `api/clusters/${kind}`;
  const key = kind;
  const body = await get<Record<string, Item[]>>(path, undefined, signal);
  return (body?.[key] ?? []).map((it) => {
    const badges: HTMLElement[] = [];
    if (it.istioSidecar === false) badges.push(h("span", { class: "badge Degraded", title: "no Istio sidecar" }, "Missing sidecar"));
    if (kind === "workloads") {
      if (it.appLabel === false) badges.push(h("span", { class: "badge Degraded" }, "Missing app label"));
      if (it.versionLabel === false) badges.push(h("span", { class: "badge Degraded" }, "Missing version label"));
      if (it.gvk?.Kind) badges.push(h("span", { class: "tag" }, it.gvk.Kind));
    }
    if (kind === "applications" && it.labels?.version) badges.push(h("span", { class: "tag" }, `versions: ${it.labels.version}`));
    return {
      name: it.name,
      namespace: it.namespace,
      cluster: it.cluster,
      badges,
      detail: detailPath(kind, it.namespace, it.name),
    };
  });
}
