//! What every route reads: the shared state, and the clusters and namespaces a caller may see
//! ([`Views`]), each cluster's objects read through the edge translation of [`crate::inventory`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use kube::api::DynamicObject;
use meshglass_crds::Config;
use meshglass_engine::validations::ClusterConfig;
use meshglass_engine::{
    AppLabels, ClusterInventory, ConfigObject, IstioKind, ServiceInfo, WorkloadInfo,
};
use serde_json::{Value, json};

use crate::auth::{Auth, Identity};
use crate::error::{Error, Result};
use crate::inventory;
use crate::metrics::Metrics;
use crate::prom::PromClient;
use crate::registry::{ClusterEntry, Registry};

/// Header naming the clusters a response lacks (unreachable, or not checkable for the user).
pub const MISSING_HEADER: &str = "x-meshglass-missing-clusters";

/// The namespaces a request may always name, however few the clusters hold
/// ([`AppState::check_namespace_count`]).
pub const MIN_NAMESPACE_LIMIT: usize = 100;

/// Everything the routes read.
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub auth: Arc<Auth>,
    pub prom: Option<Arc<PromClient>>,
    /// The tracing store's client, or why there is none (the traces routes answer 503 so).
    pub tracing: crate::traces::Configured,
    pub metrics: Arc<Metrics>,
    pub health_rules: Arc<meshglass_engine::HealthRules>,
    /// Which labels name apps and versions (`istio_labels` of the configuration).
    pub app_labels: Arc<AppLabels>,
    /// Grafana's reachability probe (`external_services.grafana`, when enabled with a URL).
    pub grafana: Option<Arc<crate::grafana::Probe>>,
    /// The graph and health view caches (`kiali_internal`); [`Default`] keeps nothing.
    pub view_cache: crate::view_cache::ViewCaches,
}

/// Shared state of the router.
pub type Shared = Arc<AppState>;

/// Runs CPU-bound work (graph, health, validations, inventories) on tokio's blocking pool, so
/// that the async workers keep answering cheap requests while a large graph is built.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Engine(format!("request worker stopped: {e}")))
}

/// What one cluster shows to the caller.
pub struct View {
    pub entry: Arc<ClusterEntry>,
    /// `None`: every namespace.
    allowed: Option<BTreeSet<String>>,
    /// Namespaces asked for with the `namespaces` parameter (`None`: all), and those a graph's
    /// traffic names ([`Views::admit`]).
    wanted: Option<BTreeSet<String>>,
    app_labels: Arc<AppLabels>,
}

