// Overview: every namespace of every cluster, its health summary and request rate.

import { auth, clusterList, config, get, healthByCluster, inboundRate, loggedInTo, Namespace, reportError } from "../api";
import { redirectsToLogin, startOpenidLogin } from "./login";
import { clear, h, select } from "../dom";
import { rate } from "../format";
import { link, setQuery } from "../nav";
import { statusBadge, STATUSES } from "../health";
import { clustersTls, mtlsIcon } from "../tls";

interface Row {
  ns: Namespace;
  counts: Record<string, number>;
  rps: number;
  healthKnown: boolean;
  /** Kiali's mTLS status of the namespace in its cluster. */
  tls?: string;
  validation?: { errors: number; warnings: number; objectCount: number };
}

type Validations = Record<string, Record<string, { errors: number; warnings: number; objectCount: number }>>;

export async function overviewPage(app: HTMLElement, signal: AbortSignal): Promise<void> {
  const q = new URLSearchParams(location.search);
  let clusterFilter = q.get("cluster") ?? "";
  let nameFilter = q.get("name") ?? "";
  const body = h("div", { class: "overview" }, h("p", { class: "muted" }, "Loading namespaces…"));
  const clusterSel = select({ "aria-label": "cluster", "data-testid": "cluster-filter" }, [["", "All clusters"]], "");
  const nameInput = h("input", { type: "search", placeholder: "Filter by name", value: nameFilter, "data-testid": "name-filter" });
  clear(app, h("div", { class: "toolbar" }, h("h1", null, "Overview"), clusterSel, nameInput), body);

  const cfg = await config();
  const clusters = clusterList(cfg);
  clear(clusterSel, h("option", { value: "" }, "All clusters"), clusters.map((c) => h("option", { value: c.name, selected: c.name === clusterFilter }, c.name)));
  // Clusters the session has no login to yet show nothing but the way to log in there.
  const info = await auth().catch(() => null);
  const locked = clusters.filter((c) => !loggedInTo(info, c.name)).map((c) => c.name);
  let namespaces: Namespace[] = [];
  try {
    namespaces = await get<Namespace[]>("api/namespaces", undefined, signal);
  } catch (e) {
    reportError("Namespaces", e);
  }
  const rows: Row[] = namespaces.map((ns) => ({ ns, counts: {}, rps: 0, healthKnown: false }));
  const draw = () => {
    const visible = rows.filter(
      (r) => (!clusterFilter || r.ns.cluster === clusterFilter) && (!nameFilter || r.ns.name.includes(nameFilter)),
    );
    setQuery({ cluster: clusterFilter, name: nameFilter });
    clear(
      body,
      h("p", { class: "muted" }, `${visible.length} of ${rows.length} namespaces in ${clusters.length} clusters`),
      locked
        .filter((c) => !clusterFilter || c === clusterFilter)
        .map((c) =>
          h(
            "p",
            { class: "locked-cluster", "data-testid": `locked-${c}` },
            `${c}: log in to see its namespaces. `,
            info && redirectsToLogin(info)
              ? h("button", { "data-testid": `overview-login-to-${c}`, onclick: () => info && startOpenidLogin(info, c) }, `Log in to ${c}`)
              : null,
          ),
        ),
      h(
        "table",
        { class: "grid", "data-testid": "overview-table" },
        h("thead", null, h("tr", null, ["Namespace", "Cluster", "Apps health", "Inbound request rate", "Istio config", ""].map((t) => h("th", null, t)))),
        h(
          "tbody",
          null,
          visible.map((r) =>
            h(
              "tr",
              { "data-namespace": r.ns.name, "data-cluster": r.ns.cluster },
              h("td", null, h("strong", null, r.ns.name), r.tls !== undefined ? mtlsIcon(r.tls) : null, r.ns.isControlPlane ? h("span", { class: "tag" }, "control plane") : null),
              h("td", null, h("span", { class: "cluster-chip ok" }, r.ns.cluster)),
              h("td", { class: "health-summary" }, r.healthKnown ? healthSummary(r.counts) : h("span", { class: "muted" }, "n/a")),
              h("td", null, r.healthKnown ? rate(r.rps) : ""),
              h("td", null, validationBadge(r.validation)),
              h(
                "td",
                { class: "actions" },
                link(`console/graph/namespaces?namespaces=${encodeURIComponent(r.ns.name)}`, "Graph"),
                " ",
                link(`console/applications?namespace=${encodeURIComponent(r.ns.name)}&cluster=${encodeURIComponent(r.ns.cluster)}`, "Apps"),
              ),
            ),
          ),
        ),
      ),
    );
  };
  draw();
  clusterSel.addEventListener("change", () => {
    clusterFilter = clusterSel.value;
    draw();
  });
  nameInput.addEventListener("input", () => {
    nameFilter = nameInput.value.trim();
    draw();
  });

  const reachable = clusters.filter((c) => c.accessible && !locked.includes(c.name)).map((c) => c.name);
  const [health, validations, tls] = await Promise.all([
    healthByCluster(reachable, "app"),
    get<Validations>("api/istio/validations", undefined, signal).catch((e) => {
      reportError("Istio validations", e);
      return {} as Validations;
    }),
    clustersTls(reachable, (c) => rows.filter((r) => r.ns.cluster === c).map((r) => r.ns.name), signal),
  ]);
  if (signal.aborted) return;
  for (const r of rows) {
    const byNs = health.get(r.ns.cluster);
    if (byNs) {
      r.healthKnown = true;
      for (const hl of Object.values(byNs[r.ns.name] ?? {})) {
        const s = hl.status?.status ?? "NA";
        r.counts[s] = (r.counts[s] ?? 0) + 1;
        r.rps += inboundRate(hl);
      }
    }
    r.validation = validations?.[r.ns.cluster]?.[r.ns.name];
    r.tls = tls.get(r.ns.cluster)?.get(r.ns.name);
  }
  draw();
}

function healthSummary(counts: Record<string, number>): HTMLElement {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return h("span", { class: "muted" }, "no apps");
  return h(
    "span",
    { "data-testid": "health-summary" },
    `${total} app${total === 1 ? "" : "s"}: `,
    STATUSES.filter((s) => counts[s]).map((s) => [statusBadge(s, `${counts[s]} ${s.toLowerCase()}`), " "]),
  );
}

function validationBadge(v?: { errors: number; warnings: number; objectCount: number }): HTMLElement | string {
  if (!v) return "";
  if (v.errors) return h("span", { class: "badge Failure" }, `${v.errors} error${v.errors > 1 ? "s" : ""}`);
  if (v.warnings) return h("span", { class: "badge Degraded" }, `${v.warnings} warning${v.warnings > 1 ? "s" : ""}`);
  return v.objectCount ? h("span", { class: "badge Healthy" }, `${v.objectCount} valid`) : h("span", { class: "muted" }, "no objects");
}
