//! Two replicas behind one Service: two `meshglass-server` processes with the same
//! `config.yaml` (token strategy, one signing key) against the same clusters (east, and west
//! through the remote-secrets directory) and the same Prometheus answer a signed-in user alike —
//! graph, overview (namespaces and health), lists, details, Istio config — and a session cookie
//! sealed by one is accepted by the other: nothing a user needs lives in one replica only.

mod common;
mod scenario;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use meshglass_testbed::faults::ServerProcess;
use meshglass_testbed::{session, wait_until};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);
const SIGNING_KEY: &str = "replicas-share-this-key-0123456789";

/// GET `<base><path>` with the bearer token or the cookies of `jar`: status and JSON body.
async fn get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    jar: &session::Jar,
) -> (u16, Value) {
    let mut req = http.get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if !jar.is_empty() {
        req = req.header("cookie", session::cookie_header(jar));
    }
    let resp = req.send().await.expect("server answers");
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_replicas_answer_alike_and_accept_each_others_sessions() {
    let bed = common::east_west_bed().await;
    let (east, west) = common::east_west(bed).await;
    let sc = scenario::bookinfo_split(bed, &east, &west).await;
    let ns = sc.ns.clone();
    assert_eq!(sc.ns_east.name(), ns);
    // A user who may view the namespace in both clusters: east's ServiceAccount `viewer`.
    scenario::create::<ServiceAccount>(&east, Some(&ns), json!({"metadata": {"name": "viewer"}}))
        .await;
    for client in [&east, &west] {
        scenario::create::<RoleBinding>(
            client,
            Some(&ns),
            json!({"metadata": {"name": "viewer"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                   "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": ns}]}),
        )
        .await;
    }
    let token = common::sa_token(&east, &ns, "viewer").await;

    // The same config.yaml for both replicas, as the operator writes it for one Deployment; the
    // signing key reaches each pod from the one Secret.
    let config = format!(
        "auth:\n  strategy: token\nlogin_token:\n  signing_key: {SIGNING_KEY}\nkubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: {}\n",
        sc.prom.url()
    );
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let secrets = sc.secrets_dir.path();
    let a = ServerProcess::start(bed, dir_a.path(), secrets, &config)
        .await
        .expect("replica a");
    let b = ServerProcess::start(bed, dir_b.path(), secrets, &config)
        .await
        .expect("replica b");
    assert_ne!(a.pid, b.pid);
    let http = reqwest::Client::new();
    let none = BTreeMap::new();
    // Both replicas have both clusters' objects cached (5 workloads: 3 in east, 2 in west).
    for r in [&a, &b] {
        wait_until("the replica's caches of both clusters", TIMEOUT, || async {
            let (st, w) = get(
                &http,
                &r.base,
                &format!("/api/clusters/workloads?namespaces={ns}"),
                Some(&token),
                &none,
            )
            .await;
            let n = w["workloads"].as_array().map_or(0, Vec::len);
            Ok::<_, String>((st == 200 && n == 5).then_some(()))
        })
        .await
        .expect("synced");
    }

    let end = sc.end;
    let paths = [
        format!(
            "/api/namespaces/graph?namespaces={ns}&graphType=versionedApp&boxBy=cluster,namespace,app&injectServiceNodes=true&duration=600s&queryTime={end}"
        ),
        format!(
            "/api/namespaces/graph?namespaces={ns}&graphType=workload&duration=600s&queryTime={end}"
        ),
        format!(
            "/api/namespaces/{ns}/workloads/reviews-v1/graph?graphType=workload&duration=600s&queryTime={end}"
        ),
        "/api/namespaces".to_string(),
        format!("/api/clusters/health?namespaces={ns}&type=app&rateInterval=600s&queryTime={end}"),
        format!(
            "/api/clusters/health?namespaces={ns}&type=workload&rateInterval=600s&queryTime={end}"
        ),
        format!(
            "/api/clusters/health?namespaces={ns}&type=service&rateInterval=600s&queryTime={end}"
        ),
        format!("/api/clusters/apps?namespaces={ns}"),
        format!("/api/clusters/workloads?namespaces={ns}"),
        format!("/api/clusters/services?namespaces={ns}"),
        format!("/api/namespaces/{ns}/workloads/reviews-v1?rateInterval=600s&queryTime={end}"),
        format!("/api/namespaces/{ns}/services/reviews?rateInterval=600s&queryTime={end}"),
        format!("/api/istio/config?namespaces={ns}"),
        format!("/api/istio/validations?namespaces={ns}"),
    ];
    for path in &paths {
        let (st_a, body_a) = get(&http, &a.base, path, Some(&token), &none).await;
        let (st_b, body_b) = get(&http, &b.base, path, Some(&token), &none).await;
        assert_eq!(st_a, 200, "{path}: {body_a}");
        assert_eq!(
            (st_b, &body_b),
            (st_a, &body_a),
            "{path}: the replicas differ"
        );
    }
    // The graphs are not empty: the comparison saw the scenario's traffic.
    let (_, g) = get(&http, &a.base, &paths[0], Some(&token), &none).await;
    assert!(
        g["elements"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{g}"
    );

    // A session sealed by one replica is the credential at the other, and the other way round.
    for (from, to) in [(&a, &b), (&b, &a)] {
        let jar = session::token_login(&http, &from.base, &token)
            .await
            .expect("login");
        let (st, at_from) = get(&http, &from.base, "/api/namespaces", None, &jar).await;
        assert_eq!(st, 200, "{at_from}");
        let (st, at_to) = get(&http, &to.base, "/api/namespaces", None, &jar).await;
        assert_eq!(st, 200, "the other replica refused the session: {at_to}");
        assert_eq!(at_to, at_from);
        let (_, info) = get(&http, &to.base, "/api/auth/info", None, &jar).await;
        assert_eq!(
            info["sessionInfo"]["username"],
            format!("system:serviceaccount:{ns}:viewer"),
            "{info}"
        );
    }
    // Without the cookie, nothing.
    let (st, _) = get(&http, &b.base, "/api/namespaces", None, &none).await;
    assert_eq!(st, 401);
}
