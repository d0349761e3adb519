//! End to end, writes of Istio config through the server (token strategy, in process) to west:
//! a user whose own RBAC allows it creates, patches and deletes a VirtualService, and the
//! server's cache and validations follow each write; a user without that RBAC gets the API
//! server's 403 passed through with its reason (and the detail's `permissions` say so before
//! any write: true for the editor, false for the viewer and on a view-only server); a body the
//! cluster's schema refuses gets the API server's 422; bad input is a 400 naming the field
//! before anything is sent; a view-only server refuses every write.
//!
//! The server's home cluster is west, so that a west user's token is reviewed there and the
//! write goes with that token: the API server decides, never the server's ServiceAccount.
//!
//! Also here, reading Istio config through a remote role written before the telemetry,
//! extensions and Gateway API kinds were cached: those kinds are degraded (and reported), the
//! cluster and its other kinds stay.

mod common;
#[allow(dead_code)] // only its helpers are used here, not the bookinfo scenario
mod scenario;

use std::path::Path;

use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use meshglass_testbed::{TestBed, TestNamespace, poll, wait_until};
use scenario::{TIMEOUT, create, drop_kubeconfig, istio_obj, token_of};
use serde_json::{Value, json};

const VS_PATH: &str = "istio/networking.istio.io/v1/VirtualService";

fn config(view_only: bool, strategy: &str, home: &str) -> meshglass_server::Config {
    meshglass_server::Config::from_yaml(&format!(
        "auth:\n  strategy: {strategy}\ndeployment:\n  view_only_mode: {view_only}\n\
         server:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: {home}\nexternal_services:\n  prometheus:\n    url: http://127.0.0.1:1\n"
    ))
    .expect("config")
}

async fn start(bed: &TestBed, view_only: bool, dir: &Path) -> meshglass_server::Running {
    common::start_ready_server(bed, config(view_only, "token", "west"), "west", dir).await
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("server answers");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// The VirtualService `name` of the config list with validations: (object, validation).
    async fn listed(&self, ns: &str, name: &str, token: &str) -> (Option<Value>, Option<Value>) {
        let (st, b) = self
            .send(
                reqwest::Method::GET,
                &format!(
                    "/api/istio/config?clusterName=west&namespaces={ns}&objects=virtualservices&validate=true"
                ),
                token,
                None,
            )
            .await;
        assert_eq!(st, 200, "{b}");
        let key = "networking.istio.io/v1, Kind=VirtualService";
        let obj = b["resources"][key]
            .as_array()
            .and_then(|a| a.iter().find(|o| o["metadata"]["name"] == name))
            .cloned();
        let val = b["validations"][key].get(format!("{name}.{ns}")).cloned();
        (obj, val)
    }
}

/// A ServiceAccount of west whose Role in `ns` grants `verbs` on VirtualServices (and reading
/// the namespace itself, which the server checks before listing); its token.
async fn user(west: &kube::Client, ns: &str, sa: &str, verbs: &[&str]) -> String {
    let rule = json!({"apiGroups": ["networking.istio.io"], "resources": ["virtualservices"], "verbs": verbs});
    common::namespace_user(west, ns, sa, &[rule]).await
}

