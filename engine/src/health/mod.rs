//! Health: request health from error ratios under Kiali's tolerances, workload health from
//! replicas, and per-cluster namespace summaries.
//!
//! Status order (worst wins): `Failure` > `Degraded` > `Not Ready` > `Healthy` > `NA`, Kiali's
//! status priorities.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::diag::Diagnostics;
use crate::input::{Family, Sample};
use crate::inventory::{ClusterInventory, MeshInventory, ServiceInfo, WorkloadInfo};

mod json;
mod rules;

use rules::{CompiledTolerance, compile_tolerance};
pub use rules::{Extra, HealthConfig, HealthRules, RateRule, Tolerance, parse_rate_annotation};

use crate::error::Error;

/// The annotation that overrides the rate tolerances of one object.
pub const RATE_ANNOTATION: &str = "health.kiali.io/rate";

/// A health status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum HealthStatus {
    /// No information (no traffic and no workloads to judge).
    #[default]
    #[serde(rename = "NA")]
    Na,
    /// Everything within tolerances.
    #[serde(rename = "Healthy")]
    Healthy,
    /// Scaled to zero on purpose (desired replicas 0).
    #[serde(rename = "Not Ready")]
    NotReady,
    /// Error ratio above the degraded threshold, or some replicas unavailable.
    #[serde(rename = "Degraded")]
    Degraded,
    /// Error ratio at or above the failure threshold, or no replica available.
    #[serde(rename = "Failure")]
    Failure,
}

impl HealthStatus {
    /// Kiali's display string.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Na => "NA",
            HealthStatus::Healthy => "Healthy",
            HealthStatus::NotReady => "Not Ready",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Failure => "Failure",
        }
    }
}

/// Which kind of object health is computed for (`type=app|service|workload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    /// Apps: workloads grouped by their app label.
    App,
    /// Kubernetes services.
    Service,
    /// Workloads.
    Workload,
}

impl HealthKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [HealthKind; 3] = [HealthKind::App, HealthKind::Service, HealthKind::Workload];

    /// The `type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthKind::App => "app",
            HealthKind::Service => "service",
            HealthKind::Workload => "workload",
        }
    }

    /// Parses a `type` parameter value.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "app" => Ok(HealthKind::App),
            "service" => Ok(HealthKind::Service),
            "workload" => Ok(HealthKind::Workload),
            _ => Err(Error::invalid("type", s)),
        }
    }
}

/// A health request (`/api/clusters/health`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HealthRequest {
    /// Namespaces to report (same name in every cluster).
    pub namespaces: Vec<String>,
    /// Clusters to report; `None` = every cluster of the inventory.
    pub clusters: Option<Vec<String>>,
    /// Kinds to compute; empty = all three.
    pub kinds: Vec<HealthKind>,
}

/// Replica counts of one workload (Kiali's `WorkloadStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadStatus {
    /// Workload name.
    pub name: String,
    /// Desired replicas.
    #[serde(rename = "desiredReplicas")]
    pub desired_replicas: i32,
    /// Current replicas.
    #[serde(rename = "currentReplicas")]
    pub current_replicas: i32,
    /// Available replicas.
    #[serde(rename = "availableReplicas")]
    pub available_replicas: i32,
    /// Proxies in sync, `-1` when unknown.
    #[serde(rename = "syncedProxies")]
    pub synced_proxies: i32,
}

impl WorkloadStatus {
    fn from_workload(w: &WorkloadInfo) -> Self {
        WorkloadStatus {
            name: w.name.clone(),
            desired_replicas: w.desired_replicas,
            current_replicas: w.current_replicas,
            available_replicas: w.available_replicas,
            synced_proxies: if w.istio_sidecar {
                w.synced_proxies
            } else {
                -1
            },
        }
    }

    /// The status from replicas: desired 0 → Not Ready; none available → Failure; some
    /// unavailable → Degraded; available = desired ≠ current → Failure; proxies out of sync →
    /// Degraded; else Healthy.
    pub fn status(&self) -> HealthStatus {
        if self.desired_replicas == 0 {
            HealthStatus::NotReady
        } else if self.available_replicas <= 0 {
            HealthStatus::Failure
        } else if self.available_replicas < self.desired_replicas {
            HealthStatus::Degraded
        } else if self.available_replicas == self.desired_replicas
            && self.desired_replicas != self.current_replicas
        {
            HealthStatus::Failure
        } else if self.synced_proxies >= 0 && self.synced_proxies < self.available_replicas {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        }
    }
}

