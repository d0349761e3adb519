// The namespaces page's reading of a namespace (src/nsinfo.ts): injection by Istio's label rules, health counts and
// the worst status, the control plane that manages it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const { injection, injectionText, healthCounts, worstStatus, managedBy } = await load("nsinfo");

test("injection: istio-injection takes precedence over istio.io/rev, as Istio's webhook selectors do", () => {
  assert.deepEqual(injection({ "istio-injection": "enabled" }), { state: "enabled", revision: "default", label: "istio-injection=enabled" });
  assert.deepEqual(injection({ "istio-injection": "disabled", "istio.io/rev": "canary" }), { state: "disabled", label: "istio-injection=disabled" });
  assert.equal(injection({ "istio-injection": "enabled", "istio.io/rev": "canary" }).revision, "default");
  assert.deepEqual(injection({ "istio.io/rev": "1-28" }), { state: "revision", revision: "1-28", label: "istio.io/rev=1-28" });
  assert.equal(injection({ "istio.io/dataplane-mode": "ambient" }).state, "ambient");
  assert.deepEqual(injection({ "kubernetes.io/metadata.name": "x" }), { state: "none" });
  assert.deepEqual(injection(undefined), { state: "none" });
  assert.equal(injectionText(injection({ "istio.io/rev": "canary" })), "revision canary");
  assert.equal(injectionText(injection({})), "not labelled");
});

test("health counts per status and the namespace's worst status", () => {
  const counts = healthCounts({
    a: { status: { status: "Healthy" } },
    b: { status: { status: "Degraded", errorRatio: 2 } },
    c: { status: { status: "Healthy" } },
    d: { status: {} },
  });
  assert.deepEqual(counts, { Healthy: 2, Degraded: 1, NA: 1 });
  assert.equal(worstStatus(counts), "Degraded");
  assert.equal(worstStatus({ Healthy: 3, Failure: 1 }), "Failure");
  assert.equal(worstStatus({ "Not Ready": 1, Healthy: 1 }), "Not Ready");
  assert.equal(worstStatus({}), "NA");
  assert.deepEqual(healthCounts(undefined), {});
});

test("managedBy: the control planes listing the namespace of that cluster", () => {
  const cps = [
    { istiodName: "istiod", cluster: { name: "east" }, managedNamespaces: [{ name: "bookinfo", cluster: "east" }, { name: "bookinfo", cluster: "west" }] },
    { istiodName: "istiod-canary", cluster: { name: "east" }, managedNamespaces: [{ name: "sample", cluster: "east" }] },
  ];
  assert.deepEqual(managedBy("bookinfo", "west", cps).map((c) => c.istiodName), ["istiod"]);
  assert.deepEqual(managedBy("sample", "west", cps), []);
  assert.deepEqual(managedBy("sample", "east", cps).map((c) => c.istiodName), ["istiod-canary"]);
});
