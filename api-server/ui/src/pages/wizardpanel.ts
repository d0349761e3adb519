// The routing wizards on a service's page ("Traffic Shifting", "Request Routing"): one weight per version of the
// service — versions of every cluster, including those running only in another cluster than the one the objects go
// to — a preview of the DestinationRule and VirtualService (built as Kiali's wizard builds them, ../wizard.ts), then
// create (POST) or, when the service already has objects of those names in that cluster, update (PATCH with the
// objects, Kiali's update). "Delete Traffic Routing" removes the wizard's objects (label `kiali_wizard`). Writes go
// with the user's identity; a refusal is shown as the server sent it.

import { sendJson, writeErrorText } from "../api";
import { banner } from "../banners";
import { clear, h } from "../dom";
import { buildTrafficRouting, defaultWeights, KIALI_WIZARD_LABEL, versionRows, VersionWeight, weightsProblem, WizardType, WizardWorkload } from "../wizard";
import type { IstioObject } from "./istio";

export interface ServiceInstance {
  cluster: string;
  workloads?: Array<{ name: string; cluster: string; labels?: Record<string, string> }>;
  virtualServices?: IstioObject[];
  destinationRules?: IstioObject[];
}

const TITLES: Record<WizardType, string> = { traffic_shifting: "Traffic Shifting", request_routing: "Request Routing" };

function objectPath(ns: string, kind: "VirtualService" | "DestinationRule", name?: string): string {
  const e = encodeURIComponent;
  return `api/namespaces/${e(ns)}/istio/networking.istio.io/v1/${kind}${name ? `/${e(name)}` : ""}`;
}

