// Browser tests of the detail pages on the demo mesh, served by the real meshglass-server binary: the Inbound and
// Outbound Metrics tabs (what uPlot drew equals the dashboard JSON the page received, one series per cluster and
// the total, at the simulator's configured rates) and the mTLS locks of the overview and the details, as the TLS
// routes report them. Screenshots go to target/ui-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;

before(async () => ({ demo, page, stop } = await openSuite({ viewport: { width: 1600, height: 1200 } })));
after(async () => stop?.());

const shot = (name) => shotOf(page, name, true);

// Kiali's Istio dashboard charts, in Kiali's order.
const KIALI_CHARTS = [
  "Request volume",
  "Request duration",
  "Request size",
  "Response size",
  "Request throughput",
  "Response throughput",
  "gRPC received",
  "gRPC sent",
  "TCP opened",
  "TCP closed",
  "TCP received",
  "TCP sent",
];

/**
 * Opens the metrics tab `tab` of `path` and waits until the page has drawn a dashboard whose request volume has a
 * last value for every series; returns what the page drew and the JSON of the dashboard answer it received.
 */
async function drawnDashboard(path, tab, direction, settled = () => true) {
  let received = null;
  const onResponse = async (r) => {
    if (r.url().includes("/dashboard?") && r.url().includes(`direction=${direction}`) && r.ok()) received = { url: r.url(), json: await r.json() };
  };
  page.on("response", onResponse);
  try {
    await page.goto(`${demo.url}/${path}?tab=${tab}`);
    return await waitFor(`the ${direction} dashboard of ${path} with rates in every series`, 180_000, async () => {
      const drawn = await page.evaluate((d) => window.__meshglassMetrics?.[d] ?? null, direction);
      const volume = drawn?.charts.find((c) => c.name === "Request volume");
      const complete = volume && volume.series.length > 0 && volume.series.every((s) => s.values.some((v) => v !== null) && s.values[s.values.length - 1] !== null);
      if (!complete || !received || !settled(volume)) {
        // The demo's Prometheus may not hold a rate interval yet: ask again.
        await page.locator('[data-testid="metrics-refresh-now"]').click();
        return null;
      }
      return { drawn, received };
    }, 5_000);
  } finally {
    page.off("response", onResponse);
  }
}

/** The series of a JSON chart on one time axis, as the page should draw them (labels as the page writes them). */
function expected(chart, by) {
  const label = (m) => [m.stat === undefined ? "" : m.stat === "avg" ? "avg" : `p${Math.round(Number(m.stat) * 100)}`, by ? (m.labels[by] ?? "total") : ""].filter(Boolean).join(" ") || m.name;
  const xs = [...new Set(chart.metrics.flatMap((m) => m.datapoints.map((d) => d[0])))].sort((a, b) => a - b);
  const series = chart.metrics
    .map((m) => {
      const at = new Map(m.datapoints.map(([t, v]) => [t, Number.isFinite(Number(v)) ? Number(v) : null]));
      return { label: label(m), values: xs.map((x) => (at.has(x) ? at.get(x) : null)) };
    })
    .sort((a, b) => a.label.localeCompare(b.label));
  return { xs, series };
}

function assertDrawnEqualsJson(drawn, json, by) {
  assert.deepEqual(json.charts.map((c) => c.name), KIALI_CHARTS, "the server's charts in Kiali's order");
  assert.deepEqual(drawn.charts.map((c) => c.name), KIALI_CHARTS, "the page draws every chart in Kiali's order");
  for (const c of json.charts) {
    const d = drawn.charts.find((x) => x.name === c.name);
    const e = expected(c, by);
    if (e.series.length === 0) {
      assert.deepEqual(d.series, [], `${c.name}: no series`);
      continue;
    }
    assert.deepEqual(d.xs, e.xs, `${c.name}: time axis`);
    assert.deepEqual(d.series, e.series, `${c.name}: what uPlot holds equals the JSON`);
  }
}

const last = (s) => s.values.filter((v) => v !== null).at(-1);

/**
 * Whether the last request rates of a request-volume chart are the configured ones (within 15 %): the demo's
 * Prometheus scrapes the simulator live, so right after the demo starts a rate interval is not full yet.
 */
const ratesAre = (want) => (volume) =>
  Object.entries(want).every(([label, rps]) => {
    const s = volume.series.find((x) => x.label === label);
    return s && Math.abs(last(s) - rps) / rps < 0.15;
  });

