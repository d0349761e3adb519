// The wizards on a service's page ("Traffic Shifting", "Request Routing", "Fault Injection", "Request Timeouts"): one
// weight per version of the service — versions of every cluster, including those running only in another cluster
// than the one the objects go to —, the delay/abort or timeout/retries of the last two, the advanced options' circuit
// breaker (connection pool, outlier detection) and load balancer of the DestinationRule, a preview of the
// DestinationRule and VirtualService (built as Kiali's wizard builds them, ../wizard.ts), then
// create (POST) or, when the service already has objects of those names in that cluster, update (PATCH with the
// objects, Kiali's update). "Delete Traffic Routing" removes the wizard's objects (label `kiali_wizard`). Writes go
// with the user's identity; a refusal is shown as the server sent it.

import { sendJson, writeErrorText } from "../api";
import { banner } from "../banners";
import { clear, h } from "../dom";
import {
  buildTrafficRouting,
  DEFAULT_ABORT,
  DEFAULT_CONNECTION_POOL,
  DEFAULT_DELAY,
  DEFAULT_OUTLIER_DETECTION,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT,
  defaultWeights,
  faultProblem,
  initFault,
  initTimeouts,
  initTrafficPolicy,
  KIALI_WIZARD_LABEL,
  SIMPLE_LOAD_BALANCERS,
  timeoutProblem,
  trafficPolicyProblem,
  versionRows,
  VersionWeight,
  weightsProblem,
  WizardType,
  WizardWorkload,
} from "../wizard";
import type { IstioObject } from "./istio";

export interface ServiceInstance {
  cluster: string;
  workloads?: Array<{ name: string; cluster: string; labels?: Record<string, string> }>;
  virtualServices?: IstioObject[];
  destinationRules?: IstioObject[];
}

const TITLES: Record<WizardType, string> = {
  traffic_shifting: "Traffic Shifting",
  request_routing: "Request Routing",
  fault_injection: "Fault Injection",
  request_timeouts: "Request Timeouts",
};

/** A checkbox that shows its fields only when ticked. */
function optional(testid: string, label: string, checked: boolean, fields: HTMLElement[], onchange: () => void): { box: HTMLInputElement; el: HTMLElement } {
  const box = h("input", { type: "checkbox", "data-testid": testid, checked });
  const inner = h("span", { hidden: !checked }, fields.map((f) => [" ", f]));
  box.addEventListener("change", () => {
    inner.hidden = !box.checked;
    onchange();
  });
  return { box, el: h("div", { class: "toolbar" }, h("label", null, box, " ", label), inner) };
}

