// Browser tests of traces and the graph's sparklines on the demo mesh, served by the real meshglass-server binary
// reading the demo's Jaeger, which the simulator's live sender fills: a workload's Traces tab lists exactly the traces
// the route returned, a cross-cluster trace's span tree shows each span's cluster as its `istio.cluster_id` says, and
// the side panel of a graph node draws its request-rate sparklines with the values of the metrics JSON and links to
// the node's traces. Screenshots go to target/ui-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;

before(async () => ({ demo, page, stop } = await openSuite({ viewport: { width: 1600, height: 1200 } })));
after(async () => stop?.());

const shot = (name) => shotOf(page, name, true);
const clusterOf = (span) => span.tags?.find((t) => t.key === "istio.cluster_id")?.value;

/** The traces JSON of the next answer of `route` (a path fragment) the page receives while `act` runs. */
async function answerOf(fragment, act) {
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().includes(fragment) && r.request().method() === "GET", { timeout: 60_000 }), act()]);
  assert.equal(resp.status(), 200, `${resp.url()}: ${await resp.text()}`);
  return resp.json();
}

test("a workload's traces tab lists the route's traces; a cross-cluster trace shows each span's cluster", async () => {
  const route = "/api/namespaces/bookinfo/workloads/reviews-v3/traces";
  // The live sender posts every few seconds: refresh until the route returns a trace that crosses the clusters.
  let body = await answerOf(route, () => page.goto(`${demo.url}/console/namespaces/bookinfo/workloads/reviews-v3?tab=traces`));
  const crossing = (b) => (b.data ?? []).find((t) => new Set(t.spans.map(clusterOf)).size > 1);
  body = await waitFor("a cross-cluster trace of reviews-v3", 120_000, async () => {
    if (crossing(body)) return body;
    body = await answerOf(route, () => page.click('[data-testid="traces-refresh"]'));
    return crossing(body) ? body : null;
  });
  const ids = body.data.map((t) => t.traceID);
  const shown = await waitFor("the trace list of that answer", 30_000, async () => {
    const rows = await page.locator('[data-testid="traces-table"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.traceId));
    return rows.length === ids.length ? rows : null;
  });
  assert.equal(shown.length, ids.length, "as many rows as the route returned traces");
  assert.deepEqual([...shown].sort(), [...ids].sort());
  assert.equal(await page.locator('[data-testid="traces-status"]').innerText(), `${ids.length} traces`);
  // The scatter holds one point per trace (ok and failed series together).
  const points = await page.evaluate(() => window.__meshglassTraces.traceIds.length);
  assert.equal(points, ids.length);

  const trace = crossing(body);
  const single = await answerOf(`/api/traces/${trace.traceID}`, () => page.click(`[data-trace-id="${trace.traceID}"]`));
  const rows = await waitFor("the span tree of the trace", 30_000, async () => {
    const r = await page.locator('[data-testid="span-tree"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ id: tr.dataset.spanId, cluster: tr.querySelector('[data-testid="span-cluster"]').innerText.trim() })),
    );
    return r.length === single.data.spans.length ? r : null;
  });
  const want = new Map(single.data.spans.map((s) => [s.spanID, clusterOf(s)]));
  for (const r of rows) {
    assert.ok(want.has(r.id), `span ${r.id} is not in the trace`);
    assert.equal(r.cluster, want.get(r.id), `span ${r.id}'s cluster`);
  }
  const clusters = new Set(rows.map((r) => r.cluster));
  assert.ok(clusters.has("east") && clusters.has("west"), `the trace's spans ran in east and west: ${[...clusters]}`);
  // Tree order: every span comes after its parent.
  const at = new Map(rows.map((r, i) => [r.id, i]));
  for (const s of single.data.spans) {
    const p = (s.references ?? []).find((x) => x.refType === "CHILD_OF" && want.has(x.spanID));
    if (p) assert.ok(at.get(p.spanID) < at.get(s.spanID), `span ${s.spanID} is listed after its parent`);
  }
  console.log(`# reviews-v3: ${ids.length} traces; trace ${trace.traceID}: ${rows.length} spans in ${[...clusters].join(", ")}`);
  await shot("traces");
});

test("a graph node's side panel draws its request sparklines from the metrics JSON and links to its traces", async () => {
  const metrics = [];
  const onResp = async (r) => {
    if (r.url().includes("/api/namespaces/bookinfo/apps/reviews/metrics")) metrics.push({ url: new URL(r.url()), body: await r.json() });
  };
  page.on("response", onResp);
  await page.goto(`${demo.url}/console/graph/namespaces?namespaces=bookinfo&graphType=versionedApp&boxBy=cluster&duration=300s`);
  await page.waitForFunction(() => typeof window.__meshglass?.renderMs === "number", null, { timeout: 60_000 });
  const pos = await page.evaluate(() => {
    const cy = window.__meshglass.cy;
    const n = cy.nodes().filter((n) => !n.data("isBox") && n.data("nodeType") === "app" && n.data("app") === "reviews" && n.data("version") === "v3")[0];
    if (!n) return null;
    const p = n.renderedPosition();
    const rect = cy.container().getBoundingClientRect();
    return { x: rect.left + p.x, y: rect.top + p.y, id: n.id() };
  });
  assert.ok(pos, "the graph has a reviews v3 node");
  // Right after the demo starts, Prometheus may hold no rate yet: click again until the inbound line has one.
  const drawn = await waitFor("the node's sparklines with inbound requests", 120_000, async () => {
    const s = await page.evaluate(() => window.__meshglassSparks);
    if (s?.node === pos.id && Object.keys(s.lines).length === 2 && metrics.length >= 2 && s.lines.inbound.drawn.some((v) => v > 0)) return s;
    metrics.length = 0;
    await page.evaluate(() => delete window.__meshglassSparks);
    await page.mouse.click(pos.x, pos.y);
    await new Promise((r) => setTimeout(r, 2000));
    return null;
  });
  for (const direction of ["inbound", "outbound"]) {
    const resp = metrics.find((m) => m.url.searchParams.get("direction") === direction);
    assert.ok(resp, `a ${direction} metrics answer`);
    assert.equal(resp.url.searchParams.get("clusterName"), "west");
    const series = resp.body.request_count?.[0]?.datapoints ?? [];
    const want = series.map(([, v]) => (Number.isFinite(Number(v)) ? Number(v) : null));
    assert.deepEqual(drawn.lines[direction].drawn, want, `${direction}: the drawn values are the JSON's`);
  }
  // reviews v3 receives traffic: its inbound line is not empty.
  assert.ok(drawn.lines.inbound.drawn.some((v) => v > 0), "reviews v3 has inbound requests");
  assert.equal(await page.locator('[data-testid="panel-sparklines"] canvas').count(), drawn.lines.outbound.drawn.length ? 2 : 1);
  await shot("graph-node-sparklines");
  page.off("response", onResp);

  const href = await page.locator('[data-testid="panel-traces"]').getAttribute("href");
  assert.equal(href, "console/namespaces/bookinfo/applications/reviews?tab=traces");
  await page.click('[data-testid="panel-traces"]');
  await page.locator('[data-testid="detail-traces"]').waitFor({ timeout: 30_000 });
  assert.equal(new URL(page.url()).searchParams.get("tab"), "traces");
});
