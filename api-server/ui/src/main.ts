import "./style.css";
import { clear, h } from "./dom";
import { clearPageBanners } from "./banners";
import { apiUrl, authInfo, AuthInfo, clusterList, config, logout, reportError } from "./api";
import { overviewPage } from "./pages/overview";
import { graphPage } from "./pages/graph";
import { listPage, ListKind } from "./pages/lists";
import { link, navigate, route, setNavigateHandler } from "./nav";
import { detailPage, DetailKind } from "./pages/details";
import { meshPage } from "./pages/mesh";

const NAV: Array<[string, string]> = [
  ["console/overview", "Overview"],
  ["console/graph/namespaces", "Traffic graph"],
  ["console/applications", "Applications"],
  ["console/workloads", "Workloads"],
  ["console/services", "Services"],
  ["console/istio", "Istio config"],
  ["console/mesh", "Mesh"],
];

let current: AbortController | null = null;

async function render(): Promise<void> {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  clearPageBanners();
  const r = route();
  const nav = document.getElementById("nav");
  if (nav) {
    clear(
      nav,
      NAV.map(([p, label]) => {
        const a = link(p, label);
        if (r === p || r.startsWith(`${p}/`) || (p === "console/overview" && r === "")) a.classList.add("active");
        return a;
      }),
    );
  }
  void userMenu();
  const app = document.getElementById("app");
  if (!app) return;
  app.replaceChildren();
  let m: RegExpMatchArray | null;
  try {
    if (r === "" || r === "console" || r === "console/overview") {
      if (r !== "console/overview") history.replaceState(null, "", new URL("console/overview", document.baseURI));
      await overviewPage(app, ctl.signal);
    } else if (r === "console/graph/namespaces" || r === "console/graph") {
      await graphPage(app, ctl.signal);
    } else if (r === "console/mesh") {
      await meshPage(app, ctl.signal);
    } else if ((m = r.match(/^console\/(applications|workloads|services|istio)$/))) {
      await listPage(app, m[1] as ListKind, ctl.signal);
    } else if ((m = r.match(/^console\/namespaces\/([^/]+)\/(applications|workloads|services)\/([^/]+)$/))) {
      await detailPage(app, m[2] as DetailKind, decodeURIComponent(m[1]), decodeURIComponent(m[3]), ctl.signal);
    } else {
      clear(app, h("h1", null, "Not found"), h("p", null, "No page at ", h("code", null, r), ". "), link("console/overview", "Overview"));
    }
  } catch (e) {
    reportError("Page", e);
    if (!app.firstChild) app.appendChild(h("p", { class: "muted" }, "This page could not be loaded; see the message above."));
  }
}

async function clustersSummary(): Promise<void> {
  const el = document.getElementById("clusters-summary");
  if (!el) return;
  try {
    const cfg = await config();
    clear(
      el,
      clusterList(cfg).map((c) =>
        h(
          "span",
          { class: `cluster-chip ${c.accessible ? "ok" : "down"}`, title: c.accessible ? "reachable" : c.error ?? "unreachable" },
          c.name,
          c.isKialiHome ? " (home)" : "",
        ),
      ),
    );
  } catch (e) {
    reportError("Configuration", e);
  }
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element | null)?.closest?.("a[data-nav]") as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? "");
});
/** Who is logged in, each cluster's login state, and logout (strategies with a login). */
async function userMenu(): Promise<void> {
  const el = document.getElementById("user");
  if (!el) return;
  let info: AuthInfo;
  try {
    info = await authInfo();
  } catch {
    return;
  }
  const user = info.sessionInfo?.username;
  const openid = info.strategy === "openid";
  const clusters = Object.values(info.clusters ?? {}).map((c) =>
    openid && !c.loggedIn
      ? h(
          "a",
          {
            class: "cluster-out",
            "data-testid": `login-state-${c.name}`,
            href: apiUrl("api/auth/openid_redirect", { cluster: c.name }),
          },
          ` Log in to ${c.name}`,
        )
      : h(
          "span",
          { class: c.loggedIn ? "cluster-in" : "cluster-out", "data-testid": `login-state-${c.name}` },
          c.loggedIn ? ` ${c.name} ✓` : ` ${c.name}: log in to see`,
        ),
  );
  const parts: Array<Node | string> = [];
  if (user && info.strategy !== "anonymous") {
    parts.push(h("span", { "data-testid": "user-name" }, user));
    parts.push(...clusters);
    parts.push(
      h(
        "button",
        {
          "data-testid": "logout",
          onclick: () => {
            void logout().then(() => location.reload());
          },
        },
        "Log out",
      ),
    );
  } else if (info.strategy !== "anonymous") {
    parts.push(h("span", { class: "muted", "data-testid": "user-name" }, "not logged in"), ...clusters);
  }
  el.replaceChildren(...parts);
}

window.addEventListener("popstate", () => void render());

setNavigateHandler(() => void render());
void clustersSummary();
void render();
