//! The HTTP routes: Kiali's paths, parameters and JSON field names, under `server.web_root`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use crate::auth::{Auth, Identity};
use crate::cache::IstioKind;
use crate::config::{AuthStrategy, Config};
use crate::error::{Error, Result};
use crate::metrics::{Metrics, RouteLabels};
use crate::model::{self, Workload};
use crate::prom::PromClient;
use crate::registry::{ClusterEntry, Registry};
use crate::validations::{self, ClusterData, Validation};

/// Header naming the clusters a response lacks (unreachable, or not checkable for the user).
pub const MISSING_HEADER: &str = "x-meshglass-missing-clusters";

/// Everything the routes read.
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub auth: Arc<Auth>,
    pub prom: Option<Arc<PromClient>>,
    pub metrics: Arc<Metrics>,
    pub health_rules: Arc<meshglass_engine::HealthRules>,
}

/// Shared state of the router.
pub type Shared = Arc<AppState>;

/// What one cluster shows to the caller.
pub struct View {
    pub entry: Arc<ClusterEntry>,
    /// `None`: every namespace.
    allowed: Option<BTreeSet<String>>,
    /// Namespaces asked for with the `namespaces` parameter (`None`: all).
    wanted: Option<Arc<BTreeSet<String>>>,
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
        let mut v: Vec<String> = self
            .entry
            .cache
            .namespaces
            .state()
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .filter(|n| self.sees(n))
            .collect();
        v.sort();
        v
    }

    /// Visible workloads.
    pub fn workloads(&self) -> Vec<Workload> {
        model::workloads(&self.entry.name, &self.entry.cache, &|ns| self.sees(ns))
    }

    /// Visible services.
    pub fn services(&self) -> Vec<Arc<Service>> {
        model::services(&self.entry.cache, &|ns| self.sees(ns))
    }

    /// Visible Istio objects of `kind`.
    pub fn istio(&self, kind: IstioKind) -> Vec<Arc<kube::api::DynamicObject>> {
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
}

/// The clusters a request can use, and those it lacks.
pub struct Views {
    pub clusters: Vec<View>,
    pub missing: Vec<(String, String)>,
}

impl Views {
    /// Adds the missing-clusters header (and, for JSON objects, `missingClusters`).
    pub fn respond(&self, mut body: Value) -> Response {
        if let Some(obj) = body.as_object_mut() {
            obj.insert(
                "missingClusters".into(),
                Value::Array(
                    self.missing
                        .iter()
                        .map(|(n, e)| json!({"name": n, "error": e}))
                        .collect(),
                ),
            );
        }
        let mut resp = Json(body).into_response();
        if !self.missing.is_empty() {
            let names: Vec<&str> = self.missing.iter().map(|(n, _)| n.as_str()).collect();
            if let Ok(v) = HeaderValue::from_str(&names.join(",")) {
                resp.headers_mut().insert(MISSING_HEADER, v);
            }
        }
        resp
    }
}

/// Query parameters, parsed by hand so that errors name the parameter.
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A raw parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A boolean parameter.
    pub fn bool(&self, k: &'static str, default: bool) -> Result<bool> {
        match self.get(k) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(Error::bad_param(k, v, "true, false")),
        }
    }

    /// One of a fixed set of values.
    pub fn one_of(
        &self,
        k: &'static str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v)
                .copied()
                .ok_or_else(|| Error::bad_param(k, v, allowed.join(", "))),
        }
    }

    /// A comma-separated list of namespace names.
    pub fn namespaces(&self) -> Result<Option<BTreeSet<String>>> {
        let Some(v) = self.get("namespaces") else {
            return Ok(None);
        };
        let mut set = BTreeSet::new();
        for n in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_dns_label(n) {
                return Err(Error::bad_param(
                    "namespaces",
                    n,
                    "comma-separated namespace names (RFC 1123 labels)",
                ));
            }
            set.insert(n.to_string());
        }
        Ok(Some(set))
    }
}