/// Request rates by protocol and code (`{"http": {"200": 1.5}}`), inbound and outbound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RequestHealth {
    /// Inbound rates by protocol and code (`-` = no response).
    pub inbound: BTreeMap<String, BTreeMap<String, f64>>,
    /// Outbound rates by protocol and code.
    pub outbound: BTreeMap<String, BTreeMap<String, f64>>,
    /// The object's `health.kiali.io/*` annotations.
    #[serde(rename = "healthAnnotations")]
    pub health_annotations: BTreeMap<String, String>,
}

/// The health of one app, workload or service in one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityHealth {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Object kind.
    pub kind: HealthKind,
    /// Replica status of the workloads (the workload itself, or an app's workloads).
    pub workload_statuses: Vec<WorkloadStatus>,
    /// Request rates.
    pub requests: RequestHealth,
    /// Status of the requests alone (NA without traffic).
    pub request_status: HealthStatus,
    /// Highest error ratio (percent) among the tolerances that matched.
    pub error_ratio: f64,
    /// Overall status: worst of the workloads and the requests.
    pub status: HealthStatus,
}

/// Status counts of one kind in one namespace of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceSummary {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Kind counted.
    pub kind: HealthKind,
    /// Objects per status.
    pub counts: BTreeMap<HealthStatus, u32>,
    /// Worst status in the namespace (NA when empty).
    pub status: HealthStatus,
}

/// The result of [`health()`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// Every entity, sorted by cluster, namespace, kind, name.
    pub entities: Vec<EntityHealth>,
    /// Per-cluster namespace summaries.
    pub namespaces: Vec<NamespaceSummary>,
    /// The namespaces asked for, sorted: each has an entry in Kiali's body, empty when it exists
    /// in no cluster (or holds nothing of the kind), as Kiali answers.
    pub requested: Vec<String>,
    /// Skipped input.
    pub diagnostics: Vec<Diagnostic>,
}

impl HealthReport {
    /// Kiali's `/api/clusters/health` body for one kind: `{"namespaceAppHealth": {ns: {name:
    /// health}}}` (or `namespaceServiceHealth` / `namespaceWorkloadHealth`). With `cluster` set only
    /// that cluster is reported; otherwise same-named objects of several clusters are merged (rates
    /// summed, statuses concatenated, worst status).
    pub fn to_kiali_json(&self, kind: HealthKind, cluster: Option<&str>) -> serde_json::Value {
        // The one shape is the writer's ([`HealthReport::write_kiali_json`]); its bytes are JSON.
        serde_json::from_slice(&self.write_kiali_json(kind, cluster)).unwrap_or_default()
    }

    /// The entities of `kind` by namespace and name (each namespace asked for present, empty
    /// when it holds none): of one cluster, or same-named objects of several clusters merged.
    fn merged(
        &self,
        kind: HealthKind,
        cluster: Option<&str>,
    ) -> BTreeMap<&str, BTreeMap<&str, Cow<'_, EntityHealth>>> {
        let mut merged: BTreeMap<&str, BTreeMap<&str, Cow<'_, EntityHealth>>> = self
            .requested
            .iter()
            .map(|ns| (ns.as_str(), BTreeMap::new()))
            .collect();
        for e in self.entities.iter().filter(|e| e.kind == kind) {
            if cluster.is_some_and(|c| c != e.cluster) {
                continue;
            }
            let slot = merged.entry(&e.namespace).or_default();
            match slot.get_mut(e.name.as_str()) {
                None => {
                    slot.insert(&e.name, Cow::Borrowed(e));
                }
                Some(acc) => {
                    let acc = acc.to_mut();
                    acc.workload_statuses
                        .extend(e.workload_statuses.iter().cloned());
                    add_rates(&mut acc.requests.inbound, &e.requests.inbound);
                    add_rates(&mut acc.requests.outbound, &e.requests.outbound);
                    acc.status = acc.status.max(e.status);
                    acc.request_status = acc.request_status.max(e.request_status);
                    acc.error_ratio = acc.error_ratio.max(e.error_ratio);
                }
            }
        }
        merged
    }
}