/** The wizards' buttons and panel for service `name` of `ns`; `reload` redraws the page after a change. */
export function wizardPanel(ns: string, name: string, instances: ServiceInstance[], homeCluster: string | undefined, reload: () => void): HTMLElement {
  const workloads: WizardWorkload[] = instances.flatMap((i) => (i.workloads ?? []).map((w) => ({ name: w.name, cluster: w.cluster || i.cluster, labels: w.labels ?? {} })));
  const clusters = instances.map((i) => i.cluster);
  const panel = h("div", { class: "wizard", "data-testid": "wizard", hidden: true });
  const wizardObjects = (cluster: string) => {
    const i = instances.find((x) => x.cluster === cluster);
    const own = (o: IstioObject) => Boolean(o.metadata.labels?.[KIALI_WIZARD_LABEL]);
    return { vs: (i?.virtualServices ?? []).filter(own), dr: (i?.destinationRules ?? []).filter(own), all: i };
  };
  const anyWizard = clusters.some((c) => {
    const o = wizardObjects(c);
    return o.vs.length + o.dr.length > 0;
  });

  const open = (type: WizardType) => {
    panel.hidden = false;
    let rows: VersionWeight[] = defaultWeights(versionRows(workloads));
    const target = h(
      "select",
      { "data-testid": "wizard-cluster", "aria-label": "cluster of the objects" },
      clusters.map((c) => h("option", { value: c, selected: c === (clusters.includes(homeCluster ?? "") ? homeCluster : clusters[0]) }, c)),
    );
    const preview = h("pre", { "data-testid": "wizard-preview" });
    const problem = h("p", { class: "write-error", "data-testid": "wizard-problem", hidden: true });
    const result = h("div", { "data-testid": "wizard-result" });
    const submit = h("button", { "data-testid": "wizard-submit" }, "Create");
    const build = () => {
      const c = wizardObjects(target.value).all;
      return buildTrafficRouting({
        type,
        namespace: ns,
        serviceName: name,
        workloads,
        weights: rows,
        existingVirtualServices: (c?.virtualServices ?? []).map((o) => o.metadata.name),
        existingDestinationRules: (c?.destinationRules ?? []).map((o) => o.metadata.name),
      });
    };
    const refresh = () => {
      const why = weightsProblem(rows);
      problem.hidden = !why;
      problem.textContent = why ?? "";
      submit.disabled = Boolean(why);
      const objs = build();
      const c = wizardObjects(target.value).all;
      const update =
        (c?.virtualServices ?? []).some((o) => o.metadata.name === (objs.virtualService.metadata as { name: string }).name) ||
        (c?.destinationRules ?? []).some((o) => o.metadata.name === (objs.destinationRule.metadata as { name: string }).name);
      submit.textContent = update ? `Update in ${target.value}` : `Create in ${target.value}`;
      preview.textContent = JSON.stringify([objs.destinationRule, objs.virtualService], null, 2);
    };
    const weightRows = rows.map((r, idx) => {
      const input = h("input", { type: "number", min: 0, max: 100, step: 1, value: r.weight, "data-testid": `weight-${r.version || r.workloads[0]}` });
      input.addEventListener("input", () => {
        rows = rows.map((x, j) => (j === idx ? { ...x, weight: Number(input.value) } : x));
        refresh();
      });
      return h(
        "tr",
        { "data-version": r.version },
        h("td", null, r.version || h("span", { class: "muted" }, "no version label")),
        h("td", null, r.workloads.map((w) => {
          const [c, n] = w.split("/");
          return [n, " ", h("span", { class: "cluster-chip ok" }, c), " "];
        })),
        h("td", null, input, " %"),
      );
    });
    target.addEventListener("change", refresh);
    submit.addEventListener("click", async () => {
      submit.disabled = true;
      result.replaceChildren();
      const cluster = target.value;
      const objs = build();
      const c = wizardObjects(cluster).all;
      try {
        for (const [kind, obj, existing] of [
          ["DestinationRule", objs.destinationRule, c?.destinationRules ?? []],
          ["VirtualService", objs.virtualService, c?.virtualServices ?? []],
        ] as const) {
          const objName = (obj.metadata as { name: string }).name;
          if (existing.some((o) => o.metadata.name === objName)) await sendJson("PATCH", objectPath(ns, kind, objName), { clusterName: cluster }, obj);
          else await sendJson("POST", objectPath(ns, kind), { clusterName: cluster }, obj);
        }
        banner("wizard", "info", `${TITLES[type]} of ${ns}/${name} written to ${cluster}.`);
        reload();
      } catch (e) {
        clear(result, h("p", { class: "write-error", "data-testid": "write-error" }, `${TITLES[type]} refused: ${writeErrorText(e)}`));
        submit.disabled = false;
      }
    });
    clear(
      panel,
      h("h2", null, `${TITLES[type]}: ${name}`),
      h("p", { class: "muted" }, "One weight per version, whatever cluster it runs in; the weights add up to 100."),
      h("table", { class: "grid", "data-testid": "wizard-weights" }, h("thead", null, h("tr", null, ["Version", "Workloads", "Weight"].map((t) => h("th", null, t)))), h("tbody", null, weightRows)),
      h("div", { class: "toolbar" }, h("label", null, "Objects go to cluster ", target), submit, h("button", { onclick: () => (panel.hidden = true) }, "Cancel")),
      problem,
      result,
      h("h3", null, "Preview"),
      preview,
    );
    refresh();
  };

  const remove = async () => {
    const done: string[] = [];
    try {
      for (const c of clusters) {
        const o = wizardObjects(c);
        for (const [kind, list] of [
          ["VirtualService", o.vs],
          ["DestinationRule", o.dr],
        ] as const) {
          for (const x of list) {
            await sendJson("DELETE", objectPath(ns, kind, x.metadata.name), { clusterName: c });
            done.push(`${kind} ${x.metadata.name} (${c})`);
          }
        }
      }
      banner("wizard", "info", `Deleted ${done.join(", ")}.`);
      reload();
    } catch (e) {
      panel.hidden = false;
      clear(panel, h("p", { class: "write-error", "data-testid": "write-error" }, `Delete refused: ${writeErrorText(e)}`));
    }
  };

  return h(
    "section",
    { "data-testid": "wizard-actions" },
    h(
      "div",
      { class: "toolbar" },
      h("b", null, "Actions:"),
      h("button", { "data-testid": "wizard-traffic_shifting", onclick: () => open("traffic_shifting"), disabled: workloads.length === 0 }, TITLES.traffic_shifting),
      h("button", { "data-testid": "wizard-request_routing", onclick: () => open("request_routing"), disabled: workloads.length === 0 }, TITLES.request_routing),
      h("button", { "data-testid": "wizard-delete", class: "danger", onclick: () => void remove(), disabled: !anyWizard }, "Delete Traffic Routing"),
    ),
    panel,
  );
}
