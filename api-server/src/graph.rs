//! Graph and health routes: PromQL from the engine, run concurrently and bounded against the
//! one Prometheus, and the engine's graph and health built over the clusters the caller sees.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use meshglass_engine as engine;
use serde_json::Value;

use crate::api::{Params, Shared, Views, is_dns_label};
use crate::auth::Identity;
use crate::cache::IstioKind;
use crate::error::{Error, Result};

/// Graph and health routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/namespaces/graph", get(namespaces_graph))
        .route(
            "/api/namespaces/{ns}/workloads/{name}/graph",
            get(workload_graph),
        )
        .route("/api/namespaces/{ns}/apps/{name}/graph", get(app_graph))
        .route(
            "/api/namespaces/{ns}/applications/{name}/graph",
            get(app_graph),
        )
        .route(
            "/api/namespaces/{ns}/applications/{name}/versions/{version}/graph",
            get(app_version_graph),
        )
        .route(
            "/api/namespaces/{ns}/services/{name}/graph",
            get(service_graph),
        )
        .route("/api/clusters/health", get(clusters_health))
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Allowed values of the graph parameters, for 400 responses.
fn allowed(param: &str) -> String {
    match param {
        "graphType" => "app, versionedApp, workload, service".into(),
        "boxBy" => "comma-separated subset of cluster, namespace, app".into(),
        "rateHttp" => "requests, none".into(),
        "rateGrpc" => "requests, sent, received, total, none".into(),
        "rateTcp" => "sent, received, total, none".into(),
        "responseTime" => "avg, 50, 95, 99".into(),
        "throughputType" => "request, response".into(),
        "appenders" => engine::Appender::ALL
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", "),
        "duration" | "rateInterval" => "a positive duration such as 60s, 10m, 1h".into(),
        "queryTime" => "Unix time in seconds".into(),
        "namespaces" => "comma-separated namespace names (at least one)".into(),
        "type" => "app, service, workload".into(),
        _ => "true, false".into(),
    }
}

fn param_name(name: &str) -> &'static str {
    const KNOWN: [&str; 17] = [
        "graphType",
        "boxBy",
        "injectServiceNodes",
        "includeIdleEdges",
        "idleNodes",
        "rateHttp",
        "rateGrpc",
        "rateTcp",
        "responseTime",
        "throughputType",
        "appenders",
        "namespaces",
        "duration",
        "queryTime",
        "rateInterval",
        "type",
        "clusterName",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == name)
        .unwrap_or("parameter")
}

/// Maps an engine error to the server's: parameter errors become 400s naming the allowed values.
fn engine_err(e: engine::Error) -> Error {
    match e {
        engine::Error::InvalidParam { name, value } => {
            Error::bad_param(param_name(name), value, allowed(name))
        }
        engine::Error::PrometheusResponse(m) => Error::Prometheus(m),
        engine::Error::HealthConfig(m) => Error::Config(m),
    }
}

/// The namespaces a graph or health answer can mention: the requested ones and every namespace
/// the samples name. The inventory is built for these only, so a request's cost follows what it
/// asks for, not the size of every cluster's cache.
fn relevant_namespaces(requested: &[String], samples: &[engine::Sample]) -> HashSet<String> {
    let mut out: HashSet<String> = requested.iter().cloned().collect();
    for s in samples {
        let l = &s.labels;
        for ns in [
            l.source_workload_namespace(),
            l.destination_service_namespace(),
            l.destination_workload_namespace(),
        ]
        .into_iter()
        .flatten()
        {
            if !out.contains(ns) {
                out.insert(ns.to_string());
            }
        }
    }
    out
}

