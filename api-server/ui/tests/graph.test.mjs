// Browser tests of the traffic graph's health colours and legend, find/hide and replay, on the demo mesh (served by
// the real meshglass-server binary). What the page draws is checked against the graph JSON the page received, with
// the expected colours and selections computed here, independently of the page's modules. Screenshots go to
// target/ui-artifacts/ (graph-legend.png, graph-find.png, graph-hide.png, graph-replay.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifacts, openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;
/** Every /api/namespaces/graph answer the page received, in order: {query, body}. */
const graphs = [];

before(async () => {
  ({ demo, page, stop } = await openSuite());
  page.on("response", async (r) => {
    const u = new URL(r.url());
    if (!u.pathname.endsWith("/api/namespaces/graph") || !r.ok()) return;
    try {
      graphs.push({ query: Object.fromEntries(u.searchParams), body: await r.json() });
    } catch {}
  });
});
after(async () => stop?.());

const shot = (name) => shotOf(page, name, false);
const GRAPH = "console/graph/namespaces?namespaces=bookinfo,helloworld,sample&graphType=versionedApp&boxBy=cluster,namespace,app&duration=300s";

/** Runs `action` and waits for the page to have loaded (and drawn, when there is traffic) the graph it asked for. */
async function drawn(action) {
  const before = graphs.length;
  await action();
  await waitFor("the graph answer", 60_000, async () => graphs.length > before, 100);
  const body = graphs[graphs.length - 1].body;
  await page.waitForFunction(
    (ts) => {
      const c = document.querySelector('[data-testid="graph"]');
      return c?.dataset.state === "done" && c.dataset.timestamp === ts;
    },
    String(body.timestamp ?? ""),
    { timeout: 60_000 },
  );
  return body;
}

const leaves = (body) => body.elements.nodes.map((n) => n.data).filter((d) => !d.isBox);
const hex = (h) => `rgb(${parseInt(h.slice(1, 3), 16)},${parseInt(h.slice(3, 5), 16)},${parseInt(h.slice(5, 7), 16)})`;
/** Cytoscape's colour strings without spaces, to compare with hex(). */
const rgb = (c) => String(c).replace(/\s+/g, "");
const statusOf = (d) => d.healthData?.status?.status ?? "";

/** Kiali's default tolerances applied to an edge's responses, written out here: the edge's status. */
function expectedEdgeStatus(e) {
  const t = e.traffic ?? {};
  const pct = Object.fromEntries(Object.entries(t.responses ?? {}).map(([c, r]) => [c, Object.values(r.flags ?? {}).reduce((a, v) => a + Number(v), 0)]));
  const total = Object.values(pct).reduce((a, b) => a + b, 0);
  if (total === 0) return "Healthy";
  const share = (test) => (100 * Object.entries(pct).filter(([c]) => test(c)).reduce((a, [, v]) => a + v, 0)) / total;
  const levels = [];
  const level = (p, degraded, failure) => levels.push(p > 0 && p >= failure ? 2 : p > degraded ? 1 : 0);
  if (t.protocol === "http") {
    level(share((c) => /^5\d\d$/.test(c)), 0, 10);
    level(share((c) => /^4\d\d$/.test(c)), 10, 20);
  }
  if (t.protocol === "grpc") level(share((c) => /^([1-9]|1[0-6])$/.test(c)), 0, 10);
  level(share((c) => c === "-"), 0, 10);
  return ["Healthy", "Degraded", "Failure"][Math.max(0, ...levels)];
}

