// Browser test of the `openid` login on the demo mesh (`meshglass-demo up --openid`): a real Ory Hydra per cluster,
// each the issuer its cluster's API server trusts, and a real meshglass-server with `auth.strategy: openid`. alice may
// view `bookinfo` in east only, bob `bookinfo` in east and west (RoleBindings made here). Both log in through the
// provider's own login form in Chromium; the overview, graph (the JSON the page received and what it drew), lists,
// details and health show each exactly what each cluster lets them see. bob logs in to east only, then to west from
// the user menu, and west's data appears with the same server still running. Logout ends every cluster's login; a
// session that ends sends the user to the login page and, after it, back to the page they were on. Screenshots go to
// target/ui-artifacts/ (login-*.png).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { openSuite, shot, waitFor } from "./harness.mjs";

let demo;
let browser;
let stop;
let openid;

const kubectl = (cluster, ...args) => {
  const r = spawnSync("kubectl", ["--kubeconfig", demo.info.kubeconfig, "--context", cluster, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} on ${cluster}: ${r.stderr}`);
  return r.stdout.trim();
};

before(async () => {
  ({ demo, browser, stop } = await openSuite({ demo: { openid: true } }));
  openid = demo.info.openid;
  assert.ok(openid?.url, `the demo reports no openid server: ${JSON.stringify(demo.info)}`);
  for (const [cluster, user] of [["east", "alice"], ["east", "bob"], ["west", "bob"]]) {
    kubectl(cluster, "create", "rolebinding", `${user}-view`, "--clusterrole=view", `--user=${user}`, "-n", "bookinfo");
  }
});
after(async () => stop?.());

/** What `user` may read: "cluster/namespace" pairs. */
const GRANTS = { alice: ["east/bookinfo"], bob: ["east/bookinfo", "west/bookinfo"] };
const PASSWORD = (user) => `${user}-password`;

async function newUserPage() {
  // The providers serve with the test bed's CA, which Chromium does not know.
  const ctx = await browser.newContext({ viewport: { width: 1500, height: 950 }, ignoreHTTPSErrors: true });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => console.error("page error:", e.message));
  return { ctx, p };
}

/**
 * Starts a login with `start` (a click that leaves for the provider), fills the provider's own form of `cluster` and
 * waits to be back on the console. The API server may not have its provider's keys yet at first: a refused login
 * comes back as the login page's error, and is tried again.
 */
async function providerLogin(p, cluster, user, start) {
  const form = `${openid.providers[cluster].login}/login`;
  await waitFor(`${user}'s login to ${cluster}`, 120_000, async () => {
    await start();
    await p.waitForURL((u) => u.href.startsWith(form), { timeout: 30_000 });
    await p.locator("#username").fill(user);
    await p.locator("#password").fill(PASSWORD(user));
    await p.locator("#submit").click();
    await p.waitForURL((u) => u.href.startsWith(openid.url) && !u.pathname.includes("/api/auth/"), { timeout: 30_000 });
    const state = p.locator(`[data-testid="login-state-${cluster}"]`);
    await p.locator('[data-testid="user-name"], [data-testid="login-page"]').first().waitFor({ timeout: 30_000 });
    if (await p.locator('[data-testid="login-error"]').count()) return false;
    return (await state.count()) === 1 && (await state.getAttribute("data-logged-in")) === "true";
  }, 1_000);
}

/** The home cluster's login from the login page (shown for any console page without a session). */
async function logInFromLoginPage(p, user, where) {
  await providerLogin(p, "east", user, async () => {
    await p.goto(where);
    await p.locator('[data-testid="login-openid"]').click();
  });
  await p.locator('[data-testid="user-name"]', { hasText: `${user}@example.com` }).waitFor({ timeout: 30_000 });
  assert.equal(p.url(), where, "back on the page the login started from");
}