/// The engine inventory of what the views show, in the namespaces `keep` accepts.
pub fn inventory(views: &Views, keep: &HashSet<String>) -> engine::MeshInventory {
    let clusters = views
        .clusters
        .iter()
        .map(|v| {
            let sees = |ns: &str| v.sees(ns) && keep.contains(ns);
            let namespaces = v
                .entry
                .cache
                .namespaces
                .state()
                .iter()
                .filter(|n| n.metadata.name.as_deref().is_some_and(sees))
                .map(|n| engine::NamespaceInfo {
                    name: n.metadata.name.clone().unwrap_or_default(),
                    labels: n.metadata.labels.clone().unwrap_or_default(),
                    annotations: n.metadata.annotations.clone().unwrap_or_default(),
                })
                .collect();
            let services = crate::model::services(&v.entry.cache, &sees)
                .iter()
                .map(|s| engine::ServiceInfo {
                    name: s.metadata.name.clone().unwrap_or_default(),
                    namespace: s.metadata.namespace.clone().unwrap_or_default(),
                    selector: crate::model::service_selector(s),
                    ports: s
                        .spec
                        .as_ref()
                        .and_then(|s| s.ports.as_ref())
                        .map(|ps| {
                            ps.iter()
                                .map(|p| engine::ServicePort {
                                    name: p.name.clone().unwrap_or_default(),
                                    port: p.port,
                                    protocol: p.protocol.clone().unwrap_or_default(),
                                    app_protocol: p.app_protocol.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    labels: s.metadata.labels.clone().unwrap_or_default(),
                    annotations: s.metadata.annotations.clone().unwrap_or_default(),
                })
                .collect();
            let workloads = crate::model::workloads(v.name(), &v.entry.cache, &sees)
                .iter()
                .map(|w| engine::WorkloadInfo {
                    name: w.name.clone(),
                    namespace: w.namespace.clone(),
                    kind: w.kind.to_string(),
                    labels: w.labels.clone(),
                    annotations: w.annotations.clone(),
                    desired_replicas: w.desired,
                    current_replicas: w.current,
                    available_replicas: w.available,
                    istio_sidecar: w.istio_sidecar(),
                    synced_proxies: -1,
                })
                .collect();
            let service_entries = v
                .istio(IstioKind::ServiceEntry)
                .iter()
                .map(|se| {
                    let strs = |v: &Value| -> Vec<String> {
                        v.as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    engine::ServiceEntryInfo {
                        name: se.metadata.name.clone().unwrap_or_default(),
                        namespace: se.metadata.namespace.clone().unwrap_or_default(),
                        hosts: strs(&se.data["spec"]["hosts"]),
                        location: se.data["spec"]["location"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        export_to: strs(&se.data["spec"]["exportTo"]),
                    }
                })
                .collect();
            engine::ClusterInventory {
                name: v.name().to_string(),
                namespaces,
                services,
                workloads,
                service_entries,
            }
        })
        .collect();
    engine::MeshInventory { clusters }
}

/// Runs the queries concurrently (the client bounds concurrency) and parses every answer.
async fn run_queries(s: &Shared, qs: Vec<engine::PromQuery>) -> Result<Vec<engine::Sample>> {
    let prom = s
        .prom
        .clone()
        .ok_or_else(|| Error::Prometheus("no Prometheus configured".into()))?;
    let futs = qs.into_iter().map(|q| {
        let prom = prom.clone();
        async move {
            let body = prom.instant_raw(&q.promql, Some(q.time)).await?;
            engine::parse_prometheus_response(q.family, &body).map_err(engine_err)
        }
    });
    let parts = futures::future::try_join_all(futs).await?;
    Ok(parts.into_iter().flatten().collect())
}

/// 403 when a signed-in user may see none of the requested namespaces' clusters.
fn check_namespaces(id: &Identity, views: &Views, namespaces: &[String]) -> Result<()> {
    if matches!(id, Identity::Anonymous) {
        return Ok(());
    }
    for ns in namespaces {
        if !views.clusters.iter().any(|v| v.may_see(ns)) {
            return Err(Error::Forbidden(format!(
                "user {} may not read namespace {ns} in any reachable cluster",
                id.name()
            )));
        }
    }
    Ok(())
}

async fn build(
    s: &Shared,
    id: &Identity,
    q: &HashMap<String, String>,
    force_ns: Option<&str>,
) -> Result<(Views, engine::GraphResult, Timing)> {
    let mut pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Some(ns) = force_ns {
        pairs.retain(|(k, _)| *k != "namespaces");
        pairs.push(("namespaces", ns));
    }
    let opts = engine::GraphOptions::from_query_pairs(pairs, now_unix()).map_err(engine_err)?;
    if opts.namespaces.is_empty() {
        return Err(Error::bad_param("namespaces", "", allowed("namespaces")));
    }
    for ns in &opts.namespaces {
        if !is_dns_label(ns) {
            return Err(Error::bad_param(
                "namespaces",
                ns.clone(),
                allowed("namespaces"),
            ));
        }
    }
    let p = Params(q.clone());
    let views = s.views(id, p.get("clusterName"), None).await?;
    check_namespaces(id, &views, &opts.namespaces)?;
    let qs = engine::queries(&opts);
    let n = qs.len();
    let t = std::time::Instant::now();
    let samples = run_queries(s, qs).await?;
    let prom_wait = t.elapsed();
    let inv = inventory(&views, &relevant_namespaces(&opts.namespaces, &samples));
    let result = engine::build_graph(&opts, &samples, &inv);
    for d in &result.diagnostics {
        tracing::debug!(diagnostic = ?d, "graph input skipped");
    }
    Ok((
        views,
        result,
        Timing {
            queries: n,
            prom_wait,
        },
    ))
}

/// Time spent waiting for Prometheus, reported in a `Server-Timing` header.
struct Timing {
    queries: usize,
    prom_wait: std::time::Duration,
}

impl Timing {
    fn apply(&self, mut resp: Response, started: std::time::Instant) -> Response {
        let v = format!(
            "prom;dur={:.3};desc=\"{} queries\", total;dur={:.3}",
            self.prom_wait.as_secs_f64() * 1000.0,
            self.queries,
            started.elapsed().as_secs_f64() * 1000.0
        );
        if let Ok(h) = axum::http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert("server-timing", h);
        }
        resp
    }
}

async fn namespaces_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let started = std::time::Instant::now();
    let (views, result, timing) = build(&s, &id, &q, None).await?;
    let body = serde_json::to_value(&result.graph).map_err(|e| Error::Engine(e.to_string()))?;
    Ok(timing.apply(views.respond(body), started))
}

/// Which nodes a node graph is centred on.
enum Focus<'a> {
    Workload(&'a str),
    App(&'a str, Option<&'a str>),
    Service(&'a str),
}

fn node_graph(
    views: &Views,
    graph: &engine::CytoscapeGraph,
    ns: &str,
    focus: Focus<'_>,
) -> Result<Response> {
    let nodes = &graph.elements.nodes;
    let focal: HashSet<&str> = nodes
        .iter()
        .map(|n| &n.data)
        .filter(|d| d.is_box.is_empty() && d.namespace == ns)
        .filter(|d| match focus {
            Focus::Workload(w) => d.workload == w,
            Focus::App(a, v) => d.app == a && v.is_none_or(|v| d.version == v),
            Focus::Service(s) => d.service == s && d.node_type == "service",
        })
        .map(|d| d.id.as_str())
        .collect();
    let edges: Vec<&engine::EdgeWrapper> = graph
        .elements
        .edges
        .iter()
        .filter(|e| {
            focal.contains(e.data.source.as_str()) || focal.contains(e.data.target.as_str())
        })
        .collect();
    let mut keep: BTreeSet<&str> = focal.iter().copied().collect();
    for e in &edges {
        keep.insert(&e.data.source);
        keep.insert(&e.data.target);
    }
    // Keep the boxes enclosing kept nodes (boxes nest: cluster > namespace > app).
    loop {
        let parents: Vec<&str> = nodes
            .iter()
            .filter(|n| keep.contains(n.data.id.as_str()))
            .filter_map(|n| n.data.parent.as_deref())
            .filter(|p| !keep.contains(p))
            .collect();
        if parents.is_empty() {
            break;
        }
        keep.extend(parents);
    }
    let mut out = graph.clone();
    out.elements
        .nodes
        .retain(|n| keep.contains(n.data.id.as_str()));
    out.elements.edges = edges.into_iter().cloned().collect();
    let body = serde_json::to_value(&out).map_err(|e| Error::Engine(e.to_string()))?;
    Ok(views.respond(body))
}

async fn workload_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, r, _) = build(&s, &id, &q, Some(&ns)).await?;
    node_graph(&views, &r.graph, &ns, Focus::Workload(&name))
}

async fn app_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, r, _) = build(&s, &id, &q, Some(&ns)).await?;
    node_graph(&views, &r.graph, &ns, Focus::App(&name, None))
}

async fn app_version_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name, version)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, r, _) = build(&s, &id, &q, Some(&ns)).await?;
    node_graph(&views, &r.graph, &ns, Focus::App(&name, Some(&version)))
}

