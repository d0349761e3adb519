//! End to end, the routing wizard's objects change the traffic graph: reviews runs v1 and v2 in east and v3 in
//! west (namespace sameness), productpage-v1 (east) calls it at 20 requests/s. The simulator's sidecars follow the
//! VirtualServices and DestinationRules of both clusters (`meshglass_simulator::follow`), a real Prometheus
//! scrapes them every second, and a real meshglass-server (home east, west through a remote secret) draws the
//! graph. Before any routing the edges productpage-v1 → reviews-v1/v2/v3 carry a third each; once the objects of
//! the UI's golden file (what Kiali's wizard creates for 50/30/20, api-server/ui/tests/unit/golden/) are created
//! through the server's Istio config API in east, the edges carry 50/30/20 of the traffic within
//! [`TOLERANCE`]; deleting them brings the thirds back.

mod common;
#[allow(dead_code)] // only its helpers are used here, not the bookinfo scenario
mod scenario;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use meshglass_simulator::live::Live;
use meshglass_simulator::serve::{metrics_router, now};
use meshglass_simulator::{Mesh, Topology};
use meshglass_testbed::{Prometheus, TestNamespace, wait_until};
use scenario::{create, drop_kubeconfig, remote_reader_token};
use serde_json::{Value, json};

/// Each version's share of the edges' total may differ from the chosen weight by this much (absolute): the
/// graph's `rate()` over [`WINDOW`] extrapolates to the window's edges from 1 s scrapes.
const TOLERANCE: f64 = 0.04;
/// The graph's window, seconds.
const WINDOW: u64 = 20;
/// A switch of weights shows in the graph after one window, plus scrapes and watch latency.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(240);

fn topology(ns: &str) -> Mesh {
    let yaml = format!(
        "clusters: [east, west]
workloads:
  - {{cluster: east, namespace: {ns}, name: productpage-v1, app: productpage, version: v1}}
  - {{cluster: east, namespace: {ns}, name: reviews-v1, app: reviews, version: v1}}
  - {{cluster: east, namespace: {ns}, name: reviews-v2, app: reviews, version: v2}}
  - {{cluster: west, namespace: {ns}, name: reviews-v3, app: reviews, version: v3}}
services:
  - {{namespace: {ns}, name: productpage, port: 9080}}
  - {{namespace: {ns}, name: reviews, port: 9080}}
calls:
  - from: {{cluster: east, namespace: {ns}, workload: productpage-v1}}
    to: {{namespace: {ns}, service: reviews}}
    rate: 20
"
    );
    Topology::parse(&yaml)
        .and_then(Topology::resolve)
        .expect("topology")
}

/// The golden objects of the wizard, moved to namespace `ns`.
fn golden(ns: &str) -> (Value, Value) {
    let path = common::repo().join("api-server/ui/tests/unit/golden/reviews-50-30-20.json");
    let text = std::fs::read_to_string(&path).expect("golden file");
    let text = text.replace("\"bookinfo\"", &format!("\"{ns}\"")).replace(
        "reviews.bookinfo.svc.cluster.local",
        &format!("reviews.{ns}.svc.cluster.local"),
    );
    let g: Value = serde_json::from_str(&text).expect("golden JSON");
    (g["destinationRule"].clone(), g["virtualService"].clone())
}

