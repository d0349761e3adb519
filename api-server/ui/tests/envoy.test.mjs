// Browser test of a workload's Envoy tab on the demo mesh, served by the real meshglass-server binary: the demo's
// simulated sidecars answer `/config_dump` on each pod's port 15000 (kwok PortForward objects), the server reads it
// through the API server's pods/portforward, and the tab's clusters, listeners and routes tables hold exactly the rows
// of `…/config_dump/{clusters,listeners,routes}`, for a pod of each cluster. Screenshots go to target/ui-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;

before(async () => ({ demo, page, stop } = await openSuite({ viewport: { width: 1600, height: 1100 } })));
after(async () => stop?.());

const shot = (name) => shotOf(page, name, true);

/** Kiali's host text: `service.namespace.cluster` when it names a namespace, else the service. */
const hostText = (h) => (h?.namespace ? [h.service, h.namespace, h.cluster].filter(Boolean).join(".") : (h?.service ?? ""));

/** The cells each row of the route's JSON should have, column by column, as the tab's tables name them. */
const cells = {
  clusters: (r) => [hostText(r.service_fqdn), r.port ? String(r.port) : "-", r.subset || "-", r.direction || "-", String(r.type ?? ""), r.destination_rule || "-"],
  listeners: (r) => [String(r.address), String(r.port), r.match, r.destination],
  routes: (r) => [r.name, hostText(r.domains), r.match, r.virtual_service || "-"],
};

const drawn = (resource) =>
  page.locator(`[data-testid="envoy-${resource}"] tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent)));

test("a workload's Envoy tab: clusters, listeners and routes of a pod of each cluster, as the server reads them", async () => {
  await page.goto(`${demo.url}/console/namespaces/sample/workloads/sleep?tab=envoy`);
  const pods = await waitFor("sleep's pods of east and west in the pod choice", 60_000, async () => {
    const opts = await page.locator('[data-testid="envoy-pod"] option').evaluateAll((os) => os.map((o) => o.value));
    return opts.length === 2 ? opts : null;
  });
  assert.deepEqual(pods.map((p) => p.split("/")[0]).sort(), ["east", "west"]);
  for (const key of pods) {
    const [cluster, pod] = key.split("/");
    await page.selectOption('[data-testid="envoy-pod"]', key);
    for (const resource of ["clusters", "listeners", "routes"]) {
      await page.click(`[data-testid="envoy-resources"] [data-resource="${resource}"]`);
      const seen = await waitFor(`${resource} of ${cluster}/${pod}`, 60_000, async () => {
        const e = await page.evaluate(() => window.__meshglassEnvoy);
        const err = await page.locator('[data-testid="envoy-error"]').count();
        if (err) throw new Error(await page.locator('[data-testid="envoy-error"]').innerText());
        return e?.pod === pod && e.resource === resource ? e : null;
      });
      const url = `${demo.url}/api/namespaces/sample/pods/${encodeURIComponent(pod)}/config_dump/${resource}?clusterName=${cluster}`;
      const json = await page.evaluate(async (u) => (await fetch(u)).json(), url);
      const want = json[resource].map(cells[resource]);
      assert.ok(want.length > 0, `${resource}: no rows in ${JSON.stringify(json)}`);
      assert.deepEqual(seen.rows, want, `${resource} of ${cluster}/${pod}: the page's rows are the route's`);
      assert.deepEqual(await drawn(resource), want, `${resource} of ${cluster}/${pod}: the rows drawn`);
      // The demo topology as istiod would push it: every service outbound, routed on its port.
      if (resource === "clusters") {
        assert.ok(want.some((c) => c[0] === "reviews.bookinfo.svc.cluster.local" && c[1] === "9080" && c[3] === "outbound"), JSON.stringify(want));
        assert.ok(want.some((c) => c[0] === "helloworld.helloworld.svc.cluster.local" && c[1] === "5000"), JSON.stringify(want));
      }
      if (resource === "listeners") assert.ok(want.some((l) => l[1] === "9080" && l[3] === "Route: 9080"), JSON.stringify(want));
      if (resource === "routes") assert.ok(want.some((r) => r[0] === "9080" && r[1] === "reviews.bookinfo.svc.cluster.local"), JSON.stringify(want));
      if (cluster === "west") await shot(`workload-envoy-${resource}`);
    }
  }
});
