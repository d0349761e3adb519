// Istio config: the list (every cluster, namespace and kind, with the validation as Kiali shows it) and the detail
// page of one object: its validation, references, help and a YAML editor. A save shows the diff first and sends the
// JSON merge patch of the edit (PATCH, with the loaded resourceVersion); a delete asks for confirmation. Writes go
// with the user's own identity, so a cluster's refusal (403 and its reason) is shown as it came.

import { parse, stringify } from "yaml";
import { clusterList, config, get, reportError, sendJson, writeErrorText } from "../api";
import { banner } from "../banners";
import { clear, h } from "../dom";
import { diffView, yamlEditor } from "../editor";
import { editPatch } from "../mergepatch";
import { link, navigate, route, setQuery } from "../nav";

export interface Check {
  message: string;
  severity: string;
  code?: string;
  path?: string;
}
export interface Validation {
  name: string;
  namespace: string;
  valid: boolean;
  checks: Check[];
}
export interface IstioObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: Record<string, unknown>;
}
interface IstioConfigBody {
  cluster: string;
  resources: Record<string, IstioObject[]>;
  validations?: Record<string, Record<string, Validation>>;
}

/** `networking.istio.io/v1, Kind=VirtualService` → group, version, kind. */
export function parseGvk(key: string): { group: string; version: string; kind: string } {
  const [gv, k] = key.split(", Kind=");
  const i = gv.lastIndexOf("/");
  return { group: i < 0 ? "" : gv.slice(0, i), version: i < 0 ? gv : gv.slice(i + 1), kind: k ?? "" };
}

/** The console path of an object's detail page. */
export function istioPath(cluster: string, ns: string, group: string, version: string, kind: string, name: string): string {
  const e = encodeURIComponent;
  return `console/namespaces/${e(ns)}/istio/${e(group)}/${e(version)}/${e(kind)}/${e(name)}?clusterName=${e(cluster)}`;
}

/** The API path of an object (detail, PATCH, DELETE). */
function apiPath(ns: string, group: string, version: string, kind: string, name?: string): string {
  const e = encodeURIComponent;
  return `api/namespaces/${e(ns)}/istio/${e(group)}/${e(version)}/${e(kind)}${name ? `/${e(name)}` : ""}`;
}

/** The validation as Kiali's list shows it: Valid, N warnings or N errors (the first code), messages on hover. */
export function validationBadge(v?: Validation): HTMLElement {
  if (!v) return h("span", { class: "badge NA", "data-validation": "none" }, "not validated");
  const errors = v.checks.filter((c) => c.severity === "error");
  const warnings = v.checks.filter((c) => c.severity === "warning");
  const title = v.checks.map((c) => `${c.code ?? ""} ${c.message}`.trim()).join("\n");
  if (errors.length)
    return h("span", { class: "badge Failure", title, "data-validation": "error" }, `${errors.length} error${errors.length > 1 ? "s" : ""}`, ": ", errors[0].code ?? errors[0].message);
  if (warnings.length)
    return h("span", { class: "badge Degraded", title, "data-validation": "warning" }, `${warnings.length} warning${warnings.length > 1 ? "s" : ""}`, ": ", warnings[0].code ?? warnings[0].message);
  return h("span", { class: "badge Healthy", title, "data-validation": "valid" }, "Valid");
}

interface Row {
  cluster: string;
  namespace: string;
  name: string;
  kind: string;
  group: string;
  version: string;
  validation?: Validation;
}

function status(v?: Validation): string {
  if (!v) return "none";
  if (v.checks.some((c) => c.severity === "error")) return "error";
  if (v.checks.some((c) => c.severity === "warning")) return "warning";
  return "valid";
}

