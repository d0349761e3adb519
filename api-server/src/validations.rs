//! Istio configuration validations with Kiali's codes, over every cluster the caller can see.
//!
//! Implemented: KIA0202 (DestinationRule host not found), KIA0203 (subset labels match no
//! workload), KIA1101 (VirtualService route host not found), KIA1106 (several VirtualServices
//! for one host), KIA1107 (subset not found), KIA0004 (selector matches no workload).
//! Beyond Kiali: a host, subset or workload that exists only in another cluster of the mesh
//! counts as found, and an `info` check says where (code `MGL0001`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::cache::IstioKind;
use crate::model::{Workload, selector_matches, service_selector};

/// What one cluster contributes to validation.
pub struct ClusterData {
    pub name: String,
    pub services: Vec<Arc<Service>>,
    pub workloads: Vec<Workload>,
    pub istio: BTreeMap<IstioKind, Vec<Arc<DynamicObject>>>,
    /// ServiceEntry hosts (any namespace).
    pub se_hosts: BTreeSet<String>,
}

impl ClusterData {
    /// Builds the data, computing the ServiceEntry hosts.
    pub fn new(
        name: String,
        services: Vec<Arc<Service>>,
        workloads: Vec<Workload>,
        istio: BTreeMap<IstioKind, Vec<Arc<DynamicObject>>>,
    ) -> Self {
        let se_hosts = istio
            .get(&IstioKind::ServiceEntry)
            .map(|v| {
                v.iter()
                    .flat_map(|se| strings(&se.data["spec"]["hosts"]))
                    .collect()
            })
            .unwrap_or_default();
        ClusterData {
            name,
            services,
            workloads,
            istio,
            se_hosts,
        }
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

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn check(code: &'static str, path: String) -> Check {
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

fn note(path: String, what: &str, clusters: &[String]) -> Check {
    Check {
        code: "MGL0001",
        message: format!("{what} found only in cluster(s) {}", clusters.join(", ")),
        severity: "info",
        path,
    }
}

/// A host as written in an Istio object, resolved against the object's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// `<svc>.<ns>.svc.cluster.local`-style service reference.
    Service { name: String, namespace: String },
    /// Anything else (external names, wildcards): matched against ServiceEntry hosts.
    Other(String),
}

fn parse_host(host: &str, obj_ns: &str) -> Host {
    if host.contains('*') {
        return Host::Other(host.to_string());
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [svc] => Host::Service {
            name: svc.to_string(),
            namespace: obj_ns.to_string(),
        },
        [svc, ns] | [svc, ns, "svc"] | [svc, ns, "svc", "cluster", "local"] => Host::Service {
            name: svc.to_string(),
            namespace: ns.to_string(),
        },
        _ => Host::Other(host.to_string()),
    }
}

fn fqdn(h: &Host) -> String {
    match h {
        Host::Service { name, namespace } => format!("{name}.{namespace}.svc.cluster.local"),
        Host::Other(s) => s.clone(),
    }
}

struct Mesh<'a> {
    clusters: &'a [ClusterData],
}

impl Mesh<'_> {
    /// Clusters where the host exists.
    fn host_clusters(&self, h: &Host) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| match h {
                Host::Service { name, namespace } => {
                    c.services.iter().any(|s| {
                        s.metadata.name.as_deref() == Some(name.as_str())
                            && s.metadata.namespace.as_deref() == Some(namespace.as_str())
                    }) || c.se_hosts.contains(&fqdn(h))
                        || c.se_hosts.contains(&format!("{name}.{namespace}"))
                }
                Host::Other(s) => {
                    s == "*"
                        || c.se_hosts.contains(s)
                        || c.se_hosts.iter().any(|e| wildcard_match(e, s))
                }
            })
            .map(|c| c.name.clone())
            .collect()
    }

    /// Clusters where a workload selected by the host's service carries `labels`.
    fn subset_clusters(&self, h: &Host, labels: &BTreeMap<String, String>) -> Vec<String> {
        let Host::Service { name, namespace } = h else {
            return Vec::new();
        };
        self.clusters
            .iter()
            .filter(|c| {
                let sels: Vec<BTreeMap<String, String>> = c
                    .services
                    .iter()
                    .filter(|s| {
                        s.metadata.name.as_deref() == Some(name.as_str())
                            && s.metadata.namespace.as_deref() == Some(namespace.as_str())
                    })
                    .map(|s| service_selector(s))
                    .collect();
                c.workloads.iter().any(|w| {
                    &w.namespace == namespace
                        && sels.iter().any(|sel| selector_matches(sel, &w.labels))
                        && labels.iter().all(|(k, v)| w.labels.get(k) == Some(v))
                })
            })
            .map(|c| c.name.clone())
            .collect()
    }

    /// Whether some DestinationRule for the host (any visible namespace and cluster) defines
    /// the subset; returns the clusters where one does.
    fn subset_defined(&self, h: &Host, subset: &str) -> Vec<String> {
        let want = fqdn(h);
        self.clusters
            .iter()
            .filter(|c| {
                c.istio.get(&IstioKind::DestinationRule).is_some_and(|drs| {
                    drs.iter().any(|dr| {
                        let dns = dr.metadata.namespace.clone().unwrap_or_default();
                        let host = dr.data["spec"]["host"].as_str().unwrap_or_default();
                        fqdn(&parse_host(host, &dns)) == want
                            && dr.data["spec"]["subsets"].as_array().is_some_and(|ss| {
                                ss.iter().any(|s| s["name"].as_str() == Some(subset))
                            })
                    })
                })
            })
            .map(|c| c.name.clone())
            .collect()
    }

    /// Clusters with a workload in `ns` matching `labels`.
    fn selector_clusters(&self, ns: &str, labels: &BTreeMap<String, String>) -> Vec<String> {
        self.clusters
            .iter()
            .filter(|c| {
                c.workloads
                    .iter()
                    .any(|w| w.namespace == ns && selector_matches(labels, &w.labels))
            })
            .map(|c| c.name.clone())
            .collect()
    }
}

