// Traffic graph: namespaces across clusters, graph type, boxes, edge labels, display toggles, duration, refresh,
// and a side panel for the clicked node or edge.

import type { Core, EventObject } from "cytoscape";
import { clusterList, config, get, GraphBody, GraphEdgeData, GraphNodeData, healthByCluster, Namespace, reportError } from "../api";
import { clear, h, select } from "../dom";
import { clearBanner } from "../banners";
import { ms, num, percent, rate } from "../format";
import { EdgeLabel, edgeErrorPct, edgeRate, nodeLabel, render, Rendered } from "../graphview";
import { boxIds, collapseBoxes, collapsibleKind } from "../graphcollapse";
import { compile } from "../graphfind";
import { compileRules } from "../graphhealth";
import { legendPanel } from "../graphlegend";
import { explain } from "../health";
import { detailPath, link, setQuery } from "../nav";
import { ago, nextFrame, parseReplay, queryTimeParams, replayWindow, snap, SPEEDS, type Window as ReplayWindow } from "../replay";
import { nodeSparklines } from "./sparks";

declare global {
  interface Window {
    __meshglass?: {
      cy: Core;
      renderMs?: number;
      layout: string;
      nodes: number;
      edges: number;
      fetchMs: number;
      /** The render's phases (graphview's `Rendered.phases`), complete once renderMs is set. */
      phases?: Record<string, number>;
      /** How many boxes are drawn collapsed (graphcollapse.ts), 0 when the graph is drawn whole. */
      collapsed: number;
    };
  }
}

const GRAPH_TYPES: Array<[string, string]> = [
  ["app", "App graph"],
  ["versionedApp", "Versioned app graph"],
  ["workload", "Workload graph"],
  ["service", "Service graph"],
];
const DURATIONS: Array<[string, string]> = [
  ["60s", "Last 1m"],
  ["300s", "Last 5m"],
  ["600s", "Last 10m"],
  ["1800s", "Last 30m"],
  ["3600s", "Last 1h"],
  ["10800s", "Last 3h"],
];
const REFRESH: Array<[string, string]> = [
  ["0", "Refresh: off"],
  ["10", "Every 10s"],
  ["30", "Every 30s"],
  ["60", "Every 1m"],
  ["300", "Every 5m"],
];

interface State {
  namespaces: string[];
  graphType: string;
  boxBy: string[];
  edgeLabels: EdgeLabel[];
  idle: boolean;
  serviceNodes: boolean;
  security: boolean;
  duration: string;
  refresh: string;
  find: string;
  hide: string;
  legend: boolean;
  /** Replay's query time (unix seconds), null when the graph is live. */
  replay: number | null;
}

function readState(allNamespaces: string[], replay: ReplayWindow): State {
  const q = new URLSearchParams(location.search);
  const list = (k: string, dflt: string[]) => (q.has(k) ? (q.get(k) ?? "").split(",").filter(Boolean) : dflt);
  const defaultNs = allNamespaces.filter((n) => !n.startsWith("kube-"));
  return {
    namespaces: list("namespaces", defaultNs),
    graphType: q.get("graphType") ?? "versionedApp",
    boxBy: list("boxBy", ["cluster", "namespace", "app"]),
    edgeLabels: list("edges", []) as EdgeLabel[],
    idle: q.get("idle") === "true",
    serviceNodes: q.get("svc") !== "false",
    security: q.get("security") === "true",
    duration: q.get("duration") ?? "600s",
    refresh: q.get("refresh") ?? "0",
    find: q.get("find") ?? "",
    hide: q.get("hide") ?? "",
    legend: q.get("legend") === "true",
    replay: parseReplay(q.get("replay"), replay),
  };
}