/// RFC 1123 label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl AppState {
    /// The clusters and namespaces `identity` may see; `cluster` restricts to one cluster
    /// (400 naming the known clusters when unknown).
    pub async fn views(
        &self,
        identity: &Identity,
        cluster: Option<&str>,
        wanted: Option<BTreeSet<String>>,
    ) -> Result<Views> {
        let all = self.registry.snapshot();
        if let Some(c) = cluster
            && !all.iter().any(|e| e.name == c)
        {
            let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
            return Err(Error::bad_param("clusterName", c, names.join(", ")));
        }
        let wanted = wanted.map(Arc::new);
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
                }),
                Err(e) => views.missing.push((entry.name.clone(), e.to_string())),
            }
        }
        Ok(views)
    }

    /// 403 when a signed-in user may read `ns` in none of the views.
    fn require_namespace(&self, identity: &Identity, views: &Views, ns: &str) -> Result<()> {
        if matches!(identity, Identity::Anonymous) || views.clusters.iter().any(|v| v.may_see(ns)) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "user {} may not read namespace {ns} in any reachable cluster",
                identity.name()
            )))
        }
    }
}

/// Builds the router: API routes under `server.web_root`, plus `/healthz` and `/readyz`.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/api/config", get(config))
        .route("/api/namespaces", get(namespaces))
        .route("/api/clusters/apps", get(cluster_apps))
        .route("/api/clusters/workloads", get(cluster_workloads))
        .route("/api/clusters/services", get(cluster_services))
        .route("/api/namespaces/{ns}/apps/{name}", get(app_detail))
        .route(
            "/api/namespaces/{ns}/workloads/{name}",
            get(workload_detail),
        )
        .route("/api/namespaces/{ns}/services/{name}", get(service_detail))
        .route("/api/istio/config", get(istio_config))
        .route("/api/istio/validations", get(istio_validations))
        .merge(crate::graph::routes())
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let public = Router::new()
        .route("/api", get(status))
        .route("/api/status", get(status))
        .route("/api/auth/info", get(auth_info))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    let api = protected.merge(public);
    let root = state.config.web_root();
    let app = if root.is_empty() {
        api
    } else {
        Router::new()
            .nest(&root, api)
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
    };
    app.merge(crate::ui::router(&root))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Router of the metrics port.
pub fn metrics_router(state: Shared) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(s): State<Shared>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    s.metrics.render(&s.registry),
                )
            }),
        )
        .with_state(state)
}

async fn record(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    let labels = RouteLabels {
        route,
        status: resp.status().as_u16(),
    };
    s.metrics.requests.get_or_create(&labels).inc();
    s.metrics
        .latency
        .get_or_create(&labels)
        .observe(start.elapsed().as_secs_f64());
    resp
}

async fn authenticate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    match s.auth.authenticate(authz.as_deref()).await {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn readyz(State(s): State<Shared>) -> Response {
    if s.registry.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        let waiting: Vec<String> = s
            .registry
            .snapshot()
            .iter()
            .filter(|c| !c.state.settled())
            .map(|c| c.name.clone())
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("caches not synced: {}", waiting.join(", ")),
        )
            .into_response()
    }
}

async fn auth_info(State(s): State<Shared>) -> Json<Value> {
    let strategy = match s.auth.strategy {
        AuthStrategy::Anonymous => "anonymous",
        AuthStrategy::Token => "token",
        AuthStrategy::Header => "header",
    };
    Json(json!({"strategy": strategy, "authorizationEndpoint": "", "sessionInfo": {}}))
}

async fn status(State(s): State<Shared>) -> Json<Value> {
    let warnings: Vec<String> = s
        .registry
        .snapshot()
        .iter()
        .filter(|c| !c.state.accessible())
        .map(|c| {
            format!(
                "cluster {} is not reachable: {}",
                c.name,
                c.state.error().unwrap_or_default()
            )
        })
        .collect();
    Json(json!({
        "status": {
            "Kiali state": "running",
            "Kiali version": env!("CARGO_PKG_VERSION"),
            "Kiali commit hash": "",
            "Kiali container version": "",
        },
        "externalServices": [
            {"name": "Prometheus", "url": s.config.prometheus_url()},
        ],
        "warningMessages": warnings,
        "istioEnvironment": {"isMaistra": false, "istioAPIEnabled": true},
    }))
}

