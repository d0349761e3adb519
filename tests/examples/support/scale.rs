//! The scale scenario: `make bench-scale` (`scale_bench`, 800 namespaces) and its small version in
//! `make test` (`scale_small`, 50 namespaces), so that the benchmark's code keeps working.
//!
//! Three clusters (east, west, north) hold the same `n` namespaces (namespace sameness: `3 n`
//! namespace entries), each with apps a, b and c: a Deployment and a headless Service, and
//! `pods` pods spread over the three apps, which the bed's controllers create (each Deployment's
//! ReplicaSet, its pods as the sidecar injector leaves them; kwok runs them), so the server
//! caches them as a real mesh's: one workload per Deployment. One Prometheus holds the samples both proxies of each
//! flow report: a→b and b→c inside every cluster, and in two namespaces of three a→b from one
//! cluster to the next (about 10 % of the edges cross clusters).
//!
//! A "page" is the requests the web UI sends for it, stage after stage (a stage's requests run
//! concurrently, as the browser sends them); its time is the sum of its stages'.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use meshglass_testbed::{TestBed, wait_until};
use serde_json::json;

use crate::support::{app_objects, create};

/// The clusters of the scenario; the server's home is the first.
pub const CLUSTERS: [&str; 3] = ["east", "west", "north"];
const APPS: [&str; 3] = ["a", "b", "c"];

/// The namespace names `scale-000`…
pub fn namespace_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("scale-{i:03}")).collect()
}

/// Creates the scenario's objects in every cluster of `bed`: `n` namespaces, three apps each and
/// `pods` pods per namespace; returns the namespace names.
pub async fn populate(bed: &TestBed, n: usize, pods: usize) -> Vec<String> {
    let namespaces = namespace_names(n);
    for cluster in CLUSTERS {
        let client = bed.cluster(cluster).client().await.expect("client");
        futures::stream::iter(namespaces.iter())
            .for_each_concurrent(16, |ns| {
                let client = client.clone();
                async move { namespace_objects(&client, cluster, ns, pods).await }
            })
            .await;
    }
    // The controllers create the pods: wait until every cluster holds them all.
    let want = n * pods;
    for cluster in CLUSTERS {
        let pods = Api::<Pod>::all(bed.cluster(cluster).client().await.expect("client"));
        let timeout = Duration::from_secs(120 + want as u64 / 20);
        wait_until(&format!("{want} pods in {cluster}"), timeout, || async {
            let page = pods.list_metadata(&ListParams::default().limit(1)).await?;
            let count = page.items.len() as u64
                + page.metadata.remaining_item_count.unwrap_or(0).max(0) as u64;
            Ok::<_, kube::Error>((count >= want as u64).then_some(()))
        })
        .await
        .expect("the controllers create every pod");
    }
    namespaces
}

async fn namespace_objects(client: &Client, cluster: &str, ns: &str, pods: usize) {
    create(
        &Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}}),
    )
    .await;
    for (k, app) in APPS.into_iter().enumerate() {
        let replicas = (k..pods).step_by(APPS.len()).count() as i32;
        app_objects(
            client,
            ns,
            app,
            replicas,
            Some(pod_template(cluster, app, k)),
        )
        .await;
    }
}

