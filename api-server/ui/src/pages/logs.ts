// The Logs tab of a workload, as Kiali's: a pod of any cluster the workload runs in, its application and proxy
// containers side by side, the time range (`sinceTime`) and line count (`tailLines`), search with highlight, and
// follow (the server's NDJSON stream of `…/logs?follow=true`, taken up again when the server ends it).

import { apiUrl, get, reportError } from "../api";
import { clear, h, select } from "../dom";

/** Kiali's `Pod` as the workload details carry it (`cluster` is ours). */
export interface PodRef {
  name: string;
  cluster?: string;
  containers?: Array<{ name: string }>;
  istioContainers?: Array<{ name: string }>;
}

/** One of Kiali's `LogEntry`. */
export interface LogEntry {
  timestamp: string;
  timestampUnix: number;
  message: string;
  severity: string;
}

/** What the viewer shows, for the browser tests: pane → the messages of its lines. */
declare global {
  interface Window {
    __meshglassLogs?: { pod: string; cluster: string; panes: Record<string, string[]>; following: boolean };
  }
}

const SINCE: Array<[string, string]> = [
  ["300", "Last 5m"],
  ["1800", "Last 30m"],
  ["3600", "Last 1h"],
  ["21600", "Last 6h"],
  ["86400", "Last 1d"],
  ["0", "All"],
];
const TAIL: Array<[string, string]> = [
  ["100", "100 lines"],
  ["300", "300 lines"],
  ["1000", "1000 lines"],
  ["5000", "5000 lines"],
];

function podKey(p: PodRef): string {
  return `${p.cluster ?? ""}/${p.name}`;
}

/** A pane of one container: its lines, filtered and highlighted by the search text. */
class Pane {
  readonly el: HTMLElement;
  private readonly lines: HTMLElement;
  private readonly count: HTMLElement;
  entries: LogEntry[] = [];
  private seen = new Set<string>();

  constructor(
    readonly container: string,
    isProxy: boolean,
  ) {
    this.lines = h("div", { class: "log-lines", "data-testid": "log-lines" });
    this.count = h("span", { class: "muted" });
    this.el = h(
      "div",
      { class: "log-pane", "data-container": container },
      h("div", { class: "log-pane-head" }, h("strong", null, container), isProxy ? h("span", { class: "tag" }, "proxy") : null, " ", this.count),
      this.lines,
    );
  }

  /** Adds entries not seen yet (a taken-up follow may repeat the last second); true when some were new. */
  add(list: LogEntry[], search: string): boolean {
    let added = false;
    for (const e of list) {
      const k = `${e.timestampUnix} ${e.message}`;
      if (this.seen.has(k)) continue;
      this.seen.add(k);
      this.entries.push(e);
      this.lines.appendChild(this.line(e, search));
      added = true;
    }
    if (added) this.lines.scrollTop = this.lines.scrollHeight;
    this.counted(search);
    return added;
  }

  redraw(search: string): void {
    clear(this.lines, this.entries.map((e) => this.line(e, search)));
    this.counted(search);
  }

  private counted(search: string): void {
    const hits = search ? this.entries.filter((e) => e.message.toLowerCase().includes(search.toLowerCase())).length : 0;
    this.count.textContent = search ? `${hits} of ${this.entries.length} lines match` : `${this.entries.length} lines`;
  }

  private line(e: LogEntry, search: string): HTMLElement {
    const msg = h("span", { class: "log-msg" });
    const at = search ? e.message.toLowerCase().indexOf(search.toLowerCase()) : -1;
    if (at >= 0) {
      msg.append(e.message.slice(0, at), h("mark", null, e.message.slice(at, at + search.length)), e.message.slice(at + search.length));
    } else {
      msg.textContent = e.message;
    }
    return h("div", { class: `log-line sev-${e.severity}${at >= 0 ? " hit" : ""}`, "data-severity": e.severity }, h("span", { class: "log-ts" }, e.timestamp), " ", msg);
  }
}

/** Reads an NDJSON stream of log entries, calling `onEntry` for each, until it ends or `signal` aborts. */
async function followStream(url: string, signal: AbortSignal, onEntry: (e: LogEntry) => void): Promise<void> {
  const r = await fetch(url, { headers: { Accept: "application/x-ndjson" }, signal });
  if (!r.ok || !r.body) {
    const b = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(b.error || `HTTP ${r.status}`);
  }
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onEntry(JSON.parse(line) as LogEntry);
    }
  }
}