async fn config(State(s): State<Shared>) -> Json<Value> {
    let mut clusters = serde_json::Map::new();
    for c in s.registry.snapshot() {
        clusters.insert(
            c.name.clone(),
            json!({
                "name": c.name,
                "accessible": c.state.accessible(),
                "isKialiHome": c.is_home,
                "apiEndpoint": c.api_endpoint,
                "secretName": c.secret_name.clone().unwrap_or_default(),
                "network": "",
                "kialiInstances": [],
                "error": c.state.error(),
            }),
        );
    }
    // Clusters named in `clustering.clusters` without a kubeconfig: listed, not accessible.
    for c in &s.config.clustering.clusters {
        if c.name.is_empty() || clusters.contains_key(&c.name) {
            continue;
        }
        clusters.insert(
            c.name.clone(),
            json!({
                "name": c.name,
                "accessible": false,
                "isKialiHome": false,
                "apiEndpoint": "",
                "secretName": c.secret_name,
                "network": "",
                "kialiInstances": [],
                "error": "no kubeconfig for this cluster in the remote-cluster secrets directory",
            }),
        );
    }
    let home = s
        .registry
        .home()
        .map(|h| h.name.clone())
        .unwrap_or_default();
    Json(json!({
        "clusters": clusters,
        "authStrategy": match s.auth.strategy {
            AuthStrategy::Anonymous => "anonymous",
            AuthStrategy::Token => "token",
            AuthStrategy::Header => "header",
        },
        "istioNamespace": s.config.istio_namespace(),
        "webRoot": s.config.web_root(),
        "deployment": {"viewOnlyMode": s.config.deployment.view_only_mode},
        "healthConfig": {"rate": s.config.health_config.rate},
        "prometheus": {"globalScrapeInterval": 15},
        "clusterName": home,
        "istioLabels": {"appLabelName": "app", "versionLabelName": "version"},
    }))
}

async fn namespaces(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let views = s.views(&id, p.get("clusterName"), p.namespaces()?).await?;
    let mut out = Vec::new();
    for v in &views.clusters {
        for ns in v.entry.cache.namespaces.state() {
            let Some(name) = ns.metadata.name.clone() else {
                continue;
            };
            if !v.sees(&name) {
                continue;
            }
            let labels = ns.metadata.labels.clone().unwrap_or_default();
            out.push(json!({
                "name": name,
                "cluster": v.name(),
                "isAmbient": false,
                "isControlPlane": name == s.config.istio_namespace(),
                "labels": labels,
                "annotations": ns.metadata.annotations.clone().unwrap_or_default(),
                "revision": labels.get("istio.io/rev"),
            }));
        }
    }
    out.sort_by(|a, b| {
        (a["name"].as_str(), a["cluster"].as_str())
            .cmp(&(b["name"].as_str(), b["cluster"].as_str()))
    });
    Ok(views.respond(Value::Array(out)))
}

