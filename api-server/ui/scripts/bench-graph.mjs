#!/usr/bin/env node
// `make bench-ui`: the traffic graph page in real Chromium on synthetic graphs (tests/harness.mjs' syntheticGraph,
// Kiali's cytoscape JSON), served with the built UI by a stand-in for the server (tests/stubserver.mjs), so that only
// the UI is measured. Per size, RUNS fresh page loads; per load:
//   - navigation → drawn: from the navigation's start to the page's `meshglass:graph-drawn` mark (graph laid out and
//     its first frame painted), with where the time went: boot (the page's script, api/config, api/namespaces, until
//     the graph is asked for), network, parse, and the render's phases (window.__meshglass.phases);
//   - expand all → drawn: above the UI's size threshold the first frame has its boxes collapsed (graphcollapse.ts);
//     a click on "Expand all" to the next mark, and every gesture below is then on the whole graph;
//   - refresh → drawn: a click on Refresh to the next mark (the whole graph: what was expanded stays so);
//   - select: mousedown on a node to the frame painted after its side panel opened;
//   - zoom: a wheel event to its painted frame, and to the full-quality frame (Cytoscape redraws everything 150 ms
//     after the last wheel event; the figure includes that delay);
//   - pan: each mousemove of a drag to its painted frame, and mouseup to the full-quality frame.
// "Painted frame" is two requestAnimationFrame callbacks after the event, so frame latencies have a floor of about
// one or two frames (16–33 ms). Figures are p50 / p95 (nearest rank) over every sample of the runs; nothing is asserted.
//
// Usage: node scripts/bench-graph.mjs [--sizes 1000,3000,5000] [--runs 5] [--edges-per-node 3] [--profile]
// (or BENCH_SIZES, BENCH_RUNS). Writes target/ui-artifacts/bench-ui.json (--profile: also bench-ui-<nodes>.cpuprofile,
// the first load of each size) and prints Markdown tables. MESHGLASS_UI_DIST=<dir> measures another build of the UI.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { artifacts, launchBrowser, syntheticGraph } from "../tests/harness.mjs";
import { startStubServer } from "../tests/stubserver.mjs";

const VIEWPORT = { width: 1600, height: 1000 };
const MARK = "meshglass:graph-drawn";
/** Where the time to the first render went: before the graph is asked for, its transfer and parse, render's phases. */
const PHASES = ["boot", "network", "parse", "phase.elements", "phase.layout", "phase.cytoscape", "phase.paint"];

/** Nearest-rank percentile of `xs` (p in 0..100); NaN when empty. */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/**
 * Waits for the `n`th graph drawn on the page; returns its page time. The `meshglass:graph-drawn` mark when the UI sets
 * it; builds from before it (MESHGLASS_UI_DIST=<an older dist>, to compare) are seen drawn, at the next frame, when a
 * new window.__meshglass gets its renderMs.
 */
async function waitDrawn(page, n, timeout) {
  const h = await page.waitForFunction(
    (args) => {
      const marks = performance.getEntriesByName(args.mark);
      if (marks.length >= args.n) return marks[args.n - 1].startTime;
      const g = window.__meshglass;
      if (marks.length === 0 && g && !g.benchSeen && typeof g.renderMs === "number") {
        window.__benchDrawn = (window.__benchDrawn ?? 0) + 1;
        g.benchSeen = true;
        if (window.__benchDrawn >= args.n) return performance.now();
      }
      return 0;
    },
    { mark: MARK, n },
    { timeout, polling: "raf" },
  );
  return h.jsonValue();
}

/** CPU time of the page's main thread so far (ms; Chromium's Performance.getMetrics ThreadTime). */
async function threadTime(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return 1000 * (metrics.find((m) => m.name === "ThreadTime")?.value ?? NaN);
}

/**
 * From `since` (page time) to Cytoscape's last render event before it stays quiet for `quietMs`; null when it does
 * not render at all within `giveUpMs` (a gesture that changed nothing, e.g. zooming out at the minimum zoom).
 */
function settled(page, since, quietMs = 400, giveUpMs = 5_000) {
  return page.evaluate(
    ({ since, quietMs, giveUpMs }) =>
      new Promise((resolve) => {
        const check = () => {
          const last = window.__bench.renders.filter((t) => t >= since).pop();
          const now = performance.now();
          if (last !== undefined && now - last >= quietMs) resolve(last - since);
          else if (last === undefined && now - since > giveUpMs) resolve(null);
          else setTimeout(check, 50);
        };
        setTimeout(check, quietMs);
      }),
    { since, quietMs, giveUpMs },
  );
}

