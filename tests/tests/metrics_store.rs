//! End to end: the seeds' metrics store. A Prometheus per cluster (each holding what its proxies
//! report), a Thanos sidecar beside each, one Thanos Query over both, and in front an HTTPS gate
//! admitting exactly the server's ServiceAccount token — the server configured with the seed's
//! primary CR (`auth: {type: bearer, use_kiali_token: true}`, `thanos_proxy: {enabled: true}`),
//! only the URL changed. The graph shows the simulator's exact cross-cluster rates; a wrong
//! token, a missing CA and a stopped Thanos Query each give their named 503 while the rest keeps
//! serving.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, PostParams};
use meshglass_crds::{Config, Kiali};
use meshglass_testbed::{
    GateOptions, Prometheus, TestBed, ThanosQuery, TokenGate, poll, wait_until,
};
use serde_json::{Value, json};

mod common;
mod scenario;
use scenario::{TIMEOUT, create};

/// The seed's primary CR (ossm3-multicluster-topologies §6.5 step 1), verbatim but the URL.
fn seed_spec(url: &str) -> Value {
    json!({
        "version": "default",
        "external_services": {"prometheus": {
            "auth": {"type": "bearer", "use_kiali_token": true},
            "thanos_proxy": {"enabled": true},
            "url": url
        }}
    })
}

/// The server's config: the `config.yaml` the operator wrote for the CR, on loopback ports and
/// anonymous for the test's HTTP client (login is not what this test is about).
fn server_config(config_yaml: &str) -> Config {
    let mut c =
        Config::from_yaml(config_yaml).expect("the server reads the operator's config.yaml");
    c.auth.strategy = "anonymous".into();
    c.server.address = "127.0.0.1".into();
    c.server.port = 0;
    c.server.observability.metrics.port = 0;
    c.kubernetes_config.cluster_name = "east".into();
    c
}

struct Server {
    running: meshglass_server::Running,
    http: reqwest::Client,
}

impl Server {
    /// The graph once west's nodes are in it; else what was seen.
    async fn graph_with_west(&self, graph: &str) -> Result<Value, String> {
        let (st, g) = self.get(graph).await;
        if st == 200 && rate(&g, ("west", "reviews-v3"), ("west", "ratings-v1")).is_some() {
            Ok(g)
        } else {
            let text = g.to_string();
            Err(format!("HTTP {st}: {}", &text[..text.len().min(600)]))
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        match self
            .http
            .get(format!("{}{path}", self.running.base_url()))
            .send()
            .await
        {
            Ok(r) => {
                let st = r.status().as_u16();
                (st, r.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }
}

async fn start_server(
    bed: &TestBed,
    config: Config,
    secrets: &std::path::Path,
    paths: meshglass_server::upstream::Paths,
) -> Server {
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.to_path_buf(),
        paths,
        secrets_poll: Duration::from_secs(1),
    })
    .await
    .expect("server starts");
    Server {
        running,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    }
}

fn rate(g: &Value, from: (&str, &str), to: (&str, &str)) -> Option<(String, String)> {
    let id = |(c, w): (&str, &str)| {
        g["elements"]["nodes"].as_array()?.iter().find_map(|n| {
            let d = &n["data"];
            (d["cluster"] == c && d["workload"] == w && d["nodeType"] == "workload")
                .then(|| d["id"].clone())
        })
    };
    let (a, b) = (id(from)?, id(to)?);
    let e = g["elements"]["edges"]
        .as_array()?
        .iter()
        .find(|e| e["data"]["source"] == a && e["data"]["target"] == b)?;
    let r = &e["data"]["traffic"]["rates"];
    Some((
        r["http"].as_str()?.to_string(),
        r["http5xx"].as_str().unwrap_or("").to_string(),
    ))
}

/// Every edge of a graph: (source cluster/workload, target cluster/workload, its rates).
fn edges(g: &Value) -> std::collections::BTreeSet<(String, String, String)> {
    let name = |id: &Value| {
        g["elements"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["data"]["id"] == *id)
            .map(|n| {
                let d = &n["data"];
                format!(
                    "{}/{}/{}/{}",
                    d["cluster"], d["nodeType"], d["workload"], d["service"]
                )
            })
            .unwrap_or_default()
    };
    g["elements"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let d = &e["data"];
            (
                name(&d["source"]),
                name(&d["target"]),
                d["traffic"].to_string(),
            )
        })
        .collect()
}

/// The scenario's exact rates on a graph.
fn assert_bookinfo_rates(g: &Value) {
    assert_eq!(
        rate(g, ("east", "productpage-v1"), ("west", "reviews-v3")),
        Some(("2.00".into(), "0.40".into())),
        "{g}"
    );
    assert_eq!(
        rate(g, ("east", "productpage-v1"), ("east", "reviews-v1")).map(|r| r.0),
        Some("1.00".into()),
        "{g}"
    );
    assert_eq!(
        rate(g, ("west", "reviews-v3"), ("west", "ratings-v1")).map(|r| r.0),
        Some("0.50".into()),
        "{g}"
    );
}

/// A Prometheus per cluster with the cluster as external label (the sidecar requires one).
async fn per_cluster_prometheus(per_cluster: &[(String, String); 2]) -> Vec<Prometheus> {
    let mut out = Vec::new();
    for (cluster, om) in per_cluster {
        let cfg = format!(
            "global:\n  scrape_interval: 15s\n  external_labels:\n    prometheus_cluster: {cluster}\n"
        );
        out.push(
            Prometheus::start(Some(&cfg), Some(om))
                .await
                .expect("per-cluster prometheus"),
        );
    }
    out
}

#[tokio::test]
async fn seed_primary_cr_reads_thanos_behind_the_token_gate() {
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    common::install_kiali_crd(&east).await;
    common::ensure_namespace(&east, "istio-system").await;
    common::spawn_operator(
        move || async move { bed.cluster("east").client().await.expect("operator client") },
        std::future::pending(),
    );
    let sc = scenario::bookinfo_split(bed, &east, &west).await;
    let proms = per_cluster_prometheus(&sc.per_cluster).await;
    let mut thanos = ThanosQuery::start(&proms.iter().collect::<Vec<_>>())
        .await
        .expect("thanos");

    // The issuer's JWKS for anonymous callers (as on a cluster whose issuer is public), which the
    // gate reads to verify ServiceAccount tokens.
    create::<ClusterRoleBinding>(
        &east,
        None,
        json!({"metadata": {"name": "meshglass-test-issuer-discovery"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "system:service-account-issuer-discovery"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                             "name": "system:unauthenticated"}]}),
    )
    .await;
    // The gate admits exactly the ServiceAccount the operator creates for instance `kiali`.
    let server_sa = meshglass_crds::names::service_account("kiali");
    let gate = TokenGate::start(&GateOptions {
        issuer_url: bed.cluster("east").server_url(),
        issuer_ca_pem: bed.cluster("east").ca_pem(),
        subject: &format!("system:serviceaccount:istio-system:{server_sa}"),
        upstream: thanos.url(),
    })
    .await
    .expect("token gate");