async fn serve(live: Arc<Live>, cluster: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = metrics_router(live, Some(cluster.to_owned()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr.to_string()
}

/// The server's API as the UI calls it under `anonymous`: the CSRF cookie and token of /api/auth/info.
struct Api {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn new(base: String) -> Api {
        let http = reqwest::Client::new();
        let r = http
            .get(format!("{base}/api/auth/info"))
            .send()
            .await
            .expect("auth info");
        let cookie = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("kiali-csrf="))
            .and_then(|c| c.split(';').next())
            .expect("CSRF cookie")
            .to_owned();
        let info: Value = r.json().await.expect("auth info JSON");
        let csrf = info["csrfToken"].as_str().expect("csrfToken").to_owned();
        Api {
            http,
            base,
            cookie,
            csrf,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("server answers");
        let st = resp.status().as_u16();
        (st, resp.json().await.unwrap_or(Value::Null))
    }

    /// The share of each reviews workload in the rates of the edges productpage-v1 → reviews-*.
    async fn shares(&self, ns: &str) -> Result<BTreeMap<String, f64>, String> {
        let (st, g) = self
            .send(
                reqwest::Method::GET,
                &format!(
                    "/api/namespaces/graph?namespaces={ns}&graphType=workload&injectServiceNodes=false&duration={WINDOW}s"
                ),
                None,
            )
            .await;
        if st != 200 {
            return Err(format!("graph: {st} {g}"));
        }
        let nodes: BTreeMap<String, String> = g["elements"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| {
                Some((
                    n["data"]["id"].as_str()?.to_owned(),
                    n["data"]["workload"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut rates = BTreeMap::new();
        for e in g["elements"]["edges"].as_array().into_iter().flatten() {
            let d = &e["data"];
            let (Some(s), Some(t)) = (
                d["source"].as_str().and_then(|s| nodes.get(s)),
                d["target"].as_str().and_then(|t| nodes.get(t)),
            ) else {
                continue;
            };
            if s != "productpage-v1" || !t.starts_with("reviews-") {
                continue;
            }
            let r: f64 = d["traffic"]["rates"]["http"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0.0);
            *rates.entry(t.clone()).or_insert(0.0) += r;
        }
        let total: f64 = rates.values().sum();
        if total <= 0.0 {
            return Err(format!("no traffic to reviews yet: {rates:?}"));
        }
        Ok(rates.into_iter().map(|(k, v)| (k, v / total)).collect())
    }

    /// Waits until the shares are `want` (workload → fraction) within [`TOLERANCE`], each missing one at 0.
    async fn wait_shares(
        &self,
        ns: &str,
        what: &str,
        want: &[(&str, f64)],
    ) -> BTreeMap<String, f64> {
        wait_until(what, FOLLOW_TIMEOUT, || async {
            let got = match self.shares(ns).await {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("{what}: {e}");
                    return Ok::<_, std::convert::Infallible>(None);
                }
            };
            let ok = want
                .iter()
                .all(|(w, f)| (got.get(*w).copied().unwrap_or(0.0) - f).abs() <= TOLERANCE)
                && got.keys().all(|k| want.iter().any(|(w, _)| w == k));
            if !ok {
                eprintln!("{what}: shares now {got:?}");
            }
            Ok(ok.then_some(got))
        })
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rates_follow_the_wizards_virtual_service_weights() {
    let bed = common::east_west_bed().await;
    let (east, west) = common::east_west(bed).await;
    let ns_guard = TestNamespace::create(&east, "routing")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_string();
    create::<Namespace>(&west, None, json!({"metadata": {"name": ns}})).await;

    // The simulated sidecars of both clusters, following both clusters' routing.
    let live = Live::new(Arc::new(topology(&ns)), now());
    let follower = tokio::spawn(meshglass_simulator::follow::follow(
        live.clone(),
        vec![("east".into(), east.clone()), ("west".into(), west.clone())],
    ));
    let east_sidecars = serve(live.clone(), "east").await;
    let west_sidecars = serve(live.clone(), "west").await;
    let prom = Prometheus::start_with_config(&format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         scrape_configs: [{{job_name: sidecars, static_configs: [{{targets: ['{east_sidecars}', '{west_sidecars}']}}]}}]\n"
    ))
    .await
    .expect("prometheus");

    // The server: home east, west through a real ServiceAccount token's kubeconfig.
    let secrets = tempfile::tempdir().expect("tempdir");
    drop_kubeconfig(
        secrets.path(),
        "west",
        &common::token_kubeconfig(bed.cluster("west"), &remote_reader_token(&west).await),
    );
    // The shares are polled as the traffic shifts: the test view caches, refreshed every second.
    let config = meshglass_server::Config::from_yaml(&format!(
        "auth: {{strategy: anonymous}}\n\
         server: {{address: 127.0.0.1, port: 0, web_root: /kiali, observability: {{metrics: {{port: 0}}}}}}\n\
         kubernetes_config: {{cluster_name: east}}\n\
         external_services: {{prometheus: {{url: '{}'}}}}\n",
        prom.url()
    ))
    .expect("config");
    let server = meshglass_server::start(meshglass_server::Options {
        config: common::with_test_view_caches(config),
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.path().to_path_buf(),
        paths: Default::default(),
        secrets_poll: Duration::from_secs(1),
    })
    .await
    .expect("server starts");
    let api = Api::new(server.base_url()).await;

    // No routing yet: the topology's even split over the three versions.
    let third = 1.0 / 3.0;
    let before = api
        .wait_shares(
            &ns,
            "a third of reviews' traffic to each version",
            &[
                ("reviews-v1", third),
                ("reviews-v2", third),
                ("reviews-v3", third),
            ],
        )
        .await;

    // The wizard's objects, created as the UI creates them: DestinationRule first, then VirtualService, in east.
    let (dr, vs) = golden(&ns);
    for (kind, obj) in [("DestinationRule", &dr), ("VirtualService", &vs)] {
        let (st, b) = api
            .send(
                reqwest::Method::POST,
                &format!(
                    "/api/namespaces/{ns}/istio/networking.istio.io/v1/{kind}?clusterName=east"
                ),
                Some(obj),
            )
            .await;
        assert_eq!(st, 200, "create {kind}: {b}");
        assert_eq!(
            b["metadata"]["labels"]["kiali_wizard"], "traffic_shifting",
            "{b}"
        );
    }
    let after = api
        .wait_shares(
            &ns,
            "reviews' traffic split 50/30/20",
            &[
                ("reviews-v1", 0.5),
                ("reviews-v2", 0.3),
                ("reviews-v3", 0.2),
            ],
        )
        .await;
    eprintln!("shares before routing {before:?}, after {after:?}");

    // Removing the wizard's objects brings the even split back.
    for kind in ["VirtualService", "DestinationRule"] {
        let (st, b) = api
            .send(
                reqwest::Method::DELETE,
                &format!("/api/namespaces/{ns}/istio/networking.istio.io/v1/{kind}/reviews?clusterName=east"),
                None,
            )
            .await;
        assert_eq!(st, 200, "delete {kind}: {b}");
    }
    api.wait_shares(
        &ns,
        "a third each again without routing",
        &[
            ("reviews-v1", third),
            ("reviews-v2", third),
            ("reviews-v3", third),
        ],
    )
    .await;
    follower.abort();
    drop(server);
    drop(prom);
}
