// Health in the graph (src/graphhealth.ts): node status from the server's healthData, edge status from its responses
// with the health configuration's tolerances as Kiali's getEdgeHealth computes it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const { compileRules, edgeHealth, nodeHealth, parseRateAnnotation, responsePercents } = await load("graphhealth");

const defaults = compileRules(undefined);
const src = { nodeType: "app", namespace: "bookinfo", app: "productpage" };
const dst = { nodeType: "service", namespace: "bookinfo", service: "reviews" };
/** An HTTP edge whose responses are code → percentage (one flag each, as the server writes them). */
const http = (codes, protocol = "http") => ({
  traffic: { protocol, rates: { http: "10.00" }, responses: Object.fromEntries(Object.entries(codes).map(([c, p]) => [c, { flags: { "-": String(p) }, hosts: {} }])) },
});

test("node health is the nested status of healthData (the /api/clusters/health entry), or the mesh graph's string", () => {
  assert.equal(nodeHealth({ healthData: { status: { status: "Failure", errorRatio: 20 }, requests: {} } }), "Failure");
  assert.equal(nodeHealth({ healthData: "Healthy" }), "Healthy");
  assert.equal(nodeHealth({ healthData: null }), "");
  assert.equal(nodeHealth({}), "");
});

test("edge health with Kiali's default tolerances: 5xx >0 % degraded, ≥10 % failure; 4xx 10/20; no response 0/10", () => {
  assert.equal(edgeHealth(http({ 200: 100 }), src, dst, defaults), "Healthy");
  assert.equal(edgeHealth(http({ 200: 95, 503: 5 }), src, dst, defaults), "Degraded");
  assert.equal(edgeHealth(http({ 200: 90, 500: 10 }), src, dst, defaults), "Failure");
  assert.equal(edgeHealth(http({ 200: 90, 404: 10 }), src, dst, defaults), "Healthy", "4xx at 10 % is not above degraded 10");
  assert.equal(edgeHealth(http({ 200: 85, 404: 15 }), src, dst, defaults), "Degraded");
  assert.equal(edgeHealth(http({ 200: 80, 404: 20 }), src, dst, defaults), "Failure");
  assert.equal(edgeHealth(http({ 200: 88, "-": 12 }), src, dst, defaults), "Failure");
  assert.equal(edgeHealth(http({ 0: 97, 14: 3 }, "grpc"), src, dst, defaults), "Degraded");
  assert.equal(edgeHealth(http({ 0: 100 }, "grpc"), src, dst, defaults), "Healthy");
  assert.equal(edgeHealth({ traffic: { protocol: "tcp", responses: {} } }, src, dst, defaults), "NA");
  assert.equal(edgeHealth({ traffic: { protocol: "http" } }, src, dst, defaults), "NA", "no responses");
});

test("several flags of one code add up; the total is every code's", () => {
  const e = { traffic: { protocol: "http", responses: { 200: { flags: { "-": "80.0" } }, 503: { flags: { UO: "8.0", URX: "12.0" } } } } };
  assert.deepEqual(responsePercents(e), { 200: 80, 503: 20 });
  assert.equal(edgeHealth(e, src, dst, defaults), "Failure");
});

test("configured rules apply by namespace, kind and name (anchored), before the defaults; direction picks source or target", () => {
  const rules = compileRules([
    { namespace: "bookinfo", kind: "service", name: "reviews", tolerance: [{ code: "5XX", degraded: 30, failure: 50, protocol: "http", direction: "inbound" }] },
  ]);
  const e = http({ 200: 90, 500: 10 });
  // The source (productpage, outbound) still has the defaults: 10 % is a failure there.
  assert.equal(edgeHealth(e, src, dst, rules), "Failure");
  const tolerantSource = compileRules([{ namespace: ".*", kind: "app", name: "product.*", tolerance: [{ code: "5XX", degraded: 30, failure: 50, protocol: "http", direction: "outbound" }] }]);
  // The target (service reviews, inbound) is on the defaults: Failure either way.
  assert.equal(edgeHealth(e, src, dst, tolerantSource), "Failure");
  const both = compileRules([
    { namespace: ".*", kind: ".*", name: ".*", tolerance: [{ code: "5XX", degraded: 30, failure: 50, protocol: "http", direction: ".*" }] },
  ]);
  assert.equal(edgeHealth(e, src, dst, both), "Healthy");
  assert.equal(edgeHealth(http({ 200: 60, 500: 40 }), src, dst, both), "Degraded");
  // Anchored: "book" does not match namespace bookinfo.
  const partial = compileRules([{ namespace: "book", tolerance: [{ code: "5XX", degraded: 30, failure: 50 }] }]);
  assert.equal(edgeHealth(e, src, dst, partial), "Failure");
});

test("a node's health.kiali.io/rate annotation replaces the rules for that node", () => {
  assert.deepEqual(parseRateAnnotation("5XX,20,40,http,inbound;4XX,30,50"), [
    { code: "5XX", degraded: 20, failure: 40, protocol: "http", direction: "inbound" },
    { code: "4XX", degraded: 30, failure: 50, protocol: ".*", direction: ".*" },
  ]);
  assert.equal(parseRateAnnotation("5XX,x,10"), null);
  const tolerant = { ...src, hasHealthConfig: { "health.kiali.io/rate": "5XX,30,50" } };
  const tolerantDst = { ...dst, hasHealthConfig: { "health.kiali.io/rate": "5XX,30,50" } };
  assert.equal(edgeHealth(http({ 200: 90, 500: 10 }), tolerant, tolerantDst, defaults), "Healthy");
  assert.equal(edgeHealth(http({ 200: 90, 500: 10 }), tolerant, dst, defaults), "Failure");
});
