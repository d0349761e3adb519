//! End to end: the server against real east/west/third control planes and a real Prometheus
//! backfilled with Istio metrics at known rates.
//!
//! One bed for the whole scenario (it stops and restarts west's API server): bookinfo split
//! across east and west, Istio config with one broken DestinationRule, west (and later third)
//! reached through a kubeconfig built from a real ServiceAccount token, the server started
//! in-process out-of-cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Client;
mod common;
mod scenario;
use common::token_kubeconfig;
use meshglass_testbed::{TestBed, wait_until};
use scenario::{TIMEOUT, create, drop_kubeconfig, remote_reader_token, token_of};
use serde_json::{Value, json};

struct Api2 {
    http: reqwest::Client,
    base: String,
}

impl Api2 {
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Option<String>, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("server answers");
        let status = resp.status().as_u16();
        let missing = resp
            .headers()
            .get("x-meshglass-missing-clusters")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, missing, body)
    }

    async fn ok(&self, path: &str) -> Value {
        let (st, _, b) = self.get(path, None).await;
        assert_eq!(st, 200, "GET {path}: {b}");
        b
    }
}

fn ns_pairs(b: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = b
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    (
                        n["name"].as_str().unwrap_or("").to_string(),
                        n["cluster"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn server_config(prom: &str, strategy: &str) -> meshglass_server::Config {
    meshglass_server::Config::from_yaml(&format!(
        "auth:\n  strategy: {strategy}\nserver:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: {prom}\n"
    ))
    .expect("config")
}

async fn start_server(
    bed: &TestBed,
    prom: &str,
    strategy: &str,
    dir: &Path,
) -> meshglass_server::Running {
    meshglass_server::start(meshglass_server::Options {
        config: common::with_test_view_caches(server_config(prom, strategy)),
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: dir.to_path_buf(),
        paths: Default::default(),
        secrets_poll: Duration::from_secs(1),
    })
    .await
    .expect("server starts")
}

fn node<'a>(g: &'a Value, cluster: &str, workload: &str) -> &'a Value {
    g["elements"]["nodes"]
        .as_array()
        .and_then(|ns| {
            ns.iter().find(|n| {
                n["data"]["cluster"] == cluster
                    && n["data"]["workload"] == workload
                    && n["data"]["nodeType"] == "workload"
            })
        })
        .unwrap_or_else(|| panic!("no workload node {cluster}/{workload} in {g}"))
}

fn edge<'a>(g: &'a Value, from: &Value, to: &Value) -> &'a Value {
    g["elements"]["edges"]
        .as_array()
        .and_then(|es| {
            es.iter().find(|e| {
                e["data"]["source"] == from["data"]["id"] && e["data"]["target"] == to["data"]["id"]
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no edge {} -> {} in {g}",
                from["data"]["id"], to["data"]["id"]
            )
        })
}