/** One fresh load of the graph page at `url`, then the interactions. Returns its samples. */
async function oneRun(browser, url, { timeout, interactions = 5, profile = null }) {
  const ctx = await browser.newContext({ viewport: VIEWPORT });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Performance.enable", { timeDomain: "threadTicks" });
  try {
    if (profile) {
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.start");
    }
    await page.goto(url, { waitUntil: "commit" });
    const drawn = await waitDrawn(page, 1, timeout);
    const cpu = await threadTime(cdp);
    if (profile) writeFileSync(profile, JSON.stringify((await cdp.send("Profiler.stop")).profile));
    const load = await page.evaluate(() => {
      const g = window.__meshglass;
      const res = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/namespaces/graph")).pop();
      const network = res ? res.responseEnd - res.startTime : NaN;
      return {
        nodes: g.cy.nodes().filter((n) => !n.data("isBox")).length,
        edges: g.cy.edges().length,
        ...Object.fromEntries(Object.entries(g.phases ?? {}).map(([k, v]) => [`phase.${k}`, v])),
        layout: g.layout,
        boot: res ? res.startTime : NaN,
        network,
        parse: g.fetchMs - network,
      };
    });
    const sample = { drawn, cpu, ...load, errors };
    let marks = 1;

    // Large graphs are drawn with their boxes collapsed first (graphcollapse.ts): Expand all, timed to its drawn
    // mark, and the gestures below are on the whole graph. (Builds without it skip this.)
    sample.collapsed = await page.evaluate(() => window.__meshglass.collapsed ?? 0);
    if (await page.locator('[data-testid="graph-expand-all"]').count()) {
      const cpu0 = await threadTime(cdp);
      const t = await page.evaluate(() => {
        const t0 = performance.now();
        document.querySelector('[data-testid="graph-expand-all"]').click();
        return t0;
      });
      sample.expand = (await waitDrawn(page, ++marks, timeout)) - t;
      sample.expandCpu = (await threadTime(cdp)) - cpu0;
      // The table's node and edge counts and layout are the whole graph's.
      Object.assign(
        sample,
        await page.evaluate(() => {
          const g = window.__meshglass;
          return { nodes: g.cy.nodes().filter((n) => !n.data("isBox")).length, edges: g.cy.edges().length, layout: g.layout };
        }),
      );
    }

    // Instruments: Cytoscape's render events, and per input event the time to its painted frame.
    await page.evaluate(() => {
      const cy = window.__meshglass.cy;
      window.__bench = { renders: [], frames: [] };
      cy.on("render", () => window.__bench.renders.push(performance.now()));
      const container = cy.container();
      const timeFrame = (kind, t0) =>
        requestAnimationFrame(() => requestAnimationFrame(() => window.__bench.frames.push({ kind, ms: performance.now() - t0, at: t0 })));
      container.addEventListener("wheel", (e) => timeFrame("wheel", e.timeStamp), { capture: true, passive: true });
      window.addEventListener("mousemove", (e) => e.buttons && timeFrame("move", e.timeStamp), { capture: true, passive: true });
      container.addEventListener("mousedown", (e) => (window.__bench.down = e.timeStamp), { capture: true });
      window.addEventListener("mouseup", () => timeFrame("click", window.__bench.down), { capture: true });
    });
    const box = await page.locator('[data-testid="graph"]').boundingBox();

    // Select: nodes spread over those in view, left of where the side panel opens (the minimum zoom does not fit a
    // graph of 5,000 nodes in the view).
    const targets = await page.evaluate(({ n, width }) => {
      const cy = window.__meshglass.cy;
      const rect = cy.container().getBoundingClientRect();
      const inView = cy.nodes().filter((x) => {
        const p = x.renderedPosition();
        return !x.data("isBox") && p.x > 20 && p.x < Math.min(rect.width, width) * 0.55 && p.y > 20 && p.y < rect.height - 20;
      });
      const step = Math.max(1, Math.floor(inView.length / n));
      const out = [];
      for (let i = 0; out.length < n && i < inView.length; i += step) {
        const p = inView[i].renderedPosition();
        out.push({ id: inView[i].id(), label: inView[i].data("label"), x: rect.left + p.x, y: rect.top + p.y });
      }
      return out;
    }, { n: interactions, width: VIEWPORT.width });
    if (targets.length < interactions) errors.push(`only ${targets.length} nodes in view to click`);
    sample.select = [];
    for (const t of targets) {
      const before = await page.evaluate(() => window.__bench.frames.length);
      await page.mouse.click(t.x, t.y);
      await page.waitForFunction((b) => window.__bench.frames.length > b, before, { timeout, polling: 20 });
      const ok = await page.evaluate((label) => {
        const p = document.querySelector('[data-testid="side-panel"]');
        return Boolean(p && !p.hidden && p.querySelector("h2")?.textContent?.includes(label));
      }, t.label);
      const f = await page.evaluate(() => window.__bench.frames.filter((x) => x.kind === "click").pop());
      if (ok) sample.select.push(f.ms);
      else errors.push(`a click on ${t.id} did not open its panel`);
    }
    await page.mouse.click(box.x + 5, box.y + box.height - 5);
    await frames(page);

    // Zoom: wheel steps in then out around the middle of the graph, each followed by its full redraw.
    sample.zoomFrame = [];
    sample.zoomFull = [];
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < interactions * 2; i++) {
      const since = await page.evaluate(() => performance.now());
      await page.mouse.wheel(0, i % 2 === 0 ? -200 : 200);
      sample.zoomFull.push(await settled(page, since));
    }
    sample.zoomFrame = await page.evaluate(() => window.__bench.frames.filter((x) => x.kind === "wheel").map((x) => x.ms));

    // Pan: drags of 5 moves each from the background (fit() leaves 30 px around the graph; a drag that starts on a
    // node or box moves it instead), then the full redraw after mouseup.
    sample.panFull = [];
    for (let i = 0; i < interactions; i++) {
      const x = box.x + 12;
      const y = box.y + box.height * 0.5;
      await page.mouse.move(x, y);
      await page.mouse.down();
      const dir = i % 2 === 0 ? 1 : -1;
      await page.mouse.move(x + dir * 120, y + dir * 60, { steps: 5 });
      const since = await page.evaluate(() => performance.now());
      await page.mouse.up();
      sample.panFull.push(await settled(page, since));
    }
    sample.panFrame = await page.evaluate(() => window.__bench.frames.filter((x) => x.kind === "move").map((x) => x.ms));

    // Refresh: the same graph asked again and drawn, keeping the view.
    const cpu0 = await threadTime(cdp);
    const t = await page.evaluate(() => {
      const t0 = performance.now();
      document.querySelector('[data-testid="graph-refresh"]').click();
      return t0;
    });
    sample.refresh = (await waitDrawn(page, ++marks, timeout)) - t;
    sample.refreshCpu = (await threadTime(cdp)) - cpu0;
    return sample;
  } finally {
    await ctx.close();
  }
}