fn add_rates(
    acc: &mut BTreeMap<String, BTreeMap<String, f64>>,
    more: &BTreeMap<String, BTreeMap<String, f64>>,
) {
    for (proto, codes) in more {
        let a = acc.entry(proto.clone()).or_default();
        for (code, v) in codes {
            *a.entry(code.clone()).or_insert(0.0) += v;
        }
    }
}

/// (protocol, code) → rate; strings borrowed from the samples.
type Rates<'s> = FxHashMap<(&'s str, &'s str), f64>;

#[derive(Default)]
struct Acc<'s> {
    in_source: Rates<'s>,
    in_dest: Rates<'s>,
    out: Rates<'s>,
}

/// (kind, cluster, namespace, name), borrowed: accumulating allocates per object, not per
/// sample.
type Key<'s> = (HealthKind, &'s str, &'s str, &'s str);

/// Rates per object.
type Accs<'s> = FxHashMap<Key<'s>, Acc<'s>>;

/// The value if set and not `unknown` ([`crate::rules::is_ok`]).
fn ok(v: Option<&str>) -> Option<&str> {
    v.filter(|s| crate::rules::is_ok(s))
}

/// Computes health for the requested namespaces from `istio_requests_total` samples (see
/// [`crate::health_queries`]) and the inventory. Other families are ignored; bad samples are
/// skipped and reported.
pub fn health(
    req: &HealthRequest,
    samples: &[Sample],
    inventory: &MeshInventory,
    rules: &HealthRules,
) -> HealthReport {
    let mut diags = Diagnostics::default();
    let accs = accumulate(samples, &mut diags);

    let kinds: Vec<HealthKind> = if req.kinds.is_empty() {
        vec![HealthKind::App, HealthKind::Service, HealthKind::Workload]
    } else {
        req.kinds.clone()
    };
    let mut entities = Vec::new();
    let mut clusters: Vec<&ClusterInventory> = inventory
        .clusters
        .iter()
        .filter(|c| {
            req.clusters
                .as_ref()
                .is_none_or(|list| list.contains(&c.name))
        })
        .collect();
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let mut namespaces: Vec<&String> = req.namespaces.iter().collect();
    namespaces.sort();
    namespaces.dedup();

    let mut summaries = Vec::new();
    for c in clusters {
        // Each namespace's workloads and services, grouped once (not filtered per namespace).
        let held: HashSet<&str> = c.namespaces.iter().map(|n| n.name.as_str()).collect();
        let mut objects: FxHashMap<&str, (Vec<&WorkloadInfo>, Vec<&ServiceInfo>)> =
            FxHashMap::default();
        for w in &c.workloads {
            objects.entry(w.namespace.as_str()).or_default().0.push(w);
        }
        for s in &c.services {
            objects.entry(s.namespace.as_str()).or_default().1.push(s);
        }
        let none = (Vec::new(), Vec::new());
        for ns in &namespaces {
            if !held.contains(ns.as_str()) {
                continue;
            }
            let (wls, svcs) = objects.get(ns.as_str()).unwrap_or(&none);
            for &kind in &kinds {
                let before = entities.len();
                let here = Here {
                    cluster: &c.name,
                    namespace: ns,
                    workloads: wls,
                    services: svcs,
                };
                entities.extend(kind_entities(rules, &mut diags, &accs, kind, &here));
                let mut counts: BTreeMap<HealthStatus, u32> = BTreeMap::new();
                let mut worst = HealthStatus::Na;
                for e in &entities[before..] {
                    *counts.entry(e.status).or_insert(0) += 1;
                    worst = worst.max(e.status);
                }
                summaries.push(NamespaceSummary {
                    cluster: c.name.clone(),
                    namespace: (*ns).clone(),
                    kind,
                    counts,
                    status: worst,
                });
            }
        }
    }
    HealthReport {
        entities,
        namespaces: summaries,
        requested: namespaces.into_iter().cloned().collect(),
        diagnostics: diags.into_vec(),
    }
}