#[tokio::test]
async fn server_serves_the_mesh_across_clusters_and_survives_cluster_outages() {
    let bed = TestBed::start(&["east", "west", "third"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    let third = bed.cluster("third").client().await.expect("third client");

    let scenario::Scenario {
        ns_east,
        ns,
        prom,
        secrets_dir,
        end,
        ..
    } = scenario::bookinfo_split(&bed, &east, &west).await;
    let server = start_server(&bed, prom.url(), "anonymous", secrets_dir.path()).await;
    let api = Api2 {
        http: reqwest::Client::new(),
        base: server.base_url(),
    };
    wait_until("server ready", TIMEOUT, || async {
        let r = reqwest::get(format!("http://{}/readyz", server.api_addr)).await?;
        Ok::<_, reqwest::Error>((r.status() == 200).then_some(()))
    })
    .await
    .expect("readyz");

    // Clusters and namespaces.
    let cfg = api.ok("/api/config").await;
    assert_eq!(cfg["clusters"]["east"]["isKialiHome"], true, "{cfg}");
    assert_eq!(cfg["clusters"]["west"]["accessible"], true, "{cfg}");
    assert_eq!(
        cfg["clusters"]["west"]["secretName"],
        "kiali-remote-cluster-secret-west"
    );
    wait_until(
        "bookinfo workloads of both clusters cached",
        TIMEOUT,
        || async {
            let b = api
                .ok(&format!("/api/clusters/workloads?namespaces={ns}"))
                .await;
            let n = b["workloads"].as_array().map(|a| a.len()).unwrap_or(0);
            Ok::<_, String>((n == 5).then_some(()))
        },
    )
    .await
    .expect("5 workloads");
    let nss = ns_pairs(&api.ok("/api/namespaces").await);
    assert!(
        nss.contains(&(ns.clone(), "east".into())) && nss.contains(&(ns.clone(), "west".into())),
        "{nss:?}"
    );

    // Detail routes aggregate both clusters.
    let reviews = api.ok(&format!("/api/namespaces/{ns}/apps/reviews")).await;
    assert_eq!(reviews["clusters"], json!(["east", "west"]), "{reviews}");

    // Graph: exact backfilled rates and error % on the east -> west edge.
    let g = api
        .ok(&format!(
            "/api/namespaces/graph?namespaces={ns}&graphType=workload&duration=600s&queryTime={end}"
        ))
        .await;
    let pp = node(&g, "east", "productpage-v1");
    let rv1 = node(&g, "east", "reviews-v1");
    let rv3 = node(&g, "west", "reviews-v3");
    let ra = node(&g, "west", "ratings-v1");
    let e = edge(&g, pp, rv3);
    assert_eq!(e["data"]["traffic"]["rates"]["http"], "2.00", "{e}");
    assert_eq!(e["data"]["traffic"]["rates"]["http5xx"], "0.40", "{e}");
    assert_eq!(
        e["data"]["traffic"]["rates"]["httpPercentErr"], "20.0",
        "{e}"
    );
    assert_eq!(
        edge(&g, pp, rv1)["data"]["traffic"]["rates"]["http"],
        "1.00"
    );
    assert_eq!(
        edge(&g, rv3, ra)["data"]["traffic"]["rates"]["http"],
        "0.50"
    );
    let ng = api
        .ok(&format!(
            "/api/namespaces/{ns}/workloads/reviews-v3/graph?duration=600s&queryTime={end}"
        ))
        .await;
    assert_eq!(
        ng["elements"]["edges"].as_array().map(|a| a.len()),
        Some(2),
        "{ng}"
    );

    // Health: 20 % 5xx is Failure, no available replica is Failure, quiet is Healthy.
    let h = api
        .ok(&format!(
            "/api/clusters/health?namespaces={ns}&type=workload&rateInterval=10m&queryTime={end}"
        ))
        .await;
    let wh = &h["namespaceWorkloadHealth"][&ns];
    assert_eq!(wh["reviews-v3"]["status"]["status"], "Failure", "{h}");
    assert_eq!(wh["details-v1"]["status"]["status"], "Failure", "{h}");
    assert_eq!(wh["reviews-v1"]["status"]["status"], "Healthy", "{h}");
    // The same rule in the graph: reviews-v3's node is red, by the same error ratio.
    let wg = api
        .ok(&format!(
            "/api/namespaces/graph?namespaces={ns}&graphType=workload&duration=600s&queryTime={end}"
        ))
        .await;
    let node = wg["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["data"])
        .find(|d| d["workload"] == "reviews-v3" && d["cluster"] == "west")
        .unwrap_or_else(|| panic!("no reviews-v3 node: {wg}"));
    assert_eq!(node["healthData"]["status"]["status"], "Failure", "{node}");
    let west_health = api
        .ok(&format!(
            "/api/clusters/health?namespaces={ns}&type=workload&clusterName=west&rateInterval=600s&queryTime={end}"
        ))
        .await;
    assert_eq!(
        node["healthData"], west_health["namespaceWorkloadHealth"][&ns]["reviews-v3"],
        "graph and list by one rule"
    );
    assert_eq!(node["healthData"]["status"]["errorRatio"], 20.0, "{node}");

    // Validations: the broken DestinationRule; the v3 subset found only in west is a note.
    let v = api
        .ok(&format!("/api/istio/config?namespaces={ns}&validate=true"))
        .await;
    let drs = &v["validations"]["networking.istio.io/v1, Kind=DestinationRule"];
    let broken = &drs[format!("broken.{ns}")];
    assert_eq!(broken["valid"], false, "{v}");
    assert_eq!(broken["checks"][0]["code"], "KIA0202", "{v}");
    assert_eq!(
        drs[format!("ratings.{ns}")]["checks"][0]["code"],
        "MGL0001",
        "{v}"
    );
    let ap =
        &v["validations"]["security.istio.io/v1, Kind=AuthorizationPolicy"][format!("nobody.{ns}")];
    assert_eq!(ap["checks"][0]["code"], "KIA0004", "{v}");
    let sum = api
        .ok(&format!("/api/istio/validations?namespaces={ns}"))
        .await;
    assert_eq!(sum["east"][&ns]["errors"], 1, "{sum}");

    // A token user bound to one namespace sees only that namespace, in every route.
    token_user_sees_one_namespace(&bed, &east, &west, &ns, prom.url(), secrets_dir.path(), end)
        .await;

    // West's API server down: east still answers, west is named; back up: west returns.
    bed.cluster("west").stop_apiserver().expect("stop west");
    wait_until("west reported unreachable", TIMEOUT, || async {
        let c = api.ok("/api/config").await;
        Ok::<_, String>((c["clusters"]["west"]["accessible"] == false).then_some(c))
    })
    .await
    .expect("west unreachable");
    let (st, missing, body) = api.get("/api/namespaces", None).await;
    assert_eq!(st, 200);
    assert_eq!(missing.as_deref(), Some("west"));
    let nss = ns_pairs(&body);
    assert!(
        nss.contains(&(ns.clone(), "east".into())) && !nss.iter().any(|(_, c)| c == "west"),
        "{nss:?}"
    );
    let wl = api
        .ok(&format!("/api/clusters/workloads?namespaces={ns}"))
        .await;
    assert_eq!(wl["missingClusters"][0]["name"], "west");
    assert_eq!(wl["workloads"].as_array().map(|a| a.len()), Some(3));
    assert!(api.ok("/api/config").await["clusters"]["west"]["error"].is_string());
    bed.cluster("west")
        .start_apiserver()
        .await
        .expect("start west");
    wait_until("west back without restart", TIMEOUT, || async {
        let (_, missing, body) = api.get("/api/namespaces", None).await;
        Ok::<_, String>(
            (missing.is_none() && ns_pairs(&body).contains(&(ns.clone(), "west".into())))
                .then_some(()),
        )
    })
    .await
    .expect("west back");

    // A third cluster's kubeconfig dropped in: it appears without a restart; removed: it goes.
    let third_token = remote_reader_token(&third).await;
    drop_kubeconfig(
        secrets_dir.path(),
        "third",
        &token_kubeconfig(bed.cluster("third"), &third_token),
    );
    wait_until(
        "third cluster listed and its namespaces served",
        TIMEOUT,
        || async {
            let c = api.ok("/api/config").await;
            let nss = ns_pairs(&api.ok("/api/namespaces").await);
            Ok::<_, String>(
                (c["clusters"]["third"]["accessible"] == true
                    && nss.contains(&("kube-system".into(), "third".into())))
                .then_some(()),
            )
        },
    )
    .await
    .expect("third appears");
    std::fs::remove_dir_all(secrets_dir.path().join("kiali-remote-cluster-secret-third"))
        .expect("remove third");
    wait_until("third cluster dropped", TIMEOUT, || async {
        let c = api.ok("/api/config").await;
        Ok::<_, String>(c["clusters"].get("third").is_none().then_some(()))
    })
    .await
    .expect("third dropped");

    let metrics = reqwest::get(format!(
        "http://{}/metrics",
        server.metrics_addr.expect("metrics port")
    ))
    .await
    .expect("metrics")
    .text()
    .await
    .expect("metrics text");
    assert!(
        metrics.contains("meshglass_server_cluster_accessible{cluster=\"west\"} 1"),
        "{metrics}"
    );
    server.shutdown();
    drop(prom);
    ns_east.delete().await.ok();
}

async fn token_user_sees_one_namespace(
    bed: &TestBed,
    east: &Client,
    west: &Client,
    ns: &str,
    prom: &str,
    dir: &Path,
    end: i64,
) {
    create::<ServiceAccount>(east, Some(ns), json!({"metadata": {"name": "viewer"}})).await;
    let token = token_of(east, ns, "viewer").await;
    let user = format!("system:serviceaccount:{ns}:viewer");
    for client in [east, west] {
        create::<RoleBinding>(
            client,
            Some(ns),
            json!({"metadata": {"name": "viewer"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}),
        )
        .await;
    }
    let server = start_server(bed, prom, "token", dir).await;
    let api = Api2 {
        http: reqwest::Client::new(),
        base: server.base_url(),
    };
    let t = Some(token.as_str());
    let (st, _, b) = api.get("/api/namespaces", None).await;
    assert_eq!(st, 401, "{b}");
    let (st, _, b) = api.get("/api/namespaces", Some("not-a-token")).await;
    assert_eq!(st, 401, "{b}");
    let want = vec![
        (ns.to_string(), "east".to_string()),
        (ns.to_string(), "west".to_string()),
    ];
    wait_until(
        "token user sees its namespace in both clusters",
        TIMEOUT,
        || async {
            let (st, missing, b) = api.get("/api/namespaces", t).await;
            Ok::<_, String>((st == 200 && missing.is_none() && ns_pairs(&b) == want).then_some(()))
        },
    )
    .await
    .expect("one namespace per cluster");
    let (st, _, wl) = api.get("/api/clusters/workloads", t).await;
    assert_eq!(st, 200);
    let wl = wl["workloads"].as_array().cloned().unwrap_or_default();
    assert_eq!(wl.len(), 5);
    assert!(wl.iter().all(|w| w["namespace"] == ns), "{wl:?}");
    let (_, _, sum) = api.get("/api/istio/validations", t).await;
    let keys: Vec<&String> = sum["east"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec![ns], "{sum}");
    for path in [
        "/api/namespaces/kube-system/workloads/anything".to_string(),
        "/api/clusters/health?namespaces=kube-system".to_string(),
        format!("/api/namespaces/graph?namespaces=kube-system&queryTime={end}"),
    ] {
        let (st, _, b) = api.get(&path, t).await;
        assert_eq!(st, 403, "GET {path}: {b}");
        assert!(b["error"].as_str().unwrap_or("").contains("viewer"), "{b}");
    }
    let (st, _, g) = api
        .get(
            &format!("/api/namespaces/graph?namespaces={ns}&duration=600s&queryTime={end}"),
            t,
        )
        .await;
    assert_eq!(st, 200, "{g}");
    let counts: BTreeMap<&str, usize> = [(
        "nodes",
        g["elements"]["nodes"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0),
    )]
    .into();
    assert!(counts["nodes"] >= 4, "{g}");
    server.shutdown();
}
