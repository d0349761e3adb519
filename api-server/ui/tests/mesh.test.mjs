// Browser test of the mesh page on the demo mesh (primary-remote: istiod on east, west naming east in
// `topology.istio.io/controlPlaneClusters`), served by the real meshglass-server binary. Screenshots go to
// target/ui-artifacts/ (mesh.png, mesh-istiod-panel.png); and of the namespaces page (namespaces*.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;

before(async () => ({ demo, page, stop } = await openSuite({ viewport: { width: 1600, height: 1100 } })));
after(async () => stop?.());

const shot = (name) => shotOf(page, name, true);

test("the mesh page draws clusters, east's istiod managing both clusters' data planes, and its panel", async () => {
  // istiod's pod runs on a simulated node: wait until the server reports it Healthy.
  await waitFor("istiod Healthy on east", 120_000, async () => {
    await page.goto(`${demo.url}/console/mesh`);
    await page.waitForFunction(() => window.__meshglassMesh?.rendered === true, null, { timeout: 30_000 });
    const s = page.locator('[data-testid="istio-status"] tr[data-component="istiod"][data-cluster="east"] [data-status]');
    return (await s.count()) === 1 && (await s.getAttribute("data-status")) === "Healthy";
  }, 2_000);

  const g = await page.evaluate(() => {
    const cy = window.__meshglassMesh.cy;
    const boxes = cy.nodes('[isBox = "cluster"]').map((n) => n.data("cluster")).sort();
    const bbs = cy.nodes('[isBox = "cluster"]').map((n) => ({ ...n.boundingBox(), c: n.data("cluster"), cls: n.classes() }));
    const overlaps = bbs.flatMap((a, i) => bbs.slice(i + 1).filter((b) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2)).length;
    const istiods = cy.nodes('[infraType = "istiod"]').map((n) => ({ id: n.id(), cluster: n.data("cluster"), name: n.data("infraName"), version: n.data("version"), rev: n.data("infraData").revision }));
    const planes = cy.nodes('[infraType = "dataplane"]').map((n) => ({
      cluster: n.data("cluster"),
      box: n.parent().data("cluster"),
      namespaces: n.data("infraData").map((x) => x.name).sort(),
      fedBy: n.incomers("node").map((s) => s.data("infraName")),
    }));
    return { boxes, bbs, overlaps, istiods, planes };
  });
  assert.ok(g.boxes.includes("east") && g.boxes.includes("west"), `cluster boxes: ${g.boxes}`);
  assert.equal(g.overlaps, 0, `cluster boxes overlap: ${JSON.stringify(g.bbs)}`);
  assert.equal(g.istiods.length, 1, JSON.stringify(g.istiods));
  assert.deepEqual([g.istiods[0].cluster, g.istiods[0].name, g.istiods[0].rev, g.istiods[0].version], ["east", "istiod", "default", "1.28.0"]);
  for (const cluster of ["east", "west"]) {
    const dp = g.planes.find((p) => p.cluster === cluster);
    assert.ok(dp, `no data plane of ${cluster}: ${JSON.stringify(g.planes)}`);
    assert.equal(dp.box, cluster, "the data plane sits in its cluster's box");
    assert.ok(dp.namespaces.includes("bookinfo"), `${cluster}'s data plane: ${dp.namespaces}`);
    assert.deepEqual(dp.fedBy, ["istiod"]);
  }
  const managed = await page.locator('[data-testid="control-planes"] tr[data-istiod="istiod"] [data-testid="managed-clusters"]').innerText();
  assert.equal(managed, "east, west");
  await shot("mesh");

  // Click istiod: the side panel lists the clusters and namespaces it manages.
  const pos = await page.evaluate((id) => {
    const cy = window.__meshglassMesh.cy;
    const p = cy.getElementById(id).renderedPosition();
    const rect = cy.container().getBoundingClientRect();
    return { x: rect.left + p.x, y: rect.top + p.y };
  }, g.istiods[0].id);
  await page.mouse.click(pos.x, pos.y);
  const panel = page.locator('[data-testid="side-panel"]');
  await panel.waitFor({ state: "visible", timeout: 10_000 });
  assert.equal(await panel.locator('[data-testid="panel-title"]').innerText(), "istiod");
  const clusters = await panel.locator('[data-testid="panel-managed-clusters"] li').allInnerTexts();
  assert.deepEqual(clusters, ["east", "west"]);
  const namespaces = await panel.locator('[data-testid="panel-namespaces"] li').allInnerTexts();
  assert.ok(namespaces.includes("east/bookinfo") && namespaces.includes("west/bookinfo"), `panel namespaces: ${namespaces}`);
  await shot("mesh-istiod-panel");
});

