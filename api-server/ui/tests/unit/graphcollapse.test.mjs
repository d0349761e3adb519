// The level of detail of large graphs (src/graphcollapse.ts): which box kind is collapsed above the threshold, and
// the collapsed graph (boxes as one node each, the edges between them summed) checked against sums written out here.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const { COLLAPSE_MIN_NODES, boxIds, collapseBoxes, collapsibleKind } = await load("graphcollapse");

const box = (id, isBox, parent, extra = {}) => ({ data: { id, parent, nodeType: "box", isBox, cluster: "east", namespace: "", ...extra } });
const leaf = (id, parent, namespace) => ({ data: { id, parent, nodeType: "workload", cluster: "east", namespace, workload: id } });
const edge = (id, source, target, http, err = "0", extra = {}) => ({
  data: { id, source, target, traffic: { protocol: "http", rates: { http, httpPercentErr: err }, responses: {} }, isMTLS: "100", responseTime: "10", ...extra },
});

/** east > {a: a1, a2; b: b1} and a node outside any namespace box. */
function graph() {
  return {
    timestamp: 1,
    elements: {
      nodes: [
        box("c", "cluster"),
        box("ns-a", "namespace", "c", { namespace: "a" }),
        box("ns-b", "namespace", "c", { namespace: "b" }),
        leaf("a1", "ns-a", "a"),
        leaf("a2", "ns-a", "a"),
        leaf("b1", "ns-b", "b"),
        leaf("x", "c", ""),
      ],
      edges: [
        edge("e1", "a1", "a2", "5.00"),
        edge("e2", "a1", "b1", "3.00", "10.0"),
        edge("e3", "a2", "b1", "1.00", "0", {
          traffic: { protocol: "http", rates: { http: "1.00", httpPercentErr: "50.0" }, responses: { 500: { flags: { "-": "50.0" } }, 200: { flags: { "-": "50.0" } } } },
          responseTime: "40",
        }),
        edge("e4", "x", "a1", "2.00"),
        edge("e5", "b1", "x", "4.00"),
      ],
    },
  };
}

test("graphs above the threshold collapse by namespace boxes, else by cluster boxes; small ones and boxless ones not at all", () => {
  assert.equal(collapsibleKind(graph()), null);
  assert.equal(collapsibleKind(graph(), 3), "namespace");
  const clustersOnly = { elements: { nodes: graph().elements.nodes.filter((n) => n.data.isBox !== "namespace"), edges: [] } };
  assert.equal(collapsibleKind(clustersOnly, 3), "cluster");
  const boxless = { elements: { nodes: graph().elements.nodes.filter((n) => !n.data.isBox), edges: [] } };
  assert.equal(collapsibleKind(boxless, 3), null);
  assert.ok(COLLAPSE_MIN_NODES >= 250 && COLLAPSE_MIN_NODES < 1000);
  assert.deepEqual(boxIds(graph(), "namespace"), ["ns-a", "ns-b"]);
});

test("collapsed boxes are one node each, and the edges between them are summed, weighted by rate", () => {
  const out = collapseBoxes(graph(), new Set(["ns-a", "ns-b"]));
  const nodes = Object.fromEntries(out.elements.nodes.map((n) => [n.data.id, n.data]));
  assert.deepEqual(Object.keys(nodes).sort(), ["c", "ns-a", "ns-b", "x"]);
  assert.equal(nodes["ns-a"].isBox, undefined);
  assert.equal(nodes["ns-a"].collapsed, "namespace");
  assert.equal(nodes["ns-a"].collapsedNodes, 2);
  assert.equal(nodes["ns-a"].parent, "c");
  assert.equal(nodes["ns-b"].collapsedNodes, 1);
  assert.equal(nodes.c.isBox, "cluster");
  const edges = Object.fromEntries(out.elements.edges.map((e) => [`${e.data.source}>${e.data.target}`, e.data]));
  // e1 is inside ns-a: gone. e2 + e3 are summed; e4 and e5 follow their end into its box.
  assert.deepEqual(Object.keys(edges).sort(), ["ns-a>ns-b", "ns-b>x", "x>ns-a"]);
  const ab = edges["ns-a>ns-b"];
  assert.equal(ab.aggregated, 2);
  assert.equal(ab.traffic.protocol, "http");
  assert.equal(ab.traffic.rates.http, "4.00");
  // (10 % × 3 rps + 50 % × 1 rps) / 4 rps
  assert.equal(ab.traffic.rates.httpPercentErr, "20.0");
  // Only e3 had responses: its percentages × 1 rps / 4 rps.
  assert.deepEqual(ab.traffic.responses, { 500: { flags: { "-": "12.5" }, hosts: {} }, 200: { flags: { "-": "12.5" }, hosts: {} } });
  assert.equal(ab.isMTLS, "100");
  assert.equal(ab.responseTime, "40");
  assert.equal(edges["x>ns-a"].traffic.rates.http, "2.00");
  assert.equal(edges["x>ns-a"].aggregated, 1);
  assert.equal(out.timestamp, 1);
});

test("an expanded box keeps its nodes and edges; a collapsed cluster takes its namespace boxes with it", () => {
  const out = collapseBoxes(graph(), new Set(["ns-b"]));
  const ids = out.elements.nodes.map((n) => n.data.id).sort();
  assert.deepEqual(ids, ["a1", "a2", "c", "ns-a", "ns-b", "x"]);
  const pairs = out.elements.edges.map((e) => `${e.data.source}>${e.data.target}`).sort();
  assert.deepEqual(pairs, ["a1>a2", "a1>ns-b", "a2>ns-b", "ns-b>x", "x>a1"]);
  // Edges between nodes left as they are keep their id and data.
  assert.deepEqual(out.elements.edges.find((e) => e.data.id === "e1"), graph().elements.edges[0]);
  const whole = collapseBoxes(graph(), new Set(["c", "ns-a"]));
  assert.deepEqual(whole.elements.nodes.map((n) => [n.data.id, n.data.collapsed, n.data.collapsedNodes]), [["c", "cluster", 4]]);
  assert.deepEqual(whole.elements.edges, []);
});