fn app_item(cluster: &str, ns: &str, app: &str, ws: &[&Workload]) -> Value {
    let versions: BTreeSet<&str> = ws.iter().filter_map(|w| w.version()).collect();
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), app.to_string());
    if !versions.is_empty() {
        labels.insert(
            "version".to_string(),
            versions.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    json!({
        "name": app,
        "namespace": ns,
        "cluster": cluster,
        "istioSidecar": ws.iter().all(|w| w.istio_sidecar()),
        "isAmbient": false,
        "labels": labels,
        "istioReferences": [],
    })
}

async fn cluster_apps(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let cluster = p.get("clusterName").map(String::from);
    let views = s.views(&id, cluster.as_deref(), p.namespaces()?).await?;
    let mut items = Vec::new();
    for v in &views.clusters {
        let ws = v.workloads();
        for ((ns, app), group) in model::apps(&ws) {
            items.push(app_item(v.name(), &ns, &app, &group));
        }
    }
    Ok(views.respond(json!({"cluster": cluster.unwrap_or_default(), "applications": items})))
}

async fn cluster_workloads(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let cluster = p.get("clusterName").map(String::from);
    let views = s.views(&id, cluster.as_deref(), p.namespaces()?).await?;
    let mut items = Vec::new();
    for v in &views.clusters {
        items.extend(v.workloads().iter().map(Workload::list_item));
    }
    Ok(views.respond(
        json!({"cluster": cluster.unwrap_or_default(), "workloads": items, "validations": {}}),
    ))
}

async fn cluster_services(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let cluster = p.get("clusterName").map(String::from);
    let views = s.views(&id, cluster.as_deref(), p.namespaces()?).await?;
    let mut items = Vec::new();
    for v in &views.clusters {
        let ws = v.workloads();
        for svc in v.services() {
            let mut item = model::service_item(v.name(), &svc);
            let sel = model::service_selector(&svc);
            let ns = svc.metadata.namespace.clone().unwrap_or_default();
            let selected: Vec<&Workload> = ws
                .iter()
                .filter(|w| w.namespace == ns && model::selector_matches(&sel, &w.labels))
                .collect();
            item["istioSidecar"] =
                json!(!selected.is_empty() && selected.iter().all(|w| w.istio_sidecar()));
            items.push(item);
        }
    }
    Ok(views.respond(
        json!({"cluster": cluster.unwrap_or_default(), "services": items, "validations": {}}),
    ))
}

fn check_path_names(ns: &str, name: &str) -> Result<()> {
    if !is_dns_label(ns) {
        return Err(Error::bad_param(
            "namespace",
            ns,
            "a namespace name (RFC 1123 label)",
        ));
    }
    if name.is_empty() || name.len() > 253 || name.contains('/') {
        return Err(Error::bad_param("name", name, "an object name"));
    }
    Ok(())
}

/// The views a detail route reads: validated path names, `clusterName` honoured, and the
/// caller allowed to see `ns` on at least one cluster.
async fn detail_views(
    s: &Shared,
    id: &Identity,
    ns: &str,
    name: &str,
    q: HashMap<String, String>,
) -> Result<Views> {
    check_path_names(ns, name)?;
    let p = Params(q);
    let views = s
        .views(id, p.get("clusterName"), Some([ns.to_string()].into()))
        .await?;
    s.require_namespace(id, &views, ns)?;
    Ok(views)
}

async fn app_detail(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, app)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &app, q).await?;
    let mut workloads = Vec::new();
    let mut services = BTreeSet::new();
    let mut clusters = Vec::new();
    for v in &views.clusters {
        let ws: Vec<Workload> = v
            .workloads()
            .into_iter()
            .filter(|w| w.app() == Some(app.as_str()))
            .collect();
        if ws.is_empty() {
            continue;
        }
        clusters.push(v.name().to_string());
        for svc in v.services() {
            let sel = model::service_selector(&svc);
            if ws.iter().any(|w| model::selector_matches(&sel, &w.labels)) {
                services.insert(svc.metadata.name.clone().unwrap_or_default());
            }
        }
        for w in &ws {
            workloads.push(json!({
                "workloadName": w.name,
                "cluster": w.cluster,
                "istioSidecar": w.istio_sidecar(),
                "isAmbient": false,
                "labels": w.labels,
                "serviceAccountNames": w.service_accounts(),
                "gvk": {"Group": w.group, "Version": "v1", "Kind": w.kind},
            }));
        }
    }
    let Some(first) = clusters.first() else {
        return Err(Error::NotFound(format!(
            "app {app} not found in namespace {ns} of any reachable cluster"
        )));
    };
    Ok(views.respond(json!({
        "name": app,
        "cluster": first,
        "clusters": clusters,
        "namespace": {"name": ns, "cluster": first},
        "workloads": workloads,
        "serviceNames": services,
        "runtimes": [],
    })))
}

