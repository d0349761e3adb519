// mTLS status as Kiali shows it: a lock beside a namespace (full when mTLS is enabled for the namespace, by its own
// objects or extended from the mesh-wide ones; faded when it is partially enabled; none otherwise), from
// `api/clusters/tls` or `api/namespaces/{ns}/tls` and the cluster's `api/mesh/tls`, combined as Kiali's UI does
// (`types/TLSStatus.ts` `nsWideMTLSStatus`).

import { get, reportError } from "./api";
import { h } from "./dom";

/** Kiali's `MTLSStatus` of a namespace. */
export interface NamespaceTls {
  status: string;
  cluster?: string;
  namespace?: string;
  autoMTLSEnabled?: boolean;
}

/** Kiali's texts (`MTLSStatus` / `NamespaceMTLSStatus`). */
const TITLES: Record<string, string> = {
  MTLS_ENABLED: "Namespace-wide mTLS is enabled",
  MTLS_ENABLED_EXTENDED: "mTLS is enabled for this namespace, extended from Mesh-wide config",
  MTLS_PARTIALLY_ENABLED: "Namespace-wide TLS is partially enabled",
};

/** The lock of a namespace's mTLS status, or an empty marker (with the status for tests) when Kiali shows none. */
export function mtlsIcon(status: string | undefined): HTMLElement {
  const title = status ? TITLES[status] : undefined;
  if (!title) return h("span", { "data-testid": "mtls", "data-status": status ?? "" });
  return h(
    "span",
    { class: status === "MTLS_PARTIALLY_ENABLED" ? "mtls-lock partial" : "mtls-lock", title, "aria-label": title, "data-testid": "mtls", "data-status": status },
    "\u{1F512}",
  );
}

/** A namespace's status with the mesh's: mTLS enabled mesh-wide and not set in the namespace extends to it. */
export function nsWideStatus(ns: string, mesh: string | undefined): string {
  return mesh === "MTLS_ENABLED" && ns === "MTLS_NOT_ENABLED" ? "MTLS_ENABLED_EXTENDED" : ns;
}

/** A cluster's mesh-wide status (`api/mesh/tls`), undefined when it cannot be read. */
export async function meshTls(cluster: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return (await get<NamespaceTls>("api/mesh/tls", { clusterName: cluster }, signal)).status;
  } catch (e) {
    reportError(`mesh-wide mTLS status of ${cluster}`, e);
    return undefined;
  }
}

/** The mTLS status of `namespaces` in each of `clusters`, the mesh's included: cluster → namespace → status. */
export async function clustersTls(clusters: string[], namespaces: (cluster: string) => string[], signal?: AbortSignal): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  await Promise.all(
    clusters.map(async (c) => {
      const list = namespaces(c);
      if (list.length === 0) return;
      try {
        const [r, mesh] = await Promise.all([get<NamespaceTls[]>("api/clusters/tls", { clusterName: c, namespaces: list.join(",") }, signal), meshTls(c, signal)]);
        out.set(c, new Map(r.map((t) => [t.namespace ?? "", nsWideStatus(t.status, mesh)])));
      } catch (e) {
        reportError(`mTLS status of ${c}`, e);
      }
    }),
  );
  return out;
}