test("nodes and edges are coloured by health as Kiali does, and the legend (kept in the URL) shows those colours", async () => {
  const cfg = await (await fetch(`${demo.url}/api/config`)).json();
  // The demo runs on Kiali's default tolerances (the operator writes them out): the expected colours below assume them.
  const KIALI_DEFAULTS = [
    { code: "5XX", degraded: 0, failure: 10, protocol: "http", direction: ".*" },
    { code: "4XX", degraded: 10, failure: 20, protocol: "http", direction: ".*" },
    { code: "^[1-9]$|^1[0-6]$", degraded: 0, failure: 10, protocol: "grpc", direction: ".*" },
    { code: "-", degraded: 0, failure: 10, protocol: "http|grpc", direction: ".*" },
  ];
  for (const r of cfg.healthConfig?.rate ?? []) {
    assert.deepEqual([r.namespace, r.kind, r.name], [".*", ".*", ".*"], JSON.stringify(r));
    assert.deepEqual(r.tolerance.map(({ code, degraded, failure, protocol, direction }) => ({ code, degraded, failure, protocol, direction })), KIALI_DEFAULTS);
  }
  // The demo's traffic makes helloworld v2 fail (15 % 500s) and ratings degrade (5 % 503s): wait until they show.
  let body;
  await waitFor("a Failure node and a Degraded edge in the graph", 180_000, async () => {
    body = await drawn(() => page.goto(`${demo.url}/${GRAPH}`));
    return leaves(body).some((d) => statusOf(d) === "Failure") && body.elements.edges.some((e) => expectedEdgeStatus(e.data) === "Degraded");
  }, 5_000);

  // The legend: hidden by default, shown by its toggle, kept in the URL across a reload.
  const legend = page.locator('[data-testid="graph-legend"]');
  assert.equal(await legend.isVisible(), false);
  await page.click('[data-testid="legend-toggle"]');
  await legend.waitFor({ state: "visible" });
  assert.equal(new URL(page.url()).searchParams.get("legend"), "true");
  body = await drawn(() => page.reload());
  await legend.waitFor({ state: "visible" });
  assert.deepEqual(await legend.locator("section h4").allInnerTexts(), ["Node Shapes", "Node Colors", "Node Background", "Edges", "Boxes"]);
  const colour = async (id) => hex(await legend.locator(`[data-testid="legend-${id}"]`).getAttribute("data-color"));

  const want = {
    Failure: await colour("node-failure"),
    Degraded: await colour("node-degraded"),
    other: await colour("node-healthy"),
  };
  const edgeWant = {
    Failure: await colour("edge-failure"),
    Degraded: await colour("edge-degraded"),
    Healthy: await colour("edge-healthy"),
    tcp: await colour("edge-tcp"),
    idle: await colour("edge-idle"),
  };
  const drawnStyles = await page.evaluate(() => {
    const cy = window.__meshglass.cy;
    return {
      nodes: Object.fromEntries(cy.nodes().filter((n) => !n.data("isBox")).map((n) => [n.id(), n.style("border-color")])),
      edges: Object.fromEntries(cy.edges().map((e) => [e.id(), e.style("line-color")])),
    };
  }).then((x) => ({
    nodes: Object.fromEntries(Object.entries(x.nodes).map(([k, v]) => [k, rgb(v)])),
    edges: Object.fromEntries(Object.entries(x.edges).map(([k, v]) => [k, rgb(v)])),
  }));
  const counts = { nodes: {}, edges: {} };
  for (const d of leaves(body)) {
    const s = statusOf(d);
    counts.nodes[s] = (counts.nodes[s] ?? 0) + 1;
    assert.equal(drawnStyles.nodes[d.id], want[s] ?? want.other, `border of ${d.nodeType} ${d.app ?? d.service ?? d.workload} ${d.version ?? ""} (${d.cluster}), health ${s || "none"}`);
  }
  for (const { data: e } of body.elements.edges) {
    const proto = e.traffic?.protocol;
    const rate = Number(e.traffic?.rates?.[proto] ?? 0);
    const s = proto === "tcp" ? "tcp" : rate === 0 ? "idle" : expectedEdgeStatus(e);
    counts.edges[s] = (counts.edges[s] ?? 0) + 1;
    assert.equal(drawnStyles.edges[e.id], edgeWant[s], `edge ${e.id} (${proto}, ${JSON.stringify(e.traffic?.responses)}) is ${s}`);
  }
  console.log(`# node health: ${JSON.stringify(counts.nodes)}; edge health: ${JSON.stringify(counts.edges)}`);
  assert.ok(counts.nodes.Failure >= 1 && counts.edges.Failure >= 1 && counts.edges.Degraded >= 1 && counts.edges.Healthy >= 1, JSON.stringify(counts));
  // helloworld v2 (west) is the failing one.
  const hw2 = leaves(body).find((d) => d.app === "helloworld" && d.version === "v2" && d.nodeType === "app");
  assert.equal(statusOf(hw2), "Failure");
  await shot("graph-legend");

  await page.click('[data-testid="legend-toggle"]');
  assert.equal(await legend.isVisible(), false);
  assert.equal(new URL(page.url()).searchParams.get("legend"), null);
});

/** What the page highlights (find) and takes off (hide). */
const marked = () =>
  page.evaluate(() => {
    const cy = window.__meshglass.cy;
    return {
      found: cy.elements(".find-match").map((x) => x.id()).sort(),
      hidden: cy.elements().filter((x) => x.style("display") === "none").map((x) => x.id()).sort(),
      visible: cy.elements().filter((x) => x.style("display") !== "none").map((x) => x.id()).sort(),
    };
  });

async function setExpr(kind, expr) {
  await page.fill(`[data-testid="graph-${kind}"]`, expr);
  await page.press(`[data-testid="graph-${kind}"]`, "Enter");
  await waitFor(`the ${kind} expression in the URL`, 5_000, async () => (new URL(page.url()).searchParams.get(kind) ?? "") === expr, 100);
}

