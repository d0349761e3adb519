// Namespaces: per cluster, each namespace with its labels, its sidecar injection (the `istio-injection` label or the
// `istio.io/rev` revision), the control plane that manages it, and the health of its apps, workloads or services
// (`api/clusters/health`, as the overview reads it); filters by cluster, name and health type, kept in the URL.

import { auth, clusterList, config, get, healthByCluster, loggedInTo, Namespace, reportError } from "../api";
import { clear, h, select } from "../dom";
import { statusBadge } from "../health";
import { link, setQuery } from "../nav";
import { healthCounts, injection, injectionText, managedBy, ManagedBy, STATUS_ORDER, worstStatus } from "../nsinfo";

type Kind = "app" | "workload" | "service";
const KINDS: Array<[Kind, string]> = [
  ["app", "Apps"],
  ["workload", "Workloads"],
  ["service", "Services"],
];

interface Row {
  ns: Namespace;
  /** Status → count; undefined until the cluster's health is in (or when it cannot be read). */
  counts?: Record<string, number>;
  managers: ManagedBy[];
}

export async function namespacesPage(app: HTMLElement, signal: AbortSignal): Promise<void> {
  const q = new URLSearchParams(location.search);
  let clusterFilter = q.get("cluster") ?? "";
  let nameFilter = q.get("name") ?? "";
  let kind: Kind = (KINDS.find(([k]) => k === q.get("health"))?.[0] ?? "app") as Kind;
  const body = h("div", { class: "namespaces" }, h("p", { class: "muted" }, "Loading namespaces…"));
  const clusterSel = select({ "aria-label": "cluster", "data-testid": "cluster-filter" }, [["", "All clusters"]], "");
  const kindSel = select({ "aria-label": "health of", "data-testid": "health-kind" }, KINDS, kind);
  const nameInput = h("input", { type: "search", placeholder: "Filter by name", value: nameFilter, "data-testid": "name-filter" });
  clear(app, h("div", { class: "toolbar" }, h("h1", null, "Namespaces"), clusterSel, nameInput, h("label", { class: "check" }, "Health of ", kindSel)), body);

  const cfg = await config();
  const clusters = clusterList(cfg);
  clear(clusterSel, h("option", { value: "" }, "All clusters"), clusters.map((c) => h("option", { value: c.name, selected: c.name === clusterFilter }, c.name)));
  const info = await auth().catch(() => null);
  const reachable = clusters.filter((c) => c.accessible && loggedInTo(info, c.name)).map((c) => c.name);
  const [namespaces, cps] = await Promise.all([
    get<Namespace[]>("api/namespaces", undefined, signal).catch((e) => {
      reportError("Namespaces", e);
      return [] as Namespace[];
    }),
    get<ManagedBy[]>("api/mesh/controlplanes", undefined, signal).catch((e) => {
      reportError("Control planes", e);
      return [] as ManagedBy[];
    }),
  ]);
  if (signal.aborted) return;
  const rows: Row[] = namespaces.map((ns) => ({ ns, managers: managedBy(ns.name, ns.cluster, cps ?? []) }));
  const kindLabel = () => (KINDS.find(([k]) => k === kind)?.[1] ?? "").toLowerCase();

  const draw = () => {
    const visible = rows.filter((r) => (!clusterFilter || r.ns.cluster === clusterFilter) && (!nameFilter || r.ns.name.includes(nameFilter)));
    setQuery({ cluster: clusterFilter, name: nameFilter, health: kind === "app" ? "" : kind });
    // One table per cluster, as the clusters are separate API servers with their own namespaces.
    const byCluster = new Map<string, Row[]>();
    for (const r of visible) byCluster.set(r.ns.cluster, [...(byCluster.get(r.ns.cluster) ?? []), r]);
    clear(
      body,
      h("p", { class: "muted", "data-testid": "ns-count" }, `${visible.length} of ${rows.length} namespaces in ${clusters.length} clusters`),
      Array.from(byCluster.keys())
        .sort()
        .map((c) =>
          h(
            "section",
            { class: "ns-cluster", "data-cluster": c },
            h("h2", null, h("span", { class: "cluster-chip ok" }, c), ` ${(byCluster.get(c) ?? []).length} namespace${(byCluster.get(c) ?? []).length === 1 ? "" : "s"}`),
            table(c, byCluster.get(c) ?? []),
          ),
        ),
    );
  };
  const table = (cluster: string, list: Row[]) =>
    h(
      "table",
      { class: "grid", "data-testid": `namespaces-${cluster}` },
      h("thead", null, h("tr", null, ["Namespace", "Injection", "Control plane", `Health (${kindLabel()})`, "Labels", ""].map((t) => h("th", null, t)))),
      h(
        "tbody",
        null,
        list.map((r) => {
          const inj = injection(r.ns.labels);
          const status = r.counts ? worstStatus(r.counts) : "";
          return h(
            "tr",
            { "data-namespace": r.ns.name, "data-cluster": r.ns.cluster, "data-injection": inj.state, "data-revision": inj.revision ?? "", "data-health": status },
            h("td", null, h("strong", null, r.ns.name), r.ns.isControlPlane ? h("span", { class: "tag" }, "control plane") : null),
            h(
              "td",
              { "data-testid": "injection" },
              h("span", { class: `inj inj-${inj.state}`, title: inj.label ?? "no istio-injection or istio.io/rev label" }, injectionText(inj)),
              inj.label ? h("div", { class: "muted small" }, inj.label) : null,
            ),
            h(
              "td",
              { "data-testid": "managed-by" },
              r.managers.length ? r.managers.map((m) => `${m.istiodName} (${m.cluster.name}${m.revision && m.revision !== "default" ? `, rev ${m.revision}` : ""})`).join(", ") : h("span", { class: "muted" }, "none"),
            ),
            h("td", { "data-testid": "ns-health" }, r.counts ? healthCell(r.counts) : h("span", { class: "muted" }, reachable.includes(r.ns.cluster) ? "…" : "n/a")),
            h(
              "td",
              { class: "labels", "data-testid": "labels" },
              Object.entries(r.ns.labels ?? {})
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => h("span", { class: "label-chip", "data-label": k }, `${k}=${v}`)),
            ),
            h(
              "td",
              { class: "actions" },
              link(`console/graph/namespaces?namespaces=${encodeURIComponent(r.ns.name)}`, "Graph"),
              " ",
              link(`console/applications?namespace=${encodeURIComponent(r.ns.name)}&cluster=${encodeURIComponent(r.ns.cluster)}`, "Apps"),
            ),
          );
        }),
      ),
    );

  let healthRound = 0;
  const loadHealth = async () => {
    const round = ++healthRound;
    for (const r of rows) r.counts = undefined;
    draw();
    const health = await healthByCluster(reachable, kind);
    if (signal.aborted || round !== healthRound) return;
    for (const r of rows) {
      const byNs = health.get(r.ns.cluster);
      if (byNs) r.counts = healthCounts(byNs[r.ns.name]);
    }
    draw();
  };
  clusterSel.addEventListener("change", () => {
    clusterFilter = clusterSel.value;
    draw();
  });
  nameInput.addEventListener("input", () => {
    nameFilter = nameInput.value.trim();
    draw();
  });
  kindSel.addEventListener("change", () => {
    kind = kindSel.value as Kind;
    void loadHealth();
  });
  await loadHealth();
}

function healthCell(counts: Record<string, number>): HTMLElement {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return h("span", { class: "muted" }, "none");
  const known = STATUS_ORDER.filter((s) => counts[s]);
  const other = Object.keys(counts).filter((s) => !STATUS_ORDER.includes(s));
  return h(
    "span",
    { "data-testid": "health-counts" },
    statusBadge(worstStatus(counts)),
    ` ${total}: `,
    [...known, ...other].map((s) => h("span", { class: "count", "data-status": s }, `${counts[s]} ${s.toLowerCase()} `)),
  );
}