/** The overview's (cluster/namespace) rows, once its health summaries arrived. */
async function overviewPairs(p) {
  await p.goto(`${openid.url}/console/overview`);
  const rows = p.locator('[data-testid="overview-table"] tbody tr');
  await p.locator('[data-testid="overview-table"]').waitFor({ timeout: 30_000 });
  await waitFor("the overview's health", 60_000, async () => (await p.locator('[data-testid="health-summary"]').count()) > 0);
  await noErrorBanners(p, "the overview");
  return (await rows.evaluateAll((trs) => trs.map((tr) => `${tr.dataset.cluster}/${tr.dataset.namespace}`))).sort();
}

/** The graph of bookinfo: the JSON the page received, and what it drew. */
async function graph(p) {
  const url = `${openid.url}/console/graph/namespaces?namespaces=bookinfo&graphType=versionedApp&boxBy=cluster,namespace&duration=300s`;
  const [resp] = await Promise.all([
    p.waitForResponse((r) => r.url().includes("/api/namespaces/graph?") && r.request().method() === "GET", { timeout: 60_000 }),
    p.goto(url),
  ]);
  assert.equal(resp.status(), 200, await resp.text());
  const body = await resp.json();
  await p.waitForFunction(() => typeof window.__meshglass?.renderMs === "number", null, { timeout: 60_000 });
  const drawn = await p.evaluate(() =>
    window.__meshglass.cy
      .nodes()
      .filter((n) => !n.data("isBox"))
      .map((n) => ({ id: n.id(), inaccessible: n.hasClass("inaccessible") })),
  );
  const leaves = body.elements.nodes.map((n) => n.data).filter((d) => !d.isBox);
  await noErrorBanners(p, "the graph");
  return { body, leaves, drawn };
}

/** Every node of a namespace `user` may not read is inaccessible and carries no rates or health; the others are not. */
function checkGraph(g, grants, label) {
  const may = (d) => grants.includes(`${d.cluster}/${d.namespace}`);
  for (const d of g.leaves) {
    if (may(d)) {
      assert.ok(!d.isInaccessible, `${label}: ${d.id} (${d.cluster}/${d.namespace}) is readable but inaccessible`);
    } else {
      assert.equal(d.isInaccessible, true, `${label}: ${JSON.stringify(d)}`);
      assert.equal(d.traffic, undefined, `${label}: an inaccessible node has rates: ${JSON.stringify(d)}`);
      assert.ok(d.healthData == null, `${label}: an inaccessible node has health: ${JSON.stringify(d)}`);
    }
  }
  assert.ok(g.leaves.some((d) => may(d) && d.traffic?.length), `${label}: no readable node with traffic`);
  // What the page drew matches what it received.
  const want = g.leaves.filter((d) => d.isInaccessible).map((d) => d.id).sort();
  const got = g.drawn.filter((n) => n.inaccessible).map((n) => n.id).sort();
  assert.deepEqual(got, want, `${label}: drawn inaccessible nodes`);
  assert.equal(g.drawn.length, g.leaves.length, `${label}: drawn nodes`);
}

/** A cluster the session cannot read is not an error: no error or auth banner on the page. */
async function noErrorBanners(p, where) {
  const texts = await p.locator("#banners .banner-error, #banners .banner-auth").allInnerTexts();
  assert.deepEqual(texts, [], `banners on ${where}`);
}

