//! `/api/clusters/health`: the engine's health of apps, services or workloads over the clusters
//! the caller sees, from one set of Prometheus queries for every namespace asked for.

use std::collections::{BTreeSet, HashMap};

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use meshglass_engine as engine;

use crate::auth::Identity;
use crate::error::Result;
use crate::params::Params;
use crate::state::{Shared, Views, blocking};
use crate::telemetry::{inventory, relevant_namespaces, run_queries, visible_samples};

/// `/api/clusters/health?namespaces=&type=app|service|workload&rateInterval=&queryTime=`.
pub async fn get_clusters_health(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let kind = p.health_kind()?;
    let rate = p.rate_interval()?;
    let query_time = p.query_time()?;
    let cluster = p.cluster().map(String::from);
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
    s.require_namespaces(&id, &views, &namespaces)?;
    let (views, report) = health_of(&s, views, namespaces, kind, rate, query_time).await?;
    Ok(views.respond(report.to_kiali_json(kind, cluster.as_deref())))
}

/// The engine's health of `kind` in `namespaces` over the views, from one set of Prometheus
/// queries; the views come back with it (the work runs on the blocking pool).
pub async fn health_of(
    s: &Shared,
    views: Views,
    namespaces: Vec<String>,
    kind: engine::HealthKind,
    rate: u64,
    query_time: i64,
) -> Result<(Views, engine::HealthReport)> {
    let scope = s
        .prom
        .as_ref()
        .map(|p| p.scope().clone())
        .unwrap_or_default();
    let qs = engine::health_queries(&namespaces, rate, query_time, &scope);
    let samples = run_queries(s, qs).await?;
    let rules = s.health_rules.clone();
    blocking(move || {
        let samples = visible_samples(&views, samples);
        let inv = inventory(&views, &relevant_namespaces(&namespaces, &samples));
        let req = engine::HealthRequest {
            namespaces,
            clusters: None,
            kinds: vec![kind],
        };
        let report = engine::health(&req, &samples, &inv, &rules);
        (views, report)
    })
    .await
}
