// The graph benchmark (`make bench-ui`, scripts/bench-graph.mjs) at a small size, so that its code keeps working with
// the UI: every figure is measured and no gesture fails. No timing is asserted (that is the benchmark's job, not a
// test's). Needs only the built UI and Chromium: the stand-in server of tests/stubserver.mjs, no demo.

import { test } from "node:test";
import assert from "node:assert/strict";
import { benchGraph, table } from "../scripts/bench-graph.mjs";

test("the graph benchmark measures every figure at 50 nodes", async () => {
  const results = await benchGraph({ sizes: [50], runs: 1, interactions: 2, log: () => {} });
  console.log(table(results));
  assert.equal(results.length, 1);
  const [r] = results;
  assert.deepEqual(r.errors, []);
  assert.deepEqual([r.nodes, r.edges], [50, 150]);
  // dagre throws on this graph's boxes; the page falls back to the layered layout (graphview.ts' render).
  assert.ok(["dagre", "layered"].includes(r.layout), r.layout);
  for (const k of ["drawn", "cpu", "refresh", "refreshCpu", "select", "zoomFrame", "zoomFull", "panFrame", "panFull"]) {
    assert.ok(r[k].n > 0 && Number.isFinite(r[k].p50) && Number.isFinite(r[k].p95), `${k}: ${JSON.stringify(r[k])}`);
  }
  assert.equal(r.select.n, 2, "both clicks opened their node's panel");
  for (const p of ["boot", "network", "parse", "elements", "layout", "cytoscape", "paint"]) assert.ok(Number.isFinite(r.phases[p]), `phase ${p}: ${r.phases[p]}`);
});
