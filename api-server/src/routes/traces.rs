//! Traces routes, in Kiali's paths and shapes: the traces (`TracingResponse`) and spans
//! (`[TracingSpan]`) of an app, workload or service, the error-trace count of an app, one trace
//! by id, and the tracing info the UI reads (`/api/tracing`).
//!
//! The store holds every cluster's spans; each span says its cluster (`istio.cluster_id`) and
//! namespace. A signed-in user gets only the spans of (cluster, namespace) pairs they may read, so
//! east's `bookinfo` reader never sees what west's proxies reported. BEYOND Kiali, which adds the
//! home cluster's `istio.cluster_id` to every search: without `clusterName` a search spans every
//! cluster (a trace crosses them); with it, that cluster's tag is added as Kiali adds it.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::params::{self, TraceParams};
use crate::state::{Shared, Views};
use crate::traces::{self, Search, Span, Trace, TracingResponse, TracingSpan};

/// Whose traces a route reads.
#[derive(Clone)]
enum Target {
    App(String),
    Workload(String),
    Service(String),
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::App(n) | Target::Workload(n) | Target::Service(n) => n,
        }
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The app whose proxies report `target`'s spans: the app itself, the workload's app label, or
/// the app the service selects (its name when it selects none).
fn app_of(s: &Shared, views: &Views, ns: &str, target: &Target) -> Result<String> {
    match target {
        Target::App(a) => Ok(a.clone()),
        Target::Workload(w) => views
            .clusters
            .iter()
            .flat_map(|v| v.workloads_in(&|n| n == ns))
            .find(|x| x.name == *w)
            .map(|x| x.app.clone().unwrap_or_else(|| w.clone()))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "workload {ns}/{w} not found in any reachable cluster"
                ))
            }),
        Target::Service(svc) => views
            .clusters
            .iter()
            .flat_map(|v| v.services())
            .find(|x| x.namespace == ns && x.name == *svc)
            .map(|x| {
                s.app_labels
                    .app
                    .iter()
                    .find_map(|k| x.selector.get(k).cloned())
                    .unwrap_or_else(|| svc.clone())
            })
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "service {ns}/{svc} not found in any reachable cluster"
                ))
            }),
    }
}

/// Whether the span belongs to the target (an app's spans are all those of its service name).
fn of_target(span: &Span, ns: &str, target: &Target) -> bool {
    match target {
        Target::App(_) => true,
        Target::Workload(w) => span.of_workload(w, ns),
        Target::Service(svc) => span.of_service(svc, ns),
    }
}

/// Searches the store for `target` and keeps what the caller may see: the spans of readable
/// (cluster, namespace) pairs, in traces where one of those is a span of the target.
async fn search(
    s: &Shared,
    id: &Identity,
    ns: &str,
    target: &Target,
    q: &TraceParams,
) -> Result<(Views, TracingResponse)> {
    params::check_path_names(ns, target.name())?;
    let client = traces::client(&s.tracing)?;
    let views = s
        .views(id, q.cluster.as_deref(), Some([ns.to_string()].into()))
        .await?;
    s.require_namespaces(id, &views, &[ns.to_string()])?;
    let app = app_of(s, &views, ns, target)?;
    let service = client.config.service_name(&app, ns);
    let mut tags = q.tags.clone();
    if let Some(c) = &q.cluster {
        tags.insert(traces::CLUSTER_TAG.to_string(), c.clone());
    }
    let (mut data, errors) = client
        .search(&Search {
            service: service.clone(),
            start_micros: q.start_micros,
            end_micros: q.end_micros,
            limit: q.limit,
            min_duration_micros: q.min_duration_micros,
            tags,
        })
        .await?;
    // What the caller may see first: a trace whose spans of the target are all hidden is none
    // of the caller's traces of the target, even when other spans of it are visible.
    keep_visible(id, &views, &mut data);
    data.retain(|t| {
        t.spans.iter().any(|sp| match target {
            // Of the app: reported by a proxy of the searched service.
            Target::App(_) => t
                .processes
                .get(&sp.process_id)
                .is_some_and(|p| p.service_name == service),
            other => of_target(sp, ns, other),
        })
    });
    Ok((
        views,
        TracingResponse {
            data,
            errors,
            tracing_service_name: service,
        },
    ))
}

/// Drops the spans a signed-in user may not read (their cluster and namespace), and the traces
/// left empty. Anonymous callers see every span.
fn keep_visible(id: &Identity, views: &Views, data: &mut Vec<Trace>) {
    if matches!(id, Identity::Anonymous) && !views.restricted() {
        return;
    }
    traces::retain_spans(data, &|sp: &Span| match (sp.cluster(), sp.namespace()) {
        (Some(c), Some(n)) => views.may_see(c, n),
        _ => false,
    });
}

async fn list(
    s: Shared,
    id: Identity,
    ns: String,
    target: Target,
    raw: Option<String>,
) -> Result<Response> {
    let q = params::trace_params(&params::query_pairs(raw.as_deref()), now_micros())?;
    let (views, body) = search(&s, &id, &ns, &target, &q).await?;
    Ok(views.respond(body))
}

