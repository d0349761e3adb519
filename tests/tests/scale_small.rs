//! The scale benchmark's scenario at 50 namespaces (`make bench-scale` runs it at 800): three
//! clusters holding the same namespaces, their pods cached, the pages of the benchmark answered
//! without an error by one client and by several at once; the applications list and the overview's
//! health holding every cluster's apps, and the namespace graph every app and exactly the
//! cross-cluster edges the traffic makes. No timing is asserted.

use std::collections::BTreeSet;
use std::time::Duration;

mod common;
#[allow(
    dead_code,
    reason = "shared with the benchmark; this test uses part of it"
)]
#[path = "../examples/support/scale.rs"]
mod scale;
#[allow(
    dead_code,
    reason = "shared with the examples; this test uses part of it"
)]
#[path = "../examples/support/mod.rs"]
mod support;

use meshglass_testbed::graph_json::node_data;
use meshglass_testbed::wait_until;
use serde_json::Value;

type Triples = BTreeSet<(String, String, String)>;

async fn get(s: &scale::Scenario, path: &str) -> Value {
    let r = s
        .server
        .http
        .get(format!("{}{path}", s.server.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_scale_scenario_serves_its_pages_over_three_clusters() {
    let (n, pods) = (50, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scale::Scenario::start(
        &meshglass_testbed::faults::server_bin(),
        dir.path(),
        n,
        pods,
    )
    .await;
    assert_eq!(s.cached_pods, (scale::CLUSTERS.len() * n * pods) as u64);
    // Every cluster's a, b and c in each namespace.
    let want: Triples = scale::CLUSTERS
        .iter()
        .flat_map(|c| {
            s.namespaces.iter().flat_map(move |ns| {
                ["a", "b", "c"].map(|app| (c.to_string(), ns.clone(), app.to_string()))
            })
        })
        .collect();

    let listed: Triples = get(&s, "/api/clusters/apps").await["applications"]
        .as_array()
        .expect("applications")
        .iter()
        .filter(|a| text(a, "namespace").starts_with("scale-"))
        .map(|a| (text(a, "cluster"), text(a, "namespace"), text(a, "name")))
        .collect();
    assert_eq!(listed, want, "the applications list");

    // The workloads list: each app's Deployment with its share of the pods (which the bed's
    // controllers created, owned by the Deployment's ReplicaSet), in the mesh; no pod of its own.
    let mut pods_listed = 0;
    let workloads: Triples = get(&s, "/api/clusters/workloads").await["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .filter(|w| text(w, "namespace").starts_with("scale-"))
        .map(|w| {
            assert_eq!(w["gvk"]["Kind"], "Deployment", "{w}");
            assert_eq!(w["istioSidecar"], true, "{w}");
            pods_listed += w["podCount"].as_u64().expect("podCount");
            (text(w, "cluster"), text(w, "namespace"), text(w, "name"))
        })
        .collect();
    let deployments: Triples = want
        .iter()
        .map(|(c, ns, app)| (c.clone(), ns.clone(), format!("{app}-v1")))
        .collect();
    assert_eq!(workloads, deployments, "the workloads list");
    assert_eq!(pods_listed, s.cached_pods, "every pod in its Deployment");

    // A change in one namespace is listed at once, and only that namespace's items change: the
    // lists keep each namespace's items written until a watch stamps one of its objects changed.
    lists_follow_a_change_in_one_namespace(&s).await;

    // The overview's app health, per cluster as the UI asks for it.
    let mut healthy = Triples::new();
    for c in scale::CLUSTERS {
        let h = get(
            &s,
            &format!("/api/clusters/health?type=app&clusterName={c}&rateInterval=10m"),
        )
        .await;
        for (ns, apps) in h["namespaceAppHealth"].as_object().expect("app health") {
            for app in apps.as_object().into_iter().flat_map(|a| a.keys()) {
                if ns.starts_with("scale-") {
                    healthy.insert((c.to_string(), ns.clone(), app.clone()));
                }
            }
        }
    }
    assert_eq!(healthy, want, "the overview's app health");

    // The graph of every namespace: each cluster's apps, and one crossing edge per cross-cluster
    // flow (a → b of the next cluster), between the namespace's nodes of those two clusters.
    let pages = s.pages();
    let g = get(&s, &pages[0].stages[0][0]).await;
    let nodes = node_data(&g);
    let apps: Triples = nodes
        .iter()
        .filter(|d| d["nodeType"] == "app" && d["isBox"].is_null())
        .map(|d| (text(d, "cluster"), text(d, "namespace"), text(d, "app")))
        .collect();
    assert_eq!(apps, want, "the graph's app nodes");
    let node = |id: &Value| nodes.iter().find(|d| d["id"] == *id);
    let crossing: Vec<(String, String, String)> = g["elements"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| {
            let (from, to) = (node(&e["data"]["source"])?, node(&e["data"]["target"])?);
            (from["cluster"] != to["cluster"]).then(|| {
                (
                    text(from, "namespace"),
                    text(from, "cluster"),
                    text(to, "cluster"),
                )
            })
        })
        .collect();
    let cross = scale::cross_cluster_flows(&s.namespaces);
    assert_eq!(
        crossing.len(),
        cross.len(),
        "one crossing edge per flow: {crossing:?}"
    );
    assert_eq!(crossing.into_iter().collect::<Triples>(), cross);

    // Every page answers, from one client and from four at once.
    let single = s.single(1).await;
    for f in &single {
        assert!(f.errors.is_empty(), "{}: {:?}", f.name, f.errors);
        assert_eq!(f.ms.len(), 1, "{}", f.name);
        assert!(f.bytes > 0, "{}", f.name);
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

/// The items of a list answer but (`cluster`, `namespace`, `name`), and whether it was there;
/// without their `resourceVersion` (a controller may still write a Deployment's status).
fn without(list: &Value, key: &str, at: (&str, &str, &str)) -> (Vec<Value>, bool) {
    let mut found = false;
    let rest = items(list, key)
        .into_iter()
        .filter(|i| {
            let here = (text(i, "cluster"), text(i, "namespace"), text(i, "name"));
            let is = here == (at.0.into(), at.1.into(), at.2.into());
            found |= is;
            !is
        })
        .collect();
    (rest, found)
}

fn items(list: &Value, key: &str) -> Vec<Value> {
    let mut v = list[key].as_array().expect("items").clone();
    for i in &mut v {
        if let Some(o) = i.as_object_mut() {
            o.remove("resourceVersion");
        }
    }
    v
}

async fn lists_follow_a_change_in_one_namespace(s: &scale::Scenario) {
    let east = s.bed.cluster("east").client().await.expect("east client");
    let ns = s.namespaces[7].as_str();
    let lists = [
        ("/api/clusters/apps", "applications", "d"),
        ("/api/clusters/workloads", "workloads", "d-v1"),
        ("/api/clusters/services", "services", "d"),
    ];
    let mut before = Vec::new();
    for (path, key, _) in lists {
        before.push(items(&get(s, path).await, key));
    }
    // App d: a Deployment and its Service, created in one namespace of east.
    support::app_objects(&east, ns, "d", 0, None).await;
    for ((path, key, name), was) in lists.iter().zip(&before) {
        let rest = wait_until(
            &format!("{path} lists east's new {name}"),
            Duration::from_secs(60),
            || async {
                let (rest, found) = without(&get(s, path).await, key, ("east", ns, name));
                Ok::<_, String>(found.then_some(rest))
            },
        )
        .await
        .expect("listed");
        assert_eq!(rest, *was, "{path}: nothing else changed");
    }
    // Health reads the same kept workloads (the graph and validations too): d is there.
    let health =
        format!("/api/clusters/health?type=app&clusterName=east&namespaces={ns}&rateInterval=10m");
    wait_until(
        "east's app health holds d",
        Duration::from_secs(60),
        || async {
            let h = get(s, &health).await;
            Ok::<_, String>(h["namespaceAppHealth"][ns]["d"].is_object().then_some(()))
        },
    )
    .await
    .expect("app health of d");
    // Deleted again: gone from every list, which is what it was.
    let dp = kube::api::DeleteParams::default();
    kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(east.clone(), ns)
        .delete("d-v1", &dp)
        .await
        .expect("delete deployment");
    kube::Api::<k8s_openapi::api::core::v1::Service>::namespaced(east.clone(), ns)
        .delete("d", &dp)
        .await
        .expect("delete service");
    for ((path, key, _), was) in lists.iter().zip(&before) {
        wait_until(
            &format!("{path} as before"),
            Duration::from_secs(60),
            || async {
                let now = items(&get(s, path).await, key);
                Ok::<_, String>((now == *was).then_some(()))
            },
        )
        .await
        .expect("as before");
    }
}
