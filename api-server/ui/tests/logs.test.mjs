// Browser test of a workload's Logs tab on the demo mesh, served by the real meshglass-server binary: the lines kwok
// serves for a pod's containers through `pods/log` (the demo writes them under <state dir>/podlogs/), the application
// and its proxy side by side, search with highlight, a pod of each cluster the workload runs in, and follow showing a
// line appended to the container's file later. Screenshots go to target/ui-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openSuite, shot as shotOf, waitFor } from "./harness.mjs";

let demo;
let page;
let stop;

before(async () => ({ demo, page, stop } = await openSuite({ viewport: { width: 1600, height: 1100 } })));
after(async () => stop?.());

const shot = (name) => shotOf(page, name, true);

/** The messages of a CRI log file (`<time> stdout F <message>`). */
function fileMessages(file) {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ").slice(3).join(" "));
}

/** The log file the demo wrote for a container (`<state dir>/podlogs/<cluster>/<ns>/<pod>/<container>.log`). */
function logFile(cluster, ns, pod, container) {
  const root = readdirSync(demo.stateDir, { recursive: true }).find((p) => p.endsWith(join("podlogs", cluster, ns, pod, `${container}.log`)));
  assert.ok(root, `no log file of ${cluster}/${ns}/${pod}/${container} under ${demo.stateDir}`);
  return join(demo.stateDir, root);
}

const shownLines = (container) => page.locator(`.log-pane[data-container="${container}"] .log-line .log-msg`).allInnerTexts();

test("a workload's logs: its pods in both clusters, app and proxy side by side, search, and follow", async (t) => {
  if (!demo.stateDir) return t.skip("MESHGLASS_URL: the log files of an outside demo are not known");
  await page.goto(`${demo.url}/console/namespaces/sample/workloads/sleep?tab=logs`);
  const pods = await waitFor("sleep's pods of east and west in the pod choice", 60_000, async () => {
    const opts = await page.locator('[data-testid="logs-pod"] option').evaluateAll((os) => os.map((o) => o.value));
    return opts.length === 2 ? opts : null;
  });
  assert.deepEqual(pods.map((p) => p.split("/")[0]).sort(), ["east", "west"]);

  const west = pods.find((p) => p.startsWith("west/"));
  const pod = west.split("/")[1];
  await page.selectOption('[data-testid="logs-pod"]', west);
  const seen = await waitFor("west's pod logs in both panes", 60_000, async () => {
    const l = await page.evaluate(() => window.__meshglassLogs);
    return l?.pod === pod && l.panes.sleep?.length > 0 && l.panes["istio-proxy"]?.length > 0 ? l : null;
  });
  assert.equal(seen.cluster, "west");
  // App and proxy side by side: two panes in one row.
  const boxes = await page.locator(".log-pane").evaluateAll((ps) => ps.map((p) => ({ c: p.dataset.container, top: p.getBoundingClientRect().top })));
  assert.deepEqual(boxes.map((b) => b.c), ["sleep", "istio-proxy"]);
  assert.equal(boxes[0].top, boxes[1].top, "the panes sit side by side");
  for (const c of ["sleep", "istio-proxy"]) {
    const want = fileMessages(logFile("west", "sample", pod, c));
    assert.deepEqual(seen.panes[c], want, `${c}: the page's entries are the file's lines`);
    assert.deepEqual(await shownLines(c), want, `${c}: the lines drawn`);
  }
  // Search highlights the matching lines.
  await page.fill('[data-testid="logs-search"]', "ERROR");
  const hits = await page.locator('.log-pane[data-container="sleep"] .log-line.hit').count();
  assert.equal(hits, seen.panes.sleep.filter((m) => m.toLowerCase().includes("error")).length);
  assert.ok(hits > 0);
  await page.fill('[data-testid="logs-search"]', "");
  await shot("workload-logs");

  // Follow: a line appended to the container's file afterwards shows in the pane.
  await page.check('[data-testid="logs-follow"]');
  await waitFor("the viewer following", 30_000, async () => (await page.evaluate(() => window.__meshglassLogs))?.following === true);
  const message = `INFO sleep: appended while following ${Date.now()}`;
  appendFileSync(logFile("west", "sample", pod, "sleep"), `${new Date().toISOString()} stdout F ${message}\n`);
  await waitFor("the appended line in the followed pane", 60_000, async () => (await shownLines("sleep")).at(-1) === message);
  // The proxy's pane did not get it.
  assert.ok(!(await shownLines("istio-proxy")).includes(message));
  await shot("workload-logs-follow");

  // Unchecking the proxy leaves the application's pane alone.
  await page.uncheck('[data-testid="logs-containers"] input[data-container="istio-proxy"]');
  await waitFor("one pane", 30_000, async () => (await page.locator(".log-pane").count()) === 1);
  assert.equal(await page.locator(".log-pane").getAttribute("data-container"), "sleep");
});
