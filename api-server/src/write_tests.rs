//! Istio config writes through `Router::oneshot`: what is refused before any cluster is asked
//! (view-only mode, bad input naming its field, the CSRF check of sessions) and the log line.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api_tests::{configured, hidden_home, reviewer, state, with_registry};
use crate::auth::Auth;
use crate::auth::AuthStrategy;
use crate::routes::router;
use crate::state::AppState;

const VS: &str = "/kiali/api/namespaces/bookinfo/istio/networking.istio.io/v1/VirtualService";

async fn send(
    s: &Arc<AppState>,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    req = match token {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        // A browser of the anonymous strategy: the CSRF cookie and its header.
        None => req
            .header("cookie", "kiali-csrf=c5rf-t0ken")
            .header("x-csrf-token", "c5rf-t0ken"),
    };
    let resp = router(s.clone())
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn vs(name: &str) -> String {
    json!({"metadata": {"name": name}, "spec": {"hosts": ["reviews"]}}).to_string()
}

#[tokio::test]
async fn view_only_mode_refuses_every_write_naming_the_setting() {
    let s = configured(|c| c.deployment.view_only_mode = true);
    for (method, uri, body) in [
        ("POST", VS.to_string(), vs("r")),
        (
            "PATCH",
            format!("{VS}/reviews"),
            json!({"spec": {}}).to_string(),
        ),
        ("DELETE", format!("{VS}/reviews"), String::new()),
    ] {
        let (st, b) = send(&s, method, &uri, None, &body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method}: {b}");
        assert!(
            b["error"]
                .as_str()
                .unwrap()
                .contains("deployment.view_only_mode"),
            "{b}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field() {
    let s = state(AuthStrategy::Anonymous, "/kiali");
    let cases: Vec<(&str, String, String, &str)> = vec![
        ("POST", VS.into(), "{not json".into(), "body"),
        ("POST", VS.into(), "[1,2]".into(), "body"),
        (
            "POST",
            VS.into(),
            json!({"spec": {}}).to_string(),
            "metadata.name",
        ),
        (
            "POST",
            VS.into(),
            json!({"metadata": {"name": "Bad_Name"}}).to_string(),
            "metadata.name",
        ),
        (
            "POST",
            VS.into(),
            json!({"metadata": {"name": "r", "namespace": "other"}}).to_string(),
            "metadata.namespace",
        ),
        (
            "POST",
            VS.into(),
            json!({"kind": "DestinationRule", "metadata": {"name": "r"}}).to_string(),
            "kind",
        ),
        (
            "POST",
            VS.into(),
            json!({"metadata": {"name": "r"}, "spec": [1]}).to_string(),
            "spec",
        ),
        (
            "PATCH",
            format!("{VS}/reviews"),
            json!({"metadata": {"name": "renamed"}}).to_string(),
            "metadata.name",
        ),
        ("PATCH", format!("{VS}/reviews"), "{}".into(), "body"),
        (
            "POST",
            "/kiali/api/namespaces/bookinfo/istio/networking.istio.io/v1/Nothing".into(),
            vs("r"),
            "group/kind",
        ),
        (
            "POST",
            "/kiali/api/namespaces/bookinfo/istio/networking.istio.io/one/VirtualService".into(),
            vs("r"),
            "version",
        ),
        (
            "POST",
            "/kiali/api/namespaces/Not_A_Namespace/istio/networking.istio.io/v1/VirtualService"
                .into(),
            vs("r"),
            "namespace",
        ),
        (
            "POST",
            format!("{VS}?clusterName=nowhere"),
            vs("r"),
            "clusterName",
        ),
    ];
    for (method, uri, body, field) in cases {
        let (st, b) = send(&s, method, &uri, None, &body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{method} {uri} {body}: {b}");
        assert_eq!(b["parameter"], field, "{method} {uri} {body}: {b}");
    }
}

#[tokio::test]
async fn a_session_write_without_its_csrf_token_is_refused() {
    let s = state(AuthStrategy::Token, "/kiali");
    let req = Request::builder()
        .method("POST")
        .uri(VS)
        .header("cookie", "kiali-csrf=abc; kiali-token=x")
        .body(Body::from(vs("r")))
        .unwrap();
    let resp = router(s).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_write_logs_who_where_what_and_the_outcome_never_the_content() {
    // A global subscriber: a scoped one races with the other tests' threads over the call
    // site's cached interest.
    static LINES: std::sync::OnceLock<Lines> = std::sync::OnceLock::new();
    let lines = LINES
        .get_or_init(|| {
            let lines = Lines::default();
            let sink = lines.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || sink.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
            lines
        })
        .clone();
    let s = state(AuthStrategy::Token, "/kiali");
    let body = json!({"metadata": {"name": "logged-write", "namespace": "other"},
                      "spec": {"hosts": ["secret-host-value"]}})
    .to_string();
    let (st, _) = send(
        &s,
        "POST",
        &format!("{VS}?clusterName=west"),
        Some("t-alice"),
        &body,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("istio config write") && l.contains("name=logged-write"))
        .unwrap_or_else(|| panic!("no write line in {text}"));
    for needle in [
        "user=alice",
        "cluster=west",
        "kind=VirtualService",
        "namespace=bookinfo",
        "verb=\"create\"",
        "outcome=\"bad_param\"",
        "status=400",
    ] {
        assert!(line.contains(needle), "{needle} in {line}");
    }
    assert!(!text.contains("secret-host-value"), "{text}");
    assert!(!text.contains("t-alice"), "{text}");
}

/// `clustering.ignore_home_cluster` hides east (the home): a write without `clusterName` goes to
/// the first reachable listed cluster (west; north is unreachable), not to the hidden home, which
/// no request may name; with no listed cluster reachable, `clusterName` is asked for.
#[tokio::test]
async fn a_write_without_clustername_under_a_hidden_home_goes_to_the_first_reachable_cluster() {
    let registry = hidden_home(true);
    let s = with_registry(registry, Auth::new(AuthStrategy::Anonymous, reviewer()));
    let (st, b) = send(&s, "POST", VS, None, &vs("r")).await;
    // The in-memory west has no client: the write got as far as calling west.
    assert!(
        b["error"]
            .as_str()
            .is_some_and(|e| e.contains("cluster west has no client")),
        "{st} {b}"
    );
    let registry = hidden_home(false);
    let s = with_registry(registry, Auth::new(AuthStrategy::Anonymous, reviewer()));
    let (st, b) = send(&s, "POST", VS, None, &vs("r")).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("clusterName")),
        "{b}"
    );
}
