//! Istio configuration validations with Kiali's codes, messages, severities and paths, over
//! every cluster the caller can see. Pure: the server translates its cached objects into
//! [`ClusterConfig`]s at the edge.
//!
//! One module per kind: [`generic`] (KIA0002–KIA0005), [`authorization`] (KIA01xx),
//! [`destination_rule`] (KIA02xx), [`gateway`] (KIA03xx), [`mtls`] (KIA0205–0208, KIA04xx,
//! KIA05xx), [`service`] (KIA06xx/07xx), [`sidecar`] (KIA10xx), [`virtual_service`] (KIA11xx),
//! [`service_entry`] (KIA12xx), [`workload`] (KIA13xx), [`gateway_api`] (KIA14xx–16xx),
//! [`multicluster`] (`MGLxxxx`, what only a
//! view of every cluster shows). [`codes::CODES`] lists every code.
//!
//! Across clusters: a host, subset, gateway, namespace or workload that exists only in another
//! cluster counts as found, and an `info` check (`MGL0001`) says where.

mod authorization;
pub mod codes;
mod destination_rule;
mod gateway;
mod gateway_api;
mod generic;
mod hosts;
mod mtls;
mod multicluster;
pub mod references;
mod service;
mod service_entry;
mod sidecar;
mod virtual_service;
mod workload;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use crate::inventory::ClusterInventory;
use crate::istio::{ConfigObject, IstioKind, strings};

/// Mesh settings the checks depend on.
#[derive(Debug, Clone)]
pub struct Options {
    /// Istio's root namespace (mesh-wide policies live there).
    pub root_namespace: String,
    /// Istio's auto mTLS (on by default): the mTLS checks that need an explicit
    /// PeerAuthentication or DestinationRule (KIA0205, KIA0206, KIA0401, KIA0501) only run
    /// when it is off, as in Kiali.
    pub auto_mtls: bool,
    /// Mesh `outboundTrafficPolicy` is `REGISTRY_ONLY`: then, as in Kiali, every workload not
    /// covered by an AuthorizationPolicy gets KIA1301.
    pub registry_only: bool,
    /// Trust domain of the principals (`cluster.local`).
    pub trust_domain: String,
    /// Gateway API classes the console knows (KIA1504 for any other).
    pub gateway_classes: Vec<String>,
    /// Codes never reported (Kiali's `kiali_feature_flags.validations.ignore`): their checks are
    /// dropped from every validation, and a service or workload left without a check has none.
    pub ignore: Vec<String>,
    /// A `*` host of a Gateway server does not collide with other Gateways' hosts (KIA0301), as
    /// with Kiali's `kiali_feature_flags.validations.skip_wildcard_gateway_hosts`.
    pub skip_wildcard_gateway_hosts: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root_namespace: "istio-system".into(),
            auto_mtls: true,
            registry_only: false,
            trust_domain: "cluster.local".into(),
            gateway_classes: vec!["istio".into(), "istio-remote".into()],
            ignore: Vec::new(),
            skip_wildcard_gateway_hosts: false,
        }
    }
}

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

    /// The objects of one kind.
    pub fn of(&self, kind: IstioKind) -> &[ConfigObject] {
        self.objects
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or_default()
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

/// Group/version/kind of a reference (static group and kind).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GvkRef {
    #[serde(rename = "Group")]
    pub group: &'static str,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Kind")]
    pub kind: &'static str,
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

    /// Whether the validation is of an Istio object (not of a service or workload, which
    /// Kiali keys by kind alone).
    pub fn is_config(&self) -> bool {
        !self.object_gvk.group.is_empty()
    }

    /// The Istio kind validated (`None` for a service or a workload).
    pub fn istio_kind(&self) -> Option<IstioKind> {
        IstioKind::from_group_kind(&self.object_gvk.group, &self.object_gvk.kind)
    }

    /// Kiali's `<gvk>` map key, e.g. `networking.istio.io/v1, Kind=VirtualService`; the kind
    /// alone (`service`, `workload`) for core objects.
    pub fn gvk_key(&self) -> String {
        if self.object_gvk.group.is_empty() {
            return self.object_gvk.kind.clone();
        }
        format!(
            "{}/{}, Kind={}",
            self.object_gvk.group, self.object_gvk.version, self.object_gvk.kind
        )
    }
}

/// A check of `code` at `path`, with the catalogue's message and severity.
pub(crate) fn check(code: &'static str, path: impl Into<String>) -> Check {
    let (message, severity) = codes::describe(code);
    Check {
        code,
        message: message.to_string(),
        severity,
        path: path.into(),
    }
}

/// A check whose message names the clusters concerned.
pub(crate) fn check_in(code: &'static str, path: impl Into<String>, clusters: &[String]) -> Check {
    let mut c = check(code, path);
    c.message = format!("{} (cluster(s) {})", c.message, clusters.join(", "));
    c
}

/// `MGL0001`: what was looked for exists only in `clusters`.
pub(crate) fn note(path: String, what: &str, clusters: &[String]) -> Check {
    Check {
        code: "MGL0001",
        message: format!("{what} found only in cluster(s) {}", clusters.join(", ")),
        severity: "info",
        path,
    }
}

/// The key of an object within one cluster: kind, namespace, name.
pub(crate) type Key = (IstioKind, String, String);