function field(testid: string, label: string, value: string | number, type: "number" | "text", onchange: () => void): HTMLElement & { input: HTMLInputElement } {
  const input = h("input", { type, value, "data-testid": testid, size: 8 });
  input.addEventListener("input", onchange);
  return Object.assign(h("label", null, `${label} `, input), { input });
}

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
    // The starting choices: Kiali's defaults, or what the service's objects in the selected cluster already say.
    const existing = wizardObjects(target.value).all;
    const f0 = initFault(existing?.virtualServices ?? []);
    const t0 = initTimeouts(existing?.virtualServices ?? []);
    const p0 = initTrafficPolicy(existing?.destinationRules ?? []);
    const num = (v: unknown, d: number) => (typeof v === "number" ? v : d);
    // Fault Injection (Kiali's defaults: 100% delayed 5s, 100% aborted with 503, neither ticked).
    const d0 = f0.delay ?? DEFAULT_DELAY;
    const a0 = f0.abort ?? DEFAULT_ABORT;
    const delayPct = field("fault-delay-percentage", "percentage", d0.percentage.value, "number", () => refresh());
    const delayFixed = field("fault-delay-fixed", "fixed delay", d0.fixedDelay, "text", () => refresh());
    const abortPct = field("fault-abort-percentage", "percentage", a0.percentage.value, "number", () => refresh());
    const abortStatus = field("fault-abort-status", "HTTP status", a0.httpStatus, "number", () => refresh());
    const delay = optional("fault-delay", "Add HTTP delay", Boolean(f0.delay), [delayPct, delayFixed], () => refresh());
    const abort = optional("fault-abort", "Add HTTP abort", Boolean(f0.abort), [abortPct, abortStatus], () => refresh());
    // Request Timeouts (defaults 2s; 3 attempts of 2s on Kiali's retryOn).
    const r0 = t0.retries ?? DEFAULT_RETRIES;
    const timeoutValue = field("timeout-value", "timeout", t0.timeout ?? DEFAULT_TIMEOUT, "text", () => refresh());
    const attempts = field("retry-attempts", "attempts", r0.attempts, "number", () => refresh());
    const perTry = field("retry-per-try", "per-try timeout", r0.perTryTimeout, "text", () => refresh());
    const timeout = optional("timeout-enabled", "Add HTTP timeout", t0.timeout !== undefined, [timeoutValue], () => refresh());
    const retry = optional("retry-enabled", "Add HTTP retry", Boolean(t0.retries), [attempts, perTry], () => refresh());
    // Advanced options: load balancer and circuit breaker of the DestinationRule.
    const lbSelect = h("select", { "data-testid": "lb-simple", "aria-label": "load balancer" }, SIMPLE_LOAD_BALANCERS.map((x) => h("option", { value: x, selected: x === p0.loadBalancer }, x)));
    lbSelect.addEventListener("change", () => refresh());
    const cp0 = p0.connectionPool as { tcp?: Record<string, unknown>; http?: Record<string, unknown> } | undefined;
    const maxConn = field("cb-max-connections", "max connections", num(cp0?.tcp?.maxConnections, DEFAULT_CONNECTION_POOL.tcp.maxConnections), "number", () => refresh());
    const maxPending = field("cb-max-pending", "HTTP/1 max pending requests", num(cp0?.http?.http1MaxPendingRequests, DEFAULT_CONNECTION_POOL.http.http1MaxPendingRequests), "number", () => refresh());
    const consecutive = field("cb-consecutive-errors", "consecutive errors", num(p0.outlierDetection?.consecutiveErrors, DEFAULT_OUTLIER_DETECTION.consecutiveErrors), "number", () => refresh());
    const lb = optional("lb-enabled", "Add load balancer", Boolean(p0.loadBalancer), [lbSelect], () => refresh());
    const pool = optional("cb-connection-pool", "Add connection pool", Boolean(p0.connectionPool), [maxConn, maxPending], () => refresh());
    const outlier = optional("cb-outlier", "Add outlier detection", Boolean(p0.outlierDetection), [consecutive], () => refresh());
    const choices = () => ({
      fault: {
        delay: delay.box.checked ? { percentage: { value: Number(delayPct.input.value) }, fixedDelay: delayFixed.input.value } : undefined,
        abort: abort.box.checked ? { percentage: { value: Number(abortPct.input.value) }, httpStatus: Number(abortStatus.input.value) } : undefined,
      },
      timeouts: {
        timeout: timeout.box.checked ? timeoutValue.input.value : undefined,
        retries: retry.box.checked ? { ...DEFAULT_RETRIES, attempts: Number(attempts.input.value), perTryTimeout: perTry.input.value } : undefined,
      },
      trafficPolicy: {
        loadBalancer: lb.box.checked ? lbSelect.value : undefined,
        // The existing policy's other fields stay (Kiali passes the whole connection pool / outlier detection on).
        connectionPool: pool.box.checked
          ? { ...cp0, tcp: { ...cp0?.tcp, maxConnections: Number(maxConn.input.value) }, http: { ...cp0?.http, http1MaxPendingRequests: Number(maxPending.input.value) } }
          : undefined,
        outlierDetection: outlier.box.checked ? { ...p0.outlierDetection, consecutiveErrors: Number(consecutive.input.value) } : undefined,
      },
    });
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
        ...choices(),
      });
    };
    const refresh = () => {
      const ch = choices();
      const why =
        weightsProblem(rows) ??
        (type === "fault_injection" ? faultProblem(ch.fault) : null) ??
        (type === "request_timeouts" ? timeoutProblem(ch.timeouts) : null) ??
        trafficPolicyProblem(ch.trafficPolicy);
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
      type === "fault_injection" ? h("section", { "data-testid": "wizard-fault" }, delay.el, abort.el) : null,
      type === "request_timeouts" ? h("section", { "data-testid": "wizard-timeouts" }, timeout.el, retry.el) : null,
      h("details", { "data-testid": "wizard-advanced" }, h("summary", null, "Advanced options (DestinationRule traffic policy)"), lb.el, pool.el, outlier.el),
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
      h("button", { "data-testid": "wizard-fault_injection", onclick: () => open("fault_injection"), disabled: workloads.length === 0 }, TITLES.fault_injection),
      h("button", { "data-testid": "wizard-request_timeouts", onclick: () => open("request_timeouts"), disabled: workloads.length === 0 }, TITLES.request_timeouts),
      h("button", { "data-testid": "wizard-delete", class: "danger", onclick: () => void remove(), disabled: !anyWizard }, "Delete Traffic Routing"),
    ),
    panel,
  );
}