/// The pod template of app number `k`, `app`, as the sidecar injector leaves its pods (labels,
/// annotations, the proxy container), on node `k % 2` of `cluster`.
fn pod_template(cluster: &str, app: &str, k: usize) -> serde_json::Value {
    let status = "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"default\"}";
    json!({"metadata": {"labels": {"app": app, "version": "v1",
                                   "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app,
                                   "service.istio.io/canonical-revision": "v1"},
                        "annotations": {"sidecar.istio.io/status": status,
                                        "kubectl.kubernetes.io/default-container": app,
                                        "prometheus.io/scrape": "true", "prometheus.io/port": "15020"}},
           "spec": {"nodeName": format!("{cluster}-node-{}", k % 2),
                    "serviceAccountName": "default",
                    "containers": [
                        {"name": app, "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
                         "ports": [{"containerPort": 9080}],
                         "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}},
                        {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0",
                         "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
                         "env": [{"name": "ISTIO_META_CLUSTER_ID", "value": cluster}],
                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
}

/// The flows of namespace number `i`: (source cluster, source app, destination cluster,
/// destination app, requests per second).
fn flows(i: usize) -> Vec<(&'static str, &'static str, &'static str, &'static str, f64)> {
    let mut out = Vec::new();
    for c in CLUSTERS {
        out.push((c, "a", c, "b", 1.0));
        out.push((c, "b", c, "c", 0.5));
    }
    if i % 3 != 2 {
        let (from, to) = (CLUSTERS[i % 3], CLUSTERS[(i + 1) % 3]);
        out.push((from, "a", to, "b", 0.25));
    }
    out
}

/// The flows that cross clusters: (namespace, source cluster, destination cluster), each an a→b.
pub fn cross_cluster_flows(namespaces: &[String]) -> BTreeSet<(String, String, String)> {
    namespaces
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| {
            flows(i)
                .into_iter()
                .filter(|(sc, _, dc, _, _)| sc != dc)
                .map(|(sc, _, dc, _, _)| (ns.clone(), sc.to_string(), dc.to_string()))
        })
        .collect()
}

/// How many edges between workloads the traffic of `namespaces` namespaces makes (those crossing
/// clusters are [`cross_cluster_flows`]).
pub fn workload_edges(namespaces: usize) -> usize {
    (0..namespaces).map(|i| flows(i).len()).sum()
}

/// The samples of every flow from `end - 600` to `end` every 60 s, both reporters, in OpenMetrics.
pub fn openmetrics(namespaces: &[String], end: i64) -> String {
    let mut out = String::from("# TYPE istio_requests counter\n");
    for (i, ns) in namespaces.iter().enumerate() {
        for (sc, sa, dc, da, rps) in flows(i) {
            for reporter in ["source", "destination"] {
                let l = format!(
                    "reporter=\"{reporter}\",source_cluster=\"{sc}\",source_workload=\"{sa}-v1\",source_workload_namespace=\"{ns}\",\
                     source_canonical_service=\"{sa}\",source_canonical_revision=\"v1\",source_app=\"{sa}\",source_version=\"v1\",\
                     source_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",destination_cluster=\"{dc}\",\
                     destination_workload=\"{da}-v1\",destination_workload_namespace=\"{ns}\",destination_canonical_service=\"{da}\",\
                     destination_canonical_revision=\"v1\",destination_app=\"{da}\",destination_version=\"v1\",\
                     destination_service=\"{da}.{ns}.svc.cluster.local\",destination_service_name=\"{da}\",destination_service_namespace=\"{ns}\",\
                     destination_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",request_protocol=\"http\",response_code=\"200\",\
                     grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"mutual_tls\""
                );
                for k in 0..=10 {
                    let t = end - 600 + 60 * k;
                    let _ = writeln!(
                        out,
                        "istio_requests_total{{{l}}} {} {t}",
                        rps * (60 * k) as f64
                    );
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// One page of the web UI: a name and its stages of request paths (under the server's base).
pub struct Page {
    pub name: &'static str,
    pub stages: Vec<Vec<String>>,
}

/// The pages measured: the namespace graph of every namespace, the overview, the three list pages
/// and a workload's detail page, each as the UI asks for it.
pub fn pages(namespaces: &[String], end: i64) -> Vec<Page> {
    let all = namespaces.join(",");
    let per_cluster =
        |f: &dyn Fn(&str) -> String| CLUSTERS.iter().map(|c| f(c)).collect::<Vec<_>>();
    let mut overview = Vec::new();
    for kind in ["app", "workload", "service"] {
        overview.extend(per_cluster(&|c| {
            format!("/api/clusters/health?type={kind}&clusterName={c}&rateInterval=10m")
        }));
    }
    overview.push("/api/istio/validations".into());
    overview.extend(per_cluster(&|c| {
        format!("/api/clusters/tls?clusterName={c}&namespaces={all}")
    }));
    overview.extend(per_cluster(&|c| format!("/api/mesh/tls?clusterName={c}")));
    let ns = &namespaces[namespaces.len() / 2];
    vec![
        Page {
            name: "namespace graph, every namespace",
            stages: vec![vec![format!(
                "/api/namespaces/graph?namespaces={all}&graphType=versionedApp&injectServiceNodes=true\
                 &boxBy=cluster,namespace&duration=600s&queryTime={end}"
            )]],
        },
        Page {
            name: "overview",
            stages: vec![vec!["/api/namespaces".into()], overview],
        },
        Page {
            name: "applications list",
            stages: vec![vec!["/api/clusters/apps".into()]],
        },
        Page {
            name: "workloads list",
            stages: vec![vec!["/api/clusters/workloads".into()]],
        },
        Page {
            name: "services list",
            stages: vec![vec!["/api/clusters/services".into()]],
        },
        Page {
            name: "workload detail",
            stages: vec![
                vec![format!("/api/namespaces/{ns}/workloads/b-v1")],
                per_cluster(&|c| {
                    format!("/api/clusters/health?type=workload&clusterName={c}&namespaces={ns}&rateInterval=10m")
                })
                .into_iter()
                .chain([format!(
                    "/api/namespaces/{ns}/workloads/b-v1/graph?graphType=workload&boxBy=cluster\
                     &duration=600s&injectServiceNodes=true&queryTime={end}"
                )])
                .collect(),
            ],
        },
    ]
}

/// What one load of a page measured.
pub struct Load {
    pub ms: f64,
    /// Milliseconds the server spent waiting on Prometheus (its `Server-Timing` `prom` entries;
    /// `None` when no answer of the page carried one: only the graph routes report it).
    pub prom_ms: Option<f64>,
    /// Bytes on the wire, and the failures (status not 200, or no answer) with their path.
    pub bytes: usize,
    pub errors: Vec<String>,
    /// Each request's milliseconds (up to its last byte), by [`request_label`].
    pub requests: Vec<(String, f64)>,
}

/// A request's route, with the health kind it asks for (the label of its figures).
pub fn request_label(path: &str) -> String {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    match query.split('&').find(|kv| kv.starts_with("type=")) {
        Some(kind) => format!("{route}?{kind}"),
        None => route.to_string(),
    }
}

/// Loads `page` from the server at `base` once.
pub async fn load(http: &reqwest::Client, base: &str, page: &Page) -> Load {
    let start = Instant::now();
    let (mut prom_ms, mut bytes, mut errors, mut requests) = (None, 0, Vec::new(), Vec::new());
    for stage in &page.stages {
        let answers = futures::future::join_all(stage.iter().map(|path| async move {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("accept-encoding", "gzip")
                .send()
                .await;
            let (timing, body, err) = match r {
                Ok(r) => {
                    let status = r.status();
                    let timing = r
                        .headers()
                        .get("server-timing")
                        .and_then(|v| v.to_str().ok())
                        .and_then(prom_duration);
                    let gzipped = r.headers().contains_key("content-encoding");
                    let body = r.bytes().await.unwrap_or_default();
                    let err = (status != 200).then(|| {
                        let text: String = match gzipped {
                            true => "(compressed body)".into(),
                            false => String::from_utf8_lossy(&body).chars().take(160).collect(),
                        };
                        format!("{}: {status}: {text}", request_label(path))
                    });
                    (timing, body.len(), err)
                }
                Err(e) => {
                    let e = error_chain(&e.without_url());
                    (None, 0, Some(format!("{}: {e}", request_label(path))))
                }
            };
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            (timing, body, err, (request_label(path), ms))
        }))
        .await;
        // Concurrent requests wait on Prometheus side by side: the stage's share is its longest.
        if let Some(longest) = answers.iter().filter_map(|a| a.0).reduce(f64::max) {
            prom_ms = Some(prom_ms.unwrap_or(0.0) + longest);
        }
        for (_, b, e, r) in answers {
            bytes += b;
            errors.extend(e);
            requests.push(r);
        }
    }
    Load {
        ms: start.elapsed().as_secs_f64() * 1000.0,
        prom_ms,
        bytes,
        errors,
        requests,
    }
}

/// An error and its causes (a failed request's `Display` names none: "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The `prom;dur=…` entry of a `Server-Timing` header.
fn prom_duration(timing: &str) -> Option<f64> {
    timing
        .split("prom;dur=")
        .nth(1)
        .and_then(|s| s.split([';', ',']).next())
        .and_then(|v| v.trim().parse().ok())
}

/// `clients` concurrent clients, each loading the pages in turn (each starting at another page)
/// for `duration`: every load's time per page name, and every failure.
pub async fn mix(
    http: &reqwest::Client,
    base: &str,
    pages: &[Page],
    clients: usize,
    duration: Duration,
) -> (Vec<(&'static str, Vec<f64>)>, Vec<String>) {
    let until = Instant::now() + duration;
    let runs = futures::future::join_all((0..clients).map(|c| async move {
        let mut seen: Vec<(usize, f64)> = Vec::new();
        let mut errors = Vec::new();
        let mut i = c;
        while Instant::now() < until {
            let l = load(http, base, &pages[i % pages.len()]).await;
            seen.push((i % pages.len(), l.ms));
            errors.extend(l.errors);
            i += 1;
        }
        (seen, errors)
    }))
    .await;
    let mut per_page: Vec<(&'static str, Vec<f64>)> =
        pages.iter().map(|p| (p.name, Vec::new())).collect();
    let mut errors = Vec::new();
    for (seen, e) in runs {
        for (p, ms) in seen {
            per_page[p].1.push(ms);
        }
        errors.extend(e);
    }
    for (_, v) in &mut per_page {
        v.sort_by(f64::total_cmp);
    }
    (per_page, errors)
}

/// The scenario running: the bed, its Prometheus and one server reading them.
pub struct Scenario {
    pub bed: TestBed,
    pub prom: meshglass_testbed::Prometheus,
    pub server: crate::support::Server,
    pub namespaces: Vec<String>,
    /// The last sample's time (the graphs' `queryTime`).
    pub end: i64,
    /// Seconds to create the objects, and from the server's start to its caches synced.
    pub setup_s: f64,
    pub startup_s: f64,
    /// Pods the server caches (every cluster), and its resident memory then, in KiB.
    pub cached_pods: u64,
    pub rss_kib: u64,
}

impl Scenario {
    /// Starts the bed's three clusters, creates `n` namespaces with `pods` pods each in every one,
    /// backfills Prometheus and starts `server_bin` on east (west and north through their
    /// remote-cluster secrets, written under `dir`), returning once its caches hold every pod.
    pub async fn start(
        server_bin: &std::path::Path,
        dir: &std::path::Path,
        n: usize,
        pods: usize,
    ) -> Scenario {
        let t0 = Instant::now();
        let bed = TestBed::start(&CLUSTERS).await.expect("bed");
        let namespaces = populate(&bed, n, pods).await;
        let mut secrets = dir.join("secrets");
        for c in &CLUSTERS[1..] {
            let client = bed.cluster(c).client().await.expect("client");
            secrets = crate::support::remote_secret(&bed, c, &client, dir).await;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let end = now - now % 60;
        let prom =
            meshglass_testbed::Prometheus::start_with_openmetrics(&openmetrics(&namespaces, end))
                .await
                .expect("prometheus");
        let setup_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let server =
            crate::support::Server::start(server_bin, dir, &bed, &secrets, prom.url()).await;
        // Ready means `/readyz` and every cluster's caches synced: each holds its pods (the remote
        // clusters' caches may still be filling when `/readyz` first answers).
        let want = (n * pods) as u64;
        let counts = wait_until("every pod cached", Duration::from_secs(600), || async {
            let c = crate::support::cached_pods(&server.http, &server.metrics).await;
            let done = c.len() == CLUSTERS.len() && c.iter().all(|v| *v >= want);
            Ok::<_, String>(done.then_some(c))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}: want {want} pods in each of {CLUSTERS:?}"));
        let startup_s = t1.elapsed().as_secs_f64();
        let rss_kib = crate::support::rss_kib(server.pid);
        Scenario {
            bed,
            prom,
            server,
            namespaces,
            end,
            setup_s,
            startup_s,
            cached_pods: counts.iter().sum(),
            rss_kib,
        }
    }

    /// The pages of [`pages`] for this scenario.
    pub fn pages(&self) -> Vec<Page> {
        pages(&self.namespaces, self.end)
    }

    /// Loads every page `rounds` times (after one warm-up load each) from one client.
    pub async fn single(&self, rounds: usize) -> Vec<PageFigures> {
        let mut out = Vec::new();
        for page in self.pages() {
            let mut f = PageFigures {
                name: page.name,
                ..Default::default()
            };
            for round in 0..=rounds {
                let l = load(&self.server.http, &self.server.base, &page).await;
                if round == 0 {
                    f.errors.extend(l.errors);
                    continue;
                }
                f.ms.push(l.ms);
                if let Some(prom) = l.prom_ms {
                    f.outside.push(((l.ms - prom) / l.ms).max(0.0));
                }
                f.bytes = l.bytes;
                f.errors.extend(l.errors);
                for (label, ms) in l.requests {
                    f.requests.entry(label).or_default().push(ms);
                }
            }
            f.ms.sort_by(f64::total_cmp);
            for v in f.requests.values_mut() {
                v.sort_by(f64::total_cmp);
            }
            out.push(f);
        }
        out
    }
}

/// One page's figures over its loads.
#[derive(Default)]
pub struct PageFigures {
    pub name: &'static str,
    /// Sorted milliseconds per load.
    pub ms: Vec<f64>,
    /// Share of each load's time spent outside Prometheus.
    pub outside: Vec<f64>,
    pub bytes: usize,
    pub errors: Vec<String>,
    /// Sorted milliseconds of each of its requests (by [`request_label`]; the per-cluster
    /// requests of one label together).
    pub requests: BTreeMap<String, Vec<f64>>,
}

impl PageFigures {
    /// The mean share of time outside Prometheus, when the page's answers report it.
    pub fn outside_share(&self) -> Option<f64> {
        (!self.outside.is_empty())
            .then(|| self.outside.iter().sum::<f64>() / self.outside.len() as f64)
    }
}
