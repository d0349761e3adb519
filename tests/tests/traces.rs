//! End to end: traces over a real Jaeger (v2 all-in-one from the cache, OTLP in, query API out),
//! fed by the mesh-traffic simulator's spans for a topology of the test's own: productpage in
//! east calling reviews v2 (east) and v3 (west), each calling ratings in west, which fails 5% of
//! v2's calls and 10% of v3's. The server is started from the `config.yaml` the operator writes
//! for `external_services.tracing`, reading east and (through a real ServiceAccount token) west.
//!
//! - a trace of productpage → reviews-v3 has spans in east and in west, each labelled with the
//!   cluster of the proxy that reported it (the simulator's own, span by span);
//! - the ratings app's traces over the window hold exactly the error traces the simulator made,
//!   which are exactly `floor(rate × calls)` of each calling flow; `errortraces` says the same;
//! - workload and service traces keep only traces through that workload or service; bad
//!   parameters are 400s naming the parameter, an unknown trace a 404.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use meshglass_crds::Config;
use meshglass_simulator::traces::{Generator, Options, errors_after, hex};
use meshglass_simulator::{Topology, otlp};
use meshglass_testbed::jaeger::Jaeger;
use meshglass_testbed::{TestNamespace, poll};
use serde_json::{Value, json};

mod common;
#[allow(dead_code)]
mod scenario;
use common::token_kubeconfig;
use scenario::{TIMEOUT, create, drop_kubeconfig, remote_reader_token};

