// Banners above every page: API errors, unreachable clusters. Keyed so one cause shows once.

import { h } from "./dom";

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
