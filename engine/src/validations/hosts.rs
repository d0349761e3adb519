//! Where in the mesh a host, subset, gateway, namespace, service account or selected workload
//! exists: per-cluster indexes built once per validation run, so every lookup is a map read.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{Check, ClusterConfig, Options, check, note};
use crate::inventory::{ServiceInfo, WorkloadInfo, selector_matches};
use crate::istio::{ConfigObject, IstioKind};
pub(super) use crate::istio::{Host, fqdn, parse_host};

/// One cluster's lookups.
pub(super) struct Index<'a> {
    pub(super) services: HashMap<(&'a str, &'a str), Vec<&'a ServiceInfo>>,
    pub(super) workloads: HashMap<&'a str, Vec<&'a WorkloadInfo>>,
    pub(super) namespaces: HashSet<&'a str>,
    /// `<trust domain>/ns/<ns>/sa/<name>` of every pod.
    pub(super) principals: HashSet<String>,
    /// DestinationRules by the fqdn of their host.
    pub(super) drs: HashMap<String, Vec<&'a ConfigObject>>,
    /// Gateways by `(namespace, name)`.
    pub(super) gateways: HashSet<(&'a str, &'a str)>,
}

impl<'a> Index<'a> {
    fn new(c: &'a ClusterConfig, opts: &Options) -> Self {
        let inv = &c.inventory;
        let mut services: HashMap<(&str, &str), Vec<&ServiceInfo>> = HashMap::new();
        for s in &inv.services {
            services
                .entry((s.namespace.as_str(), s.name.as_str()))
                .or_default()
                .push(s);
        }
        let mut workloads: HashMap<&str, Vec<&WorkloadInfo>> = HashMap::new();
        let mut principals = HashSet::new();
        for w in &inv.workloads {
            workloads.entry(w.namespace.as_str()).or_default().push(w);
            for sa in w.pods.iter().filter_map(|p| p.service_account.as_deref()) {
                principals.insert(format!("{}/ns/{}/sa/{sa}", opts.trust_domain, w.namespace));
            }
        }
        let mut namespaces: HashSet<&str> =
            inv.namespaces.iter().map(|n| n.name.as_str()).collect();
        namespaces.extend(inv.services.iter().map(|s| s.namespace.as_str()));
        namespaces.extend(inv.workloads.iter().map(|w| w.namespace.as_str()));
        for objs in c.objects.values() {
            namespaces.extend(objs.iter().map(|o| o.namespace.as_str()));
        }
        let mut drs: HashMap<String, Vec<&ConfigObject>> = HashMap::new();
        for dr in c.of(IstioKind::DestinationRule) {
            let host = dr.spec["host"].as_str().unwrap_or_default();
            drs.entry(fqdn(&parse_host(host, &dr.namespace)))
                .or_default()
                .push(dr);
        }
        let gateways = c
            .of(IstioKind::Gateway)
            .iter()
            .map(|g| (g.namespace.as_str(), g.name.as_str()))
            .collect();
        Index {
            services,
            workloads,
            namespaces,
            principals,
            drs,
            gateways,
        }
    }

    /// Workloads of `ns`.
    pub(super) fn workloads_in(&self, ns: &str) -> &[&'a WorkloadInfo] {
        self.workloads
            .get(ns)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Workloads selected by service `name` of `ns`.
    pub(super) fn service_workloads(&self, ns: &str, name: &str) -> Vec<&'a WorkloadInfo> {
        let Some(svcs) = self.services.get(&(ns, name)) else {
            return Vec::new();
        };
        self.workloads_in(ns)
            .iter()
            .filter(|w| {
                svcs.iter()
                    .any(|s| selector_matches(&s.selector, &w.labels))
            })
            .copied()
            .collect()
    }
}

/// Every cluster's config and inventory, for lookups across the mesh.
pub(super) struct Mesh<'a> {
    pub(super) clusters: &'a [ClusterConfig],
    pub(super) idx: Vec<Index<'a>>,
    pub(super) opts: &'a Options,
}

impl<'a> Mesh<'a> {
    pub(super) fn new(clusters: &'a [ClusterConfig], opts: &'a Options) -> Self {
        Mesh {
            clusters,
            idx: clusters.iter().map(|c| Index::new(c, opts)).collect(),
            opts,
        }
    }

