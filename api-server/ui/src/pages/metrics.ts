// Inbound and outbound metrics of an app, a workload or a service: Kiali's dashboard (`…/{name}/dashboard`), its
// charts in Kiali's order (request volume, duration avg/p50/p95/p99, sizes, throughput, gRPC, TCP), with a time
// range, a refresh interval, the reporter, a cluster and a "show by" label (one series per cluster by default,
// beside the total over the clusters).

import type uPlot from "uplot";
import { get, reportError } from "../api";
import { DrawnSeries, MetricSeries, timeChart } from "../charts";
import { clear, h, select } from "../dom";

export type Direction = "inbound" | "outbound";

interface DashboardChart {
  name: string;
  unit: string;
  metrics: MetricSeries[];
}

/** Kiali's Istio `MonitoringDashboard`. */
export interface Dashboard {
  title: string;
  charts: DashboardChart[];
  aggregations: Array<{ label: string; displayName: string }>;
}

/** What the page drew, for the browser tests: the JSON it received and each chart's series as uPlot holds them. */
export interface DrawnDashboard {
  path: string;
  params: Record<string, string | string[]>;
  dashboard: Dashboard;
  charts: Array<{ name: string; unit: string; xs: number[]; series: DrawnSeries[] }>;
}

declare global {
  interface Window {
    __meshglassMetrics?: Partial<Record<Direction, DrawnDashboard>>;
  }
}

const DURATIONS: Array<[string, string]> = [
  ["300", "Last 5m"],
  ["600", "Last 10m"],
  ["1800", "Last 30m"],
  ["3600", "Last 1h"],
  ["10800", "Last 3h"],
  ["21600", "Last 6h"],
];
const REFRESH: Array<[string, string]> = [
  ["0", "Manual"],
  ["15", "Every 15s"],
  ["30", "Every 30s"],
  ["60", "Every 1m"],
];

/** The label of a series in a chart: its statistic (duration charts) and the value of the "show by" label. */
function seriesLabel(m: MetricSeries, by: string): string {
  const stat = m.stat === undefined ? "" : m.stat === "avg" ? "avg" : `p${Math.round(Number(m.stat) * 100)}`;
  const group = by ? (m.labels[by] ?? "total") : "";
  return [stat, group].filter(Boolean).join(" ") || m.name;
}

/** The API path of the dashboard of `kind` `name` in `ns`. */
export function dashboardPath(kind: "applications" | "workloads" | "services", ns: string, name: string): string {
  const k = kind === "applications" ? "apps" : kind;
  return `api/namespaces/${encodeURIComponent(ns)}/${k}/${encodeURIComponent(name)}/dashboard`;
}

/**
 * The metrics tab of `direction`: its controls and charts, fetched now and on every refresh until `signal` aborts.
 * `clusters`: the clusters the object runs in (the cluster filter's choices).
 */