async fn workload_detail(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    for v in &views.clusters {
        let Some(w) = v
            .workloads()
            .into_iter()
            .find(|w| w.namespace == ns && w.name == name)
        else {
            continue;
        };
        let svcs = v.services();
        let selected: Vec<&Service> = svcs
            .iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(ns.as_str())
                    && model::selector_matches(&model::service_selector(s), &w.labels)
            })
            .map(|s| s.as_ref())
            .collect();
        instances.push(w.detail(&selected));
    }
    respond_instances(&views, instances, || {
        format!("workload {name} not found in namespace {ns} of any reachable cluster")
    })
}

fn respond_instances(
    views: &Views,
    instances: Vec<Value>,
    not_found: impl FnOnce() -> String,
) -> Result<Response> {
    let Some(first) = instances.first() else {
        return Err(Error::NotFound(not_found()));
    };
    let mut top = first.clone();
    top["clusters"] = json!(
        instances
            .iter()
            .map(|i| i["cluster"].clone())
            .collect::<Vec<_>>()
    );
    top["instances"] = Value::Array(instances);
    Ok(views.respond(top))
}

async fn service_detail(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    for v in &views.clusters {
        let Some(svc) = v.services().into_iter().find(|s| {
            s.metadata.name.as_deref() == Some(name.as_str())
                && s.metadata.namespace.as_deref() == Some(ns.as_str())
        }) else {
            continue;
        };
        let sel = model::service_selector(&svc);
        let ws: Vec<Value> = v
            .workloads()
            .iter()
            .filter(|w| w.namespace == ns && model::selector_matches(&sel, &w.labels))
            .map(Workload::list_item)
            .collect();
        let fq = format!("{name}.{ns}.svc.cluster.local");
        let refers = |h: &str, ons: &str| {
            let h = if h.contains('.') {
                h.to_string()
            } else {
                format!("{h}.{ons}")
            };
            h == fq || format!("{h}.svc.cluster.local") == fq || format!("{h}.cluster.local") == fq
        };
        let vss: Vec<Value> = v
            .istio(IstioKind::VirtualService)
            .iter()
            .filter(|o| {
                let ons = o.metadata.namespace.clone().unwrap_or_default();
                o.data["spec"]["hosts"].as_array().is_some_and(|hs| {
                    hs.iter()
                        .any(|h| h.as_str().is_some_and(|h| refers(h, &ons)))
                })
            })
            .map(|o| serde_json::to_value(o.as_ref()).unwrap_or(Value::Null))
            .collect();
        let drs: Vec<Value> = v
            .istio(IstioKind::DestinationRule)
            .iter()
            .filter(|o| {
                let ons = o.metadata.namespace.clone().unwrap_or_default();
                o.data["spec"]["host"]
                    .as_str()
                    .is_some_and(|h| refers(h, &ons))
            })
            .map(|o| serde_json::to_value(o.as_ref()).unwrap_or(Value::Null))
            .collect();
        let istio_sidecar = !ws.is_empty() && ws.iter().all(|w| w["istioSidecar"] == json!(true));
        instances.push(json!({
            "cluster": v.name(),
            "service": model::service_item(v.name(), &svc),
            "istioSidecar": istio_sidecar,
            "workloads": ws,
            "virtualServices": vss,
            "destinationRules": drs,
        }));
    }
    respond_instances(&views, instances, || {
        format!("service {name} not found in namespace {ns} of any reachable cluster")
    })
}

/// Validation input of every view.
pub fn cluster_data(views: &Views) -> Vec<ClusterData> {
    views
        .clusters
        .iter()
        .map(|v| {
            let istio = IstioKind::ALL
                .into_iter()
                .map(|k| (k, v.istio(k)))
                .collect();
            ClusterData::new(v.name().to_string(), v.services(), v.workloads(), istio)
        })
        .collect()
}

fn parse_objects(p: &Params) -> Result<Vec<IstioKind>> {
    let Some(list) = p.get("objects") else {
        return Ok(IstioKind::ALL.to_vec());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            IstioKind::from_plural(s).ok_or_else(|| {
                let allowed: Vec<&str> = IstioKind::ALL.iter().map(|k| k.plural()).collect();
                Error::bad_param("objects", s, allowed.join(", "))
            })
        })
        .collect()
}

