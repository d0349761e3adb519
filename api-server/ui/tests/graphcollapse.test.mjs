// Browser test of the large graph's level of detail (src/graphcollapse.ts): a graph above the threshold is drawn
// first with its namespace boxes collapsed and the page says so; a double-click expands one box and shows the nodes
// inside (a click on one opens its panel), and Expand all draws the whole graph. A graph under the threshold is drawn
// whole. The built UI and Chromium only: the stand-in server of tests/stubserver.mjs with tests/harness.mjs'
// synthetic graphs (2 clusters × 10 namespaces). Screenshots: target/ui-artifacts/graph-collapsed*.png.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { artifacts, launchBrowser, syntheticGraph } from "./harness.mjs";
import { startStubServer } from "./stubserver.mjs";

let body = "{}";
let stub;
let browser;
let page;

before(async () => {
  stub = await startStubServer(() => body);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on("pageerror", (e) => console.error("page error:", e.message));
});
after(async () => {
  await browser?.close();
  await stub?.stop();
});

const MARK = "meshglass:graph-drawn";
/** Waits for the page's `n`th drawn graph (its performance mark) and for the canvas to say the load is done. */
async function drawn(n) {
  await page.waitForFunction(
    ({ mark, n }) => performance.getEntriesByName(mark).length >= n && document.querySelector('[data-testid="graph"]')?.dataset.state === "done",
    { mark: MARK, n },
    { timeout: 60_000 },
  );
}
/** What Cytoscape holds: leaf nodes, collapsed boxes (id → count inside), edges. */
const drawnGraph = () =>
  page.evaluate(() => {
    const cy = window.__meshglass.cy;
    const collapsed = Object.fromEntries(cy.nodes(".collapsed").map((n) => [n.id(), n.data("collapsedNodes")]));
    const leaves = cy.nodes().filter((n) => !n.data("isBox") && !n.data("collapsed"));
    return { collapsed, leaves: leaves.map((n) => n.id()), edges: cy.edges().length, summed: cy.edges().filter((e) => e.data("aggregated") > 0).length };
  });
const open = async (graph) => {
  body = JSON.stringify(graph);
  const namespaces = [...new Set(graph.elements.nodes.map((x) => x.data.namespace).filter(Boolean))].sort();
  await page.goto(`${stub.url}/console/graph/namespaces?namespaces=${namespaces.join(",")}&graphType=workload&boxBy=cluster,namespace&duration=600s`);
};

test("a graph of 1,000 nodes starts with its namespaces collapsed, expands one on a double-click and all on Expand all", async () => {
  const graph = syntheticGraph(1000, 3000);
  await open(graph);
  await drawn(1);
  const first = await drawnGraph();
  assert.equal(Object.keys(first.collapsed).length, 20, "2 clusters × 10 namespace boxes, each one node");
  assert.deepEqual(first.leaves, [], "no node of a namespace is drawn");
  assert.equal(Object.values(first.collapsed).reduce((a, b) => a + b, 0), 1000, "the boxes hold every node");
  assert.ok(first.edges > 0 && first.edges === first.summed, `${first.edges} edges, all sums of the graph's`);
  const status = page.locator('[data-testid="graph-status"]');
  assert.match(await status.textContent(), /1000 nodes, 3000 edges/);
  assert.match(await page.locator('[data-testid="graph-collapsed"]').textContent(), /20 namespace boxes drawn collapsed.*double-click one to expand/);
  assert.equal(await page.locator('[data-testid="graph"]').getAttribute("data-collapsed"), "20");
  await page.screenshot({ path: join(artifacts, "graph-collapsed.png") });

  // Double-click east's ns3 box: its nodes are drawn, the other 19 boxes stay collapsed.
  const id = "box_east_ns3";
  const inside = graph.elements.nodes.filter((n) => n.data.parent === id).map((n) => n.data.id).sort();
  assert.equal(first.collapsed[id], inside.length);
  const at = async (nodeId) =>
    page.evaluate((nodeId) => {
      const cy = window.__meshglass.cy;
      const r = cy.container().getBoundingClientRect();
      const n = cy.getElementById(nodeId);
      // In view: centred on the node first (the side panel takes the right of the canvas).
      cy.center(n);
      const p = n.renderedPosition();
      return { x: r.left + p.x, y: r.top + p.y };
    }, nodeId);
  let p = await at(id);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.mouse.dblclick(p.x, p.y);
  await drawn(2);
  const one = await drawnGraph();
  assert.equal(Object.keys(one.collapsed).length, 19);
  assert.equal(one.collapsed[id], undefined);
  assert.deepEqual([...one.leaves].sort(), inside, "the expanded box's nodes, and only those");
  assert.equal(await page.locator('[data-testid="graph"]').getAttribute("data-collapsed"), "19");
  assert.match(await page.locator('[data-testid="graph-collapsed"]').textContent(), /19 namespace boxes drawn collapsed/);

  // A node inside is a node like any other: a click opens its panel.
  const wl = inside[0];
  p = await at(wl);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.mouse.click(p.x, p.y);
  const panel = page.locator('[data-testid="side-panel"]');
  await panel.waitFor({ state: "visible" });
  const wlData = graph.elements.nodes.find((n) => n.data.id === wl).data;
  assert.match(await panel.locator("h2").textContent(), new RegExp(wlData.workload));
  await page.screenshot({ path: join(artifacts, "graph-collapsed-one-expanded.png") });

  // A collapsed box's panel says what it holds and expands it too.
  const other = "box_west_ns0";
  p = await at(other);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(() => document.querySelector('[data-testid="side-panel"] h2')?.textContent?.includes("collapsed"));
  assert.match(await panel.textContent(), new RegExp(`${one.collapsed[other]} nodes inside`));
  await page.locator('[data-testid="panel-expand"]').click();
  await drawn(3);
  assert.equal(Object.keys((await drawnGraph()).collapsed).length, 18);

  // Expand all: the whole graph, and a control to collapse it again.
  await page.locator('[data-testid="graph-expand-all"]').click();
  await drawn(4);
  const whole = await drawnGraph();
  assert.deepEqual(whole.collapsed, {});
  assert.equal(whole.leaves.length, 1000);
  assert.equal(whole.edges, 3000);
  assert.equal(whole.summed, 0);
  assert.equal(await page.locator('[data-testid="graph"]').getAttribute("data-collapsed"), "0");
  assert.equal(await page.locator('[data-testid="graph-collapsed"]').count(), 0);

  // Refresh keeps it whole; Collapse draws the boxes collapsed again.
  await page.locator('[data-testid="graph-refresh"]').click();
  await drawn(5);
  assert.equal((await drawnGraph()).leaves.length, 1000);
  await page.locator('[data-testid="graph-collapse-all"]').click();
  await drawn(6);
  assert.equal(Object.keys((await drawnGraph()).collapsed).length, 20);
});

test("a graph under the threshold (400 nodes) is drawn whole", async () => {
  await open(syntheticGraph(400, 1200));
  await drawn(1);
  const g = await drawnGraph();
  assert.deepEqual(g.collapsed, {});
  assert.equal(g.leaves.length, 400);
  assert.equal(g.edges, 1200);
  assert.equal(await page.locator('[data-testid="graph-collapsed"]').count(), 0);
  assert.equal(await page.locator('[data-testid="graph-collapse-all"]').count(), 0);
});
