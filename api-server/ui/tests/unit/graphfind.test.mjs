// The graph's find/hide expressions (src/graphfind.ts): Kiali's syntax subset, and clear errors on bad expressions.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const { compile } = await load("graphfind");

const reviews = {
  nodeType: "app",
  cluster: "west",
  namespace: "bookinfo",
  app: "reviews",
  version: "v2",
  workload: "reviews-v2",
  // The shape the server sends: the /api/clusters/health entry, its status nested.
  healthData: { status: { status: "Failure", errorRatio: 20 }, requests: { inbound: {}, outbound: {} }, workloadStatuses: [] },
  traffic: [{ protocol: "http", rates: { httpIn: "12.50", httpIn5xx: "2.50" } }],
};
const productpage = { nodeType: "app", cluster: "east", namespace: "bookinfo", app: "productpage", version: "v1", workload: "productpage-v1", isRoot: true, isOutOfMesh: true };
const svc = { nodeType: "service", cluster: "east", namespace: "bookinfo", service: "reviews", hasVS: { hostnames: [] } };
const box = { nodeType: "box", isBox: "cluster", cluster: "east", namespace: "" };
const httpEdge = { traffic: { protocol: "http", rates: { http: "10.00", httpPercentErr: "20.0" } }, responseTime: "130", isMTLS: "100" };
const tcpEdge = { traffic: { protocol: "tcp", rates: { tcp: "900.00" } } };

const nodes = (expr) => [reviews, productpage, svc, box].filter((n) => compile(expr).node(n)).map((n) => n.workload ?? n.service ?? n.isBox);

test("text fields, aliases and operators match as Kiali's find does (case-insensitive)", () => {
  assert.deepEqual(nodes("app = reviews"), ["reviews-v2"]);
  assert.deepEqual(nodes("name = REVIEWS"), ["reviews"]);
  assert.deepEqual(nodes("ns = bookinfo"), ["reviews-v2", "productpage-v1", "reviews"]);
  assert.deepEqual(nodes("cluster != east"), ["reviews-v2"]);
  assert.deepEqual(nodes("wl ^= product"), ["productpage-v1"]);
  assert.deepEqual(nodes("workload $= -v2"), ["reviews-v2"]);
  assert.deepEqual(nodes("svc *= view"), ["reviews"]);
  assert.deepEqual(nodes("node = service"), ["reviews"]);
  assert.deepEqual(nodes("app !*= view"), ["productpage-v1", "reviews"]);
});

test("numbers, flags, health, and/or", () => {
  assert.deepEqual(nodes("httpin > 10"), ["reviews-v2"]);
  assert.deepEqual(nodes("httpin >= 12.5 and cluster = west"), ["reviews-v2"]);
  assert.deepEqual(nodes("root || failure"), ["reviews-v2", "productpage-v1"]);
  assert.deepEqual(nodes("!sidecar"), ["productpage-v1"]);
  assert.deepEqual(nodes("vs"), ["reviews"]);
  assert.deepEqual(nodes("healthy"), []);
  assert.equal(compile("degraded").node({ ...reviews, healthData: { status: { status: "Degraded" } } }), true);
  assert.equal(compile("healthy").node({ ...reviews, healthData: null }), false);
  assert.equal(compile("").target, "none");
  assert.equal(compile("app = reviews").node(box), false, "boxes never match");
});

test("edge conditions select edges, not nodes", () => {
  const c = compile("%httperr > 10 and rt >= 100");
  assert.equal(c.ok, true);
  assert.equal(c.target, "edge");
  assert.equal(c.edge(httpEdge), true);
  assert.equal(c.edge(tcpEdge), false);
  assert.equal(c.node(reviews), false);
  assert.equal(compile("protocol = tcp").edge(tcpEdge), true);
  assert.equal(compile("tcp > 100").edge(tcpEdge), true);
  assert.equal(compile("mtls = 100").edge(httpEdge), true);
});

test("bad expressions are errors that say what is wrong", () => {
  const err = (e) => {
    const c = compile(e);
    assert.equal(c.ok, false, e);
    return c.error;
  };
  assert.match(err("colour = red"), /unknown field "colour" \(known: app, cluster/);
  assert.match(err("app ="), /value is missing after "app ="/);
  assert.match(err("= reviews"), /field is missing before "="/);
  assert.match(err("httpin > lots"), /httpin is a number: "lots" is not one/);
  assert.match(err("app > reviews"), /">" does not apply to text field app/);
  assert.match(err("httpin *= 3"), /"\*=" does not apply to numeric field httpin/);
  assert.match(err("app = a and app = b or app = c"), /can not mix `and` and `or`/);
  assert.match(err("app = reviews and http > 1"), /can not mix node and edge conditions/);
  assert.match(err("sparkly"), /unknown flag or missing operator in "sparkly"/);
  assert.match(err("app = a and "), /unknown flag|empty condition/);
});
