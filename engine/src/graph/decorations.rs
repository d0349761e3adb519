//! Kiali's node decorations from the inventory: the meshCheck appender (`isOutOfMesh`), the
//! istio appender's gateways (`isGateway`) and the workloadEntry appender (`hasWorkloadEntry`).

use rustc_hash::FxHashMap;

use super::appenders::WorkloadIndex;
use super::cytoscape::{GwInfo, VsInfo, WeInfo};
use super::ids::NodeType;
use super::traffic::Builder;
use crate::inventory::{WorkloadInfo, selector_matches};
use crate::istio::{IstioKind, strings};
use crate::rules::is_ok;

/// Kiali's `operator.istio.io/component` values of gateway Deployments.
const INGRESS: &str = "IngressGateways";
const EGRESS: &str = "EgressGateways";

/// A gateway workload, as Kiali's `IsGateway` tells it: an Istio ingress or egress gateway, or
/// a Gateway API one.
fn is_gateway(w: &WorkloadInfo) -> bool {
    let l = |k: &str| w.labels.get(k).map(String::as_str);
    matches!(l("istio"), Some("ingressgateway" | "egressgateway"))
        || matches!(l("operator.istio.io/component"), Some(INGRESS | EGRESS))
        || l("gateway.networking.k8s.io/gateway-name").is_some()
        || l("istio.io/gateway-name").is_some()
}

/// Each cluster's workloads by namespace: a node's workloads are looked for among its
/// namespace's, not the whole cluster's (at 800 namespaces, app nodes × workloads was most of the
/// appenders' time).
type ByNamespace<'a> = FxHashMap<(&'a str, &'a str), Vec<&'a WorkloadInfo>>;

fn by_namespace(inv: &crate::inventory::MeshInventory) -> ByNamespace<'_> {
    let mut m: ByNamespace<'_> = FxHashMap::default();
    for c in &inv.clusters {
        for w in &c.workloads {
            m.entry((c.name.as_str(), w.namespace.as_str()))
                .or_default()
                .push(w);
        }
    }
    m
}

/// The workloads of `namespace` in `cluster` that `pick` accepts.
fn picked<'a>(
    by: &ByNamespace<'a>,
    cluster: &str,
    namespace: &str,
    pick: impl Fn(&WorkloadInfo) -> bool,
) -> Vec<&'a WorkloadInfo> {
    by.get(&(cluster, namespace))
        .into_iter()
        .flatten()
        .copied()
        .filter(|w| pick(w))
        .collect()
}

impl<'a> Builder<'a> {
    /// Kiali's meshCheck appender: `isOutOfMesh` on workload and app nodes whose workloads (an
    /// app node's: those of its app, and version when set) lack a sidecar, unless they are
    /// gateways. Nodes of any namespace the inventory holds are checked; the control plane's
    /// namespace and dead nodes are not, nor nodes without workloads.
    pub(super) fn mesh_check(&mut self, wl_index: &WorkloadIndex<'a>) {
        let by = by_namespace(self.inv);
        let control_plane = self.opts.istio_namespace.as_str();
        for n in &mut self.nodes {
            if n.removed || n.is_dead || n.namespace == control_plane {
                continue;
            }
            let workloads: Vec<&WorkloadInfo> = match n.node_type {
                NodeType::Workload => wl_index
                    .get(&(n.cluster, n.namespace, n.workload))
                    .into_iter()
                    .copied()
                    .collect(),
                NodeType::App => picked(&by, n.cluster, n.namespace, |w| {
                    w.app() == Some(n.app) && (!is_ok(n.version) || w.version() == Some(n.version))
                }),
                _ => continue,
            };
            if workloads.is_empty() {
                continue;
            }
            let sidecars = workloads.iter().all(|w| w.istio_sidecar);
            let gateways = workloads.iter().all(|w| is_gateway(w));
            n.is_out_of_mesh = !sidecars && !gateways;
        }
    }

    /// The istio appender's gateways: app and workload nodes whose app is that of an ingress
    /// (or egress) gateway Deployment of the same cluster and namespace (its
    /// `operator.istio.io/component` label) are `isGateway`, with the hosts of every Gateway
    /// of that cluster selecting the Deployment's labels (by Gateway name).
    pub(super) fn gateways(&mut self) {
        let inv = self.inv;
        let by = by_namespace(inv);
        for n in &mut self.nodes {
            if n.removed || !matches!(n.node_type, NodeType::App | NodeType::Workload) {
                continue;
            }
            if !is_ok(n.app) {
                continue;
            }
            let Some(c) = inv.cluster(n.cluster) else {
                continue;
            };
            // Ingress first: a node both would be is shown as an ingress gateway, as in Kiali.
            for component in [INGRESS, EGRESS] {
                let gws = picked(&by, n.cluster, n.namespace, |w| {
                    w.kind == "Deployment"
                        && w.labels
                            .get("operator.istio.io/component")
                            .map(String::as_str)
                            == Some(component)
                        && w.labels.get("app").map(String::as_str) == Some(n.app)
                });
                if gws.is_empty() {
                    continue;
                }
                let mut selecting: Vec<(&str, Vec<String>)> = c
                    .routing
                    .iter()
                    .filter(|o| o.kind == IstioKind::Gateway)
                    .filter(|o| {
                        let sel = o.spec["selector"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        gws.iter().any(|w| selector_matches(&sel, &w.labels))
                    })
                    .map(|o| {
                        let hosts = o.spec["servers"]
                            .as_array()
                            .map(|servers| {
                                servers.iter().flat_map(|s| strings(&s["hosts"])).collect()
                            })
                            .unwrap_or_default();
                        (o.name.as_str(), hosts)
                    })
                    .collect();
                selecting.sort_by(|a, b| a.0.cmp(b.0));
                let hostnames = VsInfo {
                    hostnames: selecting.into_iter().flat_map(|(_, h)| h).collect(),
                };
                let mut info = GwInfo::default();
                if component == INGRESS {
                    info.ingress_info = hostnames;
                } else {
                    info.egress_info = hostnames;
                }
                n.gateway = Some(info);
                break;
            }
        }
    }

    /// Kiali's workloadEntry appender: workload and app nodes whose app and version a
    /// WorkloadEntry of the same cluster and namespace labels (`app`, `version`) list it.
    pub(super) fn workload_entries(&mut self) {
        let inv = self.inv;
        for n in &mut self.nodes {
            if n.removed || !matches!(n.node_type, NodeType::App | NodeType::Workload) {
                continue;
            }
            let Some(c) = inv.cluster(n.cluster) else {
                continue;
            };
            n.workload_entries = c
                .routing
                .iter()
                .filter(|o| o.kind == IstioKind::WorkloadEntry && o.namespace == n.namespace)
                .filter(|o| {
                    let l = &o.spec["labels"];
                    l["app"].as_str() == Some(n.app) && l["version"].as_str() == Some(n.version)
                })
                .map(|o| WeInfo {
                    name: o.name.clone(),
                })
                .collect();
        }
    }
}
