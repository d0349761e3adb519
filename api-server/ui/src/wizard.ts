// The objects of the service wizards "Traffic Shifting" and "Request Routing" (one rule without matches), built the
// way Kiali's wizard builds them, so that the same choice gives the same DestinationRule and VirtualService.
//
// Facts taken from Kiali's frontend, frontend/src/components/IstioWizards/WizardActions.ts (buildIstioConfig,
// getDefaultWeights; kiali/kiali commit 654fe759bab511bdaa25ae8b9bb06e598e8555b0):
// - apiVersion `networking.istio.io/v1`; both objects named after the service (or after the one existing object of
//   that kind, when exactly one exists under another name), in its namespace, labelled `kiali_wizard: <wizard type>`;
// - DestinationRule: `host` the service's FQDN (`<svc>.<ns>.<istioIdentityDomain>`, `svc.cluster.local` by
//   default), one subset per workload with a version label, named after the version and selecting it by that label;
//   `trafficPolicy: null` without advanced options; `metadata.annotations: null` without a PeerAuthentication;
// - VirtualService: `http: [{route: [...]}]`, one destination per non-mirrored workload weight
//   (`{destination: {host: FQDN, subset: <version>}, weight}`), the mirrored one as `mirror` + `mirrorPercentage`;
//   then `hosts: [<svc>]` and `gateways: null` (no gateway chosen). Nulls delete those fields on a JSON merge patch.
// - Default weights: 100 / n each, the remainder on the last workload.
//
// Ours (multi-cluster): the weights are chosen per version, and a version may run in several clusters (or only in
// another cluster than the one the objects go to). Kiali lists one row per workload; workloads of the same version
// in two clusters are one subset here (Kiali would write the subset twice, which Istio refuses).
// Pure: no DOM, tested by tests/unit/wizard.test.mjs against a golden file.

export const KIALI_WIZARD_LABEL = "kiali_wizard";
export const ISTIO_NETWORKING_VERSION = "networking.istio.io/v1";
export type WizardType = "traffic_shifting" | "request_routing";

export interface WizardWorkload {
  name: string;
  cluster: string;
  labels: Record<string, string>;
}

/** One row of the wizard: a version (every workload of it, in every cluster) and its weight. */
export interface VersionWeight {
  /** The version label's value; "" for a workload without one (routed without a subset). */
  version: string;
  /** The workloads of that version, as `cluster/name`. */
  workloads: string[];
  weight: number;
  mirrored?: boolean;
}

export interface WizardInput {
  type: WizardType;
  namespace: string;
  serviceName: string;
  workloads: WizardWorkload[];
  weights: VersionWeight[];
  /** Kiali's `istioIdentityDomain`. */
  identityDomain?: string;
  /** Kiali's `istioLabels.versionLabelName`. */
  versionLabel?: string;
  /** Names of the service's existing objects (Kiali keeps the name of a single existing one). */
  existingDestinationRules?: string[];
  existingVirtualServices?: string[];
}

type Obj = Record<string, unknown>;

export function fqdnServiceName(serviceName: string, namespace: string, identityDomain = "svc.cluster.local"): string {
  return `${serviceName}.${namespace}.${identityDomain}`;
}

/** The wizard's rows: one per version, in the order the workloads come; workloads without a version each alone. */
export function versionRows(workloads: WizardWorkload[], versionLabel = "version"): VersionWeight[] {
  const rows: VersionWeight[] = [];
  for (const w of workloads) {
    const v = w.labels?.[versionLabel] ?? "";
    const row = v ? rows.find((r) => r.version === v) : undefined;
    if (row) row.workloads.push(`${w.cluster}/${w.name}`);
    else rows.push({ version: v, workloads: [`${w.cluster}/${w.name}`], weight: 0 });
  }
  return rows;
}

/** Kiali's default weights: 100 / n each (none above 100 rows), the remainder on the last row. */
export function defaultWeights(rows: VersionWeight[]): VersionWeight[] {
  const n = rows.length;
  const each = n > 0 && n < 100 ? Math.floor(100 / n) : 0;
  const rest = n > 0 && n < 100 ? 100 % n : 0;
  const out = rows.map((r) => ({ ...r, weight: each, mirrored: false }));
  if (rest > 0) out[out.length - 1].weight += rest;
  return out;
}

/** Why the weights cannot be used (the wizard's own check: routed weights sum to 100), or null. */
export function weightsProblem(weights: VersionWeight[]): string | null {
  const routed = weights.filter((w) => !w.mirrored);
  if (routed.length === 0) return "at least one version must receive traffic";
  for (const w of weights) {
    if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) return `weight of ${w.version || w.workloads[0]} must be a whole number from 0 to 100 (got ${w.weight})`;
  }
  const sum = routed.reduce((s, w) => s + w.weight, 0);
  if (sum !== 100) return `the weights must add up to 100 (they add up to ${sum})`;
  if (weights.filter((w) => w.mirrored).length > 1) return "at most one version can be mirrored";
  return null;
}

/** The DestinationRule and VirtualService Kiali's wizard creates for this choice. */
export function buildTrafficRouting(input: WizardInput): { destinationRule: Obj; virtualService: Obj } {
  const versionLabel = input.versionLabel ?? "version";
  const host = fqdnServiceName(input.serviceName, input.namespace, input.identityDomain);
  const drs = input.existingDestinationRules ?? [];
  const vss = input.existingVirtualServices ?? [];
  const drName = drs.length === 1 && drs[0] !== input.serviceName ? drs[0] : input.serviceName;
  const vsName = vss.length === 1 && vss[0] !== input.serviceName ? vss[0] : input.serviceName;
  const labels = { [KIALI_WIZARD_LABEL]: input.type };

  const versions: string[] = [];
  for (const w of input.workloads) {
    const v = w.labels?.[versionLabel];
    if (v && !versions.includes(v)) versions.push(v);
  }
  const drSpec: Obj = { host };
  if (versions.length > 0) drSpec.subsets = versions.map((v) => ({ name: v, labels: { [versionLabel]: v } }));
  drSpec.trafficPolicy = null;
  const destinationRule: Obj = {
    kind: "DestinationRule",
    apiVersion: ISTIO_NETWORKING_VERSION,
    metadata: { namespace: input.namespace, name: drName, labels: { ...labels }, annotations: null },
    spec: drSpec,
  };

  const destination = (w: VersionWeight): Obj => {
    const d: Obj = { host };
    if (w.version) d.subset = w.version;
    return d;
  };
  const route: Obj = {
    route: input.weights.filter((w) => !w.mirrored).map((w) => ({ destination: destination(w), weight: w.weight })),
  };
  const mirror = input.weights.filter((w) => w.mirrored).pop();
  if (mirror) {
    route.mirror = destination(mirror);
    route.mirrorPercentage = { value: mirror.weight };
  }
  const virtualService: Obj = {
    kind: "VirtualService",
    apiVersion: ISTIO_NETWORKING_VERSION,
    metadata: { namespace: input.namespace, name: vsName, labels: { ...labels } },
    spec: { http: [route], hosts: [input.serviceName], gateways: null },
  };
  return { destinationRule, virtualService };
}