test("inbound metrics of helloworld, split over east and west: one series per cluster and the total, as received", async () => {
  const want = { east: 4, west: 4, total: 8 };
  const { drawn, received } = await drawnDashboard("console/namespaces/helloworld/applications/helloworld", "in_metrics", "inbound", ratesAre(want));
  assert.match(received.url, /reporter=destination/);
  assert.match(received.url, /byLabels%5B%5D=destination_cluster|byLabels\[\]=destination_cluster/);
  assertDrawnEqualsJson(drawn, received.json, "destination_cluster");

  // The simulator's rates: both sleeps call helloworld at 4 rps each, split evenly over v1 (east) and v2 (west).
  const volume = drawn.charts.find((c) => c.name === "Request volume");
  assert.deepEqual(volume.series.map((s) => s.label), ["east", "total", "west"]);
  const [east, total, west] = volume.series;
  for (const s of [east, west, total]) {
    assert.ok(Math.abs(last(s) - want[s.label]) / want[s.label] < 0.15, `${s.label}: ${last(s)} rps, configured ${want[s.label]}`);
  }
  volume.xs.forEach((_, i) => {
    if (east.values[i] !== null && west.values[i] !== null && total.values[i] !== null) {
      assert.ok(Math.abs(east.values[i] + west.values[i] - total.values[i]) < 1e-6 * Math.max(1, total.values[i]), `total at point ${i}`);
    }
  });
  // Duration: average and p50/p95/p99 of each cluster and of the total.
  const duration = drawn.charts.find((c) => c.name === "Request duration");
  for (const stat of ["avg", "p50", "p95", "p99"]) {
    for (const c of ["east", "west", "total"]) assert.ok(duration.series.some((s) => s.label === `${stat} ${c}`), `duration series ${stat} ${c}: ${duration.series.map((s) => s.label)}`);
  }
  // The legend shows each series' last value.
  const legend = await page.locator('[data-chart="Request volume"] .chart-legend tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.series));
  assert.deepEqual(legend, ["east", "total", "west"]);
  assert.equal(await page.locator('[data-chart="Request volume"] canvas').count(), 1);
  await shot("app-inbound-metrics");
});

test("outbound metrics of the sleep workload running in both clusters, and the cluster filter", async () => {
  const want = { east: 8, west: 6, total: 14 };
  const { drawn, received } = await drawnDashboard("console/namespaces/sample/workloads/sleep", "out_metrics", "outbound", ratesAre(want));
  assert.match(received.url, /reporter=source/);
  assertDrawnEqualsJson(drawn, received.json, "source_cluster");
  const volume = drawn.charts.find((c) => c.name === "Request volume");
  assert.deepEqual(volume.series.map((s) => s.label), ["east", "total", "west"]);
  // east's sleep calls productpage at 4 and helloworld at 4 rps; west's at 2 and 4.
  const byLabel = Object.fromEntries(volume.series.map((s) => [s.label, last(s)]));
  for (const [c, rps] of Object.entries(want)) {
    assert.ok(Math.abs(byLabel[c] - rps) / rps < 0.15, `${c}: ${byLabel[c]} rps, configured ${rps}`);
  }
  await shot("workload-outbound-metrics");

  // Only west: the request carries clusterName and the page draws west's series alone.
  const again = page.waitForResponse((r) => r.url().includes("/dashboard?") && r.url().includes("clusterName=west"));
  await page.selectOption('[data-testid="metrics-cluster"]', "west");
  const json = await (await again).json();
  const onlyWest = await waitFor("west's series alone", 30_000, async () => {
    const d = await page.evaluate(() => window.__meshglassMetrics?.outbound);
    return d?.params.clusterName === "west" ? d : null;
  });
  assertDrawnEqualsJson(onlyWest, json, "source_cluster");
  const labels = onlyWest.charts.find((c) => c.name === "Request volume").series.map((s) => s.label);
  assert.ok(labels.includes("west") && !labels.includes("east"), `series with clusterName=west: ${labels}`);
});

test("the overview and the details show each namespace's mTLS lock as the TLS routes report it", async () => {
  await page.goto(`${demo.url}/console/overview`);
  const rows = page.locator('[data-testid="overview-table"] tbody tr');
  await waitFor("mTLS status on every overview row", 60_000, async () => {
    const n = await rows.count();
    return n > 0 && (await page.locator('[data-testid="overview-table"] [data-testid="mtls"]').count()) === n;
  });
  const shown = await rows.evaluateAll((trs) =>
    trs.map((tr) => {
      const m = tr.querySelector('[data-testid="mtls"]');
      return { key: `${tr.dataset.cluster}/${tr.dataset.namespace}`, status: m.dataset.status, lock: m.textContent === "\u{1F512}", title: m.getAttribute("title") };
    }),
  );
  // What the routes say, combined as Kiali's UI does: mTLS enabled mesh-wide extends to a namespace that sets none.
  const statuses = {};
  for (const c of ["east", "west"]) {
    const list = await page.evaluate(async (c) => (await fetch(`api/clusters/tls?clusterName=${c}`)).json(), c);
    const mesh = (await page.evaluate(async (c) => (await fetch(`api/mesh/tls?clusterName=${c}`)).json(), c)).status;
    for (const t of list) statuses[`${c}/${t.namespace}`] = mesh === "MTLS_ENABLED" && t.status === "MTLS_NOT_ENABLED" ? "MTLS_ENABLED_EXTENDED" : t.status;
  }
  for (const r of shown) {
    assert.equal(r.status, statuses[r.key], `${r.key}: the page shows ${r.status}, the route says ${statuses[r.key]}`);
    const locked = ["MTLS_ENABLED", "MTLS_ENABLED_EXTENDED", "MTLS_PARTIALLY_ENABLED"].includes(r.status);
    assert.equal(r.lock, locked, `${r.key}: lock drawn for ${r.status}`);
    if (r.status === "MTLS_ENABLED_EXTENDED") assert.equal(r.title, "mTLS is enabled for this namespace, extended from Mesh-wide config");
  }
  // The demo's mesh-wide STRICT PeerAuthentication (istio-system of east) locks east's namespaces.
  assert.equal(shown.find((r) => r.key === "east/bookinfo")?.status, "MTLS_ENABLED_EXTENDED", JSON.stringify(shown));
  await shot("overview-mtls");

  await page.goto(`${demo.url}/console/namespaces/bookinfo/applications/reviews`);
  const cell = page.locator('[data-testid="detail-mtls"] [data-cluster]');
  await waitFor("the details' mTLS per cluster", 30_000, async () => (await cell.count()) === 2);
  for (const c of ["east", "west"]) {
    const status = await page.locator(`[data-testid="detail-mtls"] [data-cluster="${c}"] [data-testid="mtls"]`).getAttribute("data-status");
    assert.equal(status, statuses[`${c}/bookinfo`], `details of reviews, ${c}`);
  }
});
