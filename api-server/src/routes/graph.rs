//! Graph routes: PromQL from the engine, run concurrently and bounded against the one
//! Prometheus, and the engine's graph built over the clusters the caller sees. The body is the
//! engine's JSON writer's output (no `Value` round trip); node graphs keep their nodes in place.
//! A namespace graph is answered from the graph view cache when it is on ([`crate::view_cache`]):
//! the server's graph of the view, or a signed-in caller's graph built from its telemetry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use meshglass_engine::{self as engine, CytoscapeGraph};

use crate::auth::Identity;
use crate::drop_later::drop_later;
use crate::error::Result;
use crate::params::Params;
use crate::state::{Shared, Views, blocking};
use crate::telemetry::{
    inventory, relevant_namespaces, run_queries, traffic_namespaces, visible_samples,
};
use crate::view_cache::{VIEW_CACHE_HEADER, ViewParams, key_of, view_params};
use crate::view_entries::{GraphTelemetry, SharedGraph};

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

/// The graph options of a request (the metrics store's scope and the Istio namespace set).
fn options(s: &Shared, p: &Params, force_ns: Option<&str>) -> Result<engine::GraphOptions> {
    let mut opts = p.graph_options(force_ns)?;
    if let Some(prom) = &s.prom {
        opts.scope = prom.scope().clone();
    }
    opts.istio_namespace = s.config.istio_namespace().to_string();
    Ok(opts)
}

/// The views of `id` for a graph of `opts`: a signed-in user's access is reviewed for the
/// requested namespaces only (then for what the traffic names, [`Views::admit`]); 403 when it
/// may read one of them nowhere.
async fn graph_views(
    s: &Shared,
    id: &Identity,
    p: &Params,
    opts: &engine::GraphOptions,
) -> Result<Views> {
    s.check_namespace_count(opts.namespaces.len())?;
    let wanted = id
        .is_user()
        .then(|| opts.namespaces.iter().cloned().collect());
    let views = s.views(id, p.cluster(), wanted).await?;
    s.require_namespaces(id, &views, &opts.namespaces)?;
    Ok(views)
}

/// Whether the graph shows node health (the health appender).
fn with_health(opts: &engine::GraphOptions) -> bool {
    opts.appender_enabled(engine::Appender::Health)
}

/// The health queries of /api/clusters/health over the graph's window, for `namespaces`.
fn health_queries(opts: &engine::GraphOptions, namespaces: &[String]) -> Vec<engine::PromQuery> {
    if with_health(opts) && !namespaces.is_empty() {
        engine::health_queries(namespaces, opts.duration_secs, opts.query_time, &opts.scope)
    } else {
        Vec::new()
    }
}

/// The namespaces outside the requested ones that the traffic reaches in a cluster where the
/// views may read them: their nodes get health too.
fn outside_namespaces(
    opts: &engine::GraphOptions,
    traffic: &BTreeSet<(String, String)>,
    views: &Views,
) -> Vec<String> {
    if !with_health(opts) {
        return Vec::new();
    }
    let mut v: Vec<String> = traffic
        .iter()
        .filter(|(c, ns)| !opts.namespaces.contains(ns) && views.may_see(c, ns))
        .map(|(_, ns)| ns.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Runs the graph's queries and the health queries beside them; a signed-in user's views admit
/// the namespaces the traffic names.
async fn fetch(
    s: &Shared,
    id: &Identity,
    opts: &engine::GraphOptions,
    views: &mut Views,
) -> Result<(GraphTelemetry, Timing)> {
    let qs = engine::queries(opts);
    let hq = health_queries(opts, &opts.namespaces);
    let queries = qs.len() + hq.len();
    let t = Instant::now();
    let (samples, health_samples) = tokio::try_join!(run_queries(s, qs), run_queries(s, hq))?;
    let traffic = traffic_namespaces(&samples);
    if id.is_user() {
        views.admit(&s.auth, id, &traffic).await;
    }
    // One more query, only when the traffic leaves the requested namespaces.
    let outside = outside_namespaces(opts, &traffic, views);
    let oq = health_queries(opts, &outside);
    let queries = queries + oq.len();
    let outside_samples = run_queries(s, oq).await?;
    let telemetry = GraphTelemetry {
        samples,
        health_samples,
        outside,
        outside_samples,
        traffic,
    };
    Ok((
        telemetry,
        Timing {
            queries,
            prom_wait: t.elapsed(),
        },
    ))
}

/// The graph of `t` as `views` may see it: the samples and inventory it may read, nodes of
/// namespaces it may not read marked inaccessible, node health, and for a node graph
/// (`force_ns`) the focus kept. CPU-bound: run on the blocking pool.
fn assemble(
    views: &Views,
    opts: &engine::GraphOptions,
    t: GraphTelemetry,
    rules: &engine::HealthRules,
    force_ns: Option<&str>,
    focus: &Focus,
) -> CytoscapeGraph {
    let health = with_health(opts);
    let samples = visible_samples(views, t.samples);
    let mut keep = relevant_namespaces(&opts.namespaces, &samples);
    keep.extend(t.outside.iter().cloned());
    let inv = inventory(views, &keep);
    let report = |namespaces: &[String], samples: Vec<engine::Sample>| {
        let req = engine::HealthRequest {
            namespaces: namespaces.to_vec(),
            clusters: None,
            kinds: Vec::new(),
        };
        engine::health(&req, &visible_samples(views, samples), &inv, rules)
    };
    let (health_samples, outside, outside_samples) =
        (t.health_samples, t.outside, t.outside_samples);
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
        let result = engine::build_graph(opts, &samples, &inv);
        let reports = reports.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (result, reports)
    });
    for d in &result.diagnostics {
        tracing::debug!(diagnostic = ?d, "graph input skipped");
    }
    if views.restricted() {
        mark_inaccessible(&mut result.graph, views);
    }
    if let Some((inside, beyond)) = &reports {
        engine::add_node_health(&mut result.graph, &[inside, beyond]);
    }
    if let Some(ns) = force_ns {
        keep_focus(&mut result.graph, ns, focus);
    }
    drop_later((inv, reports, samples));
    result.graph
}

