// Time-series charts (uPlot) of Kiali's metric series: one chart per dashboard chart, and sparklines.
// uPlot draws on a canvas, is ~50 kB and needs no framework (README "Why these packages").

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

/** One series of Kiali's metrics JSON: `datapoints` are `[unix seconds, "value"]`. */
export interface MetricSeries {
  name: string;
  labels: Record<string, string>;
  datapoints: Array<[number, string]>;
  stat?: string;
}

/** A series as drawn: its legend label and its values on the chart's shared time axis. */
export interface DrawnSeries {
  label: string;
  values: Array<number | null>;
}

const PALETTE = ["#0066cc", "#6a3d9a", "#3e8635", "#c9190b", "#f0ab00", "#009596", "#8a8d90", "#ec7a08"];

/** A sample value as Kiali writes it ("NaN", "+Inf" …), or null when it is not a finite number. */
export function sample(v: string): number | null {
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** The series on one time axis: every timestamp of any series, and each series' value there (null when absent). */
export function align(series: Array<{ label: string; datapoints: Array<[number, string]> }>): { xs: number[]; drawn: DrawnSeries[] } {
  const xs = Array.from(new Set(series.flatMap((s) => s.datapoints.map((d) => d[0])))).sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const drawn = series.map((s) => {
    const values: Array<number | null> = new Array(xs.length).fill(null);
    for (const [t, v] of s.datapoints) values[at.get(t)!] = sample(v);
    return { label: s.label, values };
  });
  return { xs, drawn };
}

/** Formats a value of Kiali's chart `unit` (ops, seconds, bytes, bitrate, msgrate, connrate). */
export function formatUnit(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return "–";
  const fixed = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
  switch (unit) {
    case "ops":
      return `${fixed(v)} rps`;
    case "seconds":
      return v >= 1 ? `${fixed(v)} s` : `${fixed(v * 1000)} ms`;
    case "bytes":
    case "bitrate": {
      const suffix = unit === "bytes" ? "B" : "bit/s";
      const k = [["G", 1e9], ["M", 1e6], ["k", 1e3]] as const;
      for (const [p, f] of k) if (Math.abs(v) >= f) return `${fixed(v / f)} ${p}${suffix}`;
      return `${fixed(v)} ${suffix}`;
    }
    case "msgrate":
      return `${fixed(v)} msg/s`;
    case "connrate":
      return `${fixed(v)} conn/s`;
    default:
      return fixed(v);
  }
}

/** The last non-null value of a drawn series. */
export function lastValue(values: Array<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/**
 * A time chart of `series` in `el`, `width` pixels wide, with a legend table of each series' last value. Returns the
 * uPlot instance (destroy it when the page goes) and what it drew.
 */
export function timeChart(
  el: HTMLElement,
  unit: string,
  series: Array<{ label: string; datapoints: Array<[number, string]> }>,
  width: number,
  height = 180,
): { plot: uPlot; xs: number[]; drawn: DrawnSeries[] } {
  const { xs, drawn } = align(series);
  const opts: uPlot.Options = {
    width,
    height,
    legend: { show: false },
    cursor: { points: { size: 5 } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), max && max > 0 ? max * 1.1 : 1] } },
    axes: [{}, { size: 84, values: (_u, ticks) => ticks.map((t) => formatUnit(t, unit)) }],
    series: [{}, ...drawn.map((d, i) => ({ label: d.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false }))],
  };
  const data = [xs, ...drawn.map((d) => d.values)] as unknown as uPlot.AlignedData;
  const plot = new uPlot(opts, data, el);
  el.appendChild(
    h(
      "table",
      { class: "chart-legend" },
      drawn.map((d, i) =>
        h(
          "tr",
          { "data-series": d.label },
          h("td", null, h("span", { class: "swatch", style: `background:${PALETTE[i % PALETTE.length]}` })),
          h("td", null, d.label),
          h("td", { class: "num", "data-testid": "last-value" }, formatUnit(lastValue(d.values), unit)),
        ),
      ),
    ),
  );
  return { plot, xs, drawn };
}

/** A small line without axes (Kiali's sparklines in the graph's side panel and the overview). */
export function sparkline(el: HTMLElement, datapoints: Array<[number, string]>, width = 160, height = 36): uPlot {
  const { xs, drawn } = align([{ label: "", datapoints }]);
  return new uPlot(
    {
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, max && max > 0 ? max * 1.1 : 1] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: "#0066cc", width: 1.5, fill: "rgba(0,102,204,0.12)" }],
    },
    [xs, drawn[0]?.values ?? []] as unknown as uPlot.AlignedData,
    el,
  );
}