    // The seed's CR, verbatim but the URL, through the operator: Successful, and of its fields
    // only `version` is reported ignored.
    let cr: Kiali = serde_json::from_value(json!({
        "apiVersion": "kiali.io/v1alpha1",
        "kind": "Kiali",
        "metadata": {"name": "kiali", "namespace": "istio-system"},
        "spec": seed_spec(gate.url()),
    }))
    .expect("CR");
    Api::<Kiali>::namespaced(east.clone(), "istio-system")
        .create(&PostParams::default(), &cr)
        .await
        .expect("create the seed CR");
    let k = common::wait_successful(&east, "istio-system", "kiali").await;
    assert_eq!(
        k.status.expect("status").ignored_fields,
        vec!["version".to_string()],
        "auth, use_kiali_token and thanos_proxy are acted on"
    );
    let config_yaml = Api::<ConfigMap>::namespaced(east.clone(), "istio-system")
        .get("kiali")
        .await
        .expect("the operator's ConfigMap")
        .data
        .and_then(|d| d.get(meshglass_crds::config::CONFIG_KEY).cloned())
        .expect("config.yaml");

    // The server's ServiceAccount token, as the kubelet projects it (TokenRequest, the issuer's
    // audience), and ConfigMap kiali-cabundle's key as the operator mounts it.
    let files = tempfile::tempdir().expect("tempdir");
    let token_file = files.path().join("token");
    std::fs::write(
        &token_file,
        common::sa_token(&east, "istio-system", &server_sa).await,
    )
    .expect("token file");
    let cabundle = files.path().join("cabundle");
    std::fs::create_dir_all(&cabundle).expect("cabundle dir");
    std::fs::write(
        cabundle.join(meshglass_crds::config::CA_BUNDLE_KEY),
        gate.ca_pem(),
    )
    .expect("ca bundle");
    let paths = meshglass_server::upstream::Paths {
        override_secrets_dir: files.path().join("override"),
        ca_bundle_dir: cabundle.clone(),
        service_account_token: token_file.clone(),
    };
    let config = || server_config(&config_yaml);
    let server = start_server(bed, config(), sc.secrets_dir.path(), paths.clone()).await;
    let ns = sc.ns_east.name();
    assert_eq!(ns, sc.ns);
    let graph = format!(
        "/api/namespaces/graph?namespaces={ns}&graphType=workload&duration=600s&queryTime={}",
        sc.end
    );
    // West's caches fill in the background: wait until both clusters' nodes are there.
    let g = poll("the graph over Thanos", TIMEOUT, || {
        server.graph_with_west(&graph)
    })
    .await
    .expect("graph");
    assert_bookinfo_rates(&g);
    // The same graph as over the one unified Prometheus holding every sample.
    let mut unified_config = config();
    unified_config.external_services.prometheus = meshglass_crds::config::PrometheusConfig {
        url: sc.prom.url().to_string(),
        ..Default::default()
    };
    let plain = start_server(bed, unified_config, sc.secrets_dir.path(), paths.clone()).await;
    let unified = poll("the graph over the unified Prometheus", TIMEOUT, || {
        plain.graph_with_west(&graph)
    })
    .await
    .expect("graph");
    assert_eq!(
        edges(&g),
        edges(&unified),
        "Thanos and the unified Prometheus give one graph"
    );
    plain.running.shutdown();
    let (_, cfg) = server.get("/api/config").await;
    assert_eq!(
        cfg["prometheus"],
        json!({"globalScrapeInterval": 30, "storageTsdbRetention": 604_800}),
        "thanos_proxy: Kiali's default scrape interval and retention"
    );
    let (_, health) = server
        .get(&format!(
            "/api/namespaces/{ns}/health?type=app&rateInterval=60s&queryTime={}",
            sc.end
        ))
        .await;
    assert!(health.is_object(), "health over Thanos: {health}");