/** `console/istio`: every Istio object of every reachable cluster; filters by cluster, namespace, kind, name, validation. */
export async function istioListPage(app: HTMLElement, signal: AbortSignal): Promise<void> {
  const q = new URLSearchParams(location.search);
  const f = { cluster: q.get("cluster") ?? "", namespace: q.get("namespace") ?? "", kind: q.get("kind") ?? "", name: q.get("name") ?? "", validation: q.get("validation") ?? "" };
  const cfg = await config();
  const clusters = clusterList(cfg);
  const clusterSel = h("select", { "aria-label": "cluster", "data-testid": "cluster-filter" }, h("option", { value: "" }, "All clusters"), clusters.map((c) => h("option", { value: c.name, selected: c.name === f.cluster }, c.name)));
  const kindSel = h("select", { "aria-label": "kind", "data-testid": "kind-filter" }, h("option", { value: "" }, "All kinds"));
  const valSel = h(
    "select",
    { "aria-label": "validation", "data-testid": "validation-filter" },
    [["", "Any validation"], ["valid", "Valid"], ["warning", "Warning"], ["error", "Error"], ["none", "Not validated"]].map(([v, l]) => h("option", { value: v, selected: v === f.validation }, l)),
  );
  const nsInput = h("input", { type: "search", placeholder: "Namespace", value: f.namespace, "data-testid": "namespace-filter" });
  const nameInput = h("input", { type: "search", placeholder: "Name", value: f.name, "data-testid": "name-filter" });
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  clear(app, h("div", { class: "toolbar" }, h("h1", null, "Istio config"), clusterSel, nsInput, kindSel, nameInput, valSel), body);

  let rows: Row[] = [];
  const draw = () => {
    setQuery(f);
    const visible = rows.filter(
      (r) =>
        (!f.cluster || r.cluster === f.cluster) &&
        (!f.namespace || r.namespace.includes(f.namespace)) &&
        (!f.kind || r.kind === f.kind) &&
        (!f.name || r.name.includes(f.name)) &&
        (!f.validation || status(r.validation) === f.validation),
    );
    clear(
      body,
      h("p", { class: "muted", "data-testid": "row-count" }, `${visible.length} of ${rows.length}`),
      h(
        "table",
        { class: "grid", "data-testid": "list-table" },
        h("thead", null, h("tr", null, ["Name", "Namespace", "Cluster", "Type", "Validation"].map((t) => h("th", null, t)))),
        h(
          "tbody",
          null,
          visible.map((r) =>
            h(
              "tr",
              { "data-cluster": r.cluster, "data-namespace": r.namespace, "data-name": r.name, "data-kind": r.kind },
              h("td", null, link(istioPath(r.cluster, r.namespace, r.group, r.version, r.kind, r.name), r.name)),
              h("td", null, r.namespace),
              h("td", null, h("span", { class: "cluster-chip ok" }, r.cluster)),
              h("td", null, r.kind),
              h("td", { class: "badges" }, validationBadge(r.validation)),
            ),
          ),
        ),
      ),
    );
  };
  const bind = (el: HTMLInputElement | HTMLSelectElement, key: keyof typeof f, ev: string) =>
    el.addEventListener(ev, () => {
      f[key] = el.value.trim();
      draw();
    });
  bind(clusterSel, "cluster", "change");
  bind(kindSel, "kind", "change");
  bind(valSel, "validation", "change");
  bind(nsInput, "namespace", "input");
  bind(nameInput, "name", "input");

  const reachable = clusters.filter((c) => c.accessible).map((c) => c.name);
  const results = await Promise.allSettled(reachable.map((c) => get<IstioConfigBody>("api/istio/config", { clusterName: c, validate: true }, signal)));
  if (signal.aborted) return;
  results.forEach((res, i) => {
    if (res.status === "rejected") {
      reportError(`Istio config of ${reachable[i]}`, res.reason);
      return;
    }
    const b = res.value;
    for (const [key, objs] of Object.entries(b.resources ?? {})) {
      const gvk = parseGvk(key);
      for (const o of objs ?? []) {
        rows.push({ cluster: b.cluster || reachable[i], namespace: o.metadata.namespace, name: o.metadata.name, ...gvk, validation: b.validations?.[key]?.[`${o.metadata.name}.${o.metadata.namespace}`] });
      }
    }
  });
  rows = rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind) || a.cluster.localeCompare(b.cluster));
  const kinds = Array.from(new Set(rows.map((r) => r.kind))).sort();
  if (f.kind && !kinds.includes(f.kind)) kinds.push(f.kind);
  kindSel.append(...kinds.map((k) => h("option", { value: k, selected: k === f.kind }, k)));
  draw();
}

