// Banners above every page: API errors, unreachable clusters. Keyed so one cause shows once.

import { h } from "./dom";
import { apiUrl, authInfo, login } from "./api";

const sticky = new Set<string>();

export function banner(key: string, level: "error" | "warning" | "info" | "auth", text: string): void {
  const root = document.getElementById("banners");
  if (!root) return;
  let el = root.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`);
  if (!el) {
    el = h("div", { class: `banner banner-${level}`, "data-key": key, "data-testid": "banner" });
    root.appendChild(el);
  }
  el.className = `banner banner-${level}`;
  const target = el;
  // Long messages (Prometheus errors quote whole query URLs) are cut; the full text is the tooltip.
  const short = text.length > 320 ? `${text.slice(0, 320)}…` : text;
  target.replaceChildren(h("span", { title: text }, short));
  if (level === "auth") target.appendChild(loginControls());
  target.appendChild(h("button", { class: "close", title: "dismiss", onclick: () => target.remove() }, "×"));
  if (key.startsWith("cluster-") || key.startsWith("missing-")) sticky.add(key);
}

export function clearBanner(key: string): void {
  document.querySelector(`#banners [data-key="${CSS.escape(key)}"]`)?.remove();
}

/** Removes the banners of the previous page (cluster banners stay until the config says otherwise). */
export function clearPageBanners(): void {
  for (const el of Array.from(document.querySelectorAll<HTMLElement>("#banners .banner"))) {
    if (!sticky.has(el.dataset.key ?? "")) el.remove();
  }
}

/** The strategy's login: the token form, or (`openid`) the way to the provider's login page. */
function loginControls(): HTMLElement {
  const slot = h("span", { class: "login" });
  void authInfo()
    .then((info) => {
      if (info.strategy === "openid") {
        slot.replaceChildren(
          h("a", { href: info.authorizationEndpoint || apiUrl("api/auth/openid_redirect"), "data-testid": "login-openid" }, "Log in with OpenID"),
        );
      } else if (info.strategy === "token") {
        slot.replaceChildren(tokenForm());
      }
    })
    .catch(() => slot.replaceChildren(tokenForm()));
  return slot;
}

/** The `token` strategy's login: the session starts, and the page the user was on loads again. */
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