    // Another ServiceAccount's token (valid, same issuer): the gate refuses it.
    let other_sa = "not-the-server";
    create::<ServiceAccount>(
        &east,
        Some("istio-system"),
        json!({"metadata": {"name": other_sa}}),
    )
    .await;
    let wrong = files.path().join("wrong-token");
    let wrong_jwt = common::sa_token(&east, "istio-system", other_sa).await;
    std::fs::write(&wrong, &wrong_jwt).expect("wrong token");
    let wrong_token = start_server(
        bed,
        config(),
        sc.secrets_dir.path(),
        meshglass_server::upstream::Paths {
            service_account_token: wrong.clone(),
            ..paths.clone()
        },
    )
    .await;
    // Without the CA bundle: the gate's certificate has an unknown authority.
    let no_ca = start_server(
        bed,
        config(),
        sc.secrets_dir.path(),
        meshglass_server::upstream::Paths {
            ca_bundle_dir: files.path().join("no-such-dir"),
            ..paths.clone()
        },
    )
    .await;
    let good_jwt = std::fs::read_to_string(&token_file).expect("token");
    let thanos_url = thanos.url().to_string();
    let assert_named_503 = |st: u16, b: &Value, reason: &str| {
        assert_eq!((st, b["reason"].as_str()), (503, Some(reason)), "{b}");
        let text = b.to_string();
        for secret in [
            good_jwt.as_str(),
            wrong_jwt.as_str(),
            gate.url(),
            thanos_url.as_str(),
            "eyJ",
        ] {
            assert!(
                !text.contains(secret),
                "the 503 quotes {secret:.12}…: {text}"
            );
        }
        assert!(
            !text.contains("<html") && !text.contains("Forbidden"),
            "no upstream body: {text}"
        );
    };
    for (s, reason) in [
        (&wrong_token, "forbidden"),
        (&no_ca, "tls_unknown_authority"),
    ] {
        wait_until("the server's caches sync", TIMEOUT, || async {
            Ok::<_, String>(s.running.state.registry.ready().then_some(()))
        })
        .await
        .expect("ready");
        let (st, b) = s.get(&graph).await;
        assert_named_503(st, &b, reason);
        // Health is NA (the status names the reason), and the cluster routes keep serving.
        let (_, status) = s.get("/api/status").await;
        assert_eq!(status["status"]["Prometheus reason"], reason, "{status}");
        let (st, _) = s
            .get(&format!("/api/clusters/workloads?namespaces={ns}"))
            .await;
        assert_eq!(st, 200, "inventory routes keep serving");
    }

    // Thanos Query stopped: the gate answers 502, the server names it; back when it is back.
    thanos.stop_query();
    let (st, b) = server.get(&graph).await;
    assert_named_503(st, &b, "server_error");
    let (_, status) = server.get("/api/status").await;
    assert_ne!(status["status"]["Prometheus health"], "Healthy", "{status}");
    let (st, _) = server
        .get(&format!("/api/clusters/workloads?namespaces={ns}"))
        .await;
    assert_eq!(st, 200, "inventory routes keep serving");
    thanos.restart_query().await.expect("thanos query again");
    let g = poll("the graph after Thanos Query is back", TIMEOUT, || {
        server.graph_with_west(&graph)
    })
    .await
    .expect("graph again");
    assert_bookinfo_rates(&g);
    for s in [server, wrong_token, no_ca] {
        s.running.shutdown();
    }
}