function writeState(s: State): void {
  setQuery({
    namespaces: s.namespaces.join(","),
    graphType: s.graphType,
    boxBy: s.boxBy.join(","),
    edges: s.edgeLabels.join(","),
    idle: s.idle ? "true" : "",
    svc: s.serviceNodes ? "" : "false",
    security: s.security ? "true" : "",
    duration: s.duration,
    refresh: s.refresh === "0" ? "" : s.refresh,
    find: s.find,
    hide: s.hide,
    legend: s.legend ? "true" : "",
    replay: s.replay === null ? "" : String(s.replay),
  });
}

/** The query of /api/namespaces/graph for `s`. */
function graphParams(s: State): Record<string, string | boolean> {
  return {
    namespaces: s.namespaces.join(","),
    graphType: s.graphType,
    boxBy: s.boxBy.join(","),
    duration: s.duration,
    injectServiceNodes: s.serviceNodes,
    idleNodes: s.idle,
    includeIdleEdges: s.idle,
    responseTime: "95",
    ...queryTimeParams(s.replay),
  };
}

export async function graphPage(app: HTMLElement, signal: AbortSignal): Promise<void> {
  // With the namespaces in the address (only the default selection needs the namespaces list), the graph is asked
  // for at once, beside api/config and api/namespaces: two round trips less before the first frame.
  let prefetched: { key: string; body: Promise<GraphBody>; t0: number } | null = null;
  if (new URLSearchParams(location.search).has("namespaces")) {
    const params = graphParams(readState([], replayWindow(Date.now() / 1000)));
    prefetched = { key: JSON.stringify(params), body: get<GraphBody>("api/namespaces/graph", params, signal), t0: performance.now() };
    prefetched.body.catch(() => {});
  }
  const cfg = await config();
  let namespaces: Namespace[] = [];
  try {
    namespaces = await get<Namespace[]>("api/namespaces", undefined, signal);
  } catch (e) {
    reportError("Namespaces", e);
  }
  const nsClusters = new Map<string, string[]>();
  for (const n of namespaces) nsClusters.set(n.name, [...(nsClusters.get(n.name) ?? []), n.cluster]);
  const allNs = Array.from(nsClusters.keys()).sort();
  // The replay slider covers the hour before the page was opened.
  const replayWin = replayWindow(Date.now() / 1000);
  const state = readState(allNs, replayWin);
  const rules = compileRules(cfg.healthConfig?.rate);

  const canvas = h("div", { id: "cy", class: "cy", "data-testid": "graph" });
  const status = h("div", { class: "graph-status muted", "data-testid": "graph-status" });
  const panel = h("aside", { class: "side-panel", "data-testid": "side-panel", hidden: true });
  const toolbar = h("div", { class: "toolbar graph-toolbar" });
  const findError = h("div", { class: "find-error error", role: "alert", "data-testid": "find-error", hidden: true });
  const hideError = h("div", { class: "find-error error", role: "alert", "data-testid": "hide-error", hidden: true });
  const exprInput = (kind: "find" | "hide", placeholder: string) =>
    h("input", {
      type: "search",
      placeholder,
      value: kind === "find" ? state.find : state.hide,
      "aria-label": `${kind} expression`,
      "data-testid": `graph-${kind}`,
      title: "e.g. app = reviews, ns = bookinfo and httpin > 1, %httperr > 10, !sidecar, healthy; join with and / or",
      onchange: (e: Event) => {
        const v = (e.target as HTMLInputElement).value;
        if (kind === "find") state.find = v;
        else state.hide = v;
        writeState(state);
        applyFindHide();
      },
    });
  const findBar = h(
    "div",
    { class: "find-bar" },
    exprInput("find", "Find…"),
    exprInput("hide", "Hide…"),
    findError,
    hideError,
  );
  const legend = legendPanel();
  legend.hidden = !state.legend;
  const legendBtn = h("button", { "data-testid": "legend-toggle", "aria-pressed": String(state.legend), title: "Show or hide the legend" }, "Legend");
  legendBtn.addEventListener("click", () => {
    state.legend = !state.legend;
    legend.hidden = !state.legend;
    legendBtn.setAttribute("aria-pressed", String(state.legend));
    writeState(state);
  });
  const replayBar = h("div", { class: "replay-bar", "data-testid": "replay-bar", hidden: state.replay === null });
  clear(app, toolbar, replayBar, h("div", { class: "graph-area" }, canvas, panel, legend), status);

  let rendered: Rendered | null = null;
  let timer: number | undefined;
  let loadCtl: AbortController | null = null;
  signal.addEventListener("abort", () => {
    window.clearInterval(timer);
    loadCtl?.abort();
    rendered?.cy.destroy();
  });

  const message = (text: string) => canvas.replaceChildren(h("div", { class: "cy-message", "data-testid": "graph-message" }, text));
  // The latest load (the replay player waits for each frame to be drawn).
  let loaded: Promise<void> = Promise.resolve();
  const changed = () => {
    writeState(state);
    loaded = load();
  };
  const check = (label: string, on: boolean, set: (v: boolean) => void, testid: string) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        checked: on,
        "data-testid": testid,
        onchange: (e: Event) => {
          set((e.target as HTMLInputElement).checked);
          changed();
        },
      }),
      label,
    );
  const toggleIn = <T,>(arr: T[], v: T, on: boolean): T[] => (on ? Array.from(new Set([...arr, v])) : arr.filter((x) => x !== v));

  const nsSummary = h("summary", null);
  const updateNsSummary = () =>
    (nsSummary.textContent = state.namespaces.length ? `Namespaces: ${state.namespaces.join(", ")}` : "Select namespaces");
  updateNsSummary();
  const nsPicker = h(
    "details",
    { class: "ns-picker", "data-testid": "ns-picker" },
    nsSummary,
    h(
      "div",
      { class: "dropdown" },
      allNs.length === 0 ? h("p", { class: "muted" }, "No namespaces visible") : null,
      allNs.map((n) =>
        h(
          "label",
          { class: "check" },
          h("input", {
            type: "checkbox",
            value: n,
            checked: state.namespaces.includes(n),
            onchange: (e: Event) => {
              state.namespaces = toggleIn(state.namespaces, n, (e.target as HTMLInputElement).checked).sort();
              updateNsSummary();
              changed();
            },
          }),
          n,
          h("span", { class: "muted" }, ` (${(nsClusters.get(n) ?? []).join(", ")})`),
        ),
      ),
    ),
  );
  const typeSel = select({ "aria-label": "graph type", "data-testid": "graph-type" }, GRAPH_TYPES, state.graphType);
  typeSel.addEventListener("change", () => {
    state.graphType = typeSel.value;
    changed();
  });
  const durSel = select({ "aria-label": "duration", "data-testid": "duration" }, DURATIONS, state.duration);
  durSel.addEventListener("change", () => {
    state.duration = durSel.value;
    changed();
  });
  const refSel = select({ "aria-label": "refresh interval", "data-testid": "refresh" }, REFRESH, state.refresh);
  // A replayed graph is of a past time: no refresh while replaying (as Kiali's replay).
  const armTimer = () => {
    window.clearInterval(timer);
    const s = Number(state.refresh);
    if (s > 0 && state.replay === null) timer = window.setInterval(() => void load(true), s * 1000);
  };
  refSel.addEventListener("change", () => {
    state.refresh = refSel.value;
    writeState(state);
    armTimer();
  });
  // Replay: a slider over the last hour; its position is the graph's queryTime, and Play steps through it.
  const replayBtn = h("button", { "data-testid": "replay-toggle", "aria-pressed": String(state.replay !== null), title: "Replay the last hour" }, "Replay");
  const slider = h("input", {
    type: "range",
    min: replayWin.min,
    max: replayWin.max,
    step: replayWin.step,
    value: state.replay ?? replayWin.max,
    "aria-label": "replay time",
    "data-testid": "replay-slider",
  });
  const replayTime = h("span", { class: "replay-time", "data-testid": "replay-time" });
  const playBtn = h("button", { "data-testid": "replay-play" }, "Play");
  const speedSel = select({ "aria-label": "replay speed", "data-testid": "replay-speed" }, SPEEDS.map(([k]) => [k, k] as [string, string]), "medium");
  const showReplayTime = (t: number) => {
    replayTime.textContent = `${new Date(t * 1000).toLocaleTimeString()} (${ago(t, replayWin)})`;
    replayTime.dataset.queryTime = String(t);
  };
  let playing = 0;
  const stopPlaying = () => {
    playing++;
    playBtn.textContent = "Play";
  };
  const setReplay = (t: number | null) => {
    state.replay = t === null ? null : snap(t, replayWin);
    replayBar.hidden = state.replay === null;
    replayBtn.setAttribute("aria-pressed", String(state.replay !== null));
    if (state.replay !== null) {
      slider.value = String(state.replay);
      showReplayTime(state.replay);
    }
    armTimer();
    changed();
  };
  replayBtn.addEventListener("click", () => {
    stopPlaying();
    setReplay(state.replay === null ? replayWin.max - 600 : null);
  });
  slider.addEventListener("input", () => showReplayTime(Number(slider.value)));
  slider.addEventListener("change", () => {
    stopPlaying();
    setReplay(Number(slider.value));
  });
  playBtn.addEventListener("click", async () => {
    if (playBtn.textContent === "Pause") return stopPlaying();
    const token = ++playing;
    playBtn.textContent = "Pause";
    // From the start when at the end.
    let t: number | null = state.replay === null || state.replay >= replayWin.max ? replayWin.min : state.replay;
    while (t !== null && token === playing && !signal.aborted) {
      setReplay(t);
      await loaded;
      const pause = SPEEDS.find(([k]) => k === speedSel.value)?.[1] ?? 1500;
      await new Promise((r) => window.setTimeout(r, pause));
      t = nextFrame(t, replayWin);
    }
    if (token === playing) stopPlaying();
  });
  clear(
    replayBar,
    h("strong", null, "Replay"),
    h("span", { class: "muted" }, `${new Date(replayWin.min * 1000).toLocaleTimeString()}`),
    slider,
    h("span", { class: "muted" }, `${new Date(replayWin.max * 1000).toLocaleTimeString()}`),
    replayTime,
    playBtn,
    speedSel,
    h("button", { "data-testid": "replay-live", onclick: () => (stopPlaying(), setReplay(null)) }, "Back to live"),
  );
  if (state.replay !== null) showReplayTime(state.replay);

  clear(
    toolbar,
    h("h1", null, "Traffic graph"),
    nsPicker,
    typeSel,
    h(
      "fieldset",
      null,
      h("legend", null, "Box by"),
      (["cluster", "namespace", "app"] as const).map((b) =>
        check(b, state.boxBy.includes(b), (v) => (state.boxBy = toggleIn(state.boxBy, b, v)), `box-${b}`),
      ),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Edge labels"),
      ([
        ["rate", "request rate"],
        ["error", "error %"],
        ["rt", "response time"],
      ] as Array<[EdgeLabel, string]>).map(([k, l]) =>
        check(l, state.edgeLabels.includes(k), (v) => (state.edgeLabels = toggleIn(state.edgeLabels, k, v)), `label-${k}`),
      ),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Display"),
      check("idle nodes", state.idle, (v) => (state.idle = v), "show-idle"),
      check("service nodes", state.serviceNodes, (v) => (state.serviceNodes = v), "show-services"),
      check("security", state.security, (v) => (state.security = v), "show-security"),
    ),
    durSel,
    refSel,
    h("button", { onclick: () => void load(), "data-testid": "graph-refresh" }, "Refresh"),
    replayBtn,
    legendBtn,
    findBar,
  );

  const clusters = clusterList(cfg).filter((c) => c.accessible).map((c) => c.name);

  // Find highlights what an expression matches, hide takes it off the graph (with the edges of hidden nodes, and the
  // boxes it leaves empty), as Kiali's graph find/hide do; a bad expression says what is wrong under its field.
  // Classes only (the stylesheet draws them), and collections' own not(): Cytoscape selectors have no `:not()`.
  function applyFindHide(): void {
    const cy = rendered?.cy;
    const results: Array<["find" | "hide", HTMLElement, string]> = [
      ["find", findError, state.find],
      ["hide", hideError, state.hide],
    ];
    for (const [kind, el, expr] of results) {
      const c = compile(expr);
      el.textContent = c.ok ? "" : `${kind}: ${c.error}`;
      el.hidden = c.ok;
      if (!cy) continue;
      const cls = kind === "find" ? "find-match" : "hidden-by-hide";
      cy.batch(() => {
        cy.elements().removeClass(cls);
        if (!c.ok || c.target === "none") return;
        const hit = c.target === "node" ? cy.nodes().filter((n) => c.node(n.data())) : cy.edges().filter((e) => c.edge(e.data()));
        hit.addClass(cls);
        if (kind === "hide") {
          hit.connectedEdges().addClass(cls);
          // Boxes with no visible node left (large graphs keep a leaf's box in data.box instead of a parent).
          const keep = new Set<string>();
          cy.nodes()
            .filter((n) => !n.data("isBox") && !n.hasClass(cls))
            .forEach((n) => {
              for (let p = n.data("parent") ?? n.data("box"); p && !keep.has(p); ) {
                keep.add(p);
                const pn = cy.getElementById(p);
                p = pn.data("parent") ?? pn.data("box");
              }
            });
          cy.nodes()
            .filter((n) => Boolean(n.data("isBox")) && !keep.has(n.id()))
            .addClass(cls);
        }
      });
    }
    if (cy) {
      canvas.dataset.found = String(cy.elements(".find-match").length);
      canvas.dataset.hidden = String(cy.elements(".hidden-by-hide").length);
    }
  }

  // The canvas says when a load is done (data-state, and data-timestamp: the time the answer is of), drawn or not.
  async function load(keepView = false): Promise<void> {
    loadCtl?.abort();
    const ctl = new AbortController();
    loadCtl = ctl;
    canvas.dataset.state = "loading";
    try {
      await loadGraph(keepView, ctl);
    } finally {
      if (!ctl.signal.aborted) canvas.dataset.state = "done";
    }
  }

  async function loadGraph(keepView: boolean, ctl: AbortController): Promise<void> {
    if (state.namespaces.length === 0) {
      rendered?.cy.destroy();
      rendered = null;
      clear(status, "Select at least one namespace.");
      message("Select at least one namespace.");
      return;
    }
    clear(status, "Loading graph…");
    let t0 = performance.now();
    let body: GraphBody;
    const params = graphParams(state);
    const pre = prefetched;
    prefetched = null;
    // The fetch's time is from its request (the prefetch's when it is used).
    if (pre && pre.key === JSON.stringify(params)) t0 = pre.t0;
    try {
      body = pre && pre.key === JSON.stringify(params) ? await pre.body : await get<GraphBody>("api/namespaces/graph", params, ctl.signal);
      if (ctl.signal.aborted) return;
      clearBanner("err-Graph");
      canvas.dataset.timestamp = String(body.timestamp ?? "");
    } catch (e) {
      if (ctl.signal.aborted) return;
      reportError("Graph", e);
      clear(status, "The graph could not be loaded; see the message above.");
      if (!keepView) {
        rendered?.cy.destroy();
        rendered = null;
        message("The graph could not be loaded; see the message above.");
      }
      return;
    }
    const fetchMs = performance.now() - t0;
    lastBody = body;
    lastFetchMs = fetchMs;
    await draw(body, fetchMs, keepView);
  }

  // Large graphs are drawn with their namespace boxes collapsed (graphcollapse.ts) until expanded: one box by a
  // double-click (or its panel's button), every box by the status line's button. What was expanded stays so across
  // refreshes of the page's graph.
  let lastBody: GraphBody | null = null;
  let lastFetchMs = 0;
  let expandAll = false;
  const expanded = new Set<string>();
  async function redraw(): Promise<void> {
    if (!lastBody) return;
    canvas.dataset.state = "loading";
    try {
      await draw(lastBody, lastFetchMs, false);
    } finally {
      canvas.dataset.state = "done";
    }
  }
  const expand = (id: string | null) => {
    if (id === null) expandAll = true;
    else expanded.add(id);
    panel.hidden = true;
    loaded = redraw();
  };
  const collapseAll = () => {
    expandAll = false;
    expanded.clear();
    panel.hidden = true;
    loaded = redraw();
  };

  async function draw(body: GraphBody, fetchMs: number, keepView: boolean): Promise<void> {
    const zoom = keepView && rendered ? { zoom: rendered.cy.zoom(), pan: rendered.cy.pan() } : null;
    rendered?.cy.destroy();
    canvas.replaceChildren();
    const nodes = body.elements?.nodes ?? [];
    const edges = body.elements?.edges ?? [];
    if (nodes.length === 0) {
      rendered = null;
      clear(status, `No traffic in ${state.namespaces.join(", ")} during the selected period.`);
      message(`No traffic in ${state.namespaces.join(", ")} during the selected period.`);
      return;
    }
    const kind = collapsibleKind(body);
    const toCollapse = kind ? boxIds(body, kind).filter((id) => !expandAll && !expanded.has(id)) : [];
    const shown = toCollapse.length ? collapseBoxes(body, new Set(toCollapse)) : body;
    canvas.dataset.collapsed = String(toCollapse.length);
    rendered = render(canvas, shown, { edgeLabels: state.edgeLabels, security: state.security, rules, large: kind !== null });
    const r = rendered;
    const cyRef = r.cy;
    window.__meshglass = { cy: cyRef, layout: r.layout, nodes: nodes.length, edges: edges.length, fetchMs, phases: r.phases, collapsed: toCollapse.length };
    cyRef.on("tap", "node, edge", (ev: EventObject) => {
      const t = ev.target;
      if (t.isNode()) showNode(t.data() as GraphNodeData);
      else showEdge(t.data() as GraphEdgeData);
    });
    // The ids of the last two taps (null: the background). Cytoscape fires dbltap for any two taps
    // in quick succession, wherever they were: a click on a node and then on a box is not a
    // double-click on the box.
    let taps: [string | null, string | null] = [null, null];
    cyRef.on("tap", (ev: EventObject) => {
      taps = [taps[1], ev.target === cyRef ? null : (ev.target.id() as string)];
      if (ev.target === cyRef) panel.hidden = true;
    });
    cyRef.on("dbltap", "node", (ev: EventObject) => {
      const d = ev.target.data() as GraphNodeData;
      if (d.collapsed && taps[0] === d.id) expand(d.id);
    });
    const renderMs = await r.renderMs;
    if (zoom && !cyRef.destroyed()) {
      cyRef.zoom(zoom.zoom);
      cyRef.pan(zoom.pan);
    }
    applyFindHide();
    if (window.__meshglass?.cy === cyRef) Object.assign(window.__meshglass, { renderMs, layout: r.layout });
    canvas.dataset.renderMs = renderMs.toFixed(0);
    // What the benchmark (scripts/bench-graph.mjs) waits for: the graph laid out and its first frame painted.
    performance.mark("meshglass:graph-drawn", { detail: { nodes: nodes.length, edges: edges.length, fetchMs, renderMs } });
    const boxes = nodes.filter((n) => n.data.isBox === "cluster").length;
    const lod = toCollapse.length
      ? h(
          "span",
          { "data-testid": "graph-collapsed" },
          ` · large graph: ${toCollapse.length} ${kind} boxes drawn collapsed, with their edges summed; double-click one to expand it, or `,
          h("button", { "data-testid": "graph-expand-all", onclick: () => expand(null) }, "Expand all"),
        )
      : kind
        ? h("span", null, " · ", h("button", { "data-testid": "graph-collapse-all", onclick: collapseAll }, `Collapse ${kind} boxes`))
        : null;
    clear(
      status,
      `${nodes.filter((n) => !n.data.isBox).length} nodes, ${edges.length} edges`,
      boxes ? `, ${boxes} cluster boxes` : "",
      ` · fetched in ${ms(fetchMs)}, drawn in ${ms(renderMs)} (${r.layout} layout)`,
      body.timestamp ? ` · at ${new Date(body.timestamp * 1000).toLocaleTimeString()}` : "",
      lod,
    );
  }

  const row = (k: string, v: Node | string | null | undefined) => (v === null || v === undefined || v === "" ? null : h("tr", null, h("th", null, k), h("td", null, v)));

  function showNode(d: GraphNodeData): void {
    panel.hidden = false;
    if (d.collapsed) {
      clear(
        panel,
        h("button", { class: "close", onclick: () => (panel.hidden = true), title: "close" }, "×"),
        h("h2", null, `${d.collapsed} box (collapsed): `, d.collapsed === "cluster" ? d.cluster : d.namespace),
        h("table", { class: "kv" }, row("Cluster", h("span", { class: "cluster-chip ok", "data-testid": "panel-cluster" }, d.cluster)), row("Namespace", d.namespace)),
        h("p", null, `${d.collapsedNodes ?? 0} nodes inside, drawn as one with their edges summed.`),
        h("button", { "data-testid": "panel-expand", onclick: () => expand(d.id) }, "Expand"),
      );
      return;
    }
    const name = nodeLabel(d);
    const healthEl = h("div", { "data-testid": "panel-health" }, h("p", { class: "muted" }, "Loading health…"));
    const rates = d.traffic ?? [];
    const kind = d.nodeType === "service" ? "service" : d.nodeType === "workload" ? "workload" : "app";
    const key = kind === "service" ? d.service : kind === "workload" ? d.workload : d.app;
    const sparkKind = kind === "service" ? "services" : kind === "workload" ? "workloads" : "applications";
    const sparks =
      d.isBox || !key || !clusters.includes(d.cluster) || d.isInaccessible || d.nodeType === "unknown"
        ? null
        : [h("h3", null, "Requests"), nodeSparklines(d.id, sparkKind, d.namespace, key, d.cluster, state.duration)];
    const detail =
      d.isBox || d.nodeType === "unknown" || d.isInaccessible
        ? null
        : d.nodeType === "service"
          ? detailPath("services", d.namespace, d.service ?? "")
          : d.nodeType === "workload" || (state.graphType === "workload" && d.workload)
            ? detailPath("workloads", d.namespace, d.workload ?? "")
            : d.app
              ? detailPath("applications", d.namespace, d.app)
              : null;
    clear(
      panel,
      h("button", { class: "close", onclick: () => (panel.hidden = true), title: "close" }, "×"),
      h("h2", null, d.isBox ? `${d.isBox} box` : d.nodeType, ": ", name),
      h(
        "table",
        { class: "kv" },
        row("Cluster", h("span", { class: "cluster-chip ok", "data-testid": "panel-cluster" }, d.cluster)),
        row("Namespace", d.namespace),
        row("App", d.app),
        row("Version", d.version),
        row("Workload", d.workload),
        row("Service", d.service),
        row("Flags", [d.isRoot && "root", d.isDead && "dead", d.isIdle && "idle", d.isOutside && "outside", d.isInaccessible && "inaccessible"].filter(Boolean).join(", ")),
      ),
      d.isInaccessible && !d.isBox
        ? h("p", { class: "muted", "data-testid": "panel-inaccessible" }, `You may not read ${d.namespace} in ${d.cluster} (or have not logged in to ${d.cluster}): only the traffic your namespaces sent or received is shown.`)
        : null,
      d.isBox ? h("p", null, `${rendered?.cy.getElementById(d.id).descendants().filter((n) => !n.data("isBox")).length ?? 0} nodes inside`) : null,
      rates.length
        ? [
            h("h3", null, "Traffic"),
            h(
              "table",
              { class: "kv", "data-testid": "panel-traffic" },
              rates.flatMap((t) =>
                Object.entries(t.rates ?? {}).map(([k, v]) => row(`${t.protocol} ${k}`, `${num(v).toFixed(2)}${t.protocol === "tcp" ? " bps" : " rps"}`)),
              ),
            ),
          ]
        : h("p", { class: "muted" }, "No traffic recorded for this node."),
      d.isBox ? null : [h("h3", null, "Health"), healthEl],
      sparks,
      detail
        ? h(
            "p",
            null,
            link(detail, `Details of ${name} →`),
            " ",
            h("a", { href: `${detail}?tab=traces`, "data-nav": true, "data-testid": "panel-traces" }, "Traces →"),
          )
        : null,
    );
    if (d.isBox) return;
    if (!key || !clusters.includes(d.cluster) || d.isInaccessible) {
      clear(healthEl, explain(undefined));
      return;
    }
    void healthByCluster([d.cluster], kind, [d.namespace], state.duration).then((m) => {
      clear(healthEl, explain(m.get(d.cluster)?.[d.namespace]?.[key]));
    });
  }

  function showEdge(d: GraphEdgeData): void {
    panel.hidden = false;
    const cy = rendered?.cy;
    const src = cy?.getElementById(d.source).data() as GraphNodeData | undefined;
    const dst = cy?.getElementById(d.target).data() as GraphNodeData | undefined;
    const end = (n?: GraphNodeData) => (n ? h("span", null, nodeLabel(n), " ", h("span", { class: "cluster-chip ok" }, n.cluster), ` ${n.namespace}`) : "?");
    const { value, unit } = edgeRate(d);
    const responses = (d.traffic?.responses ?? {}) as Record<string, { flags?: Record<string, string>; hosts?: Record<string, string> }>;
    clear(
      panel,
      h("button", { class: "close", onclick: () => (panel.hidden = true), title: "close" }, "×"),
      h("h2", null, "Edge"),
      h(
        "table",
        { class: "kv" },
        row("From", end(src)),
        row("To", end(dst)),
        row("Clusters", src && dst ? (src.cluster === dst.cluster ? `within ${src.cluster}` : `${src.cluster} → ${dst.cluster} (cross-cluster)`) : ""),
        row("Protocol", d.traffic?.protocol ?? ""),
        row("Rate", unit === "bps" ? `${value.toFixed(2)} bps` : rate(value)),
        row("Errors", percent(edgeErrorPct(d))),
        row("Response time", num(d.responseTime) > 0 ? ms(num(d.responseTime)) : ""),
        row("mTLS", num(d.isMTLS) > 0 ? `${num(d.isMTLS).toFixed(0)}% of requests` : "none"),
        row("Edges summed", d.aggregated ? `${d.aggregated} (between collapsed boxes)` : ""),
      ),
      Object.keys(responses).length
        ? [
            h("h3", null, "Responses"),
            h(
              "table",
              { class: "kv" },
              Object.entries(responses).map(([code, r]) =>
                row(code, Object.entries(r.flags ?? {}).map(([f, p]) => `${f}: ${p}%`).join(", ")),
              ),
            ),
          ]
        : null,
    );
  }

  armTimer();
  loaded = load();
  await loaded;
}