/// Builds the graph of a request as `id` sees it and writes its body; `force_ns` makes it a node
/// graph of that namespace centred on `focus`.
async fn respond(
    s: &Shared,
    id: &Identity,
    q: HashMap<String, String>,
    force_ns: Option<String>,
    focus: Focus,
) -> Result<(Response, Timing)> {
    let p = Params(q);
    let opts = options(s, &p, force_ns.as_deref())?;
    let mut views = graph_views(s, id, &p, &opts).await?;
    let (telemetry, timing) = fetch(s, id, &opts, &mut views).await?;
    let rules = s.health_rules.clone();
    let (views, body) = blocking(move || {
        let graph = assemble(
            &views,
            &opts,
            telemetry,
            &rules,
            force_ns.as_deref(),
            &focus,
        );
        (views, written(graph))
    })
    .await?;
    Ok((views.respond_written(body), timing))
}

/// The graph's JSON; the graph itself is freed off the request's path ([`drop_later`]).
fn written(graph: CytoscapeGraph) -> Vec<u8> {
    let body = graph.to_json_vec();
    drop_later(graph);
    body
}

/// Builds the namespace graph of `params` as the server sees the mesh (no caller's access
/// applied): what the graph view cache keeps and refreshes.
pub async fn shared_graph(s: &Shared, params: &ViewParams) -> Result<SharedGraph> {
    Ok(shared_graph_timed(s, params).await?.0)
}

async fn shared_graph_timed(s: &Shared, params: &ViewParams) -> Result<(SharedGraph, Timing)> {
    let p = Params(params.clone().into_iter().collect());
    let id = Identity::Anonymous;
    let opts = options(s, &p, None)?;
    let mut views = graph_views(s, &id, &p, &opts).await?;
    let (telemetry, timing) = fetch(s, &id, &opts, &mut views).await?;
    let rules = s.health_rules.clone();
    let shared = blocking(move || {
        let graph = assemble(
            &views,
            &opts,
            telemetry.clone(),
            &rules,
            None,
            &Focus::Namespaces,
        );
        let mut body = written(graph);
        body.shrink_to_fit();
        SharedGraph {
            opts,
            telemetry,
            body,
            missing: views.missing,
            per_access: Default::default(),
        }
    })
    .await?;
    Ok((shared, timing))
}

/// `/api/namespaces/graph` from the graph view cache: the shared entry of the view (built on a
/// miss). A caller not restricted by access gets the server's graph as written; a signed-in
/// user the graph [`assemble`] builds over its views from the entry's telemetry.
async fn respond_cached(
    s: &Shared,
    id: &Identity,
    q: &HashMap<String, String>,
    params: ViewParams,
) -> Result<(Response, Timing, &'static str)> {
    let p = Params(q.clone());
    // The caller's access is checked before anything is built for it.
    let opts = options(s, &p, None)?;
    let mut views = graph_views(s, id, &p, &opts).await?;
    let key = key_of(&params);
    // Concurrent misses of the view build it once; the others wait for it (hits).
    let (shared, computed) = s
        .view_cache
        .graph
        .get_or_compute(&key, &params, || async {
            let (shared, timing) = shared_graph_timed(s, &params).await?;
            let bytes = shared.bytes();
            Ok::<_, crate::error::Error>((shared, bytes, timing))
        })
        .await?;
    let (timing, outcome) = match computed {
        Some(timing) => (timing, "miss"),
        None => (
            Timing {
                queries: 0,
                prom_wait: Duration::ZERO,
            },
            "hit",
        ),
    };
    if id.is_user() {
        views.admit(&s.auth, id, &shared.telemetry.traffic).await;
    }
    // The answer lacks what the entry lacked when it was built, and what the caller's views lack.
    views.add_missing(&shared.missing);
    let rules = s.health_rules.clone();
    let state = s.clone();
    let (views, body) = blocking(move || {
        let body = if views.restricted() {
            // A signed-in caller: the graph kept for the same access, or assembled for it from
            // the entry's telemetry and kept beside the entry while it fits the cache's memory.
            let body = shared.per_access.answer(
                views.access_key(),
                || {
                    let mut t = shared.telemetry.clone();
                    t.outside = outside_namespaces(&shared.opts, &t.traffic, &views);
                    written(assemble(
                        &views,
                        &shared.opts,
                        t,
                        &rules,
                        None,
                        &Focus::Namespaces,
                    ))
                },
                |body| body.len() as u64 + 256,
                |extra| state.view_cache.graph.grow(&key, &shared, extra),
            );
            body.to_vec()
        } else {
            shared.body.clone()
        };
        (views, body)
    })
    .await?;
    Ok((views.respond_written(body), timing, outcome))
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
    let cached = if s.view_cache.graph.enabled() {
        view_params(&q)
    } else {
        None
    };
    let (mut resp, t, outcome) = match cached {
        Some(params) => respond_cached(&s, &id, &q, params).await?,
        None => {
            let (resp, t) = respond(&s, &id, q, None, Focus::Namespaces).await?;
            (resp, t, "off")
        }
    };
    resp.headers_mut()
        .insert(VIEW_CACHE_HEADER, HeaderValue::from_static(outcome));
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