impl View {
    /// Whether the caller may see `ns` (and asked for it).
    pub fn sees(&self, ns: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(ns))
            && self.wanted.as_ref().is_none_or(|w| w.contains(ns))
    }

    /// Whether the caller may see `ns`, whatever it asked for.
    pub fn may_see(&self, ns: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(ns))
    }

    /// Cluster name.
    pub fn name(&self) -> &str {
        &self.entry.name
    }

    /// Visible namespace names, sorted.
    pub fn namespace_names(&self) -> Vec<String> {
        self.entry.cache.namespace_names(&|n| self.sees(n))
    }

    /// The namespace names the caller may read, whatever it asked for, sorted.
    pub fn readable_namespace_names(&self) -> Vec<String> {
        self.entry.cache.namespace_names(&|n| self.may_see(n))
    }

    /// Visible workloads.
    pub fn workloads(&self) -> Vec<Arc<WorkloadInfo>> {
        self.workloads_in(&|_| true)
    }

    /// Visible workloads of the namespaces `keep` accepts, each namespace's kept while it does
    /// not change ([`inventory::shared_workloads`]).
    pub fn workloads_in(&self, keep: &dyn Fn(&str) -> bool) -> Vec<Arc<WorkloadInfo>> {
        let keep = |ns: &str| self.sees(ns) && keep(ns);
        inventory::shared_workloads(&self.entry.cache, &keep, &self.app_labels)
    }

    /// Visible services.
    pub fn services(&self) -> Vec<Arc<ServiceInfo>> {
        self.services_in(&|_| true)
    }

    /// Visible services of the namespaces `keep` accepts, each namespace's kept while it does
    /// not change ([`inventory::shared_services`]).
    pub fn services_in(&self, keep: &dyn Fn(&str) -> bool) -> Vec<Arc<ServiceInfo>> {
        inventory::shared_services(&self.entry.cache, &|ns| self.sees(ns) && keep(ns))
    }

    /// Visible Istio objects of `kind`, sorted by namespace and name.
    pub fn istio(&self, kind: IstioKind) -> Vec<Arc<DynamicObject>> {
        let mut v: Vec<_> = self
            .entry
            .cache
            .istio(kind)
            .into_iter()
            .filter(|o| self.sees(o.metadata.namespace.as_deref().unwrap_or_default()))
            .collect();
        v.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        v
    }

    /// Visible Istio objects of `kind`, as the engine reads them.
    fn config_objects(&self, kind: IstioKind) -> Vec<ConfigObject> {
        self.istio(kind)
            .iter()
            .map(|o| inventory::config_object(kind, o))
            .collect()
    }

    /// The inventory of what this view shows in the namespaces `keep` also accepts, with the
    /// view's ServiceEntries `service_entries` and VirtualServices and DestinationRules
    /// `routing` (of every visible namespace: a VirtualService anywhere may route to a service).
    fn inventory_with(
        &self,
        keep: &dyn Fn(&str) -> bool,
        service_entries: &[ConfigObject],
        routing: Vec<ConfigObject>,
    ) -> ClusterInventory {
        inventory::cluster_inventory(
            self.name(),
            &self.entry.cache,
            &|ns| self.sees(ns) && keep(ns),
            &self.app_labels,
            service_entries,
            routing,
        )
    }

    /// The visible VirtualServices, DestinationRules, Gateways and WorkloadEntries (what the
    /// graph's appenders read).
    fn routing(&self) -> Vec<ConfigObject> {
        let mut v = self.config_objects(IstioKind::VirtualService);
        for k in [
            IstioKind::DestinationRule,
            IstioKind::Gateway,
            IstioKind::WorkloadEntry,
        ] {
            v.extend(self.config_objects(k));
        }
        v
    }

    /// The engine inventory of what this view shows in the namespaces `keep` also accepts.
    pub fn inventory(&self, keep: &dyn Fn(&str) -> bool) -> ClusterInventory {
        self.inventory_with(
            keep,
            &self.config_objects(IstioKind::ServiceEntry),
            self.routing(),
        )
    }

    /// Validation input: this view's inventory and every Istio object it shows (each object read
    /// once; the inventory's ServiceEntries are the same objects).
    pub fn config(&self) -> ClusterConfig {
        let objects: BTreeMap<IstioKind, Vec<ConfigObject>> = IstioKind::ALL
            .into_iter()
            .map(|k| (k, self.config_objects(k)))
            .collect();
        let service_entries = objects
            .get(&IstioKind::ServiceEntry)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let routing = [IstioKind::VirtualService, IstioKind::DestinationRule]
            .iter()
            .flat_map(|k| objects.get(k).cloned().unwrap_or_default())
            .collect();
        let inventory = self.inventory_with(&|_| true, service_entries, routing);
        ClusterConfig::new(inventory, objects)
    }
}

/// The clusters a request can use, and those it lacks.
pub struct Views {
    pub clusters: Vec<View>,
    pub missing: Vec<(String, String)>,
}

impl Views {
    /// Whether the caller may read namespace `ns` of `cluster` (a cluster it has no view of, or
    /// the `unknown` namespace of telemetry, it may not).
    pub fn may_see(&self, cluster: &str, ns: &str) -> bool {
        !ns.is_empty()
            && ns != "unknown"
            && self
                .clusters
                .iter()
                .any(|v| v.name() == cluster && v.may_see(ns))
    }

    /// What these views let the caller see, to compare with another caller's exactly.
    pub fn access_key(&self) -> crate::view_entries::AccessKey {
        self.clusters
            .iter()
            .map(|v| (v.name().to_string(), v.allowed.clone(), v.wanted.clone()))
            .collect()
    }

    /// Adds the clusters `missing` names (cluster, why) that the views do not name as missing yet:
    /// a cached answer lacks what its entry lacked when it was built.
    pub fn add_missing(&mut self, missing: &[(String, String)]) {
        for (name, err) in missing {
            if !self.missing.iter().any(|(n, _)| n == name) {
                self.missing.push((name.clone(), err.clone()));
            }
        }
    }

    /// Whether some view hides namespaces (a signed-in user's views).
    pub fn restricted(&self) -> bool {
        self.clusters.iter().any(|v| v.allowed.is_some())
    }