/** Istio's injection rules, written here independently of the page: istio-injection first, then istio.io/rev. */
function expectedInjection(labels = {}) {
  if (labels["istio-injection"] === "enabled") return ["enabled", "default"];
  if (labels["istio-injection"] !== undefined) return ["disabled", ""];
  if (labels["istio.io/rev"]) return ["revision", labels["istio.io/rev"]];
  if (labels["istio.io/dataplane-mode"] === "ambient") return ["ambient", ""];
  return ["none", ""];
}

const RANK = ["Failure", "Degraded", "Not Ready", "Healthy", "NA"];

/** Records the last answer of each /api/clusters/health request the page sends (by type and cluster). */
function recordHealth(p) {
  const got = new Map();
  p.on("response", async (r) => {
    const u = new URL(r.url());
    if (!u.pathname.endsWith("/api/clusters/health") || !r.ok()) return;
    try {
      got.set(`${u.searchParams.get("type")}/${u.searchParams.get("clusterName")}`, await r.json());
    } catch {}
  });
  return got;
}

/** Namespace → worst status of `type` in one cluster's /api/clusters/health answer. */
function worstByNamespace(type, body) {
  const key = { app: "namespaceAppHealth", workload: "namespaceWorkloadHealth", service: "namespaceServiceHealth" }[type];
  const out = {};
  for (const [ns, items] of Object.entries(body?.[key] ?? {})) {
    const statuses = Object.values(items).map((x) => x?.status?.status || "NA");
    out[ns] = statuses.length ? RANK.find((s) => statuses.includes(s)) ?? statuses[0] : "NA";
  }
  return out;
}

