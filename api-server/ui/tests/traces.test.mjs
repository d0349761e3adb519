// Browser tests of traces on the demo mesh, served by the real meshglass-server binary
// reading the demo's Jaeger, which the simulator's live sender fills: a workload's Traces tab lists exactly the traces
// the route returned, a cross-cluster trace's span tree shows each span's cluster as its `istio.cluster_id` says.
// Screenshots go to target/ui-artifacts/.

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
