// Browser test of the mesh page on the demo mesh (primary-remote: istiod on east, west naming east in
// `topology.istio.io/controlPlaneClusters`), served by the real meshglass-server binary. Screenshots go to
// target/ui-artifacts/ (mesh.png, mesh-istiod-panel.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
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