/// Checks found by the checkers that compare objects with each other, with the objects each
/// finding refers to.
#[derive(Default)]
pub(crate) struct Found {
    checks: HashMap<Key, Vec<Check>>,
    refs: HashMap<Key, Vec<(String, Key)>>,
}

impl Found {
    pub(crate) fn add(&mut self, o: &ConfigObject, c: Check) {
        self.checks.entry(key(o)).or_default().push(c);
    }

    pub(crate) fn refer(&mut self, o: &ConfigObject, cluster: &str, other: &ConfigObject) {
        let r = self.refs.entry(key(o)).or_default();
        let k = (cluster.to_string(), key(other));
        if !r.contains(&k) {
            r.push(k);
        }
    }
}

pub(crate) fn key(o: &ConfigObject) -> Key {
    (o.kind, o.namespace.clone(), o.name.clone())
}

fn reference(cluster: &str, k: &Key, version: &str) -> Value {
    json!({
        "objectGVK": {"Group": k.0.group(), "Version": version, "Kind": k.0.kind()},
        "name": k.2,
        "namespace": k.1,
        "cluster": cluster,
    })
}

/// Validates every Istio object of `clusters` against everything in `clusters` with the
/// default [`Options`].
pub fn validate(clusters: &[ClusterConfig]) -> Vec<Validation> {
    validate_with(clusters, &Options::default())
}

/// Validates every Istio object, service and workload of `clusters` against everything in
/// `clusters`, sorted by cluster, namespace, kind and name. Services and workloads get a
/// validation only when they have a check.
pub fn validate_with(clusters: &[ClusterConfig], opts: &Options) -> Vec<Validation> {
    let mesh = hosts::Mesh::new(clusters, opts);
    let mut out = Vec::new();
    for (ci, c) in clusters.iter().enumerate() {
        let mut found = Found::default();
        generic::multi_match(c, &mut found);
        destination_rule::multi_match(&mesh, c, &mut found);
        gateway::multi_match(c, opts.skip_wildcard_gateway_hosts, &mut found);
        gateway_api::multi_match(c, &mut found);
        virtual_service::single_host(c, &mut found);
        multicluster::differing(&mesh, ci, &mut found);
        for (kind, objs) in &c.objects {
            for o in objs {
                let mut checks = Vec::new();
                let ctx = Ctx {
                    mesh: &mesh,
                    ci,
                    c,
                    o,
                };
                match kind {
                    IstioKind::DestinationRule => destination_rule::run(&ctx, &mut checks),
                    IstioKind::VirtualService => virtual_service::run(&ctx, &mut checks),
                    IstioKind::Gateway => gateway::run(&ctx, &mut checks),
                    IstioKind::ServiceEntry => service_entry::run(&ctx, &mut checks),
                    IstioKind::Sidecar => sidecar::run(&ctx, &mut checks),
                    IstioKind::AuthorizationPolicy => authorization::run(&ctx, &mut checks),
                    IstioKind::PeerAuthentication => mtls::peer_authentication(&ctx, &mut checks),
                    k if k.is_gateway_api() => gateway_api::run(&ctx, &mut checks),
                    _ => {}
                }
                generic::run(&ctx, &mut checks);
                let k = key(o);
                checks.extend(found.checks.remove(&k).unwrap_or_default());
                let references = found
                    .refs
                    .remove(&k)
                    .unwrap_or_default()
                    .iter()
                    .map(|(cl, rk)| reference(cl, rk, &o.version))
                    .collect();
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
                    references,
                });
            }
        }
        out.extend(service::validations(&mesh, ci));
        out.extend(workload::validations(&mesh, ci));
    }
    if !opts.ignore.is_empty() {
        drop_ignored(&mut out, &opts.ignore);
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

/// Drops the checks of the `ignore`d codes; a service or workload validation left without a
/// check is dropped too (they are served only with a check), an Istio object's stays.
fn drop_ignored(out: &mut Vec<Validation>, ignore: &[String]) {
    out.retain_mut(|v| {
        let before = v.checks.len();
        v.checks.retain(|c| !ignore.iter().any(|i| i == c.code));
        if v.checks.len() == before {
            return true;
        }
        v.valid = !v.checks.iter().any(|c| c.severity == "error");
        v.is_config() || !v.checks.is_empty()
    });
}

/// What a checker of one object reads: the mesh, the object's cluster and the object.
struct Ctx<'a> {
    mesh: &'a hosts::Mesh<'a>,
    /// Index of the object's cluster in the mesh.
    ci: usize,
    c: &'a ClusterConfig,
    o: &'a ConfigObject,
}

impl Ctx<'_> {
    /// The object's cluster's name.
    fn own(&self) -> &str {
        self.c.name()
    }
}

/// A core object's validation (`service`, `workload`), keyed by kind alone as in Kiali.
pub(crate) fn core_validation(
    kind: &str,
    cluster: &str,
    ns: &str,
    name: &str,
    checks: Vec<Check>,
) -> Validation {
    Validation {
        valid: !checks.iter().any(|c| c.severity == "error"),
        name: name.to_string(),
        namespace: ns.to_string(),
        cluster: cluster.to_string(),
        object_gvk: Gvk {
            group: String::new(),
            version: String::new(),
            kind: kind.to_string(),
        },
        checks,
        references: Vec::new(),
    }
}
