//! The scale benchmark's scenario at 50 namespaces (`make bench-scale` runs it at 800): three
//! clusters holding the same namespaces, their pods cached, the pages of the benchmark answered
//! without an error by one client and by several at once, and the namespace graph holding every
//! cluster's apps and the cross-cluster edges the traffic makes. No timing is asserted.

use std::collections::BTreeSet;
use std::time::Duration;

#[allow(dead_code, reason = "shared with the examples; this test uses part of it")]
mod common;
#[allow(dead_code, reason = "shared with the examples; this test uses part of it")]
#[path = "../examples/support/mod.rs"]
mod support;
#[path = "../examples/support/scale.rs"]
mod scale;

use serde_json::Value;

#[tokio::test]
async fn the_scale_scenario_serves_its_pages_over_three_clusters() {
    let n = 50;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scale::Scenario::start(
        &meshglass_testbed::faults::server_bin(),
        dir.path(),
        n,
        3,
    )
    .await;
    assert_eq!(s.cached_pods, (3 * n * 3) as u64);

    // The graph of every namespace: each cluster's three apps in each namespace, and the
    // cross-cluster edges of the traffic (a → the b service of the next cluster).
    let pages = s.pages();
    let url = format!("{}{}", s.server.base, pages[0].stages[0][0]);
    let g: Value = s
        .server
        .http
        .get(&url)
        .send()
        .await
        .expect("graph")
        .json()
        .await
        .expect("graph json");
    let nodes: Vec<&Value> = g["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["data"])
        .collect();
    let apps: BTreeSet<(String, String, String)> = nodes
        .iter()
        .filter(|d| d["nodeType"] == "app" && d["isBox"].is_null())
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (s("cluster"), s("namespace"), s("app"))
        })
        .collect();
    assert_eq!(apps.len(), 3 * n * 3, "every cluster's a, b and c in each namespace");
    let cluster_of = |id: &Value| {
        nodes
            .iter()
            .find(|d| d["id"] == *id)
            .and_then(|d| d["cluster"].as_str())
    };
    let crossing = g["elements"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| cluster_of(&e["data"]["source"]) != cluster_of(&e["data"]["target"]))
        .count();
    let (_, cross) = scale::edge_counts(n);
    assert_eq!(crossing, cross, "one crossing edge per cross-cluster flow");

    // Every page answers, from one client and from four at once.
    let single = s.single(1).await;
    for f in &single {
        assert!(f.errors.is_empty(), "{}: {:?}", f.name, f.errors);
        assert_eq!(f.ms.len(), 1, "{}", f.name);
    }
    let (mixed, errors) = scale::mix(
        &s.server.http,
        &s.server.base,
        &pages,
        4,
        Duration::from_secs(5),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(mixed.iter().map(|(_, v)| v.len()).sum::<usize>() >= 4);
    s.bed.stop();
}
