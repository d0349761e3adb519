//! Istio configuration validations with Kiali's codes, over every cluster the caller can see.
//! Pure: the server translates its cached objects into [`ClusterConfig`]s at the edge.
//!
//! Implemented: KIA0202 (DestinationRule host not found), KIA0203 (subset labels match no
//! workload), KIA1101 (VirtualService route host not found), KIA1106 (several VirtualServices
//! for one host), KIA1107 (subset not found), KIA0004 (selector matches no workload).
//! Beyond Kiali: a host, subset or workload that exists only in another cluster of the mesh
//! counts as found, and an `info` check says where (code `MGL0001`).

mod checks;
mod hosts;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::inventory::ClusterInventory;
use crate::istio::{ConfigObject, IstioKind, strings};

/// What one cluster contributes to validation: its inventory and its Istio config.
pub struct ClusterConfig {
    /// Services and workloads (namespace-filtered as the caller sees them).
    pub inventory: ClusterInventory,
    /// Istio objects by kind, sorted by namespace and name.
    pub objects: BTreeMap<IstioKind, Vec<ConfigObject>>,
    /// ServiceEntry hosts (any namespace).
    se_hosts: BTreeSet<String>,
}

impl ClusterConfig {
    /// Builds the data, computing the ServiceEntry hosts.
    pub fn new(
        inventory: ClusterInventory,
        objects: BTreeMap<IstioKind, Vec<ConfigObject>>,
    ) -> Self {
        let se_hosts = objects
            .get(&IstioKind::ServiceEntry)
            .map(|v| v.iter().flat_map(|se| strings(&se.spec["hosts"])).collect())
            .unwrap_or_default();
        ClusterConfig {
            inventory,
            objects,
            se_hosts,
        }
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.inventory.name
    }
}

/// One check of Kiali's `IstioCheck`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub code: &'static str,
    pub message: String,
    pub severity: &'static str,
    pub path: String,
}

/// Kiali's `IstioValidation` for one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    #[serde(rename = "objectGVK")]
    pub object_gvk: Gvk,
    pub valid: bool,
    pub checks: Vec<Check>,
    pub references: Vec<Value>,
}

/// Group/version/kind as Kiali serialises it.
#[derive(Debug, Clone, Serialize)]
pub struct Gvk {
    #[serde(rename = "Group")]
    pub group: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Kind")]
    pub kind: String,
}

impl Validation {
    /// Errors and warnings counts.
    pub fn counts(&self) -> (usize, usize) {
        let e = self.checks.iter().filter(|c| c.severity == "error").count();
        let w = self
            .checks
            .iter()
            .filter(|c| c.severity == "warning")
            .count();
        (e, w)
    }

    /// Kiali's `<gvk>` map key, e.g. `networking.istio.io/v1, Kind=VirtualService`.
    pub fn gvk_key(&self) -> String {
        format!(
            "{}/{}, Kind={}",
            self.object_gvk.group, self.object_gvk.version, self.object_gvk.kind
        )
    }
}

pub(crate) fn check(code: &'static str, path: String) -> Check {
    let (message, severity) = match code {
        "KIA0202" => (
            "This host has no matching entry in the service registry (service, workload or service entries)",
            "error",
        ),
        "KIA0203" => (
            "This subset's labels are not found in any matching host",
            "error",
        ),
        "KIA1101" => (
            "DestinationWeight on route doesn't have a valid service (host not found)",
            "error",
        ),
        "KIA1106" => ("More than one Virtual Service for same host", "warning"),
        "KIA1107" => ("Subset not found", "warning"),
        "KIA0004" => (
            "No matching workload found for the selector in this namespace",
            "warning",
        ),
        _ => ("", "unknown"),
    };
    Check {
        code,
        message: message.to_string(),
        severity,
        path,
    }
}

pub(crate) fn note(path: String, what: &str, clusters: &[String]) -> Check {
    Check {
        code: "MGL0001",
        message: format!("{what} found only in cluster(s) {}", clusters.join(", ")),
        severity: "info",
        path,
    }
}

