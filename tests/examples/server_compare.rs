//! Records the server's responses on the test bed from two `meshglass-server` binaries and
//! compares them: the proof of a "no behaviour change" refactoring. Both servers read the same
//! `config.yaml` (written as the operator writes it), clusters and Prometheus, at a fixed
//! `queryTime`, so every answer is deterministic.
//!
//! Every route must answer the same status and the same bytes. Graph bodies are written by the
//! engine's JSON writer in struct field order, where a server that went through
//! `serde_json::Value` wrote sorted keys: for those routes the parsed JSON must be equal, and
//! the table says whether the bytes are too.
//!
//! Usage: `server_compare --baseline-bin OLD [--server-bin NEW] [--out DIR]` (`make compare-server
//! BASELINE=OLD`); exits 1 on any difference.

use std::path::{Path, PathBuf};
use std::time::Duration;

use meshglass_testbed::{TestBed, wait_until};
use serde_json::Value;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/scenario/mod.rs"]
mod scenario;
mod support;
use support::{Server, arg};

const TIMEOUT: Duration = Duration::from_secs(300);

/// Status, missing-clusters header and body of one GET.
async fn get(http: &reqwest::Client, url: &str) -> (u16, String, Vec<u8>) {
    let r = http.get(url).send().await.expect("answer");
    let status = r.status().as_u16();
    let missing = r
        .headers()
        .get("x-meshglass-missing-clusters")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, missing, r.bytes().await.expect("body").to_vec())
}

fn routes(ns: &str, end: i64) -> Vec<String> {
    let t = format!("queryTime={end}");
    let mut r: Vec<String> = [
        "/api/config",
        "/api/status",
        "/api/auth/info",
        "/api/namespaces",
        "/api/clusters/apps",
        "/api/clusters/workloads",
        "/api/clusters/services",
        "/api/istio/config?objects=destinationrules",
        "/api/istio/validations",
    ]
    .map(String::from)
    .into();
    for q in [
        format!("/api/namespaces?namespaces={ns}"),
        format!("/api/clusters/apps?namespaces={ns}"),
        format!("/api/clusters/workloads?namespaces={ns}&clusterName=west"),
        format!("/api/clusters/services?namespaces={ns}"),
        format!("/api/namespaces/{ns}/apps/reviews"),
        format!("/api/namespaces/{ns}/apps/productpage"),
        format!("/api/namespaces/{ns}/workloads/reviews-v1"),
        format!("/api/namespaces/{ns}/workloads/reviews-v3"),
        format!("/api/namespaces/{ns}/workloads/details-v1"),
        format!("/api/namespaces/{ns}/services/reviews"),
        format!("/api/namespaces/{ns}/services/ratings"),
        format!("/api/istio/config?namespaces={ns}&validate=true"),
        format!("/api/istio/config?namespaces={ns}&clusterName=west&validate=true"),
        format!("/api/istio/validations?namespaces={ns}"),
        format!("/api/istio/validations?namespaces={ns}&detail=true"),
    ] {
        r.push(q);
    }
    for kind in ["app", "service", "workload"] {
        r.push(format!(
            "/api/clusters/health?namespaces={ns}&type={kind}&rateInterval=10m&{t}"
        ));
    }
    for gt in ["app", "versionedApp", "workload", "service"] {
        let g = format!("/api/namespaces/graph?namespaces={ns}&graphType={gt}&duration=600s&{t}");
        r.push(g.clone());
        r.push(format!(
            "{g}&injectServiceNodes=true&boxBy=cluster,namespace,app&responseTime=avg"
        ));
    }
    for node in [
        format!("/api/namespaces/{ns}/workloads/reviews-v3/graph?duration=600s&{t}"),
        format!("/api/namespaces/{ns}/apps/reviews/graph?graphType=app&duration=600s&{t}"),
        format!(
            "/api/namespaces/{ns}/applications/reviews/versions/v1/graph?graphType=versionedApp&{t}"
        ),
        format!("/api/namespaces/{ns}/services/reviews/graph?graphType=service&{t}"),
    ] {
        r.push(node);
    }
    // Bad input: the same 400s naming the same values.
    for bad in [
        format!("/api/namespaces/graph?namespaces={ns}&graphType=bogus"),
        format!("/api/namespaces/graph?namespaces={ns}&rateGrpc=many"),
        "/api/namespaces/graph".to_string(),
        format!("/api/clusters/health?namespaces={ns}&type=pod"),
        format!("/api/clusters/health?namespaces={ns}&rateInterval=soon"),
        "/api/namespaces/Bad_NS/apps/x".to_string(),
        format!("/api/namespaces/{ns}/workloads/no-such"),
        "/api/clusters/apps?clusterName=nowhere".to_string(),
        "/api/istio/config?objects=pods".to_string(),
        "/api/istio/config?validate=yes".to_string(),
    ] {
        r.push(bad);
    }
    r
}