/** The log viewer of the pods `pods` (of every cluster) in `ns`, until `signal` aborts. */
export function logViewer(ns: string, pods: PodRef[], signal: AbortSignal): HTMLElement {
  if (pods.length === 0) return h("p", { class: "muted", "data-testid": "logs-none" }, "No pods.");
  const podSel = select(
    { "aria-label": "pod", "data-testid": "logs-pod" },
    pods.map((p): [string, string] => [podKey(p), p.cluster ? `${p.name} (${p.cluster})` : p.name]),
    podKey(pods[0]),
  );
  const sinceSel = select({ "aria-label": "since", "data-testid": "logs-since" }, SINCE, "0");
  const tailSel = select({ "aria-label": "lines", "data-testid": "logs-tail" }, TAIL, "100");
  const search = h("input", { type: "search", placeholder: "Search", "data-testid": "logs-search" });
  const follow = h("input", { type: "checkbox", "data-testid": "logs-follow" });
  const boxes = h("span", { class: "log-containers", "data-testid": "logs-containers" });
  const panesEl = h("div", { class: "log-panes", "data-testid": "log-panes" });
  const root = h(
    "div",
    { class: "log-viewer" },
    h(
      "div",
      { class: "toolbar" },
      h("fieldset", null, h("legend", null, "Pod"), podSel),
      h("fieldset", null, h("legend", null, "Containers"), boxes),
      h("fieldset", null, h("legend", null, "Since"), sinceSel, tailSel),
      h("label", { class: "check" }, follow, "Follow"),
      search,
    ),
    panesEl,
  );

  let panes: Pane[] = [];
  let run: AbortController | null = null;
  const publish = () => {
    const p = pods.find((x) => podKey(x) === podSel.value)!;
    window.__meshglassLogs = {
      pod: p.name,
      cluster: p.cluster ?? "",
      panes: Object.fromEntries(panes.map((x) => [x.container, x.entries.map((e) => e.message)])),
      following: follow.checked,
    };
  };
  const params = (p: PodRef, container: string, extra: Record<string, string> = {}) => {
    const since = Number(sinceSel.value);
    return {
      container,
      clusterName: p.cluster,
      tailLines: tailSel.value,
      sinceTime: since > 0 ? String(Math.floor(Date.now() / 1000) - since) : undefined,
      ...extra,
    };
  };
  /** Follows `pane` from its last line on, taking the stream up again when the server ends it. */
  const followPane = async (p: PodRef, pane: Pane, ctl: AbortController) => {
    while (!ctl.signal.aborted && follow.checked) {
      const last = pane.entries[pane.entries.length - 1];
      const extra: Record<string, string> = { follow: "true" };
      if (last) extra.sinceTime = String(Math.floor(last.timestampUnix / 1000));
      const url = apiUrl(`api/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.name)}/logs`, params(p, pane.container, extra));
      try {
        await followStream(url, ctl.signal, (e) => {
          if (pane.add([e], search.value.trim())) publish();
        });
      } catch (e) {
        if ((e as Error).name === "AbortError") return;
        reportError(`Logs of ${pane.container}`, e);
        return;
      }
    }
  };
  const load = async () => {
    run?.abort();
    const ctl = new AbortController();
    run = ctl;
    signal.addEventListener("abort", () => ctl.abort(), { once: true });
    const p = pods.find((x) => podKey(x) === podSel.value)!;
    const app = (p.containers ?? []).map((c) => c.name);
    const proxy = (p.istioContainers ?? []).map((c) => c.name);
    const chosen = new Set(Array.from(boxes.querySelectorAll<HTMLInputElement>("input:checked")).map((i) => i.value));
    // First load of a pod: the application and the proxy side by side, as Kiali shows them.
    const keep = boxes.dataset.pod === podKey(p) ? chosen : new Set([...app, ...proxy]);
    boxes.dataset.pod = podKey(p);
    clear(
      boxes,
      [...app.map((c) => [c, false] as const), ...proxy.map((c) => [c, true] as const)].map(([c, isProxy]) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", value: c, checked: keep.has(c), "data-container": c, "data-proxy": isProxy ? "true" : undefined, onchange: () => void load() }), c),
      ),
    );
    panes = [...app, ...proxy].filter((c) => keep.has(c)).map((c) => new Pane(c, proxy.includes(c)));
    clear(panesEl, panes.map((x) => x.el));
    await Promise.all(
      panes.map(async (pane) => {
        try {
          const r = await get<{ entries: LogEntry[] }>(
            `api/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.name)}/logs`,
            params(p, pane.container),
            ctl.signal,
          );
          pane.add(r.entries ?? [], search.value.trim());
        } catch (e) {
          reportError(`Logs of ${pane.container}`, e);
        }
      }),
    );
    if (ctl.signal.aborted) return;
    publish();
    if (follow.checked) for (const pane of panes) void followPane(p, pane, ctl);
  };
  for (const el of [podSel, sinceSel, tailSel, follow]) el.addEventListener("change", () => void load());
  search.addEventListener("input", () => panes.forEach((p) => p.redraw(search.value.trim())));
  signal.addEventListener("abort", () => run?.abort());
  void load();
  return root;
}