async fn service_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let mut q = q;
    q.entry("injectServiceNodes".into())
        .or_insert_with(|| "true".into());
    let (views, r, _) = build(&s, &id, &q, Some(&ns)).await?;
    node_graph(&views, &r.graph, &ns, Focus::Service(&name))
}

async fn clusters_health(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let kind = engine::HealthKind::parse(p.get("type").unwrap_or("app")).map_err(|_| {
        Error::bad_param("type", p.get("type").unwrap_or_default(), allowed("type"))
    })?;
    let rate = engine::parse_duration(p.get("rateInterval").unwrap_or("10m")).map_err(|_| {
        Error::bad_param(
            "rateInterval",
            p.get("rateInterval").unwrap_or_default(),
            allowed("rateInterval"),
        )
    })?;
    let query_time = match p.get("queryTime") {
        None => now_unix(),
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| Error::bad_param("queryTime", t, allowed("queryTime")))?,
    };
    let cluster = p.get("clusterName").map(String::from);
    let views = s.views(&id, cluster.as_deref(), p.namespaces()?).await?;
    let namespaces: Vec<String> = match p.namespaces()? {
        Some(set) => set.into_iter().collect(),
        None => {
            let all: BTreeSet<String> = views
                .clusters
                .iter()
                .flat_map(|v| v.namespace_names())
                .collect();
            all.into_iter().collect()
        }
    };
    check_namespaces(&id, &views, &namespaces)?;
    let samples = run_queries(&s, engine::health_queries(&namespaces, rate, query_time)).await?;
    let inv = inventory(&views, &relevant_namespaces(&namespaces, &samples));
    let req = engine::HealthRequest {
        namespaces,
        clusters: None,
        kinds: vec![kind],
    };
    let report = engine::health(&req, &samples, &inv, &s.health_rules);
    Ok(views.respond(report.to_kiali_json(kind, cluster.as_deref())))
}

/// Health rules from `health_config` of the server configuration (Kiali's defaults appended).
pub fn health_rules(config: &crate::config::Config) -> Result<engine::HealthRules> {
    let hc: engine::HealthConfig =
        serde_json::from_value(serde_json::json!({"rate": config.health_config.rate}))
            .map_err(|e| Error::Config(format!("health_config: {e}")))?;
    engine::HealthRules::new(&hc).map_err(engine_err)
}