async fn istio_config(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let kinds = parse_objects(&p)?;
    let validate = p.bool("validate", false)?;
    let wanted = p.namespaces()?;
    let views = s.views(&id, None, wanted).await?;
    // One cluster per response, as in Kiali: `clusterName`, else the home cluster (or the first
    // reachable one).
    let cluster = match p.get("clusterName") {
        Some(c) => {
            if !s.registry.snapshot().iter().any(|e| e.name == c) {
                let names: Vec<String> = s
                    .registry
                    .snapshot()
                    .iter()
                    .map(|e| e.name.clone())
                    .collect();
                return Err(Error::bad_param("clusterName", c, names.join(", ")));
            }
            c.to_string()
        }
        None => views
            .clusters
            .iter()
            .find(|v| v.entry.is_home)
            .or(views.clusters.first())
            .map(|v| v.name().to_string())
            .unwrap_or_default(),
    };
    let mut resources = serde_json::Map::new();
    if let Some(v) = views.clusters.iter().find(|v| v.name() == cluster) {
        for k in &kinds {
            let version = v
                .entry
                .cache
                .istio_resource(*k)
                .map(|ar| ar.version)
                .unwrap_or_else(|| "v1".into());
            let key = format!("{}/{}, Kind={}", k.group(), version, k.kind());
            let objs: Vec<Value> = v
                .istio(*k)
                .iter()
                .map(|o| serde_json::to_value(o.as_ref()).unwrap_or(Value::Null))
                .collect();
            resources.insert(key, Value::Array(objs));
        }
    }
    let mut body = json!({"cluster": cluster, "resources": resources});
    if validate {
        let all = validations::validate(&cluster_data(&views));
        let mut map: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
        for val in all.into_iter().filter(|v| v.cluster == cluster) {
            if !kinds.iter().any(|k| k.kind() == val.object_gvk.kind) {
                continue;
            }
            map.entry(val.gvk_key()).or_default().insert(
                format!("{}.{}", val.name, val.namespace),
                serde_json::to_value(&val).unwrap_or(Value::Null),
            );
        }
        body["validations"] = json!(map);
    }
    Ok(views.respond(body))
}

async fn istio_validations(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let views = s.views(&id, None, p.namespaces()?).await?;
    let only = p.get("clusterName").map(String::from);
    let all: Vec<Validation> = validations::validate(&cluster_data(&views));
    let mut summary: BTreeMap<String, BTreeMap<String, (usize, usize, usize)>> = BTreeMap::new();
    for v in &views.clusters {
        if only.as_deref().is_some_and(|c| c != v.name()) {
            continue;
        }
        let entry = summary.entry(v.name().to_string()).or_default();
        for ns in v.namespace_names() {
            entry.entry(ns).or_default();
        }
    }
    for val in &all {
        if only.as_deref().is_some_and(|c| c != val.cluster) {
            continue;
        }
        let (e, w) = val.counts();
        let slot = summary
            .entry(val.cluster.clone())
            .or_default()
            .entry(val.namespace.clone())
            .or_default();
        slot.0 += 1;
        slot.1 += e;
        slot.2 += w;
    }
    let body: serde_json::Map<String, Value> = summary
        .into_iter()
        .map(|(c, nss)| {
            let m: serde_json::Map<String, Value> = nss
                .into_iter()
                .map(|(ns, (o, e, w))| (ns, json!({"objectCount": o, "errors": e, "warnings": w})))
                .collect();
            (c, Value::Object(m))
        })
        .collect();
    let mut resp = views.respond(Value::Object(body));
    // Per-object detail for callers who want it (`?detail=true`): Kiali's IstioValidation list.
    if p.bool("detail", false)? {
        let list: Vec<&Validation> = all
            .iter()
            .filter(|v| only.as_deref().is_none_or(|c| c == v.cluster))
            .collect();
        resp = views.respond(json!({ "validations": list }));
    }
    Ok(resp)
}
