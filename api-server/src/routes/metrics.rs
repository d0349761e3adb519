//! Metrics routes: Kiali's `/metrics` (a `MetricsMap`) and `/dashboard` (the Istio
//! `MonitoringDashboard`) of a namespace, app, workload or service. The engine writes the range
//! queries (at most four per request, see [`meshglass_engine::metrics`]); they run concurrently,
//! bounded by the Prometheus client. The telemetry read is that of the clusters where the caller
//! may read the namespace (`clusterName`: that cluster only), so a user of east's `bookinfo`
//! never sees west's share of it.

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use meshglass_engine::metrics::{self, MetricsTarget};

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::params::{self, Params};
use crate::state::Shared;
use crate::telemetry::run_range_queries;

/// What the route answers.
#[derive(Clone, Copy)]
enum Shape {
    /// Kiali's `MetricsMap`.
    Metrics,
    /// Kiali's Istio `MonitoringDashboard`.
    Dashboard,
}

async fn respond(
    s: &Shared,
    id: &Identity,
    ns: &str,
    target: MetricsTarget,
    raw: Option<String>,
    shape: Shape,
) -> Result<Response> {
    let started = Instant::now();
    let pairs = params::query_pairs(raw.as_deref());
    let p = Params::from_pairs(&pairs);
    let mut q = params::metrics_query(ns, target, &pairs)?;
    let views = s
        .views(id, p.cluster(), Some([ns.to_string()].into()))
        .await?;
    s.require_namespaces(id, &views, &[ns.to_string()])?;
    let holding: Vec<String> = views
        .clusters
        .iter()
        .filter(|v| v.namespace_names().iter().any(|n| n == ns))
        .map(|v| v.name().to_string())
        .collect();
    if holding.is_empty() {
        return Err(Error::NotFound(format!(
            "namespace {ns} not found in any reachable cluster"
        )));
    }
    // Only the telemetry of clusters where the caller may read the namespace.
    if p.cluster().is_some() || views.restricted() {
        q.clusters = Some(holding);
    }
    if let Some(prom) = &s.prom {
        q.scope = prom.scope().clone();
    }
    let queries = q.range_queries();
    let count = queries.len();
    let t = Instant::now();
    let series = run_range_queries(s, queries).await?;
    let prom_wait = t.elapsed();
    let mut resp = match shape {
        Shape::Metrics => views.with_header(Json(metrics::metrics_json(&series)).into_response()),
        Shape::Dashboard => views.respond(metrics::dashboard_json(&series, q.direction)),
    };
    let timing = format!(
        "prom;dur={:.3};desc=\"{count} queries\", total;dur={:.3}",
        prom_wait.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Ok(h) = HeaderValue::from_str(&timing) {
        resp.headers_mut().insert("server-timing", h);
    }
    Ok(resp)
}

macro_rules! metrics_route {
    ($(#[$doc:meta])* $fn:ident, $target:ident, $shape:ident) => {
        $(#[$doc])*
        pub async fn $fn(
            State(s): State<Shared>,
            Extension(id): Extension<Identity>,
            Path((ns, name)): Path<(String, String)>,
            RawQuery(raw): RawQuery,
        ) -> Result<Response> {
            respond(&s, &id, &ns, MetricsTarget::$target(name), raw, Shape::$shape).await
        }
    };
}

metrics_route!(
    /// `/api/namespaces/{ns}/workloads/{name}/metrics`.
    get_workload_metrics, Workload, Metrics
);
metrics_route!(
    /// `/api/namespaces/{ns}/apps/{name}/metrics`.
    get_app_metrics, App, Metrics
);
metrics_route!(
    /// `/api/namespaces/{ns}/services/{name}/metrics`.
    get_service_metrics, Service, Metrics
);
metrics_route!(
    /// `/api/namespaces/{ns}/workloads/{name}/dashboard`.
    get_workload_dashboard, Workload, Dashboard
);
metrics_route!(
    /// `/api/namespaces/{ns}/apps/{name}/dashboard`.
    get_app_dashboard, App, Dashboard
);
metrics_route!(
    /// `/api/namespaces/{ns}/services/{name}/dashboard`.
    get_service_dashboard, Service, Dashboard
);

/// `/api/namespaces/{ns}/metrics`.
pub async fn get_namespace_metrics(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    respond(&s, &id, &ns, MetricsTarget::Namespace, raw, Shape::Metrics).await
}
