// Test harness: the demo mesh (real clusters, Prometheus, operator, meshglass-server) through
// `meshglass-demo up --free-ports`, a second real meshglass-server whose Prometheus and one cluster are
// unreachable, Debian's chromium through playwright-core, and the artifacts directory.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, createWriteStream, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../../..");
export const artifacts = resolve(process.env.MESHGLASS_UI_ARTIFACTS ?? join(repo, "target/ui-artifacts"));
mkdirSync(artifacts, { recursive: true });

export const binDir = resolve(process.env.MESHGLASS_BIN_DIR ?? join(repo, "target/debug"));

const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
  });
}

/** Polls `check` until it returns a truthy value; the error names `what` and the last thing seen. */
export async function waitFor(what, timeoutMs, check, intervalMs = 500) {
  const end = Date.now() + timeoutMs;
  let last = "nothing yet";
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = String(v);
    } catch (e) {
      // What cannot change by waiting (a process that exited) ends the wait at once.
      if (e instanceof Fatal) throw e;
      last = e?.message ?? String(e);
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An error `waitFor` does not wait out: the thing waited on can no longer happen. */
export class Fatal extends Error {}

function tail(file, n = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

function stopChild(child, signal = "SIGINT", graceMs = 60_000) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {}
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      res();
    });
    child.kill(signal);
  });
}

/**
 * The demo mesh, or the server at MESHGLASS_URL when set. Returns {url, stateDir, info, stop()}. `openid`: with an
 * OpenID provider per cluster and a second server logging users in (`info.openid`: its URL and the providers).
 */
export async function startDemo({ openid = false } = {}) {
  if (process.env.MESHGLASS_URL && !openid) {
    // MESHGLASS_STATE_DIR: that demo's --state-dir, for the tests that read the files it wrote (pod logs).
    return { url: process.env.MESHGLASS_URL.replace(/\/$/, ""), info: {}, stateDir: process.env.MESHGLASS_STATE_DIR ?? null, stop: async () => {} };
  }
  const demo = join(binDir, "meshglass-demo");
  if (!existsSync(demo)) throw new Error(`${demo} is missing: build the demo binaries first (make ui-test does)`);
  const logName = openid ? "demo-openid" : "demo";
  try {
    return await startDemoOnce(demo, openid, join(artifacts, `${logName}.log`));
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    // A demo that exited while starting (not one that was slow) is started once more, on fresh ports and a fresh
    // state directory; the first attempt's log is kept beside the second's and its end printed here.
    const first = join(artifacts, `${logName}.first-attempt.log`);
    renameSync(join(artifacts, `${logName}.log`), first);
    console.error(`# the demo exited while starting; starting it once more (first attempt's log: ${first})\n${e.message}`);
    return await startDemoOnce(demo, openid, join(artifacts, `${logName}.log`));
  }
}

async function startDemoOnce(demo, openid, logFile) {
  const stateDir = mkdtempSync(join(tmpdir(), "meshglass-ui-demo-"));
  const ready = join(stateDir, "ready.json");
  const log = createWriteStream(logFile);
  const child = spawn(
    demo,
    ["up", "--state-dir", stateDir, "--free-ports", "--ready-file", ready, "--bin-dir", binDir, "--examples", join(repo, "examples"), ...(openid ? ["--openid"] : [])],
    { cwd: repo, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  // After "close" the demo's output is all in the log (its "exit" can come before).
  const closed = new Promise((r) => child.once("close", r));
  const stop = async () => {
    await stopChild(child);
    spawnSync(demo, ["down", "--state-dir", stateDir], { cwd: repo, stdio: "ignore", timeout: 120_000 });
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const info = await waitFor("the demo to be ready", Number(process.env.MESHGLASS_DEMO_TIMEOUT_MS ?? 900_000), async () => {
      if (child.exitCode !== null) {
        await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000))]);
        throw new Fatal(`meshglass-demo exited with ${child.exitCode}:\n${failureLines(logFile)}`);
      }
      return existsSync(ready) ? JSON.parse(readFileSync(ready, "utf8")) : null;
    }, 1000);
    return { url: String(info.url).replace(/\/$/, ""), info, stateDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A log's end, after its error lines (the cause often comes before a long tail of retries). */
function failureLines(file) {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  const lines = text.split("\n");
  const errors = lines.filter((l) => /error|failed|panicked/i.test(l) && !/status 500 Internal Server Error/.test(l));
  return [...errors.slice(0, 10), "…", ...lines.slice(-20)].join("\n");
}

/**
 * What every browser test file starts with: the demo (`demoOptions` as for startDemo), Chromium and one page of
 * `viewport` whose script errors are printed. Returns {demo, browser, page, stop()}.
 */
export async function openSuite({ viewport = { width: 1600, height: 1000 }, demo: demoOptions } = {}) {
  const demo = await startDemo(demoOptions);
  let browser;
  try {
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport });
    page.on("pageerror", (e) => console.error("page error:", e.message));
    return {
      demo,
      browser,
      page,
      stop: async () => {
        await browser.close();
        await demo.stop();
      },
    };
  } catch (e) {
    await browser?.close();
    await demo.stop();
    throw e;
  }
}

