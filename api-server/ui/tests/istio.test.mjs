// Browser test of Istio config editing and the routing wizard on the demo mesh:
// - a real meshglass-server with the `token` strategy at home in west: a ServiceAccount of west allowed to edit Istio
//   routing in `bookinfo` (its own Role, as tests/tests/istio_writes.rs makes them) logs in with its token, opens a
//   VirtualService of west, edits it in the YAML editor, sees the diff, saves — and the change is on west's API server;
//   a ServiceAccount that may only view gets the API server's 403 with its reason, shown under the editor;
// - on the demo's own server, the Traffic Shifting wizard of reviews with 50/30/20 over v1 (east), v2 (east) and
//   v3 (west) previews and writes exactly the objects of tests/unit/golden/reviews-50-30-20.json (what Kiali's wizard
//   creates) to east, where the API server then holds them; "Delete Traffic Routing" removes them;
// - the Fault Injection wizard of reviews with a 3s delay on 50% and a 503 abort on 10% writes exactly the objects of
//   tests/unit/golden/reviews-fault-injection.json to east, reopens from them, and "Delete Traffic Routing" removes them;
// - the Request Timeouts wizard (4s, 5 retries of 1s) and the Traffic Shifting wizard with the advanced options'
//   circuit breaker write the objects of reviews-request-timeouts.json and reviews-circuit-breaker.json to east.
// Screenshots go to target/ui-artifacts/ (istio-*.png, wizard-*.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { openSuite, shot as shotOf, startHomeTokenServer, waitFor } from "./harness.mjs";

let demo;
let browser;
let page;
let stop;

