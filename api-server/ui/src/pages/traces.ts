// The Traces tab of an app, workload or service (`?tab=traces`), as Kiali shows it: a scatter of trace durations over
// time (uPlot), the trace list of the route's answer, and a trace's detail — its span tree with each span's timing,
// service and the cluster it ran in (`istio.cluster_id`, which an Istio Telemetry object adds to every span).

import uPlot from "uplot";
import { get, reportError } from "../api";
import { clear, h, select } from "../dom";
import type { DetailKind } from "./details";

interface KeyValue {
  key: string;
  value: unknown;
}

export interface TraceSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags?: KeyValue[];
  processID?: string;
}

export interface Trace {
  traceID: string;
  spans: TraceSpan[];
  processes?: Record<string, { serviceName: string; tags?: KeyValue[] }>;
}

/** The span tag `key`, as a string (Jaeger's tags are `{key, type, value}`). */
export function tag(s: TraceSpan, key: string): string | undefined {
  const t = s.tags?.find((x) => x.key === key);
  return t === undefined ? undefined : String(t.value);
}

/** Whether a span says it failed (`error` tag true, as Jaeger writes an OTLP error status). */
export function spanError(s: TraceSpan): boolean {
  return tag(s, "error") === "true";
}

/** A trace's root span (no parent within the trace), its duration in µs and its start. */
export function summary(t: Trace): { root: TraceSpan | undefined; start: number; durationUs: number; errors: number; clusters: string[] } {
  const ids = new Set(t.spans.map((s) => s.spanID));
  const root = t.spans.find((s) => !(s.references ?? []).some((r) => r.refType === "CHILD_OF" && ids.has(r.spanID))) ?? t.spans[0];
  const start = Math.min(...t.spans.map((s) => s.startTime));
  const end = Math.max(...t.spans.map((s) => s.startTime + s.duration));
  const clusters = Array.from(new Set(t.spans.map((s) => tag(s, "istio.cluster_id")).filter((c): c is string => !!c))).sort();
  return { root, start, durationUs: t.spans.length ? end - start : 0, errors: t.spans.filter(spanError).length, clusters };
}