    /// Adds namespaces to the views: `more` holds (cluster, namespace) pairs, such as those a
    /// graph's traffic names beside the requested namespaces. Only pairs of namespaces the
    /// cluster has are reviewed (SubjectAccessReview); a review that fails hides the namespace.
    pub async fn admit(
        &mut self,
        auth: &Auth,
        identity: &Identity,
        more: &BTreeSet<(String, String)>,
    ) {
        for v in &mut self.clusters {
            let Some(wanted) = &v.wanted else {
                continue;
            };
            let present: BTreeSet<String> = v
                .entry
                .cache
                .namespaces
                .state()
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            let new: Vec<String> = more
                .iter()
                .filter(|(c, ns)| {
                    *c == v.entry.name && !wanted.contains(ns) && present.contains(ns)
                })
                .map(|(_, ns)| ns.clone())
                .collect();
            if new.is_empty() {
                continue;
            }
            match auth
                .allowed_namespaces(identity, &v.entry, new.clone())
                .await
            {
                Ok(Some(ok)) => {
                    if let Some(a) = &mut v.allowed {
                        a.extend(ok);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(cluster = %v.entry.name, error = %e, "access review failed; namespaces hidden");
                    continue;
                }
            }
            if let Some(w) = &mut v.wanted {
                w.extend(new);
            }
        }
    }

    /// The body as JSON, with the missing-clusters header and, for JSON objects,
    /// `missingClusters`. A body that does not serialize (a map with non-string keys) is a 500.
    pub fn respond(&self, body: impl serde::Serialize) -> Response {
        // Written once, straight from the caller's value: no copy of it as a `Value` tree.
        match serde_json::to_vec(&body) {
            Ok(written) => self.respond_written(written),
            Err(e) => Error::Engine(format!("the answer does not serialize: {e}")).into_response(),
        }
    }

    /// The response of a JSON object already written (`body`), with `missingClusters` appended
    /// to it as [`Views::respond`] adds it, and the missing-clusters header.
    pub fn respond_written(&self, mut body: Vec<u8>) -> Response {
        if body.last() == Some(&b'}') {
            body.pop();
            if body.last() != Some(&b'{') {
                body.push(b',');
            }
            body.extend_from_slice(b"\"missingClusters\":");
            // A list of plain strings: serialising it cannot fail.
            let _ = serde_json::to_writer(&mut body, &self.missing_json());
            body.push(b'}');
        }
        let resp = (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        self.with_header(resp)
    }

    /// `missingClusters`: `[{name, error}]`.
    pub fn missing_json(&self) -> Value {
        Value::Array(
            self.missing
                .iter()
                .map(|(n, e)| json!({"name": n, "error": e}))
                .collect(),
        )
    }

    /// Adds the missing-clusters header to a response.
    pub fn with_header(&self, mut resp: Response) -> Response {
        if !self.missing.is_empty() {
            let names: Vec<&str> = self.missing.iter().map(|(n, _)| n.as_str()).collect();
            if let Ok(v) = HeaderValue::from_str(&names.join(",")) {
                resp.headers_mut().insert(MISSING_HEADER, v);
            }
        }
        resp
    }

    /// Validation input of every view.
    pub fn configs(&self) -> Vec<ClusterConfig> {
        self.clusters.iter().map(View::config).collect()
    }
}

impl AppState {
    /// The mesh settings validations read: the root namespace is `istio_namespace`; the codes
    /// ignored and the wildcard Gateway hosts skipped are `kiali_feature_flags.validations`'
    /// (checked at start-up, so a bad value never reaches here; Kiali's defaults then).
    pub fn validation_options(&self) -> meshglass_engine::validations::Options {
        let flags = self.config.validation_flags().unwrap_or_default();
        meshglass_engine::validations::Options {
            root_namespace: self.config.istio_namespace().to_string(),
            ignore: flags.ignore,
            skip_wildcard_gateway_hosts: flags.skip_wildcard_gateway_hosts,
            ..Default::default()
        }
    }

    /// The clusters and namespaces `identity` may see; `cluster` restricts to one cluster
    /// (400 naming the known clusters when unknown).
    pub async fn views(
        &self,
        identity: &Identity,
        cluster: Option<&str>,
        wanted: Option<BTreeSet<String>>,
    ) -> Result<Views> {
        if let Some(w) = &wanted {
            self.check_namespace_count(w.len())?;
        }
        let all = self.registry.snapshot();
        if let Some(c) = cluster {
            check_cluster(&all, c)?;
        }
        let mut views = Views {
            clusters: Vec::new(),
            missing: Vec::new(),
        };
        for entry in all {
            if cluster.is_some_and(|c| c != entry.name) {
                continue;
            }
            if !entry.state.accessible() {
                let err = entry
                    .state
                    .error()
                    .unwrap_or_else(|| "not reachable yet".into());
                views.missing.push((entry.name.clone(), err));
                continue;
            }
            let candidates: Vec<String> = entry
                .cache
                .namespaces
                .state()
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .filter(|n| wanted.as_ref().is_none_or(|w| w.contains(n)))
                .collect();
            match self
                .auth
                .allowed_namespaces(identity, &entry, candidates)
                .await
            {
                Ok(allowed) => views.clusters.push(View {
                    entry,
                    allowed,
                    wanted: wanted.clone(),
                    app_labels: self.app_labels.clone(),
                }),
                Err(e) => views.missing.push((entry.name.clone(), e.to_string())),
            }
        }
        Ok(views)
    }

    /// The most namespaces one request may name is as many as the clusters hold (the UI names
    /// every one when all are selected), and at least [`MIN_NAMESPACE_LIMIT`]: a request costs at
    /// most what a view of the whole mesh costs. Beyond, a 400 naming the limit.
    pub fn check_namespace_count(&self, n: usize) -> Result<()> {
        if n <= MIN_NAMESPACE_LIMIT {
            return Ok(());
        }
        let held: usize = self
            .registry
            .snapshot()
            .iter()
            .map(|e| e.cache.namespaces.len())
            .sum();
        let limit = held.max(MIN_NAMESPACE_LIMIT);
        if n <= limit {
            return Ok(());
        }
        Err(Error::bad_param(
            "namespaces",
            format!("{n} namespaces"),
            format!(
                "at most {limit} (the namespaces the clusters hold, or {MIN_NAMESPACE_LIMIT} when they hold fewer)"
            ),
        ))
    }

    /// 400 naming the known clusters when `cluster` is not one of them.
    pub fn check_cluster(&self, cluster: &str) -> Result<()> {
        self.entry(cluster).map(|_| ())
    }

    /// The cluster of a request that names none ([`crate::registry::Registry::default_cluster`]),
    /// or a 400 asking for the request's cluster parameter `param`, naming the listed clusters.
    pub fn default_cluster(&self, param: &'static str) -> Result<Arc<ClusterEntry>> {
        self.registry.default_cluster().ok_or_else(|| {
            let listed = self.registry.snapshot();
            let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
            Error::bad_param(
                param,
                "",
                format!(
                    "a cluster name (no default: the home cluster is hidden or not known yet, and no listed cluster is reachable): {}",
                    names.join(", ")
                ),
            )
        })
    }

    /// The listed cluster `cluster` (400 naming the known clusters when unknown).
    pub fn entry(&self, cluster: &str) -> Result<Arc<ClusterEntry>> {
        self.registry
            .entry(cluster)
            .ok_or_else(|| unknown_cluster(&self.registry.snapshot(), cluster))
    }

    /// 403 when a signed-in user may read one of `namespaces` in none of the views.
    pub fn require_namespaces(
        &self,
        identity: &Identity,
        views: &Views,
        namespaces: &[String],
    ) -> Result<()> {
        if matches!(identity, Identity::Anonymous) {
            return Ok(());
        }
        for ns in namespaces {
            if !views.clusters.iter().any(|v| v.may_see(ns)) {
                return Err(Error::Forbidden(format!(
                    "user {} may not read namespace {ns} in any reachable cluster",
                    identity.name()
                )));
            }
        }
        Ok(())
    }
}

/// 400 naming the clusters of `all` when `cluster` is not one of them.
fn check_cluster(all: &[Arc<ClusterEntry>], cluster: &str) -> Result<()> {
    if all.iter().any(|e| e.name == cluster) {
        return Ok(());
    }
    Err(unknown_cluster(all, cluster))
}

/// The 400 of a `clusterName` that names no listed cluster: it lists the known ones.
fn unknown_cluster(all: &[Arc<ClusterEntry>], cluster: &str) -> Error {
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    Error::bad_param("clusterName", cluster, names.join(", "))
}