fn topology(ns: &str) -> String {
    format!(
        r#"
clusters: [east, west]
workloads:
  - {{cluster: east, namespace: {ns}, name: client, app: client}}
  - {{cluster: east, namespace: {ns}, name: productpage-v1, app: productpage, version: v1}}
  - {{cluster: east, namespace: {ns}, name: reviews-v2, app: reviews, version: v2}}
  - {{cluster: west, namespace: {ns}, name: reviews-v3, app: reviews, version: v3}}
  - {{cluster: west, namespace: {ns}, name: ratings-v1, app: ratings, version: v1}}
services:
  - {{namespace: {ns}, name: productpage, port: 9080}}
  - {{namespace: {ns}, name: reviews, port: 9080}}
  - {{namespace: {ns}, name: ratings, port: 9080}}
calls:
  - from: {{cluster: east, namespace: {ns}, workload: client}}
    to: {{namespace: {ns}, service: productpage}}
    rate: 10
    latency_ms: {{p50: 40, p99: 400}}
  - from: {{cluster: east, namespace: {ns}, workload: productpage-v1}}
    to: {{namespace: {ns}, service: reviews}}
    rate: 10
    latency_ms: {{p50: 20, p99: 200}}
  - from: {{cluster: east, namespace: {ns}, workload: reviews-v2}}
    to: {{namespace: {ns}, service: ratings}}
    rate: 5
    responses: {{"200": 95, "503": 5}}
    latency_ms: {{p50: 8, p99: 80}}
  - from: {{cluster: west, namespace: {ns}, workload: reviews-v3}}
    to: {{namespace: {ns}, service: ratings}}
    rate: 5
    responses: {{"200": 90, "503": 10}}
    latency_ms: {{p50: 6, p99: 60}}
"#
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A span's string tag.
fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

fn has_error(trace: &Value) -> bool {
    trace["spans"].as_array().into_iter().flatten().any(|s| {
        tag(s, "error") == Some("true")
            || s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["key"] == "error" && t["value"] == true)
    })
}

#[tokio::test]
async fn a_cross_cluster_trace_labels_each_span_with_its_cluster_and_error_traces_are_the_simulators()
 {
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    let ns_east = TestNamespace::create(&east, "traces")
        .await
        .expect("namespace");
    let ns = ns_east.name().to_string();
    create::<Namespace>(&west, None, json!({"metadata": {"name": ns}})).await;
    // The workloads and services the routes look up (no pods needed).
    for (client, name, app, version) in [
        (&east, "productpage-v1", "productpage", "v1"),
        (&east, "reviews-v2", "reviews", "v2"),
        (&west, "reviews-v3", "reviews", "v3"),
        (&west, "ratings-v1", "ratings", "v1"),
    ] {
        let labels = json!({"app": app, "version": version});
        create::<Deployment>(
            client,
            Some(&ns),
            json!({"metadata": {"name": name, "labels": labels},
                   "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels},
                                         "spec": {"containers": [{"name": app, "image": "example/app"}]}}}}),
        )
        .await;
    }
    for (client, svc) in [(&east, "reviews"), (&west, "reviews"), (&west, "ratings")] {
        create::<Service>(
            client,
            Some(&ns),
            json!({"metadata": {"name": svc},
                   "spec": {"selector": {"app": svc}, "ports": [{"name": "http", "port": 9080}]}}),
        )
        .await;
    }

    // The simulator's traces of the last minute, sent to Jaeger's OTLP receiver.
    let jaeger = Jaeger::start().await.expect("jaeger");
    let mesh = Topology::parse(&topology(&ns))
        .and_then(Topology::resolve)
        .expect("topology");
    let end = unix_now();
    let start = end - 60.0;
    let mut generator = Generator::new(
        &mesh,
        start,
        Options {
            seed: end as u64,
            ..Options::default()
        },
    );
    let traces = generator.until(end);
    assert_eq!(traces.len(), 600, "10 requests a second for 60 s");
    let http = reqwest::Client::new();
    let spans = otlp::send(&http, &jaeger.otlp_url(), &traces)
        .await
        .expect("OTLP export");
    assert_eq!(spans, traces.iter().map(|t| t.spans.len()).sum::<usize>());

    // The simulator's own count of ratings' error traces, and what the configured mix gives.
    let sim_errors = traces
        .iter()
        .filter(|t| t.has_error_of(&ns, "ratings"))
        .count();
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    for s in traces.iter().flat_map(|t| &t.spans) {
        // The client side of each reviews → ratings call.
        if s.client && s.namespace == ns && s.workload.starts_with("reviews-") {
            *calls.entry(s.workload.clone()).or_default() += 1;
        }
    }
    let configured: u64 = mesh
        .flows
        .iter()
        .filter(|f| f.destination.app == "ratings")
        .map(|f| errors_after(f, calls[&f.source.name]))
        .sum();
    assert_eq!(calls["reviews-v2"] + calls["reviews-v3"], 600);
    // 5% of v2's 300 calls and 10% of v3's 300.
    assert_eq!(configured, 15 + 30);
    assert_eq!(sim_errors as u64, configured);

    // The server, from the config the operator writes.
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = remote_reader_token(&west).await;
    drop_kubeconfig(
        secrets.path(),
        "west",
        &token_kubeconfig(bed.cluster("west"), &token),
    );
    let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
        "external_services": {"tracing": {
            "enabled": true, "provider": "jaeger", "use_grpc": false,
            "internal_url": jaeger.query_url(), "external_url": "http://jaeger.example/jaeger"
        }}
    }))
    .expect("spec");
    let mut config = Config::from_spec(&spec, "istio-system")
        .and_then(|c| c.to_yaml())
        .and_then(|y| Config::from_yaml(&y))
        .expect("config");
    config.auth.strategy = "anonymous".into();
    config.server.address = "127.0.0.1".into();
    config.server.port = 0;
    config.server.observability.metrics.port = 0;
    config.kubernetes_config.cluster_name = "east".into();
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.path().to_path_buf(),
        paths: Default::default(),
        secrets_poll: Duration::from_secs(1),
    })
    .await
    .expect("server starts");
    let base = running.base_url();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
            let st = r.status().as_u16();
            let body: Value = r.json().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((st, body))
        }
    };
    let ok = |r: Result<(u16, Value), String>| match r {
        Ok((200, b)) => Ok(b),
        Ok((st, b)) => Err(format!("{st}: {b}")),
        Err(e) => Err(e),
    };
    poll("the workloads in east and west", TIMEOUT, || async {
        let w = ok(get(format!("/api/namespaces/{ns}/workloads/reviews-v3")).await)?;
        let e = ok(get(format!("/api/namespaces/{ns}/workloads/reviews-v2")).await)?;
        Ok::<_, String>((w, e))
    })
    .await
    .expect("both clusters");
    let window = format!(
        "startMicros={}&endMicros={}",
        (start * 1e6) as u64 - 1_000_000,
        (end * 1e6) as u64 + 5_000_000
    );

    // Every productpage trace, once Jaeger has stored them all.
    let pp = poll("productpage's 600 traces", TIMEOUT, || async {
        let b = ok(get(format!(
            "/api/namespaces/{ns}/apps/productpage/traces?{window}&limit=1000"
        ))
        .await)?;
        let n = b["data"].as_array().map_or(0, Vec::len);
        if n == 600 {
            Ok(b)
        } else {
            Err(format!("{n} traces"))
        }
    })
    .await
    .expect("traces");
    assert_eq!(pp["tracingServiceName"], format!("productpage.{ns}"));
    assert_eq!(pp["errors"], json!([]));

    // A trace through reviews-v3: spans in both clusters, each as the simulator labelled it.
    let sim = traces
        .iter()
        .find(|t| t.spans.iter().any(|s| s.workload == "reviews-v3"))
        .expect("a trace through reviews-v3");
    let detail = ok(get(format!("/api/traces/{}", sim.id_hex())).await).expect("trace detail");
    let spans = detail["data"]["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), sim.spans.len());
    let mut clusters = std::collections::BTreeSet::new();
    for s in &sim.spans {
        let got = spans
            .iter()
            .find(|x| x["spanID"] == hex(&s.span_id))
            .unwrap_or_else(|| panic!("span {} in {detail}", hex(&s.span_id)));
        assert_eq!(tag(got, "istio.cluster_id"), Some(s.cluster.as_str()));
        clusters.insert(s.cluster.clone());
    }
    assert_eq!(
        clusters.into_iter().collect::<Vec<_>>(),
        ["east", "west"],
        "spans in both clusters"
    );
    let v3_server = spans
        .iter()
        .find(|x| {
            tag(x, "span.kind") == Some("server")
                && tag(x, "node_id").is_some_and(|n| n.contains("~reviews-v3."))
        })
        .expect("reviews-v3's server span");
    assert_eq!(tag(v3_server, "istio.cluster_id"), Some("west"));

    // ratings' error traces: exactly the simulator's.
    let ratings = ok(get(format!(
        "/api/namespaces/{ns}/apps/ratings/traces?{window}&limit=1000"
    ))
    .await)
    .expect("ratings traces");
    let listed = ratings["data"].as_array().expect("data");
    assert_eq!(listed.len(), 600, "every ratings call is in one trace");
    let errors = listed.iter().filter(|t| has_error(t)).count();
    assert_eq!(errors, sim_errors, "error traces in the list");
    let count = ok(get(format!(
        "/api/namespaces/{ns}/apps/ratings/errortraces?duration=600"
    ))
    .await)
    .expect("error traces");
    assert_eq!(count, json!(sim_errors));

    // A workload's traces go through it; a service's through the service.
    let v3 = ok(get(format!(
        "/api/namespaces/{ns}/workloads/reviews-v3/traces?{window}&limit=1000"
    ))
    .await)
    .expect("workload traces");
    let v3_traces = v3["data"].as_array().expect("data");
    let want = traces
        .iter()
        .filter(|t| t.spans.iter().any(|s| s.workload == "reviews-v3"))
        .count();
    assert_eq!(v3_traces.len(), want);
    assert_eq!(want, 300);
    let spans_of_v3 = ok(get(format!(
        "/api/namespaces/{ns}/workloads/reviews-v3/spans?{window}&limit=1000"
    ))
    .await)
    .expect("workload spans");
    let spans_of_v3 = spans_of_v3.as_array().expect("spans");
    assert!(!spans_of_v3.is_empty());
    assert!(
        spans_of_v3
            .iter()
            .all(|s| tag(s, "istio.cluster_id") == Some("west")
                && s["traceSize"].as_u64().unwrap_or(0) >= 4)
    );
    let by_cluster = ok(get(format!(
        "/api/namespaces/{ns}/apps/reviews/traces?{window}&limit=1000&clusterName=west"
    ))
    .await)
    .expect("west's reviews traces");
    assert_eq!(by_cluster["data"].as_array().map_or(0, Vec::len), 300);

    // Kiali's tracing info, and bad input named.
    let info = ok(get("/api/tracing".into()).await).expect("tracing info");
    assert_eq!(info["enabled"], true);
    assert_eq!(info["integration"], true);
    assert_eq!(info["url"], "http://jaeger.example/jaeger");
    for (path, param) in [
        (
            format!("/api/namespaces/{ns}/apps/ratings/traces?limit=0"),
            "limit",
        ),
        (
            format!("/api/namespaces/{ns}/apps/ratings/traces?tags=notjson"),
            "tags",
        ),
        (
            format!("/api/namespaces/{ns}/apps/ratings/traces?startMicros=x"),
            "startMicros",
        ),
        (
            format!("/api/namespaces/{ns}/apps/ratings/errortraces"),
            "duration",
        ),
        ("/api/traces/not-hex".to_string(), "traceId"),
        (
            format!("/api/namespaces/{ns}/apps/ratings/traces?clusterName=north"),
            "clusterName",
        ),
    ] {
        let (st, body) = get(path.clone()).await.expect("answer");
        assert_eq!(st, 400, "{path}: {body}");
        assert_eq!(body["parameter"], param, "{path}: {body}");
    }
    let (st, _) = get(format!("/api/traces/{}", "ab".repeat(16)))
        .await
        .expect("answer");
    assert_eq!(st, 404);
    running.shutdown();
}