test("find highlights exactly the nodes or edges an expression selects, hide takes them and their edges off", async () => {
  // The node's inbound HTTP rate, as the graph JSON carries it: data.traffic[].rates.httpIn.
  const httpIn = (d) => Number((d.traffic ?? []).find((t) => t.protocol === "http")?.rates?.httpIn ?? 0);
  let body;
  await waitFor("bookinfo nodes with more than 1 rps inbound", 120_000, async () => {
    body = await drawn(() => page.goto(`${demo.url}/${GRAPH}`));
    const found = leaves(body).filter((d) => d.namespace === "bookinfo" && httpIn(d) > 1);
    if (found.length === 0) throw new Error(`no such node; the nodes' traffic: ${JSON.stringify(leaves(body).map((d) => [d.namespace, d.app ?? d.service, d.traffic]))}`);
    return true;
  }, 5_000);
  writeFileSync(join(artifacts, "graph-find.json"), JSON.stringify(body, null, 1));
  const nodes = leaves(body);
  const edges = body.elements.edges.map((e) => e.data);
  const ids = (xs) => xs.map((x) => x.id).sort();
  const cases = [
    ["ns = bookinfo and httpin > 1", nodes.filter((d) => d.namespace === "bookinfo" && httpIn(d) > 1)],
    ["app = reviews", nodes.filter((d) => d.app === "reviews")],
    ["cluster = west or failure", nodes.filter((d) => d.cluster === "west" || statusOf(d) === "Failure")],
    ["node = service", nodes.filter((d) => d.nodeType === "service")],
    ["%httperr > 0", edges.filter((e) => e.traffic?.protocol === "http" && Number(e.traffic.rates?.httpPercentErr ?? 0) > 0)],
  ];
  for (const [expr, want] of cases) {
    assert.ok(want.length > 0, `the demo graph has something for "${expr}"`);
    await setExpr("find", expr);
    const m = await marked();
    assert.deepEqual(m.found, ids(want), `find "${expr}"`);
    assert.equal(await page.getAttribute('[data-testid="graph"]', "data-found"), String(want.length));
    if (expr === "ns = bookinfo and httpin > 1") await shot("graph-find");
  }
  await setExpr("find", "");
  assert.deepEqual((await marked()).found, []);

  // Hide: the nodes, every edge touching them, and the boxes left without a node.
  const hidden = nodes.filter((d) => d.app === "reviews");
  const hiddenIds = new Set(hidden.map((d) => d.id));
  await setExpr("hide", "app = reviews");
  const m = await marked();
  const touching = edges.filter((e) => hiddenIds.has(e.source) || hiddenIds.has(e.target));
  const allNodes = body.elements.nodes.map((n) => n.data);
  const byId = new Map(allNodes.map((d) => [d.id, d]));
  const keptBoxes = new Set();
  for (const d of nodes) {
    if (hiddenIds.has(d.id)) continue;
    for (let p = d.parent; p; p = byId.get(p)?.parent) keptBoxes.add(p);
  }
  const emptyBoxes = allNodes.filter((d) => d.isBox && !keptBoxes.has(d.id));
  assert.ok(emptyBoxes.some((d) => d.isBox === "app" && d.app === "reviews"), "the reviews app boxes are left empty");
  assert.deepEqual(m.hidden, [...ids(hidden), ...ids(touching), ...ids(emptyBoxes)].sort());
  assert.equal(m.visible.length + m.hidden.length, allNodes.length + edges.length);
  await shot("graph-hide");
  // Find and hide together: find only marks, so a found node may be hidden; the rest stays drawn.
  await setExpr("find", "app = productpage");
  assert.deepEqual((await marked()).found, ids(nodes.filter((d) => d.app === "productpage")));
  // Hiding edges; then clearing hide shows everything again.
  const errEdges = edges.filter((e) => e.traffic?.protocol === "http" && Number(e.traffic.rates?.httpPercentErr ?? 0) > 10);
  await setExpr("hide", "%httperr > 10");
  assert.deepEqual((await marked()).hidden, ids(errEdges));
  await setExpr("hide", "");
  assert.deepEqual((await marked()).hidden, []);

  // A bad expression is named under its field, and marks nothing.
  await setExpr("find", "colour = red");
  assert.match(await page.innerText('[data-testid="find-error"]'), /unknown field "colour"/);
  assert.deepEqual((await marked()).found, []);
  // The expressions are kept in the URL: a reload applies them again.
  await setExpr("find", "app = reviews");
  await setExpr("hide", "cluster = east");
  const again = await drawn(() => page.reload());
  const m2 = await marked();
  const againLeaves = leaves(again);
  assert.deepEqual(m2.found, ids(againLeaves.filter((d) => d.app === "reviews")));
  const eastIds = ids(againLeaves.filter((d) => d.cluster === "east"));
  assert.ok(eastIds.length > 0 && eastIds.every((id) => m2.hidden.includes(id)), "east's nodes are hidden after the reload");
  assert.ok(againLeaves.filter((d) => d.cluster !== "east").every((d) => m2.visible.includes(d.id)), "the others are drawn");
  await setExpr("find", "");
  await setExpr("hide", "");
});