/// Request rates per object from the `istio_requests_total` samples.
fn accumulate<'s>(samples: &'s [Sample], diags: &mut Diagnostics) -> Accs<'s> {
    let mut accs: Accs<'s> = FxHashMap::default();
    for s in samples {
        if s.family != Family::RequestsTotal {
            continue;
        }
        if !s.value.is_finite() || s.value < 0.0 {
            diags.push("non_finite_value", || {
                format!("{} value {}", s.family, s.value)
            });
            continue;
        }
        let l = &s.labels;
        let reporter = match l.reporter() {
            Some("source") => true,
            Some("destination") => false,
            other => {
                diags.push("bad_reporter", || format!("reporter {other:?}"));
                continue;
            }
        };
        let protocol = match l.request_protocol() {
            Some(p @ ("http" | "grpc")) => p,
            other => {
                diags.push("unknown_protocol", || format!("request_protocol {other:?}"));
                continue;
            }
        };
        let Some(code) = crate::rules::response_code(protocol == "grpc", l).map(|c| c.as_str())
        else {
            diags.push("missing_label", || "response_code missing".to_string());
            continue;
        };
        let src_cluster = ok(l.source_cluster()).unwrap_or("unknown");
        let dst_cluster = ok(l.destination_cluster()).unwrap_or(src_cluster);
        let rk = (protocol, code);
        let mut add = |kind: HealthKind,
                       cluster: &'s str,
                       ns: Option<&'s str>,
                       name: Option<&'s str>,
                       inbound: bool| {
            let (Some(ns), Some(name)) = (ns, name) else {
                return;
            };
            let acc = accs.entry((kind, cluster, ns, name)).or_default();
            let map = if !inbound {
                &mut acc.out
            } else if reporter {
                &mut acc.in_source
            } else {
                &mut acc.in_dest
            };
            *map.entry(rk).or_insert(0.0) += s.value;
        };
        if reporter {
            let sns = ok(l.source_workload_namespace());
            add(
                HealthKind::Workload,
                src_cluster,
                sns,
                ok(l.source_workload()),
                false,
            );
            add(
                HealthKind::App,
                src_cluster,
                sns,
                ok(l.source_canonical_service()),
                false,
            );
        }
        let dns = ok(l.destination_workload_namespace()).or(ok(l.destination_service_namespace()));
        add(
            HealthKind::Workload,
            dst_cluster,
            dns,
            ok(l.destination_workload()),
            true,
        );
        add(
            HealthKind::App,
            dst_cluster,
            dns,
            ok(l.destination_canonical_service()),
            true,
        );
        add(
            HealthKind::Service,
            dst_cluster,
            ok(l.destination_service_namespace()),
            ok(l.destination_service_name()),
            true,
        );
    }

    accs
}

/// One namespace of one cluster, with its workloads and services.
struct Here<'a> {
    cluster: &'a str,
    namespace: &'a str,
    workloads: &'a [&'a WorkloadInfo],
    services: &'a [&'a ServiceInfo],
}

/// The health of every object of `kind` in namespace `here`, in name order.
fn kind_entities(
    rules: &HealthRules,
    diags: &mut Diagnostics,
    accs: &Accs<'_>,
    kind: HealthKind,
    here: &Here<'_>,
) -> Vec<EntityHealth> {
    let (cluster, ns) = (here.cluster, here.namespace);
    let mut entities = Vec::new();
    match kind {
        HealthKind::Workload => {
            let mut wls: Vec<&WorkloadInfo> = here.workloads.to_vec();
            wls.sort_by(|a, b| a.name.cmp(&b.name));
            for w in wls {
                let statuses = vec![WorkloadStatus::from_workload(w)];
                entities.push(entity(
                    rules,
                    diags,
                    accs,
                    kind,
                    cluster,
                    ns,
                    &w.name,
                    statuses,
                    &w.annotations,
                ));
            }
        }
        HealthKind::App => {
            let mut apps: BTreeMap<&str, Vec<&WorkloadInfo>> = BTreeMap::new();
            for w in here.workloads.iter().copied() {
                if let Some(app) = w.app() {
                    apps.entry(app).or_default().push(w);
                }
            }
            for (app, mut wls) in apps {
                wls.sort_by(|a, b| a.name.cmp(&b.name));
                let statuses = wls
                    .iter()
                    .map(|w| WorkloadStatus::from_workload(w))
                    .collect();
                let annotations = wls
                    .iter()
                    .find(|w| w.annotations.contains_key(RATE_ANNOTATION))
                    .map(|w| w.annotations.clone())
                    .unwrap_or_default();
                entities.push(entity(
                    rules,
                    diags,
                    accs,
                    kind,
                    cluster,
                    ns,
                    app,
                    statuses,
                    &annotations,
                ));
            }
        }
        HealthKind::Service => {
            let mut svcs: Vec<&ServiceInfo> = here.services.to_vec();
            svcs.sort_by(|a, b| a.name.cmp(&b.name));
            for s in svcs {
                entities.push(entity(
                    rules,
                    diags,
                    accs,
                    kind,
                    cluster,
                    ns,
                    &s.name,
                    Vec::new(),
                    &s.annotations,
                ));
            }
        }
    }
    entities
}

