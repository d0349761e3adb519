//! End to end, a pod and its container logs through the server (token strategy, in process,
//! home cluster east): the lines the test bed serves for a pod's containers (kwok's `Logs`
//! objects, read by the API server's `pods/log` from kwok's kubelet API) come back as Kiali's
//! `PodLogs`, for the application and the sidecar apart; `maxLines`, `sinceTime` and `duration`
//! bound them; `follow` streams a line appended later; a user whose RBAC lacks `pods/log` gets
//! the API server's 403.

mod common;
mod kiali;
#[allow(dead_code)] // only its helpers are used here, not the bookinfo scenario
mod scenario;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use meshglass_testbed::podlogs::{append_lines, cri_line, serve_logs};
use meshglass_testbed::{TestNamespace, wait_until};
use scenario::{TIMEOUT, create};
use serde_json::{Value, json};

fn config() -> meshglass_server::Config {
    meshglass_server::Config::from_yaml(
        "auth:\n  strategy: token\n\
         server:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: http://127.0.0.1:1\n",
    )
    .expect("config")
}

fn rfc3339(unix: i64, nanos: u32) -> String {
    let t = k8s_openapi::jiff::Timestamp::new(unix, nanos as i32).expect("a valid time");
    t.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn messages(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["message"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

struct Server {
    http: reqwest::Client,
    base: String,
}

impl Server {
    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("server answers");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_come_from_the_pods_cluster_with_the_callers_rights() {
    let bed = common::east_west_bed().await;
    let east = bed.cluster("east").client().await.expect("east client");
    let ns_guard = TestNamespace::create(&east, "logs")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_string();
    let pod = "reviews-v1-logs";

    // The files kwok serves as the pod's two containers' logs.
    let files = tempfile::tempdir().expect("tempdir");
    let app_log = files.path().join("reviews.log");
    let proxy_log = files.path().join("istio-proxy.log");
    let t0 = meshglass_server::params::now_unix() - 300;
    let app_lines = [
        (t0, "reviews v1 started on port 9080"),
        (t0 + 10, "GET /reviews/0 200 ratings=off"),
        (t0 + 20, "ERROR ratings unreachable, serving without stars"),
    ];
    append_lines(
        &app_log,
        &app_lines
            .iter()
            .map(|(t, m)| cri_line(&rfc3339(*t, 5), m))
            .collect::<Vec<_>>(),
    )
    .expect("app log");
    let proxy_lines = [
        "[2026-12-01T10:00:00.000Z] \"GET /reviews/0 HTTP/1.1\" 200 - via_upstream",
        "[2026-12-01T10:00:01.000Z] \"GET /ratings/0 HTTP/1.1\" 503 UF upstream_reset",
    ];
    append_lines(
        &proxy_log,
        &proxy_lines
            .iter()
            .enumerate()
            .map(|(i, m)| cri_line(&rfc3339(t0 + i as i64, 0), m))
            .collect::<Vec<_>>(),
    )
    .expect("proxy log");
    serve_logs(
        &east,
        &ns,
        pod,
        &[("reviews", &app_log), ("istio-proxy", &proxy_log)],
    )
    .await
    .expect("kwok Logs object");

    // A bare pod on a simulated node of east, with its sidecar.
    create::<Pod>(
        &east,
        Some(&ns),
        json!({"metadata": {"name": pod, "labels": {"app": "reviews", "version": "v1"},
                            "annotations": {"sidecar.istio.io/status": "{\"containers\":[\"istio-proxy\"]}"}},
               "spec": {"nodeName": "east-node-0",
                        "containers": [
                          {"name": "reviews", "image": "example.invalid/reviews:1"},
                          {"name": "istio-proxy", "image": "example.invalid/proxyv2:1"}]}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(east.clone(), &ns);
    wait_until("the pod runs", TIMEOUT, || async {
        let p = pods.get(pod).await?;
        let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        Ok::<_, kube::Error>((phase == "Running").then_some(()))
    })
    .await
    .expect("running");

    let pods_read =
        json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]});
    let logs_read = json!({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]});
    let reader =
        common::namespace_user(&east, &ns, "reader", &[pods_read.clone(), logs_read]).await;
    let nolog = common::namespace_user(&east, &ns, "nolog", &[pods_read]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::start_ready_server(bed, config(), "east", dir.path()).await;
    let api = Server {
        http: reqwest::Client::new(),
        base: server.base_url(),
    };

    // The pod, with its containers apart as Kiali shows them.
    let pod_path = format!("/api/namespaces/{ns}/pods/{pod}");
    let body = wait_until("the server has the pod", TIMEOUT, || async {
        let (st, b) = api.get(&pod_path, &reader).await;
        Ok::<_, std::convert::Infallible>((st == 200 && b["status"] == "Running").then_some(b))
    })
    .await
    .expect("pod");
    assert_eq!(body["cluster"], "east", "{body}");
    assert_eq!(body["containers"][0]["name"], "reviews", "{body}");
    assert_eq!(body["istioContainers"][0]["name"], "istio-proxy", "{body}");

    // Every line the bed serves for each container, in order, with Kiali's fields.
    let logs = format!("{pod_path}/logs?clusterName=east");
    let (st, b) = api.get(&format!("{logs}&container=reviews"), &reader).await;
    assert_eq!(st, 200, "{b}");
    let want: Vec<String> = app_lines.iter().map(|(_, m)| m.to_string()).collect();
    assert_eq!(messages(&b), want, "{b}");
    assert_eq!(b["entries"][0]["timestampUnix"], t0 * 1000, "{b}");
    assert_eq!(b["entries"][2]["severity"], "ERROR", "{b}");
    assert_eq!(b["entries"][1]["severity"], "INFO", "{b}");
    assert_eq!(b["linesTruncated"], false, "{b}");
    let kiali_logs: kiali::PodLogs = serde_json::from_value(b.clone())
        .unwrap_or_else(|e| panic!("not Kiali's PodLogs: {e}\n{b:#}"));
    assert_eq!(kiali_logs.entries.map(|e| e.len()), Some(3));
    let (st, b) = api
        .get(&format!("{logs}&container=istio-proxy"), &reader)
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(messages(&b), proxy_lines, "{b}");

    // maxLines, and the time range sinceTime .. sinceTime + duration.
    let (_, b) = api
        .get(&format!("{logs}&container=reviews&maxLines=2"), &reader)
        .await;
    assert_eq!(messages(&b), want[..2], "{b}");
    assert_eq!(b["linesTruncated"], true, "{b}");
    let (_, b) = api
        .get(
            &format!("{logs}&container=reviews&sinceTime={}&duration=5s", t0 + 10),
            &reader,
        )
        .await;
    assert_eq!(messages(&b), want[1..2], "{b}");

    // follow: the lines so far, then one appended afterwards, as they come.
    let mut resp = api
        .http
        .get(format!(
            "{}{logs}&container=reviews&follow=true&maxLines=4",
            api.base
        ))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("follow answers");
    assert_eq!(resp.status(), 200);
    let mut got: Vec<Value> = Vec::new();
    let mut buf = String::new();
    let appended = "GET /reviews/1 200 ratings=on";
    let mut wrote = false;
    let followed = tokio::time::timeout(TIMEOUT, async {
        while let Some(chunk) = resp.chunk().await.expect("stream") {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(at) = buf.find('\n') {
                let line: String = buf.drain(..=at).collect();
                got.push(serde_json::from_str(&line).expect("one JSON entry per line"));
            }
            if got.len() == 3 && !wrote {
                append_lines(
                    &app_log,
                    &[cri_line(
                        &rfc3339(meshglass_server::params::now_unix(), 0),
                        appended,
                    )],
                )
                .expect("append");
                wrote = true;
            }
        }
    })
    .await;
    assert!(followed.is_ok(), "the followed stream ended: {got:?}");
    let followed_msgs: Vec<&str> = got.iter().filter_map(|e| e["message"].as_str()).collect();
    let mut want_followed: Vec<&str> = want.iter().map(String::as_str).collect();
    want_followed.push(appended);
    assert_eq!(followed_msgs, want_followed);

    // Without pods/log in the namespace: the API server's 403, passed on with its reason.
    let (st, b) = api.get(&format!("{logs}&container=reviews"), &nolog).await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["reason"], "Forbidden", "{b}");
    assert_eq!(b["cluster"], "east", "{b}");
    let msg = b["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("pods/log") && msg.contains(":nolog"),
        "the API server's reason: {b}"
    );
    // The same user still reads the pod itself.
    let (st, _) = api.get(&pod_path, &nolog).await;
    assert_eq!(st, 200);

    // Bad input: a 400 naming the parameter.
    let (st, b) = api.get(&format!("{logs}&maxLines=0"), &reader).await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["parameter"], "maxLines", "{b}");
}