interface Reference {
  objectType?: string;
  name: string;
  namespace: string;
  cluster?: string;
}
interface DetailBody {
  cluster: string;
  gvk: { Group: string; Version: string; Kind: string };
  resource: IstioObject & { status?: unknown };
  validation?: Validation | null;
  references?: { objectReferences?: Reference[]; serviceReferences?: Reference[]; workloadReferences?: Reference[] };
  help?: Array<{ objectField: string; message: string }> | null;
}

/** `console/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}?clusterName=`. */
export async function istioDetailPage(app: HTMLElement, ns: string, group: string, version: string, kind: string, name: string, signal: AbortSignal): Promise<void> {
  const cluster = new URLSearchParams(location.search).get("clusterName") ?? "";
  const head = h("div", { class: "toolbar" }, h("h1", null, `${kind}: ${name}`), h("span", { class: "muted" }, `namespace ${ns}`), cluster ? h("span", { class: "cluster-chip ok", "data-testid": "detail-cluster" }, cluster) : null, link(`console/istio?namespace=${encodeURIComponent(ns)}`, "← Istio config"));
  const info = h("section", null, h("p", { class: "muted" }, "Loading…"));
  clear(app, head, info);
  let d: DetailBody;
  try {
    d = await get<DetailBody>(apiPath(ns, group, version, kind, name), { clusterName: cluster, validate: true, help: true }, signal);
  } catch (e) {
    reportError(kind, e);
    clear(info, h("p", { class: "muted" }, `${kind} ${ns}/${name} could not be loaded.`));
    return;
  }
  if (signal.aborted) return;
  const obj = d.resource;
  const loadedText = stringify(obj, { lineWidth: 0 });
  const refs = [...(d.references?.objectReferences ?? []), ...(d.references?.serviceReferences ?? []), ...(d.references?.workloadReferences ?? [])];
  const checks = d.validation?.checks ?? [];

  const message = h("div", { "data-testid": "write-message" });
  const editorBox = h("div", { class: "yaml-editor", "data-testid": "yaml-editor" });
  const diffBox = h("div", { class: "yaml-diff", "data-testid": "yaml-diff", hidden: true });
  const saveBtn = h("button", { "data-testid": "save", disabled: true }, "Save…");
  const confirmBtn = h("button", { "data-testid": "confirm-save", hidden: true }, "Confirm save");
  const cancelBtn = h("button", { "data-testid": "cancel-save", hidden: true }, "Back to editing");
  const deleteBtn = h("button", { "data-testid": "delete", class: "danger" }, "Delete");
  const confirmDelete = h("div", { class: "confirm", "data-testid": "confirm-delete", hidden: true });

  clear(
    info,
    h(
      "table",
      { class: "kv" },
      h("tr", null, h("th", null, "Cluster"), h("td", null, h("span", { class: "cluster-chip ok" }, d.cluster))),
      h("tr", null, h("th", null, "Kind"), h("td", null, `${d.gvk.Group}/${d.gvk.Version} ${d.gvk.Kind}`)),
      h("tr", null, h("th", null, "Validation"), h("td", { "data-testid": "detail-validation" }, validationBadge(d.validation ?? undefined))),
    ),
    checks.length
      ? h("ul", { class: "checks", "data-testid": "detail-checks" }, checks.map((c) => h("li", { class: `check-${c.severity}` }, h("b", null, c.code ?? c.severity), " ", c.message, c.path ? h("span", { class: "muted" }, ` (${c.path})`) : null)))
      : null,
    refs.length ? [h("h2", null, "References"), h("ul", { "data-testid": "detail-references" }, refs.map((r) => h("li", null, `${r.objectType ?? ""} ${r.namespace}/${r.name}`.trim(), r.cluster ? h("span", { class: "cluster-chip ok" }, r.cluster) : null)))] : null,
    h("h2", null, "YAML"),
    h("div", { class: "toolbar" }, saveBtn, cancelBtn, confirmBtn, deleteBtn),
    message,
    confirmDelete,
    editorBox,
    diffBox,
    d.help?.length ? [h("h2", null, "Help"), h("table", { class: "kv" }, d.help.map((x) => h("tr", null, h("th", null, h("code", null, x.objectField)), h("td", null, x.message))))] : null,
  );

  const show = (level: "ok" | "error", text: string) => clear(message, h("p", { class: level === "ok" ? "write-ok" : "write-error", "data-testid": level === "ok" ? "write-ok" : "write-error" }, text));
  let patch: ReturnType<typeof editPatch> = null;
  let diff: { destroy(): void } | null = null;
  const ed = yamlEditor(editorBox, loadedText, () => {
    message.replaceChildren();
    saveBtn.disabled = ed.text() === loadedText;
  });
  signal.addEventListener("abort", () => {
    ed.destroy();
    diff?.destroy();
  });
  const editing = () => {
    diff?.destroy();
    diff = null;
    diffBox.hidden = true;
    editorBox.hidden = false;
    confirmBtn.hidden = true;
    cancelBtn.hidden = true;
    saveBtn.hidden = false;
  };
  saveBtn.addEventListener("click", () => {
    try {
      patch = editPatch(obj, parse(ed.text()));
    } catch (e) {
      show("error", `The YAML cannot be saved: ${(e as Error).message}`);
      return;
    }
    if (!patch) {
      show("ok", "Nothing changed.");
      return;
    }
    editorBox.hidden = true;
    diffBox.hidden = false;
    diffBox.replaceChildren(h("p", { class: "muted" }, `Changes to ${kind} ${ns}/${name} in ${d.cluster} (loaded on the left, edited on the right):`));
    diff = diffView(diffBox, loadedText, ed.text());
    saveBtn.hidden = true;
    confirmBtn.hidden = false;
    cancelBtn.hidden = false;
  });
  cancelBtn.addEventListener("click", editing);
  confirmBtn.addEventListener("click", async () => {
    confirmBtn.disabled = true;
    try {
      await sendJson("PATCH", apiPath(ns, group, version, kind, name), { clusterName: d.cluster }, patch);
      banner("istio-write", "info", `${kind} ${ns}/${name} saved in ${d.cluster}.`);
      navigate(route() + location.search, true);
    } catch (e) {
      editing();
      show("error", `Save refused: ${writeErrorText(e)}`);
    } finally {
      confirmBtn.disabled = false;
    }
  });
  deleteBtn.addEventListener("click", () => {
    confirmDelete.hidden = false;
    clear(
      confirmDelete,
      h("p", null, `Delete ${kind} ${ns}/${name} from cluster ${d.cluster}? This cannot be undone.`),
      h(
        "button",
        {
          "data-testid": "confirm-delete-yes",
          class: "danger",
          onclick: async () => {
            try {
              await sendJson("DELETE", apiPath(ns, group, version, kind, name), { clusterName: d.cluster });
              banner("istio-write", "info", `${kind} ${ns}/${name} deleted from ${d.cluster}.`);
              navigate(`console/istio?namespace=${encodeURIComponent(ns)}`);
            } catch (e) {
              confirmDelete.hidden = true;
              show("error", `Delete refused: ${writeErrorText(e)}`);
            }
          },
        },
        "Delete",
      ),
      h("button", { "data-testid": "confirm-delete-no", onclick: () => (confirmDelete.hidden = true) }, "Cancel"),
    );
  });
}