#[allow(clippy::too_many_arguments)]
fn entity<'a>(
    rules: &HealthRules,
    diags: &mut Diagnostics,
    accs: &Accs<'a>,
    kind: HealthKind,
    cluster: &'a str,
    namespace: &'a str,
    name: &'a str,
    workload_statuses: Vec<WorkloadStatus>,
    annotations: &BTreeMap<String, String>,
) -> EntityHealth {
    let mut requests = RequestHealth {
        health_annotations: annotations
            .iter()
            .filter(|(k, _)| k.starts_with("health.kiali.io/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..RequestHealth::default()
    };
    if let Some(acc) = accs.get(&(kind, cluster, namespace, name)) {
        // Kiali combines reporters: source-reported first, destination-reported wins when higher.
        for ((p, c), v) in &acc.in_source {
            requests
                .inbound
                .entry(p.to_string())
                .or_default()
                .insert(c.to_string(), *v);
        }
        for ((p, c), v) in &acc.in_dest {
            let e = requests
                .inbound
                .entry(p.to_string())
                .or_default()
                .entry(c.to_string())
                .or_insert(0.0);
            if *v > *e {
                *e = *v;
            }
        }
        for ((p, c), v) in &acc.out {
            *requests
                .outbound
                .entry(p.to_string())
                .or_default()
                .entry(c.to_string())
                .or_insert(0.0) += v;
        }
    }

    let override_tols: Option<Vec<CompiledTolerance>> =
        annotations.get(RATE_ANNOTATION).and_then(|v| {
            match parse_rate_annotation(v).and_then(|ts| ts.iter().map(compile_tolerance).collect())
            {
                Ok(ts) => Some(ts),
                Err(e) => {
                    diags.push("bad_health_annotation", || {
                        format!("{kind:?} {namespace}/{name}: {e}")
                    });
                    None
                }
            }
        });
    let tols: &[CompiledTolerance] = match &override_tols {
        Some(t) => t,
        None => rules.tolerances_for(namespace, kind, name),
    };
    let (request_status, error_ratio) = request_status(&requests, tols);
    let mut status = request_status;
    for w in &workload_statuses {
        status = status.max(w.status());
    }
    EntityHealth {
        cluster: cluster.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        kind,
        workload_statuses,
        requests,
        request_status,
        error_ratio,
        status,
    }
}

fn request_status(r: &RequestHealth, tols: &[CompiledTolerance]) -> (HealthStatus, f64) {
    let mut status = HealthStatus::Na;
    let mut worst_ratio = 0.0f64;
    for (direction, by_proto) in [("inbound", &r.inbound), ("outbound", &r.outbound)] {
        for (proto, codes) in by_proto {
            let total: f64 = codes.values().sum();
            if total <= 0.0 {
                continue;
            }
            status = status.max(HealthStatus::Healthy);
            for t in tols {
                if !t.protocol.is_match(proto) || !t.direction.is_match(direction) {
                    continue;
                }
                let errs: f64 = codes
                    .iter()
                    .filter(|(c, _)| t.code.is_match(c))
                    .map(|(_, v)| v)
                    .sum();
                let ratio = errs / total * 100.0;
                worst_ratio = worst_ratio.max(ratio);
                status = status.max(threshold(ratio, t.degraded, t.failure));
            }
        }
    }
    (status, worst_ratio)
}

/// Kiali's ascending threshold check: Failure at or above `failure`, Degraded above `degraded`.
fn threshold(ratio: f64, degraded: f64, failure: f64) -> HealthStatus {
    if ratio > 0.0 {
        if ratio >= failure {
            return HealthStatus::Failure;
        }
        if ratio > degraded {
            return HealthStatus::Degraded;
        }
    }
    HealthStatus::Healthy
}
