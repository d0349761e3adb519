// What the namespaces page says of one namespace, from its labels and the health routes' entries: its sidecar
// injection (Istio's rules for `istio-injection` and `istio.io/rev`), the counts of each health status and the
// namespace's own status (the worst one, as Kiali ranks them), and the control plane that manages it. No imports,
// so unit tests load it directly (tests/unit/nsinfo.test.mjs).

export interface Injection {
  /** `enabled`/`disabled` by `istio-injection`, `revision` by `istio.io/rev`, `ambient`, or `none`. */
  state: "enabled" | "disabled" | "revision" | "ambient" | "none";
  /** The revision that injects (`istio.io/rev`); "default" for `istio-injection=enabled`. */
  revision?: string;
  /** The label that decides, e.g. `istio-injection=enabled`. */
  label?: string;
}

/**
 * Istio's webhook rules: `istio-injection` takes precedence over `istio.io/rev` when both are set (`disabled` wins,
 * `enabled` injects with the default revision); otherwise `istio.io/rev=<rev>` injects with that revision;
 * `istio.io/dataplane-mode=ambient` puts the namespace in ambient mode (no sidecars).
 */
export function injection(labels: Record<string, string> | undefined): Injection {
  const l = labels ?? {};
  const inj = l["istio-injection"];
  if (inj === "enabled") return { state: "enabled", revision: "default", label: "istio-injection=enabled" };
  if (inj !== undefined) return { state: "disabled", label: `istio-injection=${inj}` };
  const rev = l["istio.io/rev"];
  if (rev) return { state: "revision", revision: rev, label: `istio.io/rev=${rev}` };
  if (l["istio.io/dataplane-mode"] === "ambient") return { state: "ambient", label: "istio.io/dataplane-mode=ambient" };
  return { state: "none" };
}

/** The words the page shows for an injection state. */
export function injectionText(i: Injection): string {
  switch (i.state) {
    case "enabled":
      return "enabled";
    case "disabled":
      return "disabled";
    case "revision":
      return `revision ${i.revision}`;
    case "ambient":
      return "ambient";
    default:
      return "not labelled";
  }
}

/** Kiali's ranking of health statuses, worst first (`HealthStatusId` priorities). */
export const STATUS_ORDER = ["Failure", "Degraded", "Not Ready", "Healthy", "NA"];

/** Counts of each status among a namespace's entities (`/api/clusters/health` entries: `status.status`). */
export function healthCounts(entities: Record<string, { status?: { status?: string } } | null | undefined> | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of Object.values(entities ?? {})) {
    const s = e?.status?.status || "NA";
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return counts;
}

/** The namespace's status: its worst entity's, "NA" when it has none. */
export function worstStatus(counts: Record<string, number>): string {
  for (const s of STATUS_ORDER) if ((counts[s] ?? 0) > 0) return s;
  const other = Object.keys(counts).find((s) => counts[s] > 0);
  return other ?? "NA";
}

export interface ManagedBy {
  istiodName: string;
  cluster: { name: string };
  revision?: string;
  managedNamespaces?: Array<{ name: string; cluster: string; revision?: string }>;
}

/** The control planes (`/api/mesh/controlplanes`) that list `namespace` of `cluster` among their managed ones. */
export function managedBy(namespace: string, cluster: string, cps: ManagedBy[]): ManagedBy[] {
  return cps.filter((cp) => (cp.managedNamespaces ?? []).some((m) => m.name === namespace && m.cluster === cluster));
}
