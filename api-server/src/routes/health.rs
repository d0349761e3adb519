//! `/api/clusters/health`: the engine's health of apps, services or workloads over the clusters
//! the caller sees, from one set of Prometheus queries for every namespace asked for. Without a
//! `queryTime`, answered from the health view cache when it is on ([`crate::view_cache`]): the
//! server's answer of the view, or a signed-in caller's computed from its samples.

use std::collections::{BTreeSet, HashMap};

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use meshglass_engine as engine;

use crate::auth::Identity;
use crate::error::Result;
use crate::params::Params;
use crate::state::{Shared, Views, blocking};
use crate::telemetry::{inventory, relevant_namespaces, run_queries, visible_samples};
use crate::view_cache::{VIEW_CACHE_HEADER, ViewParams, key_of, view_params};
use crate::view_entries::SharedHealth;

/// `/api/clusters/health?namespaces=&type=app|service|workload&rateInterval=&queryTime=`;
/// from the health view cache when it is on and no `queryTime` is named.
pub async fn get_clusters_health(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let cached = if s.view_cache.health.enabled() {
        view_params(&q)
    } else {
        None
    };
    let p = Params(q);
    let kind = p.health_kind()?;
    let rate = p.rate_interval()?;
    let query_time = p.query_time()?;
    let cluster = p.cluster().map(String::from);
    let mut views = s.views(&id, cluster.as_deref(), p.namespaces()?).await?;
    let namespaces = asked_namespaces(&views, p.namespaces()?);
    s.require_namespaces(&id, &views, &namespaces)?;
    let Some(params) = cached else {
        let (views, report) = health_of(&s, views, namespaces, kind, rate, query_time).await?;
        return Ok(with_outcome(
            views.respond_written(report.write_kiali_json(kind, cluster.as_deref())),
            "off",
        ));
    };
    let key = key_of(&params);
    // Concurrent misses of the view compute it once; the others wait for it (hits).
    let (shared, computed) = s
        .view_cache
        .health
        .get_or_compute(&key, &params, || async {
            let shared = shared_health(&s, &params).await?;
            let bytes = shared.bytes();
            Ok::<_, crate::error::Error>((shared, bytes, ()))
        })
        .await?;
    let outcome = if computed.is_some() { "miss" } else { "hit" };
    views.add_missing(&shared.missing);
    let rules = s.health_rules.clone();
    let state = s.clone();
    let (views, body) = blocking(move || {
        let body = if views.restricted() {
            // A signed-in caller: the health kept for the same access, or computed for it (only
            // the namespaces it asked for or, asking for none, sees) and kept beside the entry
            // while it fits the cache's memory.
            let body = shared.per_access.answer(
                views.access_key(),
                || {
                    compute(&views, namespaces, kind, shared.samples.clone(), &rules)
                        .write_kiali_json(kind, cluster.as_deref())
                },
                |body| body.len() as u64 + 256,
                |extra| state.view_cache.health.grow(&key, &shared, extra),
            );
            body.to_vec()
        } else {
            shared.body.clone()
        };
        (views, body)
    })
    .await?;
    Ok(with_outcome(views.respond_written(body), outcome))
}

fn with_outcome(mut resp: Response, outcome: &'static str) -> Response {
    resp.headers_mut()
        .insert(VIEW_CACHE_HEADER, HeaderValue::from_static(outcome));
    resp
}

/// The health of `params` as the server sees the mesh (no caller's access applied): what the
/// health view cache keeps and refreshes. Without `namespaces`, every namespace of the clusters.
pub async fn shared_health(s: &Shared, params: &ViewParams) -> Result<SharedHealth> {
    let p = Params(params.clone().into_iter().collect());
    let kind = p.health_kind()?;
    let rate = p.rate_interval()?;
    let query_time = p.query_time()?;
    let cluster = p.cluster().map(String::from);
    let views = s
        .views(&Identity::Anonymous, cluster.as_deref(), p.namespaces()?)
        .await?;
    let namespaces = asked_namespaces(&views, p.namespaces()?);
    let samples = fetch(s, &namespaces, rate, query_time).await?;
    let rules = s.health_rules.clone();
    blocking(move || {
        let report = compute(&views, namespaces, kind, samples.clone(), &rules);
        let mut body = report.write_kiali_json(kind, cluster.as_deref());
        body.shrink_to_fit();
        let per_sample = std::mem::size_of::<engine::Sample>() + 384;
        SharedHealth {
            bytes: (samples.len() * per_sample + body.len()) as u64,
            samples,
            body,
            missing: views.missing,
            per_access: Default::default(),
        }
    })
    .await
}

/// The namespaces a health request is about: those asked for, or every namespace the views see.
fn asked_namespaces(views: &Views, asked: Option<BTreeSet<String>>) -> Vec<String> {
    match asked {
        Some(set) => set.into_iter().collect(),
        None => {
            let all: BTreeSet<String> = views
                .clusters
                .iter()
                .flat_map(|v| v.namespace_names())
                .collect();
            all.into_iter().collect()
        }
    }
}

/// The health queries of `namespaces`, run concurrently.
async fn fetch(
    s: &Shared,
    namespaces: &[String],
    rate: u64,
    query_time: i64,
) -> Result<Vec<engine::Sample>> {
    let scope = s
        .prom
        .as_ref()
        .map(|p| p.scope().clone())
        .unwrap_or_default();
    run_queries(
        s,
        engine::health_queries(namespaces, rate, query_time, &scope),
    )
    .await
}

/// The engine's health of `kind` in `namespaces` from `samples`, over what the views may read.
/// CPU-bound: run on the blocking pool.
fn compute(
    views: &Views,
    namespaces: Vec<String>,
    kind: engine::HealthKind,
    samples: Vec<engine::Sample>,
    rules: &engine::HealthRules,
) -> engine::HealthReport {
    let samples = visible_samples(views, samples);
    let inv = inventory(views, &relevant_namespaces(&namespaces, &samples));
    let req = engine::HealthRequest {
        namespaces,
        clusters: None,
        kinds: vec![kind],
    };
    engine::health(&req, &samples, &inv, rules)
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
    let samples = fetch(s, &namespaces, rate, query_time).await?;
    let rules = s.health_rules.clone();
    blocking(move || {
        let report = compute(&views, namespaces, kind, samples, &rules);
        (views, report)
    })
    .await
}
