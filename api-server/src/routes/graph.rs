//! Graph routes: PromQL from the engine, run concurrently and bounded against the one
//! Prometheus, and the engine's graph built over the clusters the caller sees. The body is the
//! engine's JSON writer's output (no `Value` round trip); node graphs keep their nodes in place.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use meshglass_engine::{self as engine, CytoscapeGraph};

use crate::auth::Identity;
use crate::error::Result;
use crate::params::Params;
use crate::state::{Shared, Views, blocking};
use crate::telemetry::{
    inventory, relevant_namespaces, run_queries, traffic_namespaces, visible_samples,
};

/// Time spent waiting for Prometheus, reported in a `Server-Timing` header.
struct Timing {
    queries: usize,
    prom_wait: Duration,
}

/// Which nodes a node graph is centred on.
enum Focus {
    Namespaces,
    Workload(String),
    App(String, Option<String>),
    Service(String),
}

/// Builds the graph of a request and writes its body; `force_ns` makes it a node graph of that
/// namespace centred on `focus`.
async fn respond(
    s: &Shared,
    id: &Identity,
    q: HashMap<String, String>,
    force_ns: Option<String>,
    focus: Focus,
) -> Result<(Response, Timing)> {
    let p = Params(q);
    let mut opts = p.graph_options(force_ns.as_deref())?;
    if let Some(prom) = &s.prom {
        opts.scope = prom.scope().clone();
    }
    opts.istio_namespace = s.config.istio_namespace().to_string();
    // A signed-in user: access is reviewed for the requested namespaces only, then for the
    // (cluster, namespace) pairs the traffic names.
    let user = id.is_user();
    let wanted = user.then(|| opts.namespaces.iter().cloned().collect());
    let mut views = s.views(id, p.cluster(), wanted).await?;
    s.require_namespaces(id, &views, &opts.namespaces)?;
    let qs = engine::queries(&opts);
    // The health appender: the health queries of /api/clusters/health over the graph's window,
    // for the requested namespaces beside the graph's queries.
    let health = opts.appender_enabled(engine::Appender::Health);
    let health_q = |namespaces: &[String]| {
        if health && !namespaces.is_empty() {
            engine::health_queries(namespaces, opts.duration_secs, opts.query_time, &opts.scope)
        } else {
            Vec::new()
        }
    };
    let hq = health_q(&opts.namespaces);
    let queries = qs.len() + hq.len();
    let t = Instant::now();
    let (samples, health_samples) = tokio::try_join!(run_queries(s, qs), run_queries(s, hq))?;
    if user {
        views
            .admit(&s.auth, id, &traffic_namespaces(&samples))
            .await;
    }
    // Nodes outside the requested namespaces get their namespaces' health too (one more query,
    // only when the traffic leaves them).
    let outside: Vec<String> = if health {
        let mut v: Vec<String> = traffic_namespaces(&samples)
            .into_iter()
            .filter(|(c, ns)| !opts.namespaces.contains(ns) && views.may_see(c, ns))
            .map(|(_, ns)| ns)
            .collect();
        v.sort();
        v.dedup();
        v
    } else {
        Vec::new()
    };
    let oq = health_q(&outside);
    let queries = queries + oq.len();
    let outside_samples = run_queries(s, oq).await?;
    let prom_wait = t.elapsed();
    let rules = s.health_rules.clone();
    let (views, body) = blocking(move || {
        let samples = visible_samples(&views, samples);
        let mut keep = relevant_namespaces(&opts.namespaces, &samples);
        keep.extend(outside.iter().cloned());
        let inv = inventory(&views, &keep);
        let report = |namespaces: &[String], samples: Vec<engine::Sample>| {
            let req = engine::HealthRequest {
                namespaces: namespaces.to_vec(),
                clusters: None,
                kinds: Vec::new(),
            };
            engine::health(&req, &visible_samples(&views, samples), &inv, &rules)
        };
        // Health is computed on a second thread while the graph is built.
        let (mut result, reports) = std::thread::scope(|sc| {
            let reports = health.then(|| {
                sc.spawn(|| {
                    (
                        report(&opts.namespaces, health_samples),
                        report(&outside, outside_samples),
                    )
                })
            });
            let result = engine::build_graph(&opts, &samples, &inv);
            let reports =
                reports.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (result, reports)
        });
        for d in &result.diagnostics {
            tracing::debug!(diagnostic = ?d, "graph input skipped");
        }
        if views.restricted() {
            mark_inaccessible(&mut result.graph, &views);
        }
        if let Some((inside, beyond)) = &reports {
            engine::add_node_health(&mut result.graph, &[inside, beyond]);
        }
        if let Some(ns) = &force_ns {
            keep_focus(&mut result.graph, ns, &focus);
        }
        let body = with_missing(result.graph.to_json_vec(), &views);
        (views, body)
    })
    .await?;
    let resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    Ok((views.with_header(resp), Timing { queries, prom_wait }))
}

