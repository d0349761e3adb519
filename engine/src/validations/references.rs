//! What an Istio object refers to and what refers to it, across every cluster (Kiali's
//! `IstioReferences` of the config details page): Istio objects both ways, the services its
//! hosts name, the workloads its selector picks.

use std::collections::BTreeSet;

use serde::Serialize;

use super::ClusterConfig;
use super::hosts::{Host, fqdn, items, label_map, parse_host};
use crate::inventory::selector_matches;
use crate::istio::{ConfigObject, IstioKind, strings};

/// An object of one cluster, as Kiali's `IstioValidationKey`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    #[serde(rename = "objectGVK")]
    pub object_gvk: super::GvkRef,
    pub name: String,
    pub namespace: String,
    pub cluster: String,
}

/// A service or workload (Kiali's `ServiceReference`/`WorkloadReference`), with its cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NamedRef {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
}

/// Kiali's `IstioReferences`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct References {
    pub object_references: Vec<ObjectRef>,
    pub service_references: Vec<NamedRef>,
    pub workload_references: Vec<NamedRef>,
}

fn obj_ref(cluster: &str, o: &ConfigObject) -> ObjectRef {
    ObjectRef {
        object_gvk: super::GvkRef {
            group: o.kind.group(),
            version: o.version.clone(),
            kind: o.kind.kind(),
        },
        name: o.name.clone(),
        namespace: o.namespace.clone(),
        cluster: cluster.to_string(),
    }
}

/// The hosts (fqdn) an object routes to or configures.
fn hosts(o: &ConfigObject) -> Vec<Host> {
    let mut v = Vec::new();
    match o.kind {
        IstioKind::VirtualService => {
            for p in ["http", "tcp", "tls"] {
                for r in items(&o.spec[p]) {
                    for d in items(&r["route"]) {
                        if let Some(h) = d["destination"]["host"].as_str() {
                            v.push(parse_host(h, &o.namespace));
                        }
                    }
                }
            }
        }
        IstioKind::DestinationRule => {
            if let Some(h) = o.spec["host"].as_str() {
                v.push(parse_host(h, &o.namespace));
            }
        }
        k if k.is_gateway_api() => {
            for r in items(&o.spec["rules"]) {
                for b in items(&r["backendRefs"]) {
                    if let Some(n) = b["name"].as_str() {
                        let ns = b["namespace"].as_str().unwrap_or(&o.namespace);
                        v.push(Host::Service {
                            name: n.into(),
                            namespace: ns.into(),
                        });
                    }
                }
            }
        }
        _ => {}
    }
    v
}

/// The Gateways (`namespace`, `name`, Gateway API?) an object binds to.
fn gateways(o: &ConfigObject) -> Vec<(String, String, bool)> {
    match o.kind {
        IstioKind::VirtualService => strings(&o.spec["gateways"])
            .into_iter()
            .filter(|g| g != "mesh")
            .map(|g| match g.split_once('/') {
                Some((ns, n)) => (ns.to_string(), n.to_string(), false),
                None => {
                    let mut p = g.splitn(3, '.');
                    let n = p.next().unwrap_or_default().to_string();
                    (p.next().unwrap_or(&o.namespace).to_string(), n, false)
                }
            })
            .collect(),
        k if k.is_gateway_api() => items(&o.spec["parentRefs"])
            .iter()
            .filter(|p| p["kind"].as_str().unwrap_or("Gateway") == "Gateway")
            .filter_map(|p| {
                let n = p["name"].as_str()?.to_string();
                let ns = p["namespace"].as_str().unwrap_or(&o.namespace).to_string();
                Some((ns, n, true))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_gateway(o: &ConfigObject, (ns, name, api): &(String, String, bool)) -> bool {
    let kind = if *api {
        IstioKind::K8sGateway
    } else {
        IstioKind::Gateway
    };
    o.kind == kind && &o.namespace == ns && &o.name == name
}

/// The references of object `kind` `ns`/`name` of cluster `cluster`; `None` when the object
/// is not in `clusters`.
pub fn references(
    clusters: &[ClusterConfig],
    cluster: &str,
    kind: IstioKind,
    ns: &str,
    name: &str,
) -> Option<References> {
    let own = clusters.iter().find(|c| c.name() == cluster)?;
    let o = own
        .of(kind)
        .iter()
        .find(|o| o.namespace == ns && o.name == name)?;
    let my_hosts: BTreeSet<String> = hosts(o).iter().map(fqdn).collect();
    let my_gateways = gateways(o);
    let mut objects = BTreeSet::new();
    let mut services = BTreeSet::new();
    let mut workloads = BTreeSet::new();
    let sel = o.workload_selector();
    for c in clusters {
        for objs in c.objects.values() {
            for other in objs {
                if std::ptr::eq(other, o) {
                    continue;
                }
                // Points at: its DestinationRules (same host) and its Gateways.
                let same_host = matches!(
                    other.kind,
                    IstioKind::DestinationRule | IstioKind::VirtualService
                ) && other.kind != o.kind
                    && hosts(other).iter().any(|h| my_hosts.contains(&fqdn(h)));
                let binds = my_gateways.iter().any(|g| is_gateway(other, g))
                    || gateways(other).iter().any(|g| is_gateway(o, g));
                if same_host || binds {
                    objects.insert(obj_ref(c.name(), other));
                }
            }
        }
        for h in hosts(o) {
            if let Host::Service { name, namespace } = &h
                && c.inventory
                    .services
                    .iter()
                    .any(|s| &s.name == name && &s.namespace == namespace)
            {
                services.insert(NamedRef {
                    name: name.clone(),
                    namespace: namespace.clone(),
                    cluster: c.name().to_string(),
                });
            }
        }
        let selects_all_ns = o.kind == IstioKind::Gateway;
        let sel = if o.kind == IstioKind::Gateway {
            label_map(&o.spec["selector"])
        } else {
            sel.clone()
        };
        if !sel.is_empty() {
            for w in &c.inventory.workloads {
                if (selects_all_ns || w.namespace == o.namespace)
                    && selector_matches(&sel, &w.labels)
                {
                    workloads.insert(NamedRef {
                        name: w.name.clone(),
                        namespace: w.namespace.clone(),
                        cluster: c.name().to_string(),
                    });
                }
            }
        }
    }
    Some(References {
        object_references: objects.into_iter().collect(),
        service_references: services.into_iter().collect(),
        workload_references: workloads.into_iter().collect(),
    })
}