/** The applications list's (cluster/namespace) pairs. */
async function listPairs(p) {
  await p.goto(`${openid.url}/console/applications`);
  await p.locator('[data-testid="list-table"] tbody tr').first().waitFor({ timeout: 30_000 });
  const pairs = await p.locator('[data-testid="list-table"] tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.dataset.cluster}/${tr.dataset.namespace}`));
  await noErrorBanners(p, "applications");
  return [...new Set(pairs)].sort();
}

/** The clusters the details page of app reviews (v1, v2 on east; v3 on west) shows, and those with health. */
async function reviewsDetails(p) {
  await p.goto(`${openid.url}/console/namespaces/bookinfo/applications/reviews`);
  const el = p.locator('[data-testid="detail-clusters"]');
  await el.waitFor({ timeout: 30_000 });
  await p.locator('[data-testid="detail-health"] .cluster-health').first().waitFor({ timeout: 30_000 });
  const clusters = (await el.innerText()).split(/\s+/).filter(Boolean).sort();
  const health = (await p.locator('[data-testid="detail-health"] .cluster-health').evaluateAll((els) => els.map((e) => e.dataset.cluster))).sort();
  await p.locator('[data-testid="detail-traffic"] table').first().waitFor({ timeout: 30_000 });
  await noErrorBanners(p, "the details of reviews");
  return { clusters, health };
}

/**
 * What /api/clusters/health tells this session of bookinfo in `cluster`: asked for bookinfo by name (403 when the
 * session may not read it there), and for every namespace it may read.
 */
async function healthApps(p, cluster) {
  return p.evaluate(async (c) => {
    const ask = async (ns) => {
      const r = await fetch(`api/clusters/health?type=app&clusterName=${c}&rateInterval=5m${ns ? `&namespaces=${ns}` : ""}`);
      if (!r.ok) return `HTTP ${r.status}`;
      const b = await r.json();
      return Object.keys(b.namespaceAppHealth?.bookinfo ?? {}).sort();
    };
    return { named: await ask("bookinfo"), all: await ask("") };
  }, cluster);
}

test("alice logs in through the provider's form and sees only bookinfo in east, wherever she looks", async () => {
  const { ctx, p } = await newUserPage();
  try {
    const where = `${openid.url}/console/overview`;
    await p.goto(where);
    await p.locator('[data-testid="login-page"][data-strategy="openid"]').waitFor({ timeout: 30_000 });
    await shot(p, "login-openid-page");
    // Not logged in: the API refuses, the page shows no cluster.
    assert.equal(await p.evaluate(async () => (await fetch("api/namespaces")).status), 401);
    await providerLogin(p, "east", "alice", async () => {
      await p.goto(where);
      await p.locator('[data-testid="login-openid"]').click();
      await p.locator("#username").waitFor({ timeout: 30_000 });
      await shot(p, "login-provider-form");
    });
    assert.equal(p.url(), where);
    assert.equal(await p.locator('[data-testid="user-name"]').innerText(), "alice@example.com");
    // West: not logged in yet, "log in to see"; alice logs in there too — west lets her see nothing.
    assert.match(await p.locator('[data-testid="login-state-west"]').innerText(), /log in to see/);
    await providerLogin(p, "west", "alice", () => p.locator('[data-testid="login-to-west"]').click());
    assert.match(await p.locator('[data-testid="login-state-west"]').innerText(), /west ✓/);

    assert.deepEqual(await overviewPairs(p), GRANTS.alice);
    await shot(p, "login-alice-overview");
    const g = await graph(p);
    checkGraph(g, GRANTS.alice, "alice");
    // East's traffic into west's bookinfo and from its own sample namespace: both ends are there, inaccessible.
    assert.ok(g.leaves.some((d) => d.cluster === "west" && d.isInaccessible), "no west node in alice's graph");
    assert.ok(g.leaves.some((d) => d.cluster === "east" && d.namespace === "sample" && d.isInaccessible), "no east/sample node");
    await shot(p, "login-alice-graph");
    assert.deepEqual(await listPairs(p), GRANTS.alice);
    assert.deepEqual(await reviewsDetails(p), { clusters: ["east"], health: ["east"] });
    assert.deepEqual(await healthApps(p, "west"), { named: "HTTP 403", all: [] });
    const east = await healthApps(p, "east");
    assert.ok(east.named.includes("reviews") && east.all.includes("reviews"), JSON.stringify(east));
  } finally {
    await ctx.close();
  }
});

test("bob logs in to east only, sees west as 'log in to see', logs in to west from the menu; logout ends both", async () => {
  const { ctx, p } = await newUserPage();
  try {
    const where = `${openid.url}/console/applications`;
    await logInFromLoginPage(p, "bob", where);
    const west = p.locator('[data-testid="login-state-west"]');
    assert.equal(await west.getAttribute("data-logged-in"), "false");
    assert.match(await west.innerText(), /west: log in to see/);

    assert.deepEqual(await overviewPairs(p), ["east/bookinfo"]);
    assert.match(await p.locator('[data-testid="locked-west"]').innerText(), /log in to see/);
    await shot(p, "login-bob-east-only");
    const g1 = await graph(p);
    checkGraph(g1, ["east/bookinfo"], "bob, east only");
    assert.ok(g1.leaves.some((d) => d.cluster === "west" && d.isInaccessible), "no west node in bob's graph");
    await shot(p, "login-bob-graph-east-only");
    assert.deepEqual(await listPairs(p), ["east/bookinfo"]);
    assert.deepEqual(await reviewsDetails(p), { clusters: ["east"], health: ["east"] });
    assert.deepEqual(await healthApps(p, "west"), { named: "HTTP 403", all: [] });

    // West from the user menu, on the overview: back there with west's namespaces (the same server, still running).
    await p.goto(`${openid.url}/console/overview`);
    await providerLogin(p, "west", "bob", () => p.locator('[data-testid="login-to-west"]').click());
    assert.equal(p.url(), `${openid.url}/console/overview`);
    assert.deepEqual(await overviewPairs(p), GRANTS.bob);
    assert.equal(await p.locator('[data-testid="locked-west"]').count(), 0);
    await shot(p, "login-bob-both");
    const g2 = await graph(p);
    checkGraph(g2, GRANTS.bob, "bob, both");
    assert.ok(g2.leaves.some((d) => d.cluster === "west" && d.namespace === "bookinfo" && d.traffic?.length), "west's bookinfo has no rates");
    await shot(p, "login-bob-graph-both");
    assert.deepEqual(await listPairs(p), GRANTS.bob);
    assert.deepEqual(await reviewsDetails(p), { clusters: ["east", "west"], health: ["east", "west"] });
    const west2 = await healthApps(p, "west");
    assert.ok(west2.named.includes("ratings") && west2.all.includes("ratings"), JSON.stringify(west2));

    // The session ends (its cookie is gone): the next page asks for a login and comes back to where bob was.
    const session = (c) => c.name.startsWith("kiali-token");
    await p.goto(`${openid.url}/console/workloads`);
    await p.locator('[data-testid="list-table"]').waitFor({ timeout: 30_000 });
    const kept = (await ctx.cookies()).filter((c) => !session(c));
    await ctx.clearCookies();
    await ctx.addCookies(kept);
    await p.locator('a[data-nav][href="console/services"]').click();
    await p.locator('[data-testid="login-page"]').waitFor({ timeout: 30_000 });
    assert.match(await p.locator('[data-testid="login-reason"]').innerText(), /session has ended/);
    await providerLogin(p, "east", "bob", () => p.locator('[data-testid="login-openid"]').click());
    assert.equal(p.url(), `${openid.url}/console/services`);
    await p.locator('[data-testid="list-table"]').waitFor({ timeout: 30_000 });
    // That new session knows east only.
    assert.equal(await p.locator('[data-testid="login-state-west"]').getAttribute("data-logged-in"), "false");
    await providerLogin(p, "west", "bob", () => p.locator('[data-testid="login-to-west"]').click());

    // Logout ends the logins to both clusters.
    await p.locator('[data-testid="logout"]').click();
    await p.locator('[data-testid="login-page"]').waitFor({ timeout: 30_000 });
    assert.deepEqual((await ctx.cookies()).filter(session).map((c) => c.name), []);
    const info = await p.evaluate(async () => (await fetch("api/auth/info")).json());
    assert.equal(info.clusters, undefined, JSON.stringify(info));
    assert.equal(await p.evaluate(async () => (await fetch("api/namespaces")).status), 401);
    await shot(p, "login-logged-out");
    // Logging in again gives east only: west's login ended with the session.
    await logInFromLoginPage(p, "bob", `${openid.url}/console/overview`);
    assert.equal(await p.locator('[data-testid="login-state-west"]').getAttribute("data-logged-in"), "false");
  } finally {
    await ctx.close();
  }
});