async fn spans(
    s: Shared,
    id: Identity,
    ns: String,
    target: Target,
    raw: Option<String>,
) -> Result<Response> {
    let q = params::trace_params(&params::query_pairs(raw.as_deref()), now_micros())?;
    let (views, body) = search(&s, &id, &ns, &target, &q).await?;
    let out: Vec<TracingSpan> = body
        .data
        .iter()
        .flat_map(|t| {
            let size = t.spans.len();
            t.spans
                .iter()
                .filter(|sp| {
                    sp.namespace() == Some(ns.as_str())
                        && match &target {
                            Target::App(a) => sp.app() == Some(a.as_str()),
                            other => of_target(sp, &ns, other),
                        }
                })
                .map(move |sp| {
                    let mut span = sp.clone();
                    span.process = t.processes.get(&sp.process_id).cloned();
                    TracingSpan {
                        span,
                        trace_size: size,
                    }
                })
        })
        .collect();
    Ok(views.with_header(Json(out).into_response()))
}

macro_rules! target_route {
    ($(#[$doc:meta])* $fn:ident, $inner:ident, $target:ident) => {
        $(#[$doc])*
        pub async fn $fn(
            State(s): State<Shared>,
            Extension(id): Extension<Identity>,
            Path((ns, name)): Path<(String, String)>,
            RawQuery(raw): RawQuery,
        ) -> Result<Response> {
            $inner(s, id, ns, Target::$target(name), raw).await
        }
    };
}

target_route!(
    /// `/api/namespaces/{ns}/apps/{app}/traces`.
    get_app_traces, list, App
);
target_route!(
    /// `/api/namespaces/{ns}/workloads/{workload}/traces`.
    get_workload_traces, list, Workload
);
target_route!(
    /// `/api/namespaces/{ns}/services/{service}/traces`.
    get_service_traces, list, Service
);
target_route!(
    /// `/api/namespaces/{ns}/apps/{app}/spans`.
    get_app_spans, spans, App
);
target_route!(
    /// `/api/namespaces/{ns}/workloads/{workload}/spans`.
    get_workload_spans, spans, Workload
);
target_route!(
    /// `/api/namespaces/{ns}/services/{service}/spans`.
    get_service_spans, spans, Service
);

/// `/api/namespaces/{ns}/apps/{app}/errortraces?duration=<seconds>`: how many traces of the app
/// over the last `duration` hold an error span (Kiali's number, for the overview), counted over
/// the traces the caller may see, among the latest [`traces::MAX_LIMIT`].
pub async fn get_app_error_traces(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, app)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let (duration, cluster) = params::error_traces_params(&params::query_pairs(raw.as_deref()))?;
    let end = now_micros();
    let q = TraceParams {
        start_micros: end.saturating_sub(duration * 1_000_000),
        end_micros: end,
        limit: traces::MAX_LIMIT,
        min_duration_micros: None,
        tags: Default::default(),
        cluster,
    };
    // The error flag is not sent as a search tag: stores disagree on it (Jaeger v2 reads a
    // string `error` tag as a status filter), while every span says it in its tags.
    let (views, body) = search(&s, &id, &ns, &Target::App(app), &q).await?;
    let count = body.data.iter().filter(|t| t.has_error()).count();
    Ok(views.with_header(Json(count).into_response()))
}

/// `/api/traces/{traceId}`: Kiali's `TracingSingleTrace`, the spans the caller may read (404 when
/// the store has no such trace or the caller may read none of it).
pub async fn get_trace(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path(trace_id): Path<String>,
) -> Result<Response> {
    if !traces::valid_trace_id(&trace_id) {
        return Err(Error::bad_param(
            "traceId",
            trace_id.chars().take(64).collect::<String>(),
            "1 to 32 hexadecimal digits",
        ));
    }
    let client = traces::client(&s.tracing)?;
    let not_found = || Error::NotFound(format!("trace {trace_id} not found"));
    let trace = client.trace(&trace_id).await?.ok_or_else(not_found)?;
    // Access is reviewed for the namespaces the trace's spans name, not for every namespace.
    let namespaces: std::collections::BTreeSet<String> = trace
        .spans
        .iter()
        .filter_map(|sp| sp.namespace().map(str::to_string))
        .collect();
    let views = s.views(&id, None, Some(namespaces)).await?;
    let mut data = vec![trace];
    keep_visible(&id, &views, &mut data);
    let trace = data.pop().ok_or_else(not_found)?;
    Ok(views.respond(json!({"data": trace, "errors": []})))
}

/// `/api/tracing`: Kiali's `TracingInfo` (whether traces are there, where a browser opens them).
pub async fn get_tracing_info(State(s): State<Shared>) -> Json<serde_json::Value> {
    let cfg = &s.config.external_services.tracing;
    Json(if cfg.enabled {
        json!({
            "enabled": true,
            "integration": s.tracing.is_ok(),
            "provider": cfg.provider,
            "url": cfg.external_url,
            "namespaceSelector": cfg.namespace_selector,
            "whiteListIstioSystem": ["jaeger-query", "istio-ingressgateway"],
        })
    } else {
        json!({"enabled": false, "integration": false, "url": ""})
    })
}