    /// Names of the clusters (by index) where `pred` holds.
    fn clusters_where(&self, pred: impl Fn(&ClusterConfig, &Index<'a>) -> bool) -> Vec<String> {
        self.clusters
            .iter()
            .zip(&self.idx)
            .filter(|(c, i)| pred(c, i))
            .map(|(c, _)| c.name().to_string())
            .collect()
    }

    /// Clusters where the host exists (a Service, or a ServiceEntry host).
    pub(super) fn host_clusters(&self, h: &Host) -> Vec<String> {
        self.clusters_where(|c, i| host_in(c, i, h))
    }

    /// Clusters where a workload selected by the host's service carries `labels`.
    pub(super) fn subset_clusters(
        &self,
        h: &Host,
        labels: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let Host::Service { name, namespace } = h else {
            return Vec::new();
        };
        self.clusters_where(|_, i| {
            i.service_workloads(namespace, name)
                .iter()
                .any(|w| labels.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
        })
    }

    /// Clusters where some DestinationRule for the host defines the subset.
    pub(super) fn subset_defined(&self, h: &Host, subset: &str) -> Vec<String> {
        let want = fqdn(h);
        self.clusters_where(|_, i| {
            i.drs.get(&want).is_some_and(|drs| {
                drs.iter().any(|dr| {
                    dr.spec["subsets"]
                        .as_array()
                        .is_some_and(|ss| ss.iter().any(|s| s["name"].as_str() == Some(subset)))
                })
            })
        })
    }

    /// Clusters with a workload in `ns` matching `labels`.
    pub(super) fn selector_clusters(
        &self,
        ns: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<String> {
        self.clusters_where(|_, i| {
            i.workloads_in(ns)
                .iter()
                .any(|w| selector_matches(labels, &w.labels))
        })
    }

    /// Clusters with a workload in any namespace matching `labels`.
    pub(super) fn selector_clusters_anywhere(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Vec<String> {
        self.clusters_where(|c, _| {
            c.inventory
                .workloads
                .iter()
                .any(|w| selector_matches(labels, &w.labels))
        })
    }

    /// Clusters where namespace `ns` exists.
    pub(super) fn namespace_clusters(&self, ns: &str) -> Vec<String> {
        self.clusters_where(|_, i| i.namespaces.contains(ns))
    }

    /// Clusters with Gateway `name` of `ns`.
    pub(super) fn gateway_clusters(&self, ns: &str, name: &str) -> Vec<String> {
        self.clusters_where(|_, i| i.gateways.contains(&(ns, name)))
    }

    /// Clusters with a workload of the service account a principal names (Kiali's matching:
    /// `*` matches any, a leading or trailing `*` a suffix or prefix).
    pub(super) fn principal_clusters(&self, principal: &str) -> Vec<String> {
        self.clusters_where(|_, i| {
            principal == "*" || i.principals.iter().any(|p| principal_matches(principal, p))
        })
    }

    /// Whether some cluster has a ready workload behind the host (ServiceEntry and non-service
    /// hosts count as having endpoints: their endpoints are outside the inventory).
    pub(super) fn has_endpoints(&self, h: &Host) -> bool {
        let Host::Service { name, namespace } = h else {
            return true;
        };
        self.clusters.iter().zip(&self.idx).any(|(c, i)| {
            se_host(c, h)
                || i.service_workloads(namespace, name)
                    .iter()
                    .any(|w| w.available_replicas > 0)
        })
    }
}

fn principal_matches(principal: &str, sa: &str) -> bool {
    if let Some(suffix) = principal.strip_prefix('*') {
        sa.ends_with(suffix)
    } else if let Some(prefix) = principal.strip_suffix('*') {
        sa.starts_with(prefix)
    } else {
        principal == sa
    }
}

fn se_host(c: &ClusterConfig, h: &Host) -> bool {
    match h {
        Host::Service { name, namespace } => {
            c.se_hosts.contains(&fqdn(h)) || c.se_hosts.contains(&format!("{name}.{namespace}"))
        }
        Host::Other(s) => c.se_hosts.contains(s) || c.se_hosts.iter().any(|e| wildcard_match(e, s)),
    }
}

fn host_in(c: &ClusterConfig, i: &Index<'_>, h: &Host) -> bool {
    match h {
        Host::Service { name, namespace } => {
            i.services
                .contains_key(&(namespace.as_str(), name.as_str()))
                || se_host(c, h)
        }
        Host::Other(s) => s == "*" || se_host(c, h) || wildcard_services(i, s),
    }
}

/// `*.ns.svc.cluster.local` or `*.local`-style wildcards: some service of the mesh matches.
fn wildcard_services(i: &Index<'_>, s: &str) -> bool {
    let Some(suffix) = s.strip_prefix('*') else {
        return false;
    };
    i.services
        .keys()
        .any(|(ns, name)| format!("{name}.{ns}.svc.cluster.local").ends_with(suffix))
}

pub(super) fn wildcard_match(pattern: &str, host: &str) -> bool {
    pattern
        .strip_prefix('*')
        .is_some_and(|suffix| host.ends_with(suffix))
}

/// Records a found/not-found outcome: nothing when found in `own`, a note when found only
/// elsewhere, `code` when found nowhere.
pub(super) fn outcome(
    checks: &mut Vec<Check>,
    found_in: &[String],
    own: &str,
    code: &'static str,
    path: String,
    what: &str,
) {
    if found_in.iter().any(|c| c == own) {
        return;
    }
    if found_in.is_empty() {
        checks.push(check(code, path));
    } else {
        checks.push(note(path, what, found_in));
    }
}

pub(super) fn label_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The elements of a JSON array (nothing when it is not one).
pub(super) fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}
