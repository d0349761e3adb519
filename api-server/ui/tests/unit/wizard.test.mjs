// The routing wizard's builder against Kiali's: reviews split 50/30/20 across v1 (east), v2 (east), v3 (west) gives
// exactly the DestinationRule and VirtualService of golden/reviews-50-30-20.json (written from Kiali's
// WizardActions.ts, see its "source"), key order included (Kiali's preview shows the objects as built).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { load } from "./ts.mjs";

const golden = JSON.parse(readFileSync(new URL("./golden/reviews-50-30-20.json", import.meta.url), "utf8"));
const w = await load("wizard");

const workloads = golden.choice.workloads.map((x) => ({ name: x.name, cluster: x.cluster, labels: { app: "reviews", version: x.version } }));

function weights(list) {
  return w.versionRows(workloads).map((r) => ({ ...r, weight: list[r.version] }));
}

test("reviews 50/30/20 across east and west gives Kiali's objects", () => {
  const out = w.buildTrafficRouting({
    type: "traffic_shifting",
    namespace: "bookinfo",
    serviceName: "reviews",
    workloads,
    weights: weights({ v1: 50, v2: 30, v3: 20 }),
  });
  assert.deepStrictEqual(out.destinationRule, golden.destinationRule);
  assert.deepStrictEqual(out.virtualService, golden.virtualService);
  // Same key order as Kiali builds them (the JSON text sent is the same).
  assert.equal(JSON.stringify(out.destinationRule), JSON.stringify(golden.destinationRule));
  assert.equal(JSON.stringify(out.virtualService), JSON.stringify(golden.virtualService));
  assert.equal(w.weightsProblem(weights({ v1: 50, v2: 30, v3: 20 })), null);
});

test("rows are per version: one subset for a version in two clusters", () => {
  const both = [...workloads, { name: "reviews-v1", cluster: "west", labels: { version: "v1" } }];
  const rows = w.versionRows(both);
  assert.deepStrictEqual(rows.map((r) => [r.version, r.workloads]), [
    ["v1", ["east/reviews-v1", "west/reviews-v1"]],
    ["v2", ["east/reviews-v2"]],
    ["v3", ["west/reviews-v3"]],
  ]);
  const out = w.buildTrafficRouting({ type: "traffic_shifting", namespace: "bookinfo", serviceName: "reviews", workloads: both, weights: w.defaultWeights(rows) });
  assert.deepStrictEqual(out.destinationRule.spec.subsets.map((s) => s.name), ["v1", "v2", "v3"]);
  // Kiali's defaults: 33, 33, 34.
  assert.deepStrictEqual(out.virtualService.spec.http[0].route.map((r) => r.weight), [33, 33, 34]);
});

test("request routing, mirroring, existing names, unversioned workloads", () => {
  const rows = weights({ v1: 80, v2: 20, v3: 10 });
  rows[2].mirrored = true;
  const out = w.buildTrafficRouting({
    type: "request_routing",
    namespace: "bookinfo",
    serviceName: "reviews",
    workloads: [...workloads, { name: "reviews-canary", cluster: "west", labels: {} }],
    weights: rows,
    existingVirtualServices: ["reviews-routes"],
    existingDestinationRules: ["reviews", "other"],
  });
  assert.equal(out.virtualService.metadata.name, "reviews-routes");
  assert.equal(out.destinationRule.metadata.name, "reviews");
  assert.deepStrictEqual(out.virtualService.metadata.labels, { kiali_wizard: "request_routing" });
  const http = out.virtualService.spec.http[0];
  assert.deepStrictEqual(http.route.map((r) => r.destination.subset), ["v1", "v2"]);
  assert.deepStrictEqual(http.mirror, { host: "reviews.bookinfo.svc.cluster.local", subset: "v3" });
  assert.deepStrictEqual(http.mirrorPercentage, { value: 10 });
  // The workload without a version label gets no subset.
  assert.equal(out.destinationRule.spec.subsets.length, 3);
});

test("weights that cannot be used are named", () => {
  assert.match(w.weightsProblem(weights({ v1: 50, v2: 30, v3: 30 })), /add up to 100 \(they add up to 110\)/);
  assert.match(w.weightsProblem(weights({ v1: 50.5, v2: 29.5, v3: 20 })), /whole number/);
  assert.match(w.weightsProblem(weights({ v1: -10, v2: 90, v3: 20 })), /whole number from 0 to 100/);
  assert.match(w.weightsProblem([]), /at least one version/);
});