/// Validates every Istio object of `clusters` against everything in `clusters`, sorted by
/// cluster, namespace, kind and name.
pub fn validate(clusters: &[ClusterConfig]) -> Vec<Validation> {
    let mesh = hosts::Mesh { clusters };
    let mut out = Vec::new();
    for c in clusters {
        let vs_hosts = checks::virtual_service_hosts(c);
        for (kind, objs) in &c.objects {
            for o in objs {
                let checks = checks::checks(&mesh, c, &vs_hosts, *kind, o);
                out.push(Validation {
                    valid: !checks.iter().any(|c| c.severity == "error"),
                    name: o.name.clone(),
                    namespace: o.namespace.clone(),
                    cluster: c.name().to_string(),
                    object_gvk: Gvk {
                        group: kind.group().to_string(),
                        version: o.version.clone(),
                        kind: kind.kind().to_string(),
                    },
                    checks,
                    references: Vec::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.cluster, &a.namespace, &a.object_gvk.kind, &a.name).cmp(&(
            &b.cluster,
            &b.namespace,
            &b.object_gvk.kind,
            &b.name,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::hosts::{Host, fqdn, parse_host, wildcard_match};
    use super::*;
    use crate::inventory::{ServiceInfo, WorkloadInfo};
    use serde_json::json;

    #[derive(Default)]
    struct Objects {
        services: Vec<ServiceInfo>,
        workloads: Vec<WorkloadInfo>,
        objects: BTreeMap<IstioKind, Vec<ConfigObject>>,
    }

    fn deployment(o: &mut Objects, ns: &str, app: &str, version: &str) {
        let labels: BTreeMap<String, String> = [("app", app), ("version", version)]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        o.workloads.push(WorkloadInfo {
            name: format!("{app}-{version}"),
            namespace: ns.into(),
            labels,
            ..Default::default()
        });
    }

    fn service(o: &mut Objects, ns: &str, app: &str) {
        o.services.push(ServiceInfo {
            name: app.into(),
            namespace: ns.into(),
            selector: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        });
    }

    fn istio(o: &mut Objects, kind: IstioKind, ns: &str, name: &str, spec: Value) {
        o.objects.entry(kind).or_default().push(ConfigObject {
            kind,
            name: name.into(),
            namespace: ns.into(),
            version: "v1".into(),
            spec,
        });
    }

    fn data(name: &str, o: Objects) -> ClusterConfig {
        let inventory = ClusterInventory {
            name: name.into(),
            services: o.services,
            workloads: o.workloads,
            ..Default::default()
        };
        ClusterConfig::new(inventory, o.objects)
    }

    fn codes(vs: &[Validation], cluster: &str, kind: &str, name: &str) -> Vec<&'static str> {
        vs.iter()
            .find(|v| v.cluster == cluster && v.object_gvk.kind == kind && v.name == name)
            .map(|v| v.checks.iter().map(|c| c.code).collect())
            .unwrap_or_else(|| panic!("no validation for {cluster}/{kind}/{name}"))
    }

    #[test]
    fn kia_codes_and_cross_cluster_notes() {
        let mut east = Objects::default();
        deployment(&mut east, "bookinfo", "reviews", "v1");
        service(&mut east, "bookinfo", "reviews");
        service(&mut east, "bookinfo", "productpage");
        let mut west = Objects::default();
        deployment(&mut west, "bookinfo", "ratings", "v1");
        service(&mut west, "bookinfo", "ratings");
        // DR on a host that exists nowhere -> KIA0202.
        istio(
            &mut east,
            IstioKind::DestinationRule,
            "bookinfo",
            "broken",
            json!({"host": "nosuch"}),
        );
        // DR with a subset whose labels match nothing -> KIA0203; v1 ok.
        istio(
            &mut east,
            IstioKind::DestinationRule,
            "bookinfo",
            "reviews",
            json!({
            "host": "reviews.bookinfo.svc.cluster.local",
            "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v9", "labels": {"version": "v9"}}]}),
        );
        // DR on a host only in west -> note, valid.
        istio(
            &mut east,
            IstioKind::DestinationRule,
            "bookinfo",
            "ratings",
            json!({"host": "ratings"}),
        );
        // VS: unknown host -> KIA1101, unknown subset -> KIA1107; two VS on one host -> KIA1106.
        istio(
            &mut east,
            IstioKind::VirtualService,
            "bookinfo",
            "reviews",
            json!({
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}},
                                {"destination": {"host": "ghost"}}]}]}),
        );
        istio(
            &mut east,
            IstioKind::VirtualService,
            "bookinfo",
            "reviews-dup",
            json!({
            "hosts": ["reviews.bookinfo.svc.cluster.local"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}),
        );
        // AuthorizationPolicy selecting nothing -> KIA0004; selecting ratings (west only) -> note.
        istio(
            &mut east,
            IstioKind::AuthorizationPolicy,
            "bookinfo",
            "none",
            json!({"selector": {"matchLabels": {"app": "nope"}}}),
        );
        istio(
            &mut east,
            IstioKind::AuthorizationPolicy,
            "bookinfo",
            "ratings",
            json!({"selector": {"matchLabels": {"app": "ratings"}}}),
        );
        istio(
            &mut east,
            IstioKind::ServiceEntry,
            "bookinfo",
            "ext",
            json!({"hosts": ["api.example.com"]}),
        );
        istio(
            &mut east,
            IstioKind::VirtualService,
            "bookinfo",
            "ext",
            json!({
            "hosts": ["api.example.com"], "http": [{"route": [{"destination": {"host": "api.example.com"}}]}]}),
        );

        let vs = validate(&[data("east", east), data("west", west)]);
        assert_eq!(
            codes(&vs, "east", "DestinationRule", "broken"),
            vec!["KIA0202"]
        );
        assert_eq!(
            codes(&vs, "east", "DestinationRule", "reviews"),
            vec!["KIA0203"]
        );
        assert_eq!(
            codes(&vs, "east", "DestinationRule", "ratings"),
            vec!["MGL0001"]
        );
        assert_eq!(
            codes(&vs, "east", "VirtualService", "reviews"),
            vec!["KIA1107", "KIA1101", "KIA1106"]
        );
        assert_eq!(
            codes(&vs, "east", "VirtualService", "reviews-dup"),
            vec!["KIA1106"]
        );
        assert_eq!(
            codes(&vs, "east", "AuthorizationPolicy", "none"),
            vec!["KIA0004"]
        );
        assert_eq!(
            codes(&vs, "east", "AuthorizationPolicy", "ratings"),
            vec!["MGL0001"]
        );
        assert!(codes(&vs, "east", "VirtualService", "ext").is_empty());
        let broken = vs.iter().find(|v| v.name == "broken").unwrap();
        assert!(!broken.valid);
        assert_eq!(broken.checks[0].path, "spec/host");
        assert_eq!(
            broken.gvk_key(),
            "networking.istio.io/v1, Kind=DestinationRule"
        );
        let ratings = vs
            .iter()
            .find(|v| v.name == "ratings" && v.object_gvk.kind == "DestinationRule")
            .unwrap();
        assert!(ratings.valid);
        assert!(ratings.checks[0].message.contains("west"));
    }

    #[test]
    fn host_parsing() {
        assert_eq!(
            parse_host("reviews.bookinfo.svc.cluster.local", "x"),
            Host::Service {
                name: "reviews".into(),
                namespace: "bookinfo".into()
            }
        );
        assert_eq!(
            fqdn(&parse_host("reviews", "bookinfo")),
            "reviews.bookinfo.svc.cluster.local"
        );
        assert!(matches!(parse_host("*.example.com", "x"), Host::Other(_)));
        assert!(wildcard_match("*.example.com", "a.example.com"));
    }
}
