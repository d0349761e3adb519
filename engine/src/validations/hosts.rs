//! Hosts as Istio objects write them, and where in the mesh a host, subset or selected workload
//! exists.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Check, ClusterConfig, check, note};
use crate::inventory::selector_matches;
use crate::istio::IstioKind;
pub(super) use crate::istio::{Host, fqdn, parse_host};

/// Every cluster's config and inventory, for lookups across the mesh.
pub(super) struct Mesh<'a> {
    pub(super) clusters: &'a [ClusterConfig],
}

impl Mesh<'_> {
    /// Clusters where the host exists.
    pub(super) fn host_clusters(&self, h: &Host) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| match h {
                Host::Service { name, namespace } => {
                    c.inventory
                        .services
                        .iter()
                        .any(|s| s.name == *name && s.namespace == *namespace)
                        || c.se_hosts.contains(&fqdn(h))
                        || c.se_hosts.contains(&format!("{name}.{namespace}"))
                }
                Host::Other(s) => {
                    s == "*"
                        || c.se_hosts.contains(s)
                        || c.se_hosts.iter().any(|e| wildcard_match(e, s))
                }
            })
            .map(|c| c.name().to_string())
            .collect()
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
        self.clusters
            .iter()
            .filter(|c| {
                let sels: Vec<&BTreeMap<String, String>> = c
                    .inventory
                    .services
                    .iter()
                    .filter(|s| s.name == *name && s.namespace == *namespace)
                    .map(|s| &s.selector)
                    .collect();
                c.inventory.workloads.iter().any(|w| {
                    &w.namespace == namespace
                        && sels.iter().any(|sel| selector_matches(sel, &w.labels))
                        && labels.iter().all(|(k, v)| w.labels.get(k) == Some(v))
                })
            })
            .map(|c| c.name().to_string())
            .collect()
    }

    /// Whether some DestinationRule for the host (any visible namespace and cluster) defines
    /// the subset; returns the clusters where one does.
    pub(super) fn subset_defined(&self, h: &Host, subset: &str) -> Vec<String> {
        let want = fqdn(h);
        self.clusters
            .iter()
            .filter(|c| {
                c.objects
                    .get(&IstioKind::DestinationRule)
                    .is_some_and(|drs| {
                        drs.iter().any(|dr| {
                            let host = dr.spec["host"].as_str().unwrap_or_default();
                            fqdn(&parse_host(host, &dr.namespace)) == want
                                && dr.spec["subsets"].as_array().is_some_and(|ss| {
                                    ss.iter().any(|s| s["name"].as_str() == Some(subset))
                                })
                        })
                    })
            })
            .map(|c| c.name().to_string())
            .collect()
    }

    /// Clusters with a workload in `ns` matching `labels`.
    pub(super) fn selector_clusters(
        &self,
        ns: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| {
                c.inventory
                    .workloads
                    .iter()
                    .any(|w| w.namespace == ns && selector_matches(labels, &w.labels))
            })
            .map(|c| c.name().to_string())
            .collect()
    }
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
