//! The checks of each kind: what a DestinationRule, a VirtualService or a selector-carrying
//! object must refer to, and the KIA code when it does not.

use std::collections::BTreeMap;

use super::hosts::{Host, Mesh, fqdn, label_map, outcome, parse_host};
use super::{Check, ClusterConfig, check};
use crate::istio::strings;
use crate::istio::{ConfigObject, IstioKind};

/// Hosts claimed by the VirtualServices of a cluster (with their gateways), for KIA1106:
/// `(fqdn, gateways) → ["ns/name", …]`.
pub(super) type VsHosts = BTreeMap<(String, String), Vec<String>>;

pub(super) fn virtual_service_hosts(c: &ClusterConfig) -> VsHosts {
    let mut vs_hosts = VsHosts::new();
    for vs in c
        .objects
        .get(&IstioKind::VirtualService)
        .into_iter()
        .flatten()
    {
        let gws = strings(&vs.spec["gateways"]).join(",");
        for h in strings(&vs.spec["hosts"]) {
            vs_hosts
                .entry((fqdn(&parse_host(&h, &vs.namespace)), gws.clone()))
                .or_default()
                .push(format!("{}/{}", vs.namespace, vs.name));
        }
    }
    vs_hosts
}

/// The checks of one object of cluster `c`.
pub(super) fn checks(
    mesh: &Mesh<'_>,
    c: &ClusterConfig,
    vs_hosts: &VsHosts,
    kind: IstioKind,
    o: &ConfigObject,
) -> Vec<Check> {
    let mut checks = Vec::new();
    match kind {
        IstioKind::DestinationRule => destination_rule(mesh, c.name(), o, &mut checks),
        IstioKind::VirtualService => virtual_service(mesh, c.name(), vs_hosts, o, &mut checks),
        IstioKind::AuthorizationPolicy
        | IstioKind::PeerAuthentication
        | IstioKind::RequestAuthentication
        | IstioKind::Sidecar => selector(mesh, c.name(), kind, o, &mut checks),
        IstioKind::Gateway
        | IstioKind::ServiceEntry
        | IstioKind::WorkloadEntry
        | IstioKind::WorkloadGroup => {}
    }
    checks
}

/// KIA0202 (host) and KIA0203 (subset labels).
fn destination_rule(mesh: &Mesh<'_>, own: &str, o: &ConfigObject, checks: &mut Vec<Check>) {
    let spec = &o.spec;
    let host = parse_host(spec["host"].as_str().unwrap_or_default(), &o.namespace);
    let found = mesh.host_clusters(&host);
    outcome(checks, &found, own, "KIA0202", "spec/host".into(), "host");
    if found.is_empty() {
        return;
    }
    for (i, s) in spec["subsets"].as_array().into_iter().flatten().enumerate() {
        let labels = label_map(&s["labels"]);
        if labels.is_empty() || matches!(host, Host::Other(_)) {
            continue;
        }
        let sc = mesh.subset_clusters(&host, &labels);
        outcome(
            checks,
            &sc,
            own,
            "KIA0203",
            format!("spec/subsets[{i}]"),
            "subset workloads",
        );
    }
}

/// KIA1101 (route host), KIA1107 (route subset) and KIA1106 (host claimed twice).
fn virtual_service(
    mesh: &Mesh<'_>,
    own: &str,
    vs_hosts: &VsHosts,
    o: &ConfigObject,
    checks: &mut Vec<Check>,
) {
    let spec = &o.spec;
    for proto in ["http", "tcp", "tls"] {
        for (i, r) in spec[proto].as_array().into_iter().flatten().enumerate() {
            for (j, d) in r["route"].as_array().into_iter().flatten().enumerate() {
                let dest = &d["destination"];
                let Some(hs) = dest["host"].as_str() else {
                    continue;
                };
                let host = parse_host(hs, &o.namespace);
                let found = mesh.host_clusters(&host);
                let path = format!("spec/{proto}[{i}]/route[{j}]/destination");
                outcome(
                    checks,
                    &found,
                    own,
                    "KIA1101",
                    format!("{path}/host"),
                    "host",
                );
                if let Some(subset) = dest["subset"].as_str()
                    && !found.is_empty()
                {
                    let sd = mesh.subset_defined(&host, subset);
                    outcome(checks, &sd, own, "KIA1107", path, "subset");
                }
            }
        }
    }
    let gws = strings(&spec["gateways"]).join(",");
    for h in strings(&spec["hosts"]) {
        let key = (fqdn(&parse_host(&h, &o.namespace)), gws.clone());
        if vs_hosts.get(&key).is_some_and(|v| v.len() > 1) {
            checks.push(check("KIA1106", "spec/hosts".into()));
            break;
        }
    }
}

/// KIA0004: a workload selector that matches nothing in the object's namespace.
fn selector(
    mesh: &Mesh<'_>,
    own: &str,
    kind: IstioKind,
    o: &ConfigObject,
    checks: &mut Vec<Check>,
) {
    let (sel, path) = if kind == IstioKind::Sidecar {
        (
            &o.spec["workloadSelector"]["labels"],
            "spec/workloadSelector",
        )
    } else {
        (&o.spec["selector"]["matchLabels"], "spec/selector")
    };
    let labels = label_map(sel);
    if !labels.is_empty() {
        let found = mesh.selector_clusters(&o.namespace, &labels);
        outcome(
            checks,
            &found,
            own,
            "KIA0004",
            path.into(),
            "selected workloads",
        );
    }
}