fn wildcard_match(pattern: &str, host: &str) -> bool {
    pattern
        .strip_prefix('*')
        .is_some_and(|suffix| host.ends_with(suffix))
}

/// Records a found/not-found outcome: nothing when found in `own`, a note when found only
/// elsewhere, `code` when found nowhere.
fn outcome(
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

fn label_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Validates every Istio object of `clusters` against everything in `clusters`.
pub fn validate(clusters: &[ClusterData]) -> Vec<Validation> {
    let mesh = Mesh { clusters };
    let mut out = Vec::new();
    for c in clusters {
        // Hosts claimed by VirtualServices in this cluster, for KIA1106.
        let mut vs_hosts: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for vs in c
            .istio
            .get(&IstioKind::VirtualService)
            .into_iter()
            .flatten()
        {
            let ns = vs.metadata.namespace.clone().unwrap_or_default();
            let gws = strings(&vs.data["spec"]["gateways"]).join(",");
            for h in strings(&vs.data["spec"]["hosts"]) {
                vs_hosts
                    .entry((fqdn(&parse_host(&h, &ns)), gws.clone()))
                    .or_default()
                    .push(format!(
                        "{}/{}",
                        ns,
                        vs.metadata.name.clone().unwrap_or_default()
                    ));
            }
        }
        for (kind, objs) in &c.istio {
            for o in objs {
                let ns = o.metadata.namespace.clone().unwrap_or_default();
                let name = o.metadata.name.clone().unwrap_or_default();
                let spec = &o.data["spec"];
                let mut checks = Vec::new();
                match kind {
                    IstioKind::DestinationRule => {
                        let host_s = spec["host"].as_str().unwrap_or_default();
                        let host = parse_host(host_s, &ns);
                        let found = mesh.host_clusters(&host);
                        outcome(
                            &mut checks,
                            &found,
                            &c.name,
                            "KIA0202",
                            "spec/host".into(),
                            "host",
                        );
                        if !found.is_empty() {
                            for (i, s) in
                                spec["subsets"].as_array().into_iter().flatten().enumerate()
                            {
                                let labels = label_map(&s["labels"]);
                                if labels.is_empty() || matches!(host, Host::Other(_)) {
                                    continue;
                                }
                                let sc = mesh.subset_clusters(&host, &labels);
                                outcome(
                                    &mut checks,
                                    &sc,
                                    &c.name,
                                    "KIA0203",
                                    format!("spec/subsets[{i}]"),
                                    "subset workloads",
                                );
                            }
                        }
                    }
                    IstioKind::VirtualService => {
                        for proto in ["http", "tcp", "tls"] {
                            for (i, r) in spec[proto].as_array().into_iter().flatten().enumerate() {
                                for (j, d) in
                                    r["route"].as_array().into_iter().flatten().enumerate()
                                {
                                    let dest = &d["destination"];
                                    let Some(hs) = dest["host"].as_str() else {
                                        continue;
                                    };
                                    let host = parse_host(hs, &ns);
                                    let found = mesh.host_clusters(&host);
                                    let path = format!("spec/{proto}[{i}]/route[{j}]/destination");
                                    outcome(
                                        &mut checks,
                                        &found,
                                        &c.name,
                                        "KIA1101",
                                        format!("{path}/host"),
                                        "host",
                                    );
                                    if let Some(subset) = dest["subset"].as_str()
                                        && !found.is_empty()
                                    {
                                        let sd = mesh.subset_defined(&host, subset);
                                        outcome(
                                            &mut checks,
                                            &sd,
                                            &c.name,
                                            "KIA1107",
                                            path,
                                            "subset",
                                        );
                                    }
                                }
                            }
                        }
                        let gws = strings(&spec["gateways"]).join(",");
                        for h in strings(&spec["hosts"]) {
                            let key = (fqdn(&parse_host(&h, &ns)), gws.clone());
                            if vs_hosts.get(&key).is_some_and(|v| v.len() > 1) {
                                checks.push(check("KIA1106", "spec/hosts".into()));
                                break;
                            }
                        }
                    }
                    IstioKind::AuthorizationPolicy
                    | IstioKind::PeerAuthentication
                    | IstioKind::RequestAuthentication
                    | IstioKind::Sidecar => {
                        let (sel, path) = if *kind == IstioKind::Sidecar {
                            (&spec["workloadSelector"]["labels"], "spec/workloadSelector")
                        } else {
                            (&spec["selector"]["matchLabels"], "spec/selector")
                        };
                        let labels = label_map(sel);
                        if !labels.is_empty() {
                            let found = mesh.selector_clusters(&ns, &labels);
                            outcome(
                                &mut checks,
                                &found,
                                &c.name,
                                "KIA0004",
                                path.into(),
                                "selected workloads",
                            );
                        }
                    }
                    IstioKind::Gateway | IstioKind::ServiceEntry => {}
                }
                let ar = kind.api_resource("v1");
                let version = o
                    .types
                    .as_ref()
                    .and_then(|t| t.api_version.split('/').nth(1).map(String::from))
                    .unwrap_or(ar.version);
                out.push(Validation {
                    valid: !checks.iter().any(|c| c.severity == "error"),
                    name,
                    namespace: ns,
                    cluster: c.name.clone(),
                    object_gvk: Gvk {
                        group: kind.group().to_string(),
                        version,
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
    use super::*;
    use crate::cache::{ClusterCache, Objects};
    use crate::model::fixtures::*;
    use crate::model::{services, workloads};
    use serde_json::json;

    fn data(name: &str, o: Objects) -> ClusterData {
        let c = ClusterCache::from_objects(o);
        let istio = IstioKind::ALL
            .into_iter()
            .map(|k| (k, c.istio(k)))
            .collect();
        ClusterData::new(
            name.into(),
            services(&c, &|_| true),
            workloads(name, &c, &|_| true),
            istio,
        )
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
        deployment(&mut east, "bookinfo", "reviews", "v1", 1, 1);
        service(&mut east, "bookinfo", "reviews");
        service(&mut east, "bookinfo", "productpage");
        let mut west = Objects::default();
        deployment(&mut west, "bookinfo", "ratings", "v1", 1, 1);
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
