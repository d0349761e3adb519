// Sparklines of a graph node in the graph's side panel, as Kiali draws them: the node's inbound and outbound HTTP
// request rates (`…/{name}/metrics?filters[]=request_count`, total over the node's cluster) with the charts.ts helper.

import type uPlot from "uplot";
import { get, reportError } from "../api";
import { lastValue, MetricSeries, sparkline } from "../charts";
import { clear, h } from "../dom";
import { rate } from "../format";

export type SparkKind = "applications" | "workloads" | "services";

/** What a panel drew, for the browser tests: per direction the series received and the values uPlot holds. */
export interface DrawnSparks {
  node: string;
  path: string;
  lines: Record<string, { datapoints: Array<[number, string]>; drawn: Array<number | null> }>;
}

declare global {
  interface Window {
    __meshglassSparks?: DrawnSparks;
  }
}

/**
 * The sparklines of node `nodeId` (`kind` `name` in `ns`, in `cluster`) over the graph's `duration` (e.g. "600s").
 * Services have inbound traffic only, as in Kiali.
 */
export function nodeSparklines(nodeId: string, kind: SparkKind, ns: string, name: string, cluster: string, duration: string): HTMLElement {
  const box = h("div", { class: "sparks", "data-testid": "panel-sparklines" }, h("p", { class: "muted" }, "Loading request rates…"));
  const path = `api/namespaces/${encodeURIComponent(ns)}/${kind === "applications" ? "apps" : kind}/${encodeURIComponent(name)}/metrics`;
  const seconds = Math.max(60, parseInt(duration, 10) || 600);
  const step = Math.max(15, Math.round(seconds / 30));
  const directions = kind === "services" ? (["inbound"] as const) : (["inbound", "outbound"] as const);
  const plots: uPlot[] = [];
  void Promise.all(
    directions.map((direction) =>
      get<Record<string, MetricSeries[]>>(path, {
        "filters[]": "request_count",
        direction,
        reporter: direction === "inbound" ? "destination" : "source",
        duration: seconds,
        step,
        rateInterval: `${step}s`,
        clusterName: cluster,
      }).then((m) => [direction, m.request_count?.[0]?.datapoints ?? []] as const),
    ),
  )
    .then((lines) => {
      if (!box.isConnected) return;
      const drawn: DrawnSparks = { node: nodeId, path, lines: {} };
      clear(box);
      for (const [direction, datapoints] of lines) {
        const el = h("div", { class: "spark", "data-direction": direction });
        const label = h("span", { class: "muted" });
        box.append(h("div", { class: "spark-row" }, h("span", null, direction === "inbound" ? "Inbound" : "Outbound"), el, label));
        if (datapoints.length === 0) {
          label.textContent = "no requests";
          drawn.lines[direction] = { datapoints, drawn: [] };
          continue;
        }
        const p = sparkline(el, datapoints, 200, 36);
        plots.push(p);
        const values = Array.from(p.data[1] as ArrayLike<number | null>);
        label.textContent = rate(lastValue(values) ?? 0);
        drawn.lines[direction] = { datapoints, drawn: values };
      }
      window.__meshglassSparks = drawn;
    })
    .catch((e) => {
      reportError("Request rates", e);
      clear(box, h("p", { class: "muted" }, "Request rates could not be loaded."));
    });
  return box;
}