/// Appends `"missingClusters":[…]` to the graph object the engine wrote.
fn with_missing(mut body: Vec<u8>, views: &Views) -> Vec<u8> {
    if body.last() == Some(&b'}') {
        body.pop();
        body.extend_from_slice(b",\"missingClusters\":");
        // A list of plain strings: serialising it cannot fail.
        let _ = serde_json::to_writer(&mut body, &views.missing_json());
        body.push(b'}');
    }
    body
}

/// Marks the nodes (and app and namespace boxes) of namespaces the caller may not read in their
/// cluster `isInaccessible`, as Kiali does, drops their rates and health (what the caller's own
/// side sent or received stays on the edges) and the principals of those ends from edges.
fn mark_inaccessible(graph: &mut CytoscapeGraph, views: &Views) {
    let mut hidden: HashSet<String> = HashSet::new();
    for n in &mut graph.elements.nodes {
        let d = &mut n.data;
        if d.is_box == "cluster" {
            continue;
        }
        if !views.may_see(&d.cluster, &d.namespace) {
            d.is_inaccessible = true;
            d.traffic.clear();
            d.health_data = None;
            hidden.insert(d.id.as_str().to_string());
        }
    }
    for e in &mut graph.elements.edges {
        if hidden.contains(e.data.source.as_str()) {
            e.data.source_principal.clear();
        }
        if hidden.contains(e.data.target.as_str()) {
            e.data.dest_principal.clear();
        }
    }
}

/// Keeps the focal nodes of `ns`, their edges, the nodes at the other ends and the boxes
/// around what is kept (boxes nest: cluster > namespace > app), in place.
fn keep_focus(graph: &mut CytoscapeGraph, ns: &str, focus: &Focus) {
    let nodes = &graph.elements.nodes;
    let focal: HashSet<String> = nodes
        .iter()
        .map(|n| &n.data)
        .filter(|d| d.is_box.is_empty() && d.namespace == ns)
        .filter(|d| match focus {
            Focus::Namespaces => true,
            Focus::Workload(w) => d.workload == *w,
            Focus::App(a, v) => d.app == *a && v.as_ref().is_none_or(|v| d.version == *v),
            Focus::Service(s) => d.service == *s && d.node_type == "service",
        })
        .map(|d| d.id.as_str().to_string())
        .collect();
    graph.elements.edges.retain(|e| {
        focal.contains(e.data.source.as_str()) || focal.contains(e.data.target.as_str())
    });
    let mut keep: HashSet<String> = focal;
    for e in &graph.elements.edges {
        keep.insert(e.data.source.as_str().to_string());
        keep.insert(e.data.target.as_str().to_string());
    }
    loop {
        let parents: Vec<String> = nodes
            .iter()
            .filter(|n| keep.contains(n.data.id.as_str()))
            .filter_map(|n| n.data.parent.as_deref())
            .filter(|p| !keep.contains(*p))
            .map(str::to_string)
            .collect();
        if parents.is_empty() {
            break;
        }
        keep.extend(parents);
    }
    graph
        .elements
        .nodes
        .retain(|n| keep.contains(n.data.id.as_str()));
}

/// `/api/namespaces/graph`, with a `Server-Timing` header.
pub async fn graph_namespaces(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let started = Instant::now();
    let (mut resp, t) = respond(&s, &id, q, None, Focus::Namespaces).await?;
    let v = format!(
        "prom;dur={:.3};desc=\"{} queries\", total;dur={:.3}",
        t.prom_wait.as_secs_f64() * 1000.0,
        t.queries,
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Ok(h) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert("server-timing", h);
    }
    Ok(resp)
}

/// `/api/namespaces/{ns}/workloads/{name}/graph`.
pub async fn graph_workload(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    Ok(respond(&s, &id, q, Some(ns), Focus::Workload(name))
        .await?
        .0)
}

/// `/api/namespaces/{ns}/{apps,applications}/{name}/graph`.
pub async fn graph_app(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    Ok(respond(&s, &id, q, Some(ns), Focus::App(name, None))
        .await?
        .0)
}

/// `/api/namespaces/{ns}/applications/{name}/versions/{version}/graph`.
pub async fn graph_app_version(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name, version)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let focus = Focus::App(name, Some(version));
    Ok(respond(&s, &id, q, Some(ns), focus).await?.0)
}

/// `/api/namespaces/{ns}/services/{name}/graph` (service nodes injected unless asked not to).
pub async fn graph_service(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(mut q): Query<HashMap<String, String>>,
) -> Result<Response> {
    q.entry("injectServiceNodes".into())
        .or_insert_with(|| "true".into());
    Ok(respond(&s, &id, q, Some(ns), Focus::Service(name)).await?.0)
}
