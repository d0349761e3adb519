//! End to end: the seeds' metrics store. A Prometheus per cluster (each holding what its proxies
//! report), a Thanos sidecar beside each, one Thanos Query over both, and in front an HTTPS gate
//! admitting exactly the server's ServiceAccount token — the server configured with the seed's
//! primary CR (`auth: {type: bearer, use_kiali_token: true}`, `thanos_proxy: {enabled: true}`),
//! only the URL changed. The graph shows the simulator's exact cross-cluster rates; a wrong
//! token, a missing CA and a stopped Thanos Query each give their named 503 while the rest keeps
//! serving. And seed 002's other path, west's Prometheus `remote_write`-ing into east's, gives the
//! graph that federation gives.

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
    // The graphs are polled until the stores hold every series: the test view caches, refreshed
    // every second, so a poll soon sees what the store holds.
    common::with_test_view_caches(c)
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
        ..Default::default()
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

/// The scenario's traffic as live sidecars of `cluster`: `/metrics` with each series that
/// cluster's proxies report, counters growing at exactly their rate since `origin`.
async fn live_sidecar(
    ns: &str,
    cluster: &'static str,
    origin: f64,
) -> (String, tokio::task::JoinHandle<()>) {
    let series: Vec<scenario::RequestSeries> = scenario::request_series(ns)
        .into_iter()
        .filter(|s| s.reported_in == cluster)
        .collect();
    let series = std::sync::Arc::new(series);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let series = series.clone();
            async move {
                let elapsed = unix_now() - origin;
                let mut out = String::from("# TYPE istio_requests_total counter\n");
                for s in series.iter() {
                    out.push_str(&format!(
                        "istio_requests_total{{{}}} {}\n",
                        s.labels,
                        s.rps * elapsed
                    ));
                }
                out
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("sidecar port");
    let addr = listener.local_addr().expect("sidecar address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr.to_string(), task)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One of `examples/prometheus/`.
fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/prometheus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A server reading the plain Prometheus at `url` (the operator's config for a CR naming only it).
async fn plain_server(bed: &TestBed, secrets: &std::path::Path, url: &str) -> Server {
    let spec: meshglass_crds::KialiSpec =
        serde_json::from_value(json!({"external_services": {"prometheus": {"url": url}}}))
            .expect("spec");
    let yaml = Config::from_spec(&spec, "istio-system")
        .and_then(|c| c.to_yaml())
        .expect("config");
    start_server(bed, server_config(&yaml), secrets, Default::default()).await
}

/// Every edge's rates by (source, target).
fn edge_rates(g: &Value) -> std::collections::BTreeMap<(String, String), Vec<(String, f64)>> {
    edges(g)
        .into_iter()
        .map(|(s, t, traffic)| {
            let traffic: Value = serde_json::from_str(&traffic).unwrap_or_default();
            let rates = traffic["rates"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.parse().ok()?)))
                .collect();
            ((s, t), rates)
        })
        .collect()
}

/// How far two samplings of the same live counters may differ: the stores scrape at other
/// moments (federation re-scrapes west's latest samples every 5 s and may miss one), and
/// `rate()` then extrapolates to the window's edges by up to one scrape interval less — at most
/// about 8 % of a 90 s window.
const LIVE_TOLERANCE: f64 = 0.10;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= LIVE_TOLERANCE * a.abs().max(b.abs()) + 0.011
}

/// Seed 002's other path: west's real Prometheus `remote_write`s its Istio series into east's
/// (Prometheus' own receiver, `--web.enable-remote-write-receiver`), configured by
/// `examples/prometheus/remote-write-west.yml` with east's `east.yml` minus its federation job.
/// Beside it, the federation set-up of `east.yml` + `west.yml` over the same live sidecars. The
/// server's graph read from either east Prometheus has the same edges, and rates that agree with
/// each other and with the simulator's within [`LIVE_TOLERANCE`], over one fixed window.
#[tokio::test]
async fn remote_write_gives_the_federation_graph() {
    const WINDOW: i64 = 90;
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    let sc = scenario::bookinfo_split(bed, &east, &west).await;
    let origin = unix_now();
    let (east_sidecar, east_task) = live_sidecar(&sc.ns, "east", origin).await;
    let (west_sidecar, west_task) = live_sidecar(&sc.ns, "west", origin).await;
    let local = |text: String| {
        text.replace("127.0.0.1:15091", &east_sidecar)
            .replace("127.0.0.1:15092", &west_sidecar)
    };

    // Remote write: east's Prometheus scrapes its own sidecars only; west pushes into it.
    let mut east_rw: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&local(example("east.yml"))).expect("east.yml");
    let jobs = east_rw["scrape_configs"]
        .as_sequence_mut()
        .expect("scrape_configs");
    jobs.retain(|j| j["job_name"] != "federate-west");
    assert_eq!(jobs.len(), 1, "east.yml without its federation job");
    let east_rw = Prometheus::start_with_config(&serde_yaml_ng::to_string(&east_rw).expect("yaml"))
        .await
        .expect("east's Prometheus (remote-write receiver)");
    let rw_west =
        local(example("remote-write-west.yml")).replace("http://127.0.0.1:9091", east_rw.url());
    assert!(
        rw_west.contains(&format!("{}/api/v1/write", east_rw.url())),
        "{rw_west}"
    );
    let rw_west = Prometheus::start_with_config(&rw_west)
        .await
        .expect("west's Prometheus (remote_write)");

    // Federation: west's Prometheus scrapes its sidecars, east's federates it.
    let fed_west = Prometheus::start_with_config(&local(example("west.yml")))
        .await
        .expect("west's Prometheus");
    let fed_east = Prometheus::start_with_config(&local(example("east.yml")).replace(
        "127.0.0.1:9092",
        fed_west.url().trim_start_matches("http://"),
    ))
    .await
    .expect("east's Prometheus (federating west)");

    let rw = plain_server(bed, sc.secrets_dir.path(), east_rw.url()).await;
    let fed = plain_server(bed, sc.secrets_dir.path(), fed_east.url()).await;
    let ns = &sc.ns;
    let live = format!("/api/namespaces/graph?namespaces={ns}&graphType=workload&duration=60s");
    for s in [&rw, &fed] {
        poll("west's edges in the live graph", TIMEOUT, || {
            s.graph_with_west(&live)
        })
        .await
        .expect("live graph");
    }
    // One fixed window, wholly after both stores hold every series: once every series has a
    // sample at or after its end, the graph of that window no longer changes.
    let end = unix_now().ceil() as i64 + WINDOW;
    let http = reqwest::Client::new();
    for (store, p) in [("remote write", &east_rw), ("federation", &fed_east)] {
        wait_until(
            &format!("every series of east's Prometheus ({store}) sampled at {end}"),
            Duration::from_secs(WINDOW as u64) + TIMEOUT,
            || async {
                let url = reqwest::Url::parse_with_params(
                    &format!("{}/api/v1/query", p.url()),
                    [(
                        "query",
                        "min(timestamp(istio_requests_total)) and count(istio_requests_total) == 8",
                    )],
                )
                .expect("query URL");
                let v: Value = http.get(url).send().await?.json().await?;
                let t = v["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|t| t.parse::<f64>().ok());
                Ok::<_, reqwest::Error>(t.filter(|t| *t >= end as f64).map(|_| ()))
            },
        )
        .await
        .expect("samples after the window");
    }
    let graph = format!(
        "/api/namespaces/graph?namespaces={ns}&graphType=workload&duration={WINDOW}s&queryTime={end}"
    );
    let (st, g_rw) = rw.get(&graph).await;
    assert_eq!(st, 200, "{g_rw}");
    let (st, g_fed) = fed.get(&graph).await;
    assert_eq!(st, 200, "{g_fed}");
    let (r_rw, r_fed) = (edge_rates(&g_rw), edge_rates(&g_fed));
    assert_eq!(
        r_rw.keys().collect::<Vec<_>>(),
        r_fed.keys().collect::<Vec<_>>(),
        "the same edges over remote write as over federation\nremote write: {g_rw}\nfederation: {g_fed}"
    );
    for (edge, rates) in &r_rw {
        let other = &r_fed[edge];
        assert_eq!(
            rates.iter().map(|r| &r.0).collect::<Vec<_>>(),
            other.iter().map(|r| &r.0).collect::<Vec<_>>(),
            "{edge:?}"
        );
        for ((k, a), (_, b)) in rates.iter().zip(other) {
            assert!(
                close(*a, *b),
                "{edge:?} {k}: remote write {a}, federation {b}"
            );
        }
    }
    // And both are the simulator's rates, west's edges included.
    for g in [&g_rw, &g_fed] {
        for (from, to, want, want_5xx) in [
            (("east", "productpage-v1"), ("west", "reviews-v3"), 2.0, 0.4),
            (("east", "productpage-v1"), ("east", "reviews-v1"), 1.0, 0.0),
            (("west", "reviews-v3"), ("west", "ratings-v1"), 0.5, 0.0),
        ] {
            let (http, err) = rate(g, from, to).unwrap_or_else(|| panic!("{from:?} → {to:?}: {g}"));
            let http: f64 = http.parse().expect("rate");
            let err: f64 = err.parse().unwrap_or(0.0);
            assert!(
                close(http, want) && close(err, want_5xx),
                "{from:?} → {to:?}: {http} / {err}, want {want} / {want_5xx}"
            );
        }
    }
    for s in [rw, fed] {
        s.running.shutdown();
    }
    drop((rw_west, fed_west));
    east_task.abort();
    west_task.abort();
}