export function metricsTab(
  kind: "applications" | "workloads" | "services",
  ns: string,
  name: string,
  direction: Direction,
  clusters: string[],
  signal: AbortSignal,
): HTMLElement {
  const local = direction === "inbound" ? "destination" : "source";
  const q = new URLSearchParams(location.search);
  const durSel = select({ "aria-label": "time range", "data-testid": "metrics-duration" }, DURATIONS, q.get("duration") ?? "600");
  const refreshSel = select({ "aria-label": "refresh", "data-testid": "metrics-refresh" }, REFRESH, "0");
  const reporterSel = select(
    { "aria-label": "reporter", "data-testid": "metrics-reporter" },
    [
      ["destination", "Destination"],
      ["source", "Source"],
      ["both", "Both"],
    ],
    local,
  );
  const clusterSel = select({ "aria-label": "cluster", "data-testid": "metrics-cluster" }, [["", "All clusters"], ...clusters.map((c): [string, string] => [c, c])], "");
  // "Show by": Kiali's aggregations of the dashboard; by default the object's own cluster (one series per cluster).
  const bySel = select({ "aria-label": "show by", "data-testid": "metrics-by" }, [["", "None (total)"], [`${local}_cluster`, "Local cluster"]], `${local}_cluster`);
  const refreshBtn = h("button", { "data-testid": "metrics-refresh-now" }, "Refresh");
  const grid = h("div", { class: "metrics-grid", "data-testid": `metrics-${direction}` }, h("p", { class: "muted" }, "Loading metrics…"));
  const root = h(
    "div",
    { class: "metrics-tab" },
    h(
      "div",
      { class: "toolbar" },
      h("fieldset", null, h("legend", null, "Time range"), durSel),
      h("fieldset", null, h("legend", null, "Refresh"), refreshSel, refreshBtn),
      h("fieldset", null, h("legend", null, "Reporter"), reporterSel),
      h("fieldset", null, h("legend", null, "Cluster"), clusterSel),
      h("fieldset", null, h("legend", null, "Show by"), bySel),
    ),
    grid,
  );

  let plots: uPlot[] = [];
  let timer: number | undefined;
  let seq = 0;
  const destroy = () => {
    for (const p of plots) p.destroy();
    plots = [];
  };
  const load = async () => {
    const mine = ++seq;
    const duration = Number(durSel.value);
    // About 40 points per chart, never under Prometheus' usual 15s scrape interval.
    const step = Math.max(15, Math.round(duration / 40));
    const by = bySel.value;
    const params: Record<string, string | string[]> = {
      direction,
      reporter: reporterSel.value,
      duration: String(duration),
      step: String(step),
      rateInterval: `${Math.max(60, step * 2)}s`,
      "quantiles[]": ["0.5", "0.95", "0.99"],
      avg: "true",
    };
    if (by) params["byLabels[]"] = [by];
    if (clusterSel.value) params.clusterName = clusterSel.value;
    const path = dashboardPath(kind, ns, name);
    const url = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) url.append(k, x);
    let d: Dashboard;
    try {
      d = await get<Dashboard>(`${path}?${url}`, undefined, signal);
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      reportError(`${direction === "inbound" ? "Inbound" : "Outbound"} metrics`, e);
      clear(grid, h("p", { class: "muted" }, "No metrics (see the message above)."));
      return;
    }
    if (signal.aborted || mine !== seq) return;
    destroy();
    clear(grid);
    const width = Math.max(320, Math.floor((grid.clientWidth || 1200) / 2) - 24);
    const charts: DrawnDashboard["charts"] = [];
    for (const c of d.charts) {
      const box = h("div", { class: "chart", "data-chart": c.name }, h("h4", null, c.name));
      grid.appendChild(box);
      const series = c.metrics
        .map((m) => ({ label: seriesLabel(m, by), datapoints: m.datapoints }))
        .sort((a, b) => a.label.localeCompare(b.label));
      if (series.length === 0 || series.every((s) => s.datapoints.length === 0)) {
        box.appendChild(h("p", { class: "muted no-data" }, "No data"));
        charts.push({ name: c.name, unit: c.unit, xs: [], series: [] });
        continue;
      }
      const r = timeChart(box, c.unit, series, width);
      plots.push(r.plot);
      // What uPlot holds (its data arrays), not what was handed to it.
      const held = r.plot.data;
      charts.push({
        name: c.name,
        unit: c.unit,
        xs: Array.from(held[0] as ArrayLike<number>),
        series: r.drawn.map((s, i) => ({ label: s.label, values: Array.from(held[i + 1] as ArrayLike<number | null>) })),
      });
    }
    window.__meshglassMetrics = { ...(window.__meshglassMetrics ?? {}), [direction]: { path, params, dashboard: d, charts } };
  };
  const schedule = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    const every = Number(refreshSel.value);
    if (every > 0) timer = window.setInterval(() => void load(), every * 1000);
  };
  for (const el of [durSel, reporterSel, clusterSel, bySel]) el.addEventListener("change", () => void load());
  refreshSel.addEventListener("change", schedule);
  refreshBtn.addEventListener("click", () => void load());
  signal.addEventListener("abort", () => {
    if (timer !== undefined) clearInterval(timer);
    destroy();
  });
  void load();
  return root;
}