/**
 * Runs the benchmark: for each node count of `sizes`, a graph of `edgesPerNode` × as many edges, `runs` loads.
 * Returns one summary per size ({nodes, edges, layout, drawn, refresh, ... as {p50, p95}; phases as p50}).
 */
export async function benchGraph({ sizes = [1000, 3000, 5000], runs = 5, edgesPerNode = 3, interactions = 5, profile = false, log = console.log } = {}) {
  let body = "{}";
  const stub = await startStubServer(() => body);
  const browser = await launchBrowser();
  const chromium = browser.version();
  const results = [];
  try {
    for (const n of sizes) {
      const graph = syntheticGraph(n, n * edgesPerNode);
      const namespaces = [...new Set(graph.elements.nodes.map((x) => x.data.namespace).filter(Boolean))].sort();
      body = JSON.stringify(graph);
      const url = `${stub.url}/console/graph/namespaces?namespaces=${namespaces.join(",")}&graphType=workload&boxBy=cluster,namespace&duration=600s`;
      const timeout = 60_000 + n * 60;
      const samples = [];
      for (let r = 0; r < runs; r++) {
        // --profile: the CPU profile of the first load (navigation → drawn), for Chromium's DevTools (Performance tab).
        const prof = profile && r === 0 ? join(artifacts, `bench-ui-${n}.cpuprofile`) : null;
        const s = await oneRun(browser, url, { timeout, interactions, profile: prof });
        if (prof) log(`# ${prof}`);
        const lod = s.collapsed ? ` with ${s.collapsed} boxes collapsed, expand all ${s.expand?.toFixed(0)} ms` : "";
        log(`# ${n} nodes, run ${r + 1}/${runs}: drawn at ${s.drawn.toFixed(0)} ms (${s.layout})${lod}, refresh ${s.refresh.toFixed(0)} ms${s.errors.length ? `; errors: ${s.errors.join("; ")}` : ""}`);
        samples.push(s);
      }
      const all = (k) => samples.flatMap((s) => (Array.isArray(s[k]) ? s[k] : [s[k]])).filter((v) => Number.isFinite(v));
      const stat = (k) => ({ p50: percentile(all(k), 50), p95: percentile(all(k), 95), n: all(k).length });
      results.push({
        nodes: samples[0].nodes,
        edges: samples[0].edges,
        layout: samples[0].layout,
        chromium,
        runs,
        drawn: stat("drawn"),
        cpu: stat("cpu"),
        collapsed: samples[0].collapsed,
        expand: stat("expand"),
        expandCpu: stat("expandCpu"),
        refresh: stat("refresh"),
        refreshCpu: stat("refreshCpu"),
        select: stat("select"),
        zoomFrame: stat("zoomFrame"),
        zoomFull: stat("zoomFull"),
        panFrame: stat("panFrame"),
        panFull: stat("panFull"),
        phases: Object.fromEntries(PHASES.map((p) => [p.replace("phase.", ""), percentile(all(p), 50)])),
        errors: samples.flatMap((s) => s.errors),
      });
    }
  } finally {
    await browser.close();
    await stub.stop();
  }
  return results;
}