fn codes(validation: &Value) -> Vec<String> {
    validation["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_to_the_cluster_with_the_callers_own_credentials() {
    let bed = common::east_west_bed().await;
    let west = bed.cluster("west").client().await.expect("west client");
    let ns_guard = TestNamespace::create(&west, "writes")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_string();
    create::<Service>(
        &west,
        Some(&ns),
        json!({"metadata": {"name": "reviews"},
               "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}),
    )
    .await;
    let read = ["get", "list", "watch"];
    let editor = user(
        &west,
        &ns,
        "editor",
        &["get", "list", "watch", "create", "patch", "delete"],
    )
    .await;
    let viewer = user(&west, &ns, "viewer", &read).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(bed, false, dir.path()).await;
    let api = Client {
        http: reqwest::Client::new(),
        base: server.base_url(),
    };
    let kind_path = format!("/api/namespaces/{ns}/{VS_PATH}");
    let obj_path = format!("{kind_path}/reviews-route?clusterName=west");

    // Create: a route to a host that does not exist (KIA1101).
    let (st, b) = api
        .send(
            reqwest::Method::POST,
            &format!("{kind_path}?clusterName=west"),
            &editor,
            Some(json!({"metadata": {"name": "reviews-route"},
                        "spec": {"hosts": ["reviews"],
                                 "http": [{"route": [{"destination": {"host": "nowhere"}}]}]}})),
        )
        .await;
    assert_eq!(st, 200, "create: {b}");
    assert_eq!(b["metadata"]["namespace"], ns.as_str(), "{b}");
    let val = wait_until(
        "the created VirtualService is listed and validated",
        TIMEOUT,
        || async {
            let (o, v) = api.listed(&ns, "reviews-route", &editor).await;
            Ok::<_, std::convert::Infallible>(o.and(v))
        },
    )
    .await
    .expect("listed");
    assert_eq!(val["valid"], false, "{val}");
    assert!(codes(&val).contains(&"KIA1101".to_string()), "{val}");

    // The detail's permissions are what west says of each caller's own credential, per kind.
    let permissions = |token: String, path: String| {
        let api = &api;
        async move {
            let (st, b) = api.send(reqwest::Method::GET, &path, &token, None).await;
            assert_eq!(st, 200, "detail: {b}");
            b["permissions"].clone()
        }
    };
    assert_eq!(
        permissions(editor.clone(), obj_path.clone()).await,
        json!({"create": true, "update": true, "delete": true}),
        "the editor may write VirtualServices"
    );
    assert_eq!(
        permissions(viewer.clone(), obj_path.clone()).await,
        json!({"create": false, "update": false, "delete": false}),
        "the viewer may not"
    );

    // A user whose RBAC allows no writes: the API server's 403, with its reason.
    let (st, b) = api
        .send(
            reqwest::Method::PATCH,
            &obj_path,
            &viewer,
            Some(json!({"spec": {"hosts": ["ratings"]}})),
        )
        .await;
    assert_eq!(st, 403, "viewer patch: {b}");
    assert_eq!(b["reason"], "Forbidden", "{b}");
    assert_eq!(b["cluster"], "west", "{b}");
    let msg = b["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("cannot patch") && msg.contains(":viewer"),
        "the API server's reason: {b}"
    );
    let (st, b) = api
        .send(reqwest::Method::DELETE, &obj_path, &viewer, None)
        .await;
    assert_eq!(st, 403, "viewer delete: {b}");

    // Bad input: a 400 naming the field, nothing sent.
    let (st, b) = api
        .send(
            reqwest::Method::POST,
            &format!("{kind_path}?clusterName=west"),
            &editor,
            Some(json!({"spec": {"hosts": ["reviews"]}})),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["parameter"], "metadata.name", "{b}");
    // A body the CRD's schema refuses: the API server's 422.
    let (st, b) = api
        .send(
            reqwest::Method::PATCH,
            &obj_path,
            &editor,
            Some(json!({"spec": {"hosts": "not-a-list"}})),
        )
        .await;
    assert_eq!(st, 422, "schema refusal: {b}");
    assert_eq!(b["reason"], "Invalid", "{b}");

    // Edit (JSON merge patch): the route now goes to `reviews`, and the validation follows.
    let (st, b) = api
        .send(
            reqwest::Method::PATCH,
            &obj_path,
            &editor,
            Some(json!({"spec": {"http": [{"route": [{"destination": {"host": "reviews"}}]}]}})),
        )
        .await;
    assert_eq!(st, 200, "patch: {b}");
    assert_eq!(
        b["spec"]["hosts"],
        json!(["reviews"]),
        "merge kept hosts: {b}"
    );
    wait_until("the patch is cached and validated", TIMEOUT, || async {
        let (o, v) = api.listed(&ns, "reviews-route", &editor).await;
        let done = o
            .is_some_and(|o| o["spec"]["http"][0]["route"][0]["destination"]["host"] == "reviews")
            && v.as_ref()
                .is_some_and(|v| !codes(v).contains(&"KIA1101".to_string()));
        Ok::<_, std::convert::Infallible>(done.then_some(()))
    })
    .await
    .expect("patched");

    // A view-only server refuses every write before asking the cluster.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let view_only = start(bed, true, dir2.path()).await;
    let ro = Client {
        http: reqwest::Client::new(),
        base: view_only.base_url(),
    };
    let (st, b) = ro
        .send(reqwest::Method::GET, &obj_path, &editor, None)
        .await;
    assert_eq!(st, 200, "view-only detail: {b}");
    assert_eq!(
        b["permissions"],
        json!({"create": false, "update": false, "delete": false}),
        "view-only: no permission whatever the RBAC"
    );
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            format!("{kind_path}?clusterName=west"),
            Some(json!({"metadata": {"name": "other"}, "spec": {"hosts": ["reviews"]}})),
        ),
        (
            reqwest::Method::PATCH,
            obj_path.clone(),
            Some(json!({"spec": {"hosts": ["ratings"]}})),
        ),
        (reqwest::Method::DELETE, obj_path.clone(), None),
    ] {
        let (st, b) = ro.send(method.clone(), &path, &editor, body).await;
        assert_eq!(st, 403, "view-only {method}: {b}");
        assert!(
            b["error"]
                .as_str()
                .unwrap_or_default()
                .contains("deployment.view_only_mode"),
            "{b}"
        );
    }
    view_only.shutdown();
    let (o, _) = api.listed(&ns, "reviews-route", &editor).await;
    assert_eq!(
        o.expect("still there")["spec"]["http"][0]["route"][0]["destination"]["host"],
        "reviews",
        "the view-only server changed nothing"
    );

    // Delete: gone from the cache.
    let (st, b) = api
        .send(reqwest::Method::DELETE, &obj_path, &editor, None)
        .await;
    assert_eq!(st, 200, "delete: {b}");
    wait_until(
        "the deleted VirtualService leaves the list",
        TIMEOUT,
        || async {
            let (o, _) = api.listed(&ns, "reviews-route", &editor).await;
            Ok::<_, std::convert::Infallible>(o.is_none().then_some(()))
        },
    )
    .await
    .expect("deleted");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_role_without_the_newer_kinds_degrades_only_those_kinds() {
    let bed = common::east_west_bed().await;
    let west = bed.cluster("west").client().await.expect("west client");
    let ns_guard = TestNamespace::create(&west, "degraded")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_string();
    istio_obj(
        &west,
        &ns,
        "VirtualService",
        "virtualservices",
        "networking.istio.io",
        "reviews",
        json!({"hosts": ["reviews"]}),
    )
    .await;
    // The remote role as it was written before: networking and security only.
    let role = format!("meshglass-old-reader-{ns}");
    let read = json!(["get", "list", "watch"]);
    create::<ServiceAccount>(
        &west,
        Some(&ns),
        json!({"metadata": {"name": "old-reader"}}),
    )
    .await;
    create::<ClusterRole>(
        &west,
        None,
        json!({"metadata": {"name": role},
               "rules": [
                 {"apiGroups": [""], "resources": ["namespaces", "services", "pods"], "verbs": read},
                 {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": read},
                 {"apiGroups": ["networking.istio.io"], "resources": ["virtualservices", "destinationrules", "gateways",
                   "serviceentries", "sidecars", "workloadentries", "workloadgroups"], "verbs": read},
                 {"apiGroups": ["security.istio.io"], "resources": ["*"], "verbs": read},
                 {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]}),
    )
    .await;
    create::<ClusterRoleBinding>(
        &west,
        None,
        json!({"metadata": {"name": role},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": "old-reader", "namespace": ns}]}),
    )
    .await;
    let token = token_of(&west, &ns, "old-reader").await;
    let dir = tempfile::tempdir().expect("tempdir");
    drop_kubeconfig(
        dir.path(),
        "west",
        &common::token_kubeconfig(bed.cluster("west"), &token),
    );
    let server =
        common::start_ready_server(bed, config(true, "anonymous", "east"), "east", dir.path())
            .await;
    let http = reqwest::Client::new();
    let base = server.base_url();
    let west_entry = poll(
        "west accessible with its denied optional kinds reported",
        TIMEOUT,
        || async {
            let b = common::get_json(&http, &format!("{base}/api/config")).await?;
            let w = b["clusters"]["west"].clone();
            let degraded = w["degradedKinds"].as_array().map(Vec::len).unwrap_or(0);
            if w["accessible"] == true && degraded >= 3 {
                Ok(w)
            } else {
                Err(format!("west: {w}"))
            }
        },
    )
    .await
    .expect("west degraded, not missing");
    let degraded: Vec<&str> = west_entry["degradedKinds"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for kind in ["EnvoyFilter", "Telemetry", "WasmPlugin"] {
        assert!(
            degraded.contains(&format!("{kind}: permission denied (HTTP 403)").as_str()),
            "{kind} in {degraded:?}"
        );
    }
    assert!(
        !degraded.iter().any(|d| d.starts_with("VirtualService")),
        "{degraded:?}"
    );
    let b: Value = http
        .get(format!(
            "{base}/api/istio/config?clusterName=west&namespaces={ns}&objects=virtualservices"
        ))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let vs = &b["resources"]["networking.istio.io/v1, Kind=VirtualService"];
    assert_eq!(vs.as_array().map(Vec::len), Some(1), "{b}");
    server.shutdown();
    for r in [
        Api::<ClusterRoleBinding>::all(west.clone())
            .delete(&role, &Default::default())
            .await
            .map(|_| ()),
        Api::<ClusterRole>::all(west.clone())
            .delete(&role, &Default::default())
            .await
            .map(|_| ()),
    ] {
        r.expect("cleanup");
    }
}
