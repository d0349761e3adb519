// A stand-in for meshglass-server for the UI's graph benchmark: serves the built UI (dist/) under /kiali/ as the
// server does (index.html for every console path, its <base href> pointing at the web root) and answers the API calls
// of the graph page with fixed bodies: two reachable clusters under the anonymous strategy, the namespaces of the
// graph, the given graph for /api/namespaces/graph, empty health and metrics. It measures the UI, not the server.

import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const dist = resolve(process.env.MESHGLASS_UI_DIST ?? join(here, "../dist"));
const WEB_ROOT = "/kiali";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/**
 * Starts the stand-in on a free loopback port. `graph()` gives the body of /api/namespaces/graph (a string of JSON,
 * asked for on every request so that a caller can swap it between runs). Returns {url, stop()}; `url` is the web root.
 */
export async function startStubServer(graph) {
  if (!existsSync(join(dist, "index.html"))) throw new Error(`${dist}/index.html is missing: run make ui first`);
  const index = readFileSync(join(dist, "index.html"), "utf8").replace('<base href="./" />', `<base href="${WEB_ROOT}/" />`);
  let namespacesOf = "";
  let namespaces = "[]";
  const json = (res, body) => {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
  const api = (path, res) => {
    switch (path) {
      case "api/auth/info":
        return json(res, { strategy: "anonymous", sessionInfo: {}, csrfToken: "bench" });
      case "api/config":
        return json(res, {
          clusters: {
            east: { name: "east", accessible: true, isKialiHome: true },
            west: { name: "west", accessible: true, isKialiHome: false },
          },
          clusterName: "east",
          istioNamespace: "istio-system",
        });
      case "api/namespaces": {
        // The graph's namespaces in each of its clusters (recomputed when the graph changes).
        const body = graph();
        if (body !== namespacesOf) {
          const seen = new Map();
          for (const n of JSON.parse(body).elements?.nodes ?? []) {
            if (n.data.namespace && n.data.cluster) seen.set(`${n.data.cluster}/${n.data.namespace}`, { name: n.data.namespace, cluster: n.data.cluster });
          }
          namespaces = JSON.stringify([...seen.values()]);
          namespacesOf = body;
        }
        return json(res, namespaces);
      }
      case "api/namespaces/graph":
        return json(res, graph());
      case "api/clusters/health":
        return json(res, { namespaceAppHealth: {}, namespaceWorkloadHealth: {}, namespaceServiceHealth: {} });
      default:
        if (/^api\/namespaces\/[^/]+\/[^/]+\/[^/]+\/metrics$/.test(path)) return json(res, {});
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: `the benchmark's stand-in does not serve ${path}` }));
    }
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://stub");
    if (!url.pathname.startsWith(`${WEB_ROOT}/`)) {
      res.writeHead(302, { location: `${WEB_ROOT}/` });
      return res.end();
    }
    const path = url.pathname.slice(WEB_ROOT.length + 1);
    if (path.startsWith("api/")) return api(path, res);
    const file = normalize(join(dist, path));
    if (path !== "" && file.startsWith(dist + "/") && existsSync(file) && !file.endsWith("index.html") && extname(file)) {
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      return res.end(readFileSync(file));
    }
    res.writeHead(200, { "content-type": "text/html", "cache-control": "no-store" });
    res.end(index);
  });
  await new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(0, "127.0.0.1", res);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${WEB_ROOT}`,
    stop: () => new Promise((res) => {
      server.closeAllConnections?.();
      server.close(() => res());
    }),
  };
}
