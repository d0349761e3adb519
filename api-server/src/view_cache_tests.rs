//! The view caches through `Router::oneshot`: a cached answer is the answer built for the caller
//! (anonymous, a user who reads one cluster's namespace, a user who reads both), whether it was a
//! miss or a hit; one entry serves every caller; a replay (`queryTime`) is never cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use meshglass_crds::kiali_internal::ViewCacheSettings;
use serde_json::Value;

use crate::api_tests::call;
use crate::auth::AuthStrategy;
use crate::state::AppState;
use crate::trust_tests::east_only_with;
use crate::view_cache::{VIEW_CACHE_HEADER, ViewCaches};

fn on() -> ViewCacheSettings {
    ViewCacheSettings {
        enabled: true,
        refresh_interval: Duration::from_secs(60),
        inactivity_timeout: Duration::from_secs(600),
        max_bytes: 64 << 20,
    }
}

/// The same mesh twice: without caches, and with both caches on.
async fn states(strategy: AuthStrategy) -> (Arc<AppState>, Arc<AppState>) {
    let plain = east_only_with(strategy, |_| ViewCaches::default()).await;
    let cached = east_only_with(strategy, |m| {
        ViewCaches::configured(on(), on(), &m.view_cache)
    })
    .await;
    (plain, cached)
}

/// The answer without its `timestamp` (the window ends at each call's own "now").
fn untimed(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("timestamp");
    }
    v
}

async fn get(
    s: &Arc<AppState>,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, HashMap<String, String>, Value) {
    let (st, h, b) = call(s, uri, token).await;
    (st, h, untimed(b))
}

const GRAPHS: &[&str] = &[
    "graphType=workload",
    "graphType=workload&injectServiceNodes=true",
    "graphType=versionedApp&boxBy=cluster,namespace,app&injectServiceNodes=true",
    "graphType=app&boxBy=namespace",
    "graphType=service",
];

#[tokio::test]
async fn a_cached_graph_is_the_graph_built_for_each_caller() {
    for (strategy, tokens) in [
        (AuthStrategy::Anonymous, vec![None]),
        (AuthStrategy::Token, vec![Some("t-alice"), Some("t-bob")]),
    ] {
        let (plain, cached) = states(strategy).await;
        for q in GRAPHS {
            let uri = format!("/kiali/api/namespaces/graph?namespaces=bookinfo&{q}");
            for t in &tokens {
                let (st, h, want) = get(&plain, &uri, *t).await;
                assert_eq!(st, StatusCode::OK, "{q}: {want}");
                assert_eq!(h[VIEW_CACHE_HEADER], "off");
                for _ in 0..2 {
                    let (st, h, got) = get(&cached, &uri, *t).await;
                    assert_eq!(st, StatusCode::OK, "{q}: {got}");
                    assert_eq!(
                        got, want,
                        "{strategy:?} {t:?} {q} ({})",
                        h[VIEW_CACHE_HEADER]
                    );
                }
            }
        }
        // One entry a view, whoever asked: the first caller's miss, then hits.
        let stats = cached.view_cache.graph.stats();
        assert_eq!(stats.entries, GRAPHS.len(), "{strategy:?}");
        let hits = cached
            .metrics
            .view_cache
            .hits
            .get_or_create(&crate::view_cache::ViewLabels { view: "graph" })
            .get();
        assert_eq!(
            hits as usize,
            GRAPHS.len() * (2 * tokens.len() - 1),
            "{strategy:?}"
        );
    }
}

#[tokio::test]
async fn a_hit_sends_no_query_and_says_so() {
    let (_, s) = states(AuthStrategy::Anonymous).await;
    let uri = "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=workload";
    let (_, h, _) = get(&s, uri, None).await;
    assert_eq!(h[VIEW_CACHE_HEADER], "miss");
    let (_, h, _) = get(&s, uri, None).await;
    assert_eq!(h[VIEW_CACHE_HEADER], "hit");
    assert!(
        h["server-timing"].starts_with("prom;dur=0.000;desc=\"0 queries\""),
        "{}",
        h["server-timing"]
    );
    // The namespaces in another order are the same view.
    let (_, h, _) = get(
        &s,
        "/kiali/api/namespaces/graph?graphType=workload&namespaces=bookinfo,",
        None,
    )
    .await;
    assert_eq!(h[VIEW_CACHE_HEADER], "hit");
    // A replay of a past window is built, not cached.
    let (st, h, _) = get(&s, &format!("{uri}&queryTime=1700000000"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[VIEW_CACHE_HEADER], "off");
    assert_eq!(s.view_cache.graph.stats().entries, 1);
}

#[tokio::test]
async fn a_caller_is_refused_before_anything_is_built_for_it() {
    let (_, s) = states(AuthStrategy::Token).await;
    let (st, _, _) = get(
        &s,
        "/kiali/api/namespaces/graph?namespaces=private&graphType=workload",
        Some("t-alice"),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = get(&s, "/kiali/api/namespaces/graph?namespaces=bookinfo", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(s.view_cache.graph.stats().entries, 0);
}

#[tokio::test]
async fn cached_health_is_the_health_computed_for_each_caller() {
    for (strategy, tokens) in [
        (AuthStrategy::Anonymous, vec![None]),
        (AuthStrategy::Token, vec![Some("t-alice"), Some("t-bob")]),
    ] {
        let (plain, cached) = states(strategy).await;
        for q in [
            "namespaces=bookinfo&type=app",
            "namespaces=bookinfo&type=workload&rateInterval=10m",
            "namespaces=bookinfo&type=service&clusterName=west",
            "type=app",
        ] {
            let uri = format!("/kiali/api/clusters/health?{q}");
            for t in &tokens {
                // alice may read nothing in west: a 403 from both.
                let (st, _, want) = get(&plain, &uri, *t).await;
                for _ in 0..2 {
                    let (got_st, h, got) = get(&cached, &uri, *t).await;
                    assert_eq!(
                        (got_st, &got),
                        (st, &want),
                        "{strategy:?} {t:?} {q} ({:?})",
                        h.get(VIEW_CACHE_HEADER)
                    );
                }
            }
        }
        assert_eq!(cached.view_cache.health.stats().entries, 4);
    }
}

#[tokio::test]
async fn concurrent_identical_misses_build_the_view_once() {
    let (_, s) = states(AuthStrategy::Token).await;
    let uri = "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=workload";
    let answers = futures::future::join_all(
        ["t-alice", "t-bob", "t-alice", "t-bob"]
            .into_iter()
            .map(|t| get(&s, uri, Some(t))),
    )
    .await;
    let count = |f: &prometheus_client::metrics::family::Family<
        crate::view_cache::ViewLabels,
        prometheus_client::metrics::counter::Counter,
    >| {
        f.get_or_create(&crate::view_cache::ViewLabels { view: "graph" })
            .get()
    };
    let m = &s.metrics.view_cache;
    assert_eq!((count(&m.misses), count(&m.hits)), (1, 3));
    let mut outcomes: Vec<&str> = answers
        .iter()
        .map(|(st, h, _)| {
            assert_eq!(*st, StatusCode::OK);
            h[VIEW_CACHE_HEADER].as_str()
        })
        .collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["hit", "hit", "hit", "miss"]);
    // Each caller still gets its own graph: alice's and bob's differ (west is hidden from alice).
    assert_eq!(answers[0].2, answers[2].2);
    assert_eq!(answers[1].2, answers[3].2);
    assert_ne!(answers[0].2, answers[1].2);
}