/** The spans in tree order (parents before their children, siblings by start), each with its depth. */
export function spanTree(t: Trace): Array<{ span: TraceSpan; depth: number }> {
  const ids = new Set(t.spans.map((s) => s.spanID));
  const parent = (s: TraceSpan) => (s.references ?? []).find((r) => r.refType === "CHILD_OF" && ids.has(r.spanID))?.spanID;
  const children = new Map<string | undefined, TraceSpan[]>();
  for (const s of t.spans) {
    const p = parent(s);
    children.set(p, [...(children.get(p) ?? []), s]);
  }
  const out: Array<{ span: TraceSpan; depth: number }> = [];
  const walk = (p: string | undefined, depth: number) => {
    for (const s of (children.get(p) ?? []).sort((a, b) => a.startTime - b.startTime)) {
      out.push({ span: s, depth });
      walk(s.spanID, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

const msOf = (us: number) => (us >= 1_000_000 ? `${(us / 1_000_000).toFixed(2)} s` : `${(us / 1000).toFixed(2)} ms`);
const service = (t: Trace, s: TraceSpan) => (s.processID && t.processes?.[s.processID]?.serviceName) || tag(s, "istio.canonical_service") || "";

/** Test hook: what the tab shows (the route's traces and the open trace's spans). */
declare global {
  interface Window {
    __meshglassTraces?: { traceIds: string[]; open?: { traceID: string; spans: Array<{ spanID: string; cluster: string }> } };
  }
}

const RANGES: Array<[string, number]> = [
  ["Last 5 minutes", 300],
  ["Last 10 minutes", 600],
  ["Last 30 minutes", 1800],
  ["Last hour", 3600],
];

export function tracesTab(kind: DetailKind, ns: string, name: string, signal: AbortSignal): HTMLElement {
  const path = `api/namespaces/${encodeURIComponent(ns)}/${kind === "applications" ? "apps" : kind}/${encodeURIComponent(name)}/traces`;
  const range = select({ "data-testid": "traces-range" }, RANGES.map(([label, s]) => [String(s), label]), "600");
  const limit = select({ "data-testid": "traces-limit" }, ["20", "50", "100", "200"].map((n) => [n, `${n} traces`]), "100");
  const errorsOnly = h("input", { type: "checkbox", "data-testid": "traces-errors" });
  const status = h("span", { class: "muted", "data-testid": "traces-status" }, "Loading…");
  const chart = h("div", { class: "traces-scatter", "data-testid": "traces-scatter" });
  const list = h("div", { "data-testid": "traces-list" });
  const detail = h("section", { class: "trace-detail", "data-testid": "trace-detail" });
  let plot: uPlot | null = null;
  let traces: Trace[] = [];
  signal.addEventListener("abort", () => plot?.destroy());

  const openTrace = async (id: string) => {
    clear(detail, h("p", { class: "muted" }, `Loading trace ${id}…`));
    let t: Trace;
    try {
      t = (await get<{ data: Trace }>(`api/traces/${encodeURIComponent(id)}`, undefined, signal)).data;
    } catch (e) {
      reportError(`Trace ${id}`, e);
      clear(detail, h("p", { class: "muted" }, `Trace ${id} could not be loaded.`));
      return;
    }
    const { start, durationUs, clusters } = summary(t);
    const rows = spanTree(t);
    const total = Math.max(durationUs, 1);
    clear(
      detail,
      h("h3", null, `Trace ${t.traceID}`),
      h("p", { class: "muted" }, `${t.spans.length} spans, ${msOf(durationUs)}, clusters: ${clusters.join(", ") || "none"}`),
      h(
        "table",
        { class: "grid span-tree", "data-testid": "span-tree" },
        h("thead", null, h("tr", null, ["Operation", "Service", "Cluster", "Start", "Duration", "Timeline"].map((c) => h("th", null, c)))),
        h(
          "tbody",
          null,
          rows.map(({ span: s, depth }) => {
            const cluster = tag(s, "istio.cluster_id") ?? "";
            const left = ((s.startTime - start) / total) * 100;
            const width = Math.max((s.duration / total) * 100, 0.5);
            return h(
              "tr",
              { "data-span-id": s.spanID, "data-cluster": cluster, class: spanError(s) ? "span-error" : "" },
              h("td", { style: `padding-left:${0.5 + depth * 1.2}em` }, s.operationName, spanError(s) ? h("span", { class: "span-error-flag", title: "error" }, " ⚠") : null),
              h("td", null, service(t, s)),
              h("td", { "data-testid": "span-cluster" }, cluster ? h("span", { class: "cluster-chip ok" }, cluster) : "–"),
              h("td", { class: "num" }, `+${msOf(s.startTime - start)}`),
              h("td", { class: "num" }, msOf(s.duration)),
              h("td", null, h("div", { class: "span-track" }, h("div", { class: "span-bar", style: `margin-left:${left.toFixed(2)}%;width:${width.toFixed(2)}%` }))),
            );
          }),
        ),
      ),
    );
    window.__meshglassTraces = {
      traceIds: window.__meshglassTraces?.traceIds ?? [],
      open: { traceID: t.traceID, spans: rows.map(({ span: s }) => ({ spanID: s.spanID, cluster: tag(s, "istio.cluster_id") ?? "" })) },
    };
  };

  const draw = () => {
    const shown = errorsOnly.checked ? traces.filter((t) => summary(t).errors > 0) : traces;
    const sums = shown.map((t) => ({ t, ...summary(t) })).sort((a, b) => b.start - a.start);
    // Scatter: x the trace's start (s), y its duration (ms); failed traces as a second, red series.
    const byTime = [...sums].sort((a, b) => a.start - b.start);
    const xs = byTime.map((s) => s.start / 1e6);
    const ok = byTime.map((s) => (s.errors ? null : s.durationUs / 1000));
    const bad = byTime.map((s) => (s.errors ? s.durationUs / 1000 : null));
    plot?.destroy();
    clear(chart);
    const points = (stroke: string) => ({ stroke, fill: stroke, paths: () => null, points: { show: true, size: 7, stroke, fill: stroke } });
    plot = new uPlot(
      {
        width: Math.max(400, Math.min(1100, chart.clientWidth || 900)),
        height: 200,
        legend: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max && max > 0 ? max * 1.1 : 1] } },
        axes: [{}, { size: 70, values: (_u, ticks) => ticks.map((v) => `${v} ms`) }],
        series: [{}, { label: "traces", ...points("#0066cc") }, { label: "with errors", ...points("#c9190b") }],
        cursor: { points: { show: false } },
        hooks: {
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              chart.title = i === null || i === undefined ? "" : `${byTime[i].root?.operationName ?? ""}: ${msOf(byTime[i].durationUs)}`;
            },
          ],
        },
      },
      [xs, ok, bad] as unknown as uPlot.AlignedData,
      chart,
    );
    chart.onclick = () => {
      const i = plot?.cursor.idx;
      if (i !== null && i !== undefined && byTime[i]) void openTrace(byTime[i].t.traceID);
    };
    clear(
      list,
      sums.length === 0
        ? h("p", { class: "muted" }, "No traces in this time range.")
        : h(
            "table",
            { class: "grid", "data-testid": "traces-table" },
            h("thead", null, h("tr", null, ["Trace", "Started", "Root operation", "Duration", "Spans", "Errors", "Clusters"].map((c) => h("th", null, c)))),
            h(
              "tbody",
              null,
              sums.map((s) =>
                h(
                  "tr",
                  { "data-trace-id": s.t.traceID, class: s.errors ? "trace-row span-error" : "trace-row", onclick: () => void openTrace(s.t.traceID) },
                  h("td", null, h("code", null, s.t.traceID.slice(0, 12))),
                  h("td", null, new Date(s.start / 1000).toLocaleTimeString()),
                  h("td", null, s.root ? `${service(s.t, s.root)} ${s.root.operationName}` : ""),
                  h("td", { class: "num" }, msOf(s.durationUs)),
                  h("td", { class: "num" }, String(s.t.spans.length)),
                  h("td", { class: "num" }, String(s.errors)),
                  h("td", null, s.clusters.map((c) => [h("span", { class: "cluster-chip ok" }, c), " "])),
                ),
              ),
            ),
          ),
    );
    window.__meshglassTraces = { traceIds: sums.map((s) => s.t.traceID), open: window.__meshglassTraces?.open };
  };

  const load = async () => {
    status.textContent = "Loading…";
    const end = Date.now() * 1000;
    try {
      const r = await get<{ data: Trace[] | null }>(path, { startMicros: String(end - Number(range.value) * 1e6), endMicros: String(end), limit: limit.value }, signal);
      traces = r.data ?? [];
      status.textContent = `${traces.length} traces`;
      draw();
    } catch (e) {
      reportError("Traces", e);
      status.textContent = "Traces could not be loaded (see the message above).";
    }
  };
  range.onchange = () => void load();
  limit.onchange = () => void load();
  errorsOnly.onchange = () => draw();
  void load();
  return h(
    "section",
    { "data-testid": "detail-traces" },
    h(
      "div",
      { class: "toolbar" },
      range,
      limit,
      h("label", null, errorsOnly, " with errors only"),
      h("button", { "data-testid": "traces-refresh", onclick: () => void load() }, "Refresh"),
      status,
    ),
    chart,
    list,
    detail,
  );
}