test("replay re-requests the graph at the slider's time over the last hour, plays frame by frame, and goes back to live", async () => {
  // The slider ends at the minute the page opens in (rounded down), and the demo's Prometheus started about a minute
  // before these tests: until its rate window at that minute holds two scrapes, "now" on the slider has no traffic.
  // Wait for the server's graph at the current minute to have traffic (what the "traffic now" assertion needs).
  const q = new URL(`${demo.url}/${GRAPH}`).searchParams;
  await waitFor("traffic in the graph at the start of the current minute", 180_000, async () => {
    const t = Math.floor(Date.now() / 60_000) * 60;
    const u = new URL(`${demo.url}/api/namespaces/graph`);
    for (const k of ["namespaces", "graphType", "duration"]) u.searchParams.set(k, q.get(k));
    u.searchParams.set("queryTime", String(t));
    const r = await fetch(u);
    return r.ok && leaves(await r.json()).length > 0;
  }, 2000);
  await drawn(() => page.goto(`${demo.url}/${GRAPH}`));
  const bar = page.locator('[data-testid="replay-bar"]');
  assert.equal(await bar.isVisible(), false);
  let body = await drawn(() => page.click('[data-testid="replay-toggle"]'));
  await bar.waitFor({ state: "visible" });
  const slider = page.locator('[data-testid="replay-slider"]');
  const [min, max, step] = (await Promise.all(["min", "max", "step"].map((a) => slider.getAttribute(a)))).map(Number);
  assert.equal(max - min, 3600, "the slider covers the last hour");
  assert.equal(step, 60);
  assert.ok(Math.abs(Date.now() / 1000 - max) < 120, `the slider ends now (${max})`);
  let last = graphs[graphs.length - 1];
  assert.equal(Number(last.query.queryTime), max - 600, "replay opens ten minutes back");
  assert.equal(body.timestamp, max - 600, "the server answered for that time");
  assert.equal(new URL(page.url()).searchParams.get("replay"), String(max - 600));

  const slide = (t) =>
    drawn(() =>
      slider.evaluate((el, v) => {
        el.value = String(v);
        el.dispatchEvent(new Event("input", { bubbles: true }));
        el.dispatchEvent(new Event("change", { bubbles: true }));
      }, t),
    );
  // An hour back the demo's Prometheus had no samples yet (it started minutes ago): no traffic then.
  body = await slide(min);
  last = graphs[graphs.length - 1];
  assert.equal(Number(last.query.queryTime), min);
  assert.equal(body.timestamp, min);
  if (!process.env.MESHGLASS_URL) {
    assert.equal(leaves(body).length, 0, "no traffic an hour before the demo started");
    await page.locator('[data-testid="graph-message"]').waitFor({ timeout: 10_000 });
  }
  assert.match(await page.innerText('[data-testid="replay-time"]'), /1h ago/);
  body = await slide(max);
  assert.equal(Number(graphs[graphs.length - 1].query.queryTime), max);
  assert.ok(leaves(body).length > 0, "traffic now");
  await shot("graph-replay");

  // Kept in the URL: a reload replays the same time.
  await slide(max - 120);
  await drawn(() => page.reload());
  assert.equal(Number(graphs[graphs.length - 1].query.queryTime), max - 120);
  assert.equal(await slider.inputValue(), String(max - 120));

  // Play, fast: one request per step from the slider's time to the end, in order, then the player stops.
  await page.selectOption('[data-testid="replay-speed"]', "fast");
  const start = Number(await slider.inputValue());
  const end = Number(await slider.getAttribute("max"));
  const from = graphs.length;
  await page.click('[data-testid="replay-play"]');
  await waitFor("the player to reach the end", 60_000, async () => (await page.innerText('[data-testid="replay-play"]')) === "Play" && graphs.length - from >= 3);
  const expected = [];
  for (let t = start; t <= end; t += 60) expected.push(t);
  assert.deepEqual(graphs.slice(from).map((g) => Number(g.query.queryTime)), expected);
  assert.equal(new URL(page.url()).searchParams.get("replay"), String(end));

  // Back to live: no queryTime, no replay in the URL.
  await drawn(() => page.click('[data-testid="replay-live"]'));
  assert.equal(graphs[graphs.length - 1].query.queryTime, undefined);
  assert.equal(new URL(page.url()).searchParams.get("replay"), null);
  assert.equal(await bar.isVisible(), false);
});