/** A screenshot of `page` kept in the artifacts directory as `<name>.png`. */
export function shot(page, name, fullPage = false) {
  return page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/** Finds the first file named `name` under `dir`. */
function findFile(dir, name, depth = 6) {
  if (depth < 0 || !existsSync(dir)) return null;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isFile() && e === name) return p;
    if (st.isDirectory()) {
      const f = findFile(p, name, depth - 1);
      if (f) return f;
    }
  }
  return null;
}

/**
 * A second real meshglass-server on the demo's clusters with a Prometheus URL where nothing listens and an extra
 * remote cluster "south" whose API server does not exist: the UI must show both as banners.
 */
export async function startBrokenServer(demo) {
  const kubeconfig = process.env.MESHGLASS_KUBECONFIG ?? demo.info.kubeconfig;
  if (!kubeconfig) throw new Error("no kubeconfig: the demo did not report one and MESHGLASS_KUBECONFIG is not set");
  const dir = mkdtempSync(join(tmpdir(), "meshglass-ui-broken-"));
  const port = await freePort();
  const deadPort = await freePort();
  writeFileSync(
    join(dir, "config.yaml"),
    [
      "auth: {strategy: anonymous}",
      `server: {address: 127.0.0.1, port: ${port}, web_root: /kiali, observability: {metrics: {enabled: false}}}`,
      `external_services: {prometheus: {url: "http://127.0.0.1:${deadPort}", query_timeout: 3}}`,
      "kubernetes_config: {cluster_name: east}",
      "",
    ].join("\n"),
  );
  // Remote secrets: the demo's (west), plus "south" pointing at a closed port.
  const secrets = join(dir, "secrets");
  mkdirSync(join(secrets, "kiali-remote-cluster-secret-south"), { recursive: true });
  writeFileSync(
    join(secrets, "kiali-remote-cluster-secret-south", "south"),
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: south, cluster: {server: 'https://127.0.0.1:" + deadPort + "', insecure-skip-tls-verify: true}}]",
      "users: [{name: south, user: {token: not-a-real-token}}]",
      "contexts: [{name: south, context: {cluster: south, user: south}}]",
      "current-context: south",
      "",
    ].join("\n"),
  );
  const demoSecrets = demo.stateDir ? findFile(demo.stateDir, "west") : null;
  if (demoSecrets) {
    const name = dirname(demoSecrets).split("/").pop();
    mkdirSync(join(secrets, name), { recursive: true });
    writeFileSync(join(secrets, name, "west"), readFileSync(demoSecrets));
  }
  const logFile = join(artifacts, "broken-server.log");
  const log = createWriteStream(logFile);
  const child = spawn(
    join(binDir, "meshglass-server"),
    ["--config", join(dir, "config.yaml"), "--kubeconfig", kubeconfig, "--context", "east", "--remote-secrets-dir", secrets],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${port}/kiali`;
  const stop = async () => {
    await stopChild(child, "SIGTERM", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("the second server to list clusters", 60_000, async () => {
      if (child.exitCode !== null) throw new Fatal(`meshglass-server exited with ${child.exitCode}:\n${tail(logFile)}`);
      const r = await fetch(`${url}/api/config`);
      if (!r.ok) return null;
      const cfg = await r.json();
      const south = cfg.clusters?.south;
      return south && south.accessible === false ? cfg : null;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop };
}

/**
 * A real meshglass-server with the `token` strategy on the demo's east cluster (sessions sealed with a fixed key, lasting
 * `seconds`), and the token of a ServiceAccount `ui-viewer-<n>` that may view everything in east.
 */
export async function startTokenServer(demo, seconds) {
  const kubeconfig = process.env.MESHGLASS_KUBECONFIG ?? demo.info.kubeconfig;
  if (!kubeconfig) throw new Error("no kubeconfig: the demo did not report one and MESHGLASS_KUBECONFIG is not set");
  const dir = mkdtempSync(join(tmpdir(), "meshglass-ui-token-"));
  const port = await freePort();
  const sa = `ui-viewer-${port}`;
  const kubectl = (...args) => {
    const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, "--context", "east", ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  kubectl("create", "serviceaccount", sa, "-n", "default");
  kubectl("create", "clusterrolebinding", sa, "--clusterrole=view", `--serviceaccount=default:${sa}`);
  const token = kubectl("create", "token", sa, "-n", "default", "--duration=1h");
  writeFileSync(
    join(dir, "config.yaml"),
    [
      "auth: {strategy: token}",
      `server: {address: 127.0.0.1, port: ${port}, web_root: /kiali, observability: {metrics: {enabled: false}}}`,
      `login_token: {expiration_seconds: ${seconds}}`,
      "kubernetes_config: {cluster_name: east}",
      "",
    ].join("\n"),
  );
  mkdirSync(join(dir, "secrets"));
  const logFile = join(artifacts, "token-server.log");
  const log = createWriteStream(logFile);
  const child = spawn(
    join(binDir, "meshglass-server"),
    ["--config", join(dir, "config.yaml"), "--kubeconfig", kubeconfig, "--context", "east", "--remote-secrets-dir", join(dir, "secrets")],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOGIN_TOKEN_SIGNING_KEY: "ui-test-signing-key-0123456789" } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${port}/kiali`;
  const stop = async () => {
    await stopChild(child, "SIGTERM", 10_000);
    spawnSync("kubectl", ["--kubeconfig", kubeconfig, "--context", "east", "delete", "clusterrolebinding", sa]);
    spawnSync("kubectl", ["--kubeconfig", kubeconfig, "--context", "east", "delete", "serviceaccount", sa, "-n", "default"]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("the token server to be ready", 60_000, async () => {
      if (child.exitCode !== null) throw new Fatal(`meshglass-server exited with ${child.exitCode}:\n${tail(logFile)}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return r.ok;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, token, user: `system:serviceaccount:default:${sa}`, stop };
}

/**
 * A real meshglass-server with the `token` strategy whose home cluster is `cluster` of the demo (so that a token of that
 * cluster's ServiceAccount is reviewed there, and writes go to it with that token), with west as remote cluster when
 * `withWest` (the demo's remote secret; the user's rights there are asked of west). The tokens are
 * the test's (see `tokenOf`).
 */
export async function startHomeTokenServer(demo, cluster, { withWest = false } = {}) {
  const kubeconfig = process.env.MESHGLASS_KUBECONFIG ?? demo.info.kubeconfig;
  if (!kubeconfig) throw new Error("no kubeconfig: the demo did not report one and MESHGLASS_KUBECONFIG is not set");
  const dir = mkdtempSync(join(tmpdir(), `meshglass-ui-token-${cluster}-`));
  const port = await freePort();
  writeFileSync(
    join(dir, "config.yaml"),
    [
      "auth: {strategy: token}",
      `server: {address: 127.0.0.1, port: ${port}, web_root: /kiali, observability: {metrics: {enabled: false}}}`,
      `kubernetes_config: {cluster_name: ${cluster}}`,
      "",
    ].join("\n"),
  );
  mkdirSync(join(dir, "secrets"));
  // `withWest`: west as a remote cluster, through the demo's own remote secret.
  const westSecret = withWest && demo.stateDir ? findFile(demo.stateDir, "west") : null;
  if (westSecret) {
    const name = dirname(westSecret).split("/").pop();
    mkdirSync(join(dir, "secrets", name), { recursive: true });
    writeFileSync(join(dir, "secrets", name, "west"), readFileSync(westSecret));
  }
  const logFile = join(artifacts, `token-server-${cluster}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
    join(binDir, "meshglass-server"),
    ["--config", join(dir, "config.yaml"), "--kubeconfig", kubeconfig, "--context", cluster, "--remote-secrets-dir", join(dir, "secrets")],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOGIN_TOKEN_SIGNING_KEY: "ui-test-signing-key-0123456789" } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${port}/kiali`;
  const stop = async () => {
    await stopChild(child, "SIGTERM", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`the token server of ${cluster} to be ready`, 60_000, async () => {
      if (child.exitCode !== null) throw new Fatal(`meshglass-server exited with ${child.exitCode}:\n${tail(logFile)}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return r.ok;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop };
}

/**
 * A synthetic Kiali graph shaped like a large mesh: `nodeCount` workloads in 10 tiers (front ends → back ends) spread
 * over 2 clusters and 10 namespaces per cluster, `edgeCount` distinct edges from each tier to the next one or two
 * tiers, a fifth of them across clusters, some with errors.
 */
export function syntheticGraph(nodeCount, edgeCount, seed = 42) {
  // mulberry32: 32-bit integer arithmetic (a float LCG loses precision and cycles too soon for 5,000 nodes).
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const clusters = ["east", "west"];
  const namespaces = Array.from({ length: 10 }, (_, i) => `ns${i}`);
  const tiers = 10;
  const perTier = Math.ceil(nodeCount / tiers);
  const nodes = [];
  for (const c of clusters) {
    nodes.push({ data: { id: `box_${c}`, nodeType: "box", isBox: "cluster", cluster: c, namespace: "" } });
    for (const ns of namespaces) {
      nodes.push({ data: { id: `box_${c}_${ns}`, parent: `box_${c}`, nodeType: "box", isBox: "namespace", cluster: c, namespace: ns } });
    }
  }
  const tierOf = (i) => Math.floor(i / perTier);
  for (let i = 0; i < nodeCount; i++) {
    const c = clusters[i % 2];
    const ns = namespaces[Math.floor(i / 2) % namespaces.length];
    nodes.push({
      data: {
        id: `wl_${i}`,
        parent: `box_${c}_${ns}`,
        nodeType: "workload",
        cluster: c,
        namespace: ns,
        workload: `svc-${i}-v1`,
        app: `svc-${i}`,
        version: "v1",
        isRoot: tierOf(i) === 0 || undefined,
        traffic: [{ protocol: "http", rates: { httpIn: "1.00", httpOut: "1.00" } }],
      },
    });
  }
  const edges = [];
  const seen = new Set();
  for (let tries = 0; edges.length < edgeCount; tries++) {
    if (tries > 100 * edgeCount) throw new Error(`syntheticGraph: no ${edgeCount} distinct edges between ${nodeCount} nodes`);
    const a = Math.floor(rnd() * (nodeCount - perTier));
    const t = Math.min(tiers - 1, tierOf(a) + (rnd() < 0.8 ? 1 : 2));
    let b = t * perTier + Math.floor(rnd() * perTier);
    if (b >= nodeCount) b = nodeCount - 1;
    // Mostly within the cluster (same parity), a fifth across.
    if (rnd() < 0.8 && (a % 2) !== (b % 2)) b = b > t * perTier ? b - 1 : b + 1;
    const key = `${a}>${b}`;
    if (a === b || seen.has(key) || b >= nodeCount) continue;
    seen.add(key);
    const err = rnd() < 0.05 ? (rnd() * 20).toFixed(1) : "0";
    edges.push({
      data: {
        id: `e${edges.length}`,
        source: `wl_${a}`,
        target: `wl_${b}`,
        traffic: { protocol: "http", rates: { http: (rnd() * 10).toFixed(2), httpPercentErr: err }, responses: {} },
        responseTime: String(Math.round(rnd() * 200)),
        isMTLS: "100",
      },
    });
  }
  return { timestamp: Math.floor(Date.now() / 1000), duration: 600, graphType: "workload", elements: { nodes, edges } };
}