test("the namespaces page lists each cluster's namespaces with their labels, injection, control plane and health", async () => {
  const kubeconfig = process.env.MESHGLASS_KUBECONFIG ?? demo.info.kubeconfig;
  assert.ok(kubeconfig, "the demo reported no kubeconfig");
  const kubectl = (ctx, ...args) => {
    const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, "--context", ctx, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  // Namespaces of this test: one injected by a revision in west, one with injection disabled in east.
  const suffix = Date.now().toString(36);
  const revNs = `ui-rev-${suffix}`;
  const offNs = `ui-off-${suffix}`;
  kubectl("west", "create", "namespace", revNs);
  kubectl("west", "label", "namespace", revNs, "istio.io/rev=canary", "team=ui");
  kubectl("east", "create", "namespace", offNs);
  kubectl("east", "label", "namespace", offNs, "istio-injection=disabled", "istio.io/rev=canary");
  const health = recordHealth(page);
  try {
    // From the overview through the nav entry.
    await page.goto(`${demo.url}/console/overview`);
    await page.locator('nav#nav a:has-text("Namespaces")').click();
    await page.waitForURL(/\/console\/namespaces$/);
    assert.equal(await page.locator("nav#nav a.active").innerText(), "Namespaces");
    const rows = page.locator("section.ns-cluster tbody tr");
    await waitFor("both test namespaces listed (the server's namespace caches follow the clusters)", 60_000, async () => {
      await page.goto(`${demo.url}/console/namespaces`);
      await rows.first().waitFor({ timeout: 30_000 });
      const pairs = await rows.evaluateAll((trs) => trs.map((tr) => `${tr.dataset.cluster}/${tr.dataset.namespace}`));
      return pairs.includes(`west/${revNs}`) && pairs.includes(`east/${offNs}`);
    }, 2_000);

    // Every row: labels and injection as /api/namespaces reports them.
    const api = await page.evaluate(async () => (await fetch("api/namespaces")).json());
    const seen = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({
        key: `${tr.dataset.cluster}/${tr.dataset.namespace}`,
        section: tr.closest("section").dataset.cluster,
        injection: tr.dataset.injection,
        revision: tr.dataset.revision,
        labels: Array.from(tr.querySelectorAll(".label-chip")).map((c) => c.textContent),
        managedBy: tr.querySelector('[data-testid="managed-by"]').textContent,
      })),
    );
    assert.deepEqual(seen.map((r) => r.key).sort(), api.map((n) => `${n.cluster}/${n.name}`).sort(), "one row per namespace of /api/namespaces");
    for (const n of api) {
      const r = seen.find((x) => x.key === `${n.cluster}/${n.name}`);
      assert.equal(r.section, n.cluster, `${r.key} sits in its cluster's table`);
      assert.deepEqual(r.labels, Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`).sort(), `labels of ${r.key}`);
      assert.deepEqual([r.injection, r.revision], expectedInjection(n.labels), `injection of ${r.key}`);
    }
    assert.deepEqual([seen.find((r) => r.key === `west/${revNs}`).injection, seen.find((r) => r.key === `west/${revNs}`).revision], ["revision", "canary"]);
    assert.equal(seen.find((r) => r.key === `east/${offNs}`).injection, "disabled");
    assert.match(await page.locator(`tr[data-cluster="west"][data-namespace="${revNs}"] [data-testid="injection"]`).innerText(), /revision canary\s+istio\.io\/rev=canary/);
    // Primary-remote: east's istiod manages bookinfo in both clusters.
    for (const c of ["east", "west"]) assert.equal(seen.find((r) => r.key === `${c}/bookinfo`).managedBy, "istiod (east)");

    // Health: each namespace's status is the worst of its entities in /api/clusters/health, for apps then workloads.
    for (const type of ["app", "workload"]) {
      if (type !== "app") {
        await page.selectOption('[data-testid="health-kind"]', type);
        assert.equal(new URL(page.url()).searchParams.get("health"), type, "the health type is kept in the URL");
      }
      await waitFor(`the ${type} health of every row`, 60_000, async () => (await rows.evaluateAll((trs) => trs.every((tr) => tr.dataset.health))));
      await waitFor(`the page's ${type} health answers`, 10_000, async () => health.has(`${type}/east`) && health.has(`${type}/west`), 100);
      const shown = Object.fromEntries(await rows.evaluateAll((trs) => trs.map((tr) => [`${tr.dataset.cluster}/${tr.dataset.namespace}`, tr.dataset.health])));
      for (const c of ["east", "west"]) {
        const want = worstByNamespace(type, health.get(`${type}/${c}`));
        for (const [key, status] of Object.entries(shown)) {
          if (!key.startsWith(`${c}/`)) continue;
          assert.equal(status, want[key.slice(c.length + 1)] ?? "NA", `${type} health of ${key}`);
        }
      }
      assert.ok(["Healthy", "Degraded", "Failure"].includes(shown["east/bookinfo"]), `east/bookinfo ${type} health: ${shown["east/bookinfo"]}`);
    }
    await shotOf(page, "namespaces", true);

    // The cluster filter keeps west's table alone, and stays in the URL across a reload.
    await page.selectOption('[data-testid="cluster-filter"]', "west");
    assert.deepEqual(await page.locator("section.ns-cluster").evaluateAll((ss) => ss.map((s) => s.dataset.cluster)), ["west"]);
    await page.reload();
    await rows.first().waitFor({ timeout: 30_000 });
    assert.deepEqual(await page.locator("section.ns-cluster").evaluateAll((ss) => ss.map((s) => s.dataset.cluster)), ["west"]);
    assert.equal(await page.locator('[data-testid="health-kind"]').inputValue(), "workload");
    await shotOf(page, "namespaces-west", true);
  } finally {
    kubectl("west", "delete", "namespace", revNs, "--wait=false");
    kubectl("east", "delete", "namespace", offNs, "--wait=false");
  }
});