const kubectl = (cluster, args, input) => {
  const r = spawnSync("kubectl", ["--kubeconfig", demo.info.kubeconfig, "--context", cluster, ...args], { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} on ${cluster}: ${r.stderr}`);
  return r.stdout.trim();
};
const apply = (cluster, obj) => kubectl(cluster, ["apply", "-f", "-"], JSON.stringify(obj));
const getJson = (cluster, what, ns) => JSON.parse(kubectl(cluster, ["get", what, "-n", ns, "-o", "json"]));
const shot = (p, name) => shotOf(p, name, true);

/** A ServiceAccount of `cluster` in bookinfo whose Role grants `verbs` on VirtualServices and DestinationRules; its token. */
function bookinfoUser(cluster, name, verbs) {
  apply(cluster, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: "bookinfo" } });
  grant(cluster, name, verbs);
  return { token: kubectl(cluster, ["create", "token", name, "-n", "bookinfo", "--duration=1h"]), user: `system:serviceaccount:bookinfo:${name}` };
}
const westUser = (name, verbs) => bookinfoUser("west", name, verbs);

/** A Role in bookinfo of `cluster` for the ServiceAccount bookinfo/`name` (of whichever cluster: the same user name). */
function grant(cluster, name, verbs) {
  apply(cluster, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace: "bookinfo" },
    rules: [
      { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
      { apiGroups: ["networking.istio.io"], resources: ["virtualservices", "destinationrules"], verbs },
      { apiGroups: [""], resources: ["services", "pods", "endpoints"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["apps"], resources: ["deployments", "replicasets", "statefulsets", "daemonsets"], verbs: ["get", "list", "watch"] },
    ],
  });
  apply(cluster, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace: "bookinfo" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name, namespace: "bookinfo" }],
  });
}

const VS = "ratings-timeout";
const vsPath = (base) => `${base}/console/namespaces/bookinfo/istio/networking.istio.io/v1/VirtualService/${VS}?clusterName=west`;

before(async () => {
  ({ demo, browser, page, stop } = await openSuite());
  apply("west", {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: VS, namespace: "bookinfo" },
    spec: { hosts: ["ratings"], http: [{ route: [{ destination: { host: "ratings" } }], timeout: "3s" }] },
  });
});
after(async () => stop?.());

async function logIn(p, where, who) {
  await p.goto(where);
  const form = p.locator('[data-testid="login-form"]').first();
  await form.waitFor({ timeout: 30_000 });
  await form.locator('[data-testid="login-token"]').fill(who.token);
  await form.locator('[data-testid="login-submit"]').click();
  await p.locator('[data-testid="user-name"]', { hasText: who.user }).waitFor({ timeout: 30_000 });
}

/** Replaces the editor's text (the object as JSON, which is YAML too) and saves through the diff. */
async function editAndSave(p, obj) {
  const editor = p.locator('[data-testid="yaml-editor"] .cm-content');
  await editor.waitFor({ timeout: 30_000 });
  await editor.click();
  await p.keyboard.press("Control+A");
  await p.keyboard.insertText(JSON.stringify(obj, null, 2));
  await p.locator('[data-testid="save"]').click();
  await p.locator('[data-testid="yaml-diff"] .cm-mergeView').waitFor({ timeout: 10_000 });
}

test("a west user allowed to edit changes a VirtualService of west in the YAML editor; a viewer gets the API server's 403", async () => {
  const editor = westUser("ui-istio-editor", ["get", "list", "watch", "create", "patch", "delete"]);
  const viewer = westUser("ui-istio-viewer", ["get", "list", "watch"]);
  const ts = await startHomeTokenServer(demo, "west");
  try {
    // The editor.
    const ctx = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const p = await ctx.newPage();
    p.on("pageerror", (e) => console.error("page error:", e.message));
    await logIn(p, vsPath(ts.url), editor);
    await p.locator('[data-testid="detail-validation"] .badge').waitFor({ timeout: 60_000 });
    await shot(p, "istio-detail-editor");
    const loaded = getJson("west", `virtualservice/${VS}`, "bookinfo");
    const edited = structuredClone(loaded);
    edited.spec.http[0].timeout = "7s";
    edited.spec.http[0].retries = { attempts: 2 };
    await editAndSave(p, edited);
    const diffText = await p.locator('[data-testid="yaml-diff"]').innerText();
    assert.match(diffText, /7s/, "the diff shows the new timeout");
    await shot(p, "istio-diff-before-save");
    await p.locator('[data-testid="confirm-save"]').click();
    const onServer = await waitFor("the edit on west's API server", 30_000, async () => {
      const now = getJson("west", `virtualservice/${VS}`, "bookinfo");
      return now.spec.http[0].timeout === "7s" ? now : null;
    });
    assert.deepEqual(onServer.spec.http[0].retries, { attempts: 2 });
    assert.deepEqual(onServer.spec.hosts, ["ratings"], "what was not edited stays");
    // The page shows the saved object again, in the editor.
    await waitFor("the page reloaded with the saved object", 30_000, async () => (await p.locator('[data-testid="yaml-editor"] .cm-content').innerText()).includes("7s"));
    await shot(p, "istio-saved");
    await ctx.close();

    // The viewer: the same edit is refused by west's API server, its 403 and reason shown as sent.
    const vctx = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const v = await vctx.newPage();
    await logIn(v, vsPath(ts.url), viewer);
    const before = getJson("west", `virtualservice/${VS}`, "bookinfo");
    const change = structuredClone(before);
    change.spec.http[0].timeout = "9s";
    await editAndSave(v, change);
    await v.locator('[data-testid="confirm-save"]').click();
    const err = v.locator('[data-testid="write-error"]');
    await err.waitFor({ timeout: 30_000 });
    const text = await err.innerText();
    assert.match(text, /HTTP 403 Forbidden/, text);
    assert.match(text, /virtualservices\.networking\.istio\.io "ratings-timeout" is forbidden/, text);
    assert.match(text, /ui-istio-viewer/, text);
    assert.match(text, /cannot patch/, text);
    await shot(v, "istio-viewer-403");
    assert.equal(getJson("west", `virtualservice/${VS}`, "bookinfo").spec.http[0].timeout, "7s", "nothing changed on the API server");
    // The delete is refused the same way, after the confirmation.
    await v.locator('[data-testid="delete"]').click();
    await v.locator('[data-testid="confirm-delete-yes"]').click();
    await waitFor("the refused delete", 30_000, async () => /cannot delete/.test(await err.innerText()));
    await vctx.close();
  } finally {
    await ts.stop();
  }
});

test("the Istio config list shows the objects of both clusters with their validation, filtered by kind", async () => {
  await page.goto(`${demo.url}/console/istio?kind=VirtualService`);
  const row = page.locator(`tr[data-name="${VS}"][data-cluster="west"]`);
  await row.waitFor({ timeout: 60_000 });
  assert.ok(await row.locator("[data-validation]").count(), "a validation cell");
  const kinds = await page.locator('[data-testid="list-table"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-kind")));
  assert.ok(kinds.length > 0 && kinds.every((k) => k === "VirtualService"), `only VirtualServices: ${kinds}`);
  await shot(page, "istio-list");
  await row.locator("a").click();
  await page.locator('[data-testid="yaml-editor"] .cm-content').waitFor({ timeout: 30_000 });
});

test("the Traffic Shifting wizard writes Kiali's objects for reviews 50/30/20 across east and west", async () => {
  const golden = JSON.parse(readFileSync(new URL("./unit/golden/reviews-50-30-20.json", import.meta.url), "utf8"));
  // The demo's own server is view-only: a token server at home in east, west as remote, and a user of east allowed
  // to write routing in bookinfo there, and to read bookinfo in west.
  const who = bookinfoUser("east", "ui-wizard", ["get", "list", "watch", "create", "patch", "delete"]);
  grant("west", "ui-wizard", ["get", "list", "watch"]);
  const ts = await startHomeTokenServer(demo, "east", { withWest: true });
  after(() => ts.stop());
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await ctx.newPage();
  await logIn(page, `${ts.url}/console/namespaces/bookinfo/services/reviews`, who);
  await page.locator('[data-testid="wizard-traffic_shifting"]').click();
  const weights = { v1: 50, v2: 30, v3: 20 };
  for (const [v, w] of Object.entries(weights)) await page.locator(`[data-testid="weight-${v}"]`).fill(String(w));
  // Each version's workloads with their cluster.
  const table = await page.locator('[data-testid="wizard-weights"]').innerText();
  assert.match(table, /reviews-v1\s+east/);
  assert.match(table, /reviews-v3\s+west/);
  assert.equal(await page.locator('[data-testid="wizard-cluster"]').inputValue(), "east");
  const preview = JSON.parse(await page.locator('[data-testid="wizard-preview"]').innerText());
  assert.deepStrictEqual(preview, [golden.destinationRule, golden.virtualService], "the preview is Kiali's objects");
  await shot(page, "wizard-traffic-shifting");
  await page.locator('[data-testid="wizard-submit"]').click();
  const outcome = await waitFor("the wizard's answer", 30_000, async () => {
    if (await page.locator('[data-testid="wizard"] [data-testid="write-error"]').count()) return `refused: ${await page.locator('[data-testid="write-error"]').innerText()}`;
    try {
      return getJson("east", "virtualservice/reviews", "bookinfo") ? "written" : null;
    } catch {
      return null;
    }
  });
  await shot(page, "wizard-after-submit");
  assert.equal(outcome, "written");
  // On east's API server: the objects, the nulls of the JSON merge semantics dropped.
  const stripNulls = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x === null ? undefined : x)));
  const vs = await waitFor("the wizard's VirtualService in east", 30_000, async () => {
    try {
      return getJson("east", "virtualservice/reviews", "bookinfo");
    } catch {
      return null;
    }
  });
  const dr = getJson("east", "destinationrule/reviews", "bookinfo");
  assert.deepStrictEqual(vs.spec, stripNulls(golden.virtualService.spec));
  assert.deepStrictEqual(dr.spec, stripNulls(golden.destinationRule.spec));
  for (const o of [vs, dr]) assert.equal(o.metadata.labels.kiali_wizard, "traffic_shifting");
  await page.locator('[data-testid="wizard-delete"]:not([disabled])').waitFor({ timeout: 30_000 });
  await shot(page, "wizard-written");
  // Removal of the wizard's objects.
  await page.locator('[data-testid="wizard-delete"]').click();
  await waitFor("the wizard's objects gone from east", 30_000, async () => {
    const left = JSON.parse(kubectl("east", ["get", "virtualservices,destinationrules", "-n", "bookinfo", "-l", "kiali_wizard", "-o", "json"]));
    return left.items.length === 0;
  });
});

test("the Fault Injection wizard writes Kiali's objects for a 3s delay on 50% and a 503 abort on 10% of reviews", async () => {
  const golden = JSON.parse(readFileSync(new URL("./unit/golden/reviews-fault-injection.json", import.meta.url), "utf8"));
  const who = bookinfoUser("east", "ui-wizard-fault", ["get", "list", "watch", "create", "patch", "delete"]);
  grant("west", "ui-wizard-fault", ["get", "list", "watch"]);
  const ts = await startHomeTokenServer(demo, "east", { withWest: true });
  after(() => ts.stop());
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1100 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await logIn(page, `${ts.url}/console/namespaces/bookinfo/services/reviews`, who);
  await page.locator('[data-testid="wizard-fault_injection"]').click();
  const c = golden.choice;
  // Kiali's default weights stay (33/33/34); the delay and the abort are ticked and set.
  for (const x of c.workloads) assert.equal(await page.locator(`[data-testid="weight-${x.version}"]`).inputValue(), String(x.weight));
  await page.locator('[data-testid="fault-delay"]').check();
  assert.equal(await page.locator('[data-testid="fault-delay-fixed"]').inputValue(), "5s", "Kiali's default delay");
  await page.locator('[data-testid="fault-delay-percentage"]').fill(String(c.delay.percentage));
  await page.locator('[data-testid="fault-delay-fixed"]').fill(c.delay.fixedDelay);
  await page.locator('[data-testid="fault-abort"]').check();
  await page.locator('[data-testid="fault-abort-percentage"]').fill(String(c.abort.percentage));
  await page.locator('[data-testid="fault-abort-status"]').fill(String(c.abort.httpStatus));
  // A value Istio would refuse is named, and blocks the write.
  await page.locator('[data-testid="fault-delay-fixed"]').fill("3 seconds");
  assert.match(await page.locator('[data-testid="wizard-problem"]').innerText(), /fixed delay must be a duration/);
  assert.ok(await page.locator('[data-testid="wizard-submit"]').isDisabled());
  await page.locator('[data-testid="fault-delay-fixed"]').fill(c.delay.fixedDelay);
  const preview = JSON.parse(await page.locator('[data-testid="wizard-preview"]').innerText());
  assert.deepStrictEqual(preview, [golden.destinationRule, golden.virtualService], "the preview is Kiali's objects");
  await shot(page, "wizard-fault-injection");
  await page.locator('[data-testid="wizard-submit"]').click();
  const vs = await waitFor("the Fault Injection VirtualService in east", 30_000, async () => {
    if (await page.locator('[data-testid="wizard"] [data-testid="write-error"]').count()) throw new Error(`refused: ${await page.locator('[data-testid="write-error"]').innerText()}`);
    try {
      return getJson("east", "virtualservice/reviews", "bookinfo");
    } catch {
      return null;
    }
  });
  const dr = getJson("east", "destinationrule/reviews", "bookinfo");
  // On east's API server: the objects, the nulls of the JSON merge semantics dropped.
  const stripNulls = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x === null ? undefined : x)));
  assert.deepStrictEqual(vs.spec, stripNulls(golden.virtualService.spec));
  assert.deepStrictEqual(dr.spec, stripNulls(golden.destinationRule.spec));
  for (const o of [vs, dr]) assert.equal(o.metadata.labels.kiali_wizard, "fault_injection");
  await page.locator('[data-testid="wizard-delete"]:not([disabled])').waitFor({ timeout: 30_000 });
  await shot(page, "wizard-fault-written");
  // Reopened, the wizard starts from the objects written (Kiali's getInitFaultInjectionRoute) and would update them.
  await page.locator('[data-testid="wizard-fault_injection"]').click();
  assert.ok(await page.locator('[data-testid="fault-delay"]').isChecked());
  assert.equal(await page.locator('[data-testid="fault-delay-fixed"]').inputValue(), c.delay.fixedDelay);
  assert.equal(await page.locator('[data-testid="fault-abort-percentage"]').inputValue(), String(c.abort.percentage));
  assert.deepStrictEqual(JSON.parse(await page.locator('[data-testid="wizard-preview"]').innerText()), [golden.destinationRule, golden.virtualService]);
  assert.equal(await page.locator('[data-testid="wizard-submit"]').innerText(), "Update in east");
  await page.locator('[data-testid="wizard"] button', { hasText: "Cancel" }).click();
  await page.locator('[data-testid="wizard-delete"]').click();
  await waitFor("the Fault Injection objects gone from east", 30_000, async () => {
    const left = JSON.parse(kubectl("east", ["get", "virtualservices,destinationrules", "-n", "bookinfo", "-l", "kiali_wizard", "-o", "json"]));
    return left.items.length === 0;
  });
  await ctx.close();
});

test("the Request Timeouts wizard and the circuit breaker of the advanced options write Kiali's objects", async () => {
  const rt = JSON.parse(readFileSync(new URL("./unit/golden/reviews-request-timeouts.json", import.meta.url), "utf8"));
  const cb = JSON.parse(readFileSync(new URL("./unit/golden/reviews-circuit-breaker.json", import.meta.url), "utf8"));
  const who = bookinfoUser("east", "ui-wizard-timeouts", ["get", "list", "watch", "create", "patch", "delete"]);
  grant("west", "ui-wizard-timeouts", ["get", "list", "watch"]);
  const ts = await startHomeTokenServer(demo, "east", { withWest: true });
  after(() => ts.stop());
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1100 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  const stripNulls = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x === null ? undefined : x)));
  const written = (kind, type) =>
    waitFor(`the ${type} ${kind} in east`, 30_000, async () => {
      if (await page.locator('[data-testid="wizard"] [data-testid="write-error"]').count()) throw new Error(`refused: ${await page.locator('[data-testid="write-error"]').innerText()}`);
      try {
        const o = getJson("east", `${kind}/reviews`, "bookinfo");
        return o.metadata.labels?.kiali_wizard === type ? o : null;
      } catch {
        return null;
      }
    });
  const removed = async () => {
    await page.locator('[data-testid="wizard-delete"]:not([disabled])').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="wizard-delete"]').click();
    await waitFor("the wizard's objects gone from east", 30_000, async () => {
      const left = JSON.parse(kubectl("east", ["get", "virtualservices,destinationrules", "-n", "bookinfo", "-l", "kiali_wizard", "-o", "json"]));
      return left.items.length === 0;
    });
  };
  await logIn(page, `${ts.url}/console/namespaces/bookinfo/services/reviews`, who);

  // Request Timeouts: 4s, 5 attempts of 1s (Kiali's retryOn).
  await page.locator('[data-testid="wizard-request_timeouts"]').click();
  await page.locator('[data-testid="timeout-enabled"]').check();
  assert.equal(await page.locator('[data-testid="timeout-value"]').inputValue(), "2s", "Kiali's default timeout");
  await page.locator('[data-testid="timeout-value"]').fill(rt.choice.timeout);
  await page.locator('[data-testid="retry-enabled"]').check();
  await page.locator('[data-testid="retry-attempts"]').fill(String(rt.choice.retries.attempts));
  await page.locator('[data-testid="retry-per-try"]').fill(rt.choice.retries.perTryTimeout);
  assert.deepStrictEqual(JSON.parse(await page.locator('[data-testid="wizard-preview"]').innerText()), [rt.destinationRule, rt.virtualService]);
  await shot(page, "wizard-request-timeouts");
  await page.locator('[data-testid="wizard-submit"]').click();
  const vs = await written("virtualservice", "request_timeouts");
  assert.deepStrictEqual(vs.spec, stripNulls(rt.virtualService.spec));
  assert.deepStrictEqual(getJson("east", "destinationrule/reviews", "bookinfo").spec, stripNulls(rt.destinationRule.spec));
  await removed();

  // Traffic Shifting 50/30/20 with a load balancer, a connection pool and outlier detection.
  await page.locator('[data-testid="wizard-traffic_shifting"]').click();
  for (const x of cb.choice.workloads) await page.locator(`[data-testid="weight-${x.version}"]`).fill(String(x.weight));
  await page.locator('[data-testid="wizard-advanced"] summary').click();
  await page.locator('[data-testid="lb-enabled"]').check();
  await page.locator('[data-testid="lb-simple"]').selectOption(cb.choice.loadBalancer);
  await page.locator('[data-testid="cb-connection-pool"]').check();
  assert.equal(await page.locator('[data-testid="cb-max-connections"]').inputValue(), "1", "Kiali's default pool");
  await page.locator('[data-testid="cb-max-connections"]').fill(String(cb.choice.connectionPool.tcp.maxConnections));
  await page.locator('[data-testid="cb-max-pending"]').fill(String(cb.choice.connectionPool.http.http1MaxPendingRequests));
  await page.locator('[data-testid="cb-outlier"]').check();
  await page.locator('[data-testid="cb-consecutive-errors"]').fill("0");
  assert.match(await page.locator('[data-testid="wizard-problem"]').innerText(), /consecutiveErrors must be a whole number of 1 or more \(got 0\)/);
  await page.locator('[data-testid="cb-consecutive-errors"]').fill(String(cb.choice.outlierDetection.consecutiveErrors));
  assert.deepStrictEqual(JSON.parse(await page.locator('[data-testid="wizard-preview"]').innerText()), [cb.destinationRule, cb.virtualService]);
  await shot(page, "wizard-circuit-breaker");
  await page.locator('[data-testid="wizard-submit"]').click();
  const dr = await written("destinationrule", "traffic_shifting");
  assert.deepStrictEqual(dr.spec, stripNulls(cb.destinationRule.spec));
  await removed();
  await ctx.close();
});