fn is_graph(route: &str) -> bool {
    route.contains("/graph?") || route.ends_with("/graph")
}

#[tokio::main]
async fn main() {
    let baseline = PathBuf::from(arg("--baseline-bin").expect("--baseline-bin PATH"));
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let current = arg("--server-bin")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&target).join("release/meshglass-server"));
    for b in [&baseline, &current] {
        assert!(b.exists(), "{} missing", b.display());
    }
    let out = arg("--out").map(PathBuf::from);

    let bed = TestBed::start(&["east", "west"]).await.expect("bed");
    let east = bed.cluster("east").client().await.expect("east");
    let west = bed.cluster("west").client().await.expect("west");
    let sc = scenario::bookinfo_split(&bed, &east, &west).await;

    let cfg_dir = tempfile::tempdir().expect("config dir");
    let mut servers = Vec::new();
    for bin in [&baseline, &current] {
        let (dir, secrets) = (cfg_dir.path(), sc.secrets_dir.path());
        servers.push(Server::start(bin, dir, &bed, secrets, sc.prom.url()).await);
    }
    let http = reqwest::Client::new();
    for s in &servers {
        wait_until("both clusters' bookinfo cached", TIMEOUT, || async {
            let (_, _, b) = get(
                &http,
                &format!("{}/api/clusters/workloads?namespaces={}", s.base, sc.ns),
            )
            .await;
            let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            let n = v["workloads"].as_array().map(|a| a.len()).unwrap_or(0);
            Ok::<_, String>((n == 5).then_some(()))
        })
        .await
        .expect("5 workloads");
    }

    println!("| route | status | bytes before | bytes after | result |");
    println!("|---|---:|---:|---:|---|");
    let mut different = 0;
    for (i, route) in routes(&sc.ns, sc.end).iter().enumerate() {
        let old = get(&http, &format!("{}{route}", servers[0].base)).await;
        let new = get(&http, &format!("{}{route}", servers[1].base)).await;
        let same_bytes = old == new;
        let same_json = old.0 == new.0
            && old.1 == new.1
            && serde_json::from_slice::<Value>(&old.2).ok()
                == serde_json::from_slice::<Value>(&new.2).ok();
        let result = if same_bytes {
            "identical"
        } else if same_json && is_graph(route) {
            "same JSON (key order)"
        } else {
            different += 1;
            "DIFFERENT"
        };
        let shown = route
            .replace(&sc.ns, "{ns}")
            .replace(&sc.end.to_string(), "{end}");
        println!(
            "| `{shown}` | {} | {} | {} | {result} |",
            new.0,
            old.2.len(),
            new.2.len()
        );
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).expect("out dir");
            std::fs::write(dir.join(format!("{i:02}.before.json")), &old.2).expect("write");
            std::fs::write(dir.join(format!("{i:02}.after.json")), &new.2).expect("write");
        }
    }
    drop(servers);
    sc.ns_east.delete().await.ok();
    bed.stop();
    if different > 0 {
        eprintln!("{different} route(s) answer differently");
        std::process::exit(1);
    }
}