const f = (v) => (Number.isFinite(v) ? v.toFixed(0) : "–");
const pp = (s) => `${f(s.p50)} / ${f(s.p95)}`;

/** The results as a Markdown table (ms, p50 / p95), then the phases of the first render (p50). */
export function table(results) {
  const lines = [
    "| nodes / edges | layout | boxes collapsed | navigation → drawn | (main-thread CPU) | expand all → drawn | (CPU) | refresh → drawn | (CPU) | select node | zoom: frame | zoom: full redraw | pan: frame | pan: full redraw |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.nodes.toLocaleString("en")} / ${r.edges.toLocaleString("en")} | ${r.layout} | ${r.collapsed ?? 0} | ${pp(r.drawn)} | ${pp(r.cpu)} | ${pp(r.expand)} | ${pp(r.expandCpu)} | ${pp(r.refresh)} | ${pp(r.refreshCpu)} | ${pp(r.select)} | ${pp(r.zoomFrame)} | ${pp(r.zoomFull)} | ${pp(r.panFrame)} | ${pp(r.panFull)} |`,
    ),
    "",
    `| nodes | ${PHASES.map((p) => p.replace("phase.", "")).join(" | ")} |`,
    `|---:|${PHASES.map(() => "---:").join("|")}|`,
    ...results.map((r) => `| ${r.nodes.toLocaleString("en")} | ${PHASES.map((p) => f(r.phases[p.replace("phase.", "")])).join(" | ")} |`),
  ];
  return lines.join("\n");
}

function arg(name, env, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : process.env[env] ?? dflt;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = String(arg("sizes", "BENCH_SIZES", "1000,3000,5000")).split(",").map(Number);
  const runs = Number(arg("runs", "BENCH_RUNS", "5"));
  const edgesPerNode = Number(arg("edges-per-node", "BENCH_EDGES_PER_NODE", "3"));
  const results = await benchGraph({ sizes, runs, edgesPerNode, profile: process.argv.includes("--profile") });
  writeFileSync(join(artifacts, "bench-ui.json"), JSON.stringify(results, null, 2));
  console.log(`\nms, p50 / p95 over ${runs} page loads per size (${new Date().toISOString().slice(0, 10)}, headless Chromium ${results[0]?.chromium ?? ""}):\n`);
  console.log(table(results));
  if (results.some((r) => r.errors.length)) {
    console.error("\nerrors:", results.flatMap((r) => r.errors).join("\n"));
    process.exitCode = 1;
  }
}
