import "./style.css";
import { clear, h } from "./dom";
import { banner, clearPageBanners } from "./banners";
import { auth, AuthInfo, clusterList, config, logout, reportError, setLoginPages, UNAUTHORIZED } from "./api";
import { overviewPage } from "./pages/overview";
import { graphPage } from "./pages/graph";
import { listPage, ListKind } from "./pages/lists";
import { link, navigate, route, setNavigateHandler } from "./nav";
import { detailPage, DetailKind } from "./pages/details";
import { meshPage } from "./pages/mesh";
import { namespacesPage } from "./pages/namespaces";
import { hasLoginPage, loginError, loginPage, redirectsToLogin, startOpenidLogin, takeReturnTo } from "./pages/login";

const NAV: Array<[string, string]> = [
  ["console/overview", "Overview"],
  ["console/namespaces", "Namespaces"],
  ["console/graph/namespaces", "Traffic graph"],
  ["console/applications", "Applications"],
  ["console/workloads", "Workloads"],
  ["console/services", "Services"],
  ["console/istio", "Istio config"],
  ["console/mesh", "Mesh"],
];

let current: AbortController | null = null;
/** Whether the last page was shown to a logged-in user (a login page after it says that the session ended). */
let hadSession = false;
const ENDED = "Your session has ended; log in again to go back to this page.";

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
        // console/namespaces/{ns}/... are the detail pages, not the namespaces page.
        const below = p !== "console/namespaces" && r.startsWith(`${p}/`);
        if (r === p || below || (p === "console/overview" && r === "")) a.classList.add("active");
        return a;
      }),
    );
  }
  const app = document.getElementById("app");
  if (!app) return;
  const info = await auth(true).catch(() => null);
  if (ctl.signal.aborted) return;
  userMenu(info);
  app.replaceChildren();
  setLoginPages(Boolean(info && hasLoginPage(info)));
  if (info && hasLoginPage(info) && !info.sessionInfo?.username) {
    document.getElementById("clusters-summary")?.replaceChildren();
    loginPage(app, info, hadSession ? ENDED : undefined);
    return;
  }
  hadSession = Boolean(info?.sessionInfo?.username);
  void clustersSummary();
  // Back from the OpenID provider (at the web root): the page the user was on.
  const back = info?.sessionInfo?.username ? takeReturnTo() : null;
  const loginFailed = loginError();
  if (back && back !== location.pathname + location.search) {
    navigate(back, true);
    if (loginFailed) banner("login", "error", `The login did not succeed: ${loginFailed}`);
    return;
  }
  let m: RegExpMatchArray | null;
  try {
    if (r === "" || r === "console" || r === "console/overview") {
      if (r !== "console/overview") history.replaceState(null, "", new URL("console/overview", document.baseURI));
      await overviewPage(app, ctl.signal);
    } else if (r === "console/graph/namespaces" || r === "console/graph") {
      await graphPage(app, ctl.signal);
    } else if (r === "console/namespaces") {
      await namespacesPage(app, ctl.signal);
    } else if (r === "console/mesh") {
      await meshPage(app, ctl.signal);
    } else if (r === "console/istio") {
      // The Istio pages (CodeMirror, the YAML parser) load only when opened.
      const { istioListPage } = await import("./pages/istio");
      await istioListPage(app, ctl.signal);
    } else if ((m = r.match(/^console\/namespaces\/([^/]+)\/istio\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/))) {
      const [ns, group, version, kind, name] = m.slice(1).map(decodeURIComponent);
      const { istioDetailPage } = await import("./pages/istio");
      await istioDetailPage(app, ns, group, version, kind, name, ctl.signal);
    } else if ((m = r.match(/^console\/(applications|workloads|services)$/))) {
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
/** Who is logged in, each cluster's login state ("Log in to west" with openid and openshift), and logout. */
function userMenu(info: AuthInfo | null): void {
  const el = document.getElementById("user");
  if (!el) return;
  if (!info || info.strategy === "anonymous") {
    el.replaceChildren();
    return;
  }
  const user = info.sessionInfo?.username;
  const openid = redirectsToLogin(info);
  const clusters = Object.values(info.clusters ?? {})
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) =>
      c.loggedIn
        ? h("span", { class: "cluster-in", "data-testid": `login-state-${c.name}`, "data-logged-in": "true" }, ` ${c.name} ✓`)
        : h(
            "span",
            { class: "cluster-out", "data-testid": `login-state-${c.name}`, "data-logged-in": "false" },
            ` ${c.name}: log in to see `,
            openid
              ? h(
                  "a",
                  {
                    href: "#",
                    "data-testid": `login-to-${c.name}`,
                    onclick: (e: MouseEvent) => {
                      e.preventDefault();
                      startOpenidLogin(info, c.name);
                    },
                  },
                  `Log in to ${c.name}`,
                )
              : null,
          ),
    );
  const parts: Array<Node | string> = [];
  if (user) {
    parts.push(h("span", { "data-testid": "user-name" }, user), ...clusters);
    if (hasLoginPage(info)) {
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
    }
  } else {
    parts.push(h("span", { class: "muted", "data-testid": "user-name" }, "not logged in"));
  }
  el.replaceChildren(...parts);
}

/** A 401 while the user was on a page: the session ended; the login page, at the same address. */
window.addEventListener(UNAUTHORIZED, () => {
  void auth(true)
    .then((info) => {
      const app = document.getElementById("app");
      if (!app || !hasLoginPage(info) || info.sessionInfo?.username || app.querySelector('[data-testid="login-page"]')) return;
      current?.abort();
      userMenu(info);
      loginPage(app, info, hadSession ? ENDED : undefined);
      hadSession = false;
    })
    .catch(() => {});
});

window.addEventListener("popstate", () => void render());

setNavigateHandler(() => void render());
void render();
