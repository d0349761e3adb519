// The Envoy tab of a workload, as Kiali's: a pod of any cluster the workload runs in, and its proxy's clusters,
// listeners and routes (Kiali's summaries, `…/pods/{pod}/config_dump/{resource}`) as tables. The server reads the
// dump through the pod's cluster's `pods/portforward` with the caller's rights: a refusal is shown in place.

import { ApiError, get } from "../api";
import { clear, h, select } from "../dom";
import { PodRef } from "./logs";

/** Kiali's `Host`. */
interface Host {
  service: string;
  namespace: string;
  cluster?: string;
}

type Row = Record<string, unknown>;

/** What the tab shows, for the browser tests: each resource's rows as drawn (cell texts). */
declare global {
  interface Window {
    __meshglassEnvoy?: { pod: string; cluster: string; resource: string; rows: string[][] };
  }
}

/** A host as Kiali writes it: `service.namespace.cluster` when it names a namespace, else the service. */
export function hostText(v: unknown): string {
  const host = v as Host | null;
  if (!host) return "";
  return host.namespace ? [host.service, host.namespace, host.cluster].filter(Boolean).join(".") : host.service;
}

/** The columns of each resource, as Kiali's Envoy tab has them: header and cell text of a row. */
export const COLUMNS: Record<string, Array<[string, (r: Row) => string]>> = {
  clusters: [
    ["FQDN", (r) => hostText(r.service_fqdn)],
    ["Port", (r) => (r.port ? String(r.port) : "-")],
    ["Subset", (r) => String(r.subset || "-")],
    ["Direction", (r) => String(r.direction || "-")],
    ["Type", (r) => String(r.type ?? "")],
    ["DestinationRule", (r) => String(r.destination_rule || "-")],
  ],
  listeners: [
    ["Address", (r) => String(r.address ?? "")],
    ["Port", (r) => String(r.port ?? "")],
    ["Match", (r) => String(r.match ?? "")],
    ["Destination", (r) => String(r.destination ?? "")],
  ],
  routes: [
    ["Name", (r) => String(r.name ?? "")],
    ["Domains", (r) => hostText(r.domains)],
    ["Match", (r) => String(r.match ?? "")],
    ["VirtualService", (r) => String(r.virtual_service || "-")],
  ],
};

const RESOURCES: Array<[string, string]> = [
  ["clusters", "Clusters"],
  ["listeners", "Listeners"],
  ["routes", "Routes"],
];

function podKey(p: PodRef): string {
  return `${p.cluster ?? ""}/${p.name}`;
}

/** The Envoy tab of the pods `pods` (of every cluster) in `ns`, until `signal` aborts. */
export function envoyTab(ns: string, pods: PodRef[], signal: AbortSignal): HTMLElement {
  if (pods.length === 0) return h("p", { class: "muted", "data-testid": "envoy-none" }, "No pods.");
  const podSel = select(
    { "aria-label": "pod", "data-testid": "envoy-pod" },
    pods.map((p): [string, string] => [podKey(p), p.cluster ? `${p.name} (${p.cluster})` : p.name]),
    podKey(pods[0]),
  );
  let resource = "clusters";
  const bar = h("div", { class: "tabs", role: "tablist", "data-testid": "envoy-resources" });
  const body = h("div", { "data-testid": "envoy-body" });
  let run: AbortController | null = null;
  const load = async () => {
    run?.abort();
    const ctl = new AbortController();
    run = ctl;
    signal.addEventListener("abort", () => ctl.abort(), { once: true });
    clear(bar, RESOURCES.map(([r, label]) => h("button", { role: "tab", class: r === resource ? "tab active" : "tab", "data-resource": r, onclick: () => ((resource = r), void load()) }, label)));
    clear(body, h("p", { class: "muted" }, "Loading…"));
    const p = pods.find((x) => podKey(x) === podSel.value)!;
    const shown = resource;
    try {
      const r = await get<Record<string, Row[]>>(
        `api/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.name)}/config_dump/${shown}`,
        { clusterName: p.cluster },
        ctl.signal,
      );
      if (ctl.signal.aborted) return;
      const cols = COLUMNS[shown];
      const rows = (r[shown] ?? []).map((row) => cols.map(([, cell]) => cell(row)));
      clear(
        body,
        h(
          "table",
          { class: "grid envoy-table", "data-testid": `envoy-${shown}` },
          h("thead", null, h("tr", null, cols.map(([head]) => h("th", null, head)))),
          h("tbody", null, rows.map((cells) => h("tr", null, cells.map((c) => h("td", null, c))))),
        ),
        h("p", { class: "muted" }, `${rows.length} ${shown} of ${p.name} (${p.cluster ?? ""})`),
      );
      window.__meshglassEnvoy = { pod: p.name, cluster: p.cluster ?? "", resource: shown, rows };
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      const why = e instanceof ApiError ? `${e.status === 403 ? "forbidden" : `HTTP ${e.status}`}: ${e.message}` : String(e);
      clear(body, h("p", { class: "error", "data-testid": "envoy-error" }, `The proxy configuration of ${p.name} could not be read: ${why}`));
    }
  };
  podSel.addEventListener("change", () => void load());
  signal.addEventListener("abort", () => run?.abort());
  void load();
  return h("div", { class: "envoy" }, h("div", { class: "toolbar" }, h("fieldset", null, h("legend", null, "Pod"), podSel)), bar, body);
}
