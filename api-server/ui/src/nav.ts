import { h } from "./dom";

let onNavigate: () => void = () => {};

export function setNavigateHandler(f: () => void): void {
  onNavigate = f;
}

/** The path of the page relative to the web root, e.g. "console/overview". */
export function route(): string {
  const base = new URL(document.baseURI).pathname;
  const p = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : location.pathname;
  return p.replace(/^\/+/, "").replace(/\/+$/, "");
}

/** Navigates inside the app (history API; the server answers index.html for these paths). */
export function navigate(path: string, replace = false): void {
  const url = new URL(path, document.baseURI).toString();
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  onNavigate();
}

/** Updates the query string of the current page without reloading it. */
export function setQuery(params: Record<string, string>): void {
  const u = new URL(location.href);
  u.search = "";
  for (const [k, v] of Object.entries(params)) if (v !== "") u.searchParams.set(k, v);
  history.replaceState(null, "", u.toString());
}

export function link(path: string, ...children: Array<Node | string>): HTMLAnchorElement {
  return h("a", { href: path, "data-nav": true }, ...children);
}

export function detailPath(kind: "applications" | "workloads" | "services", ns: string, name: string): string {
  return `console/namespaces/${encodeURIComponent(ns)}/${kind}/${encodeURIComponent(name)}`;
}
