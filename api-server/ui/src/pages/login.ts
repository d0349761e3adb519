// The login page of the strategy (`token`: a token form; `openid`, `openshift`: the way to the provider's
// (the cluster's OAuth server's) login form;
// `header` and `anonymous` have none: the proxy in front, or nobody, logs the user in). The page stays at
// the address the user asked for, so that after the login that page loads: the token form reloads it,
// and the OpenID flow, which comes back to the web root, returns to the address kept in `RETURN_TO`.

import { apiUrl, AuthInfo, login } from "../api";
import { clear, h } from "../dom";

/** sessionStorage key: the page (path and query) to go back to after an OpenID login. */
export const RETURN_TO = "meshglass.returnTo";

/** Whether the strategy has a login page. */
export function hasLoginPage(info: AuthInfo): boolean {
  return info.strategy === "token" || redirectsToLogin(info);
}

/** Whether the login is a redirect to a provider, one per cluster (`openid`, `openshift`). */
export function redirectsToLogin(info: AuthInfo): boolean {
  return info.strategy === "openid" || info.strategy === "openshift";
}

/** The error a provider's login came back with (`openid_error`, `openshift_error`), if any. */
export function loginError(): string | null {
  const q = new URLSearchParams(location.search);
  return q.get("openid_error") ?? q.get("openshift_error");
}

/** Keeps the current page, then sends the browser to log in to `cluster` (the home cluster when absent). */
export function startOpenidLogin(info: AuthInfo, cluster?: string): void {
  sessionStorage.setItem(RETURN_TO, location.pathname + location.search);
  location.assign(openidHref(info, cluster));
}

export function openidHref(info: AuthInfo, cluster?: string): string {
  const route = info.strategy === "openshift" ? "api/auth/openshift_redirect" : "api/auth/openid_redirect";
  const base = info.authorizationEndpoint || apiUrl(route);
  const u = new URL(base, document.baseURI);
  if (cluster) u.searchParams.set("cluster", cluster);
  return u.toString();
}

/** After an OpenID login, the page the user was on (once); null when there is none. */
export function takeReturnTo(): string | null {
  const to = sessionStorage.getItem(RETURN_TO);
  sessionStorage.removeItem(RETURN_TO);
  // Only a path of this site.
  return to && to.startsWith("/") && !to.startsWith("//") ? to : null;
}

export function loginPage(app: HTMLElement, info: AuthInfo, reason?: string): void {
  const error = loginError();
  const parts: Array<Node | string> = [h("h1", null, "Log in")];
  if (reason) parts.push(h("p", { class: "muted", "data-testid": "login-reason" }, reason));
  if (error) parts.push(h("p", { class: "login-error", "data-testid": "login-error" }, `The login did not succeed: ${error}`));
  if (redirectsToLogin(info)) {
    const openshift = info.strategy === "openshift";
    parts.push(
      h(
        "p",
        null,
        openshift
          ? "This console logs you in with the cluster's OpenShift login; each cluster then shows what it lets you see."
          : "This console logs you in with your organisation's OpenID provider; each cluster then shows what it lets you see.",
      ),
      h(
        "a",
        {
          class: "button",
          href: openidHref(info),
          "data-testid": "login-openid",
          onclick: (e: MouseEvent) => {
            e.preventDefault();
            startOpenidLogin(info);
          },
        },
        openshift ? "Log in with OpenShift" : "Log in with OpenID",
      ),
    );
  } else {
    parts.push(h("p", null, "Paste a bearer token (for example `kubectl create token <service account>`)."), tokenForm());
  }
  clear(app, h("section", { class: "login-page", "data-testid": "login-page", "data-strategy": info.strategy }, ...parts));
}

/** The `token` strategy's form: the session starts, and the page the user was on loads again. */
function tokenForm(): HTMLElement {
  const input = h("input", { type: "password", placeholder: "bearer token", "aria-label": "token", "data-testid": "login-token" });
  const status = h("span", { class: "muted", "data-testid": "login-status" });
  return h(
    "form",
    {
      class: "token",
      "data-testid": "login-form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        login(input.value.trim())
          .then(() => location.reload())
          .catch((err: Error) => {
            status.textContent = `login refused: ${err.message}`;
          });
      },
    },
    input,
    h("button", { type: "submit", "data-testid": "login-submit" }, "Log in"),
    status,
  );
}
