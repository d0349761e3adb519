//! The upstream client against small loopback servers: what it sends (auth, headers, POST form)
//! and how each failure is named.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use meshglass_crds::config::{PrometheusAuth, PrometheusConfig};

use crate::prom::PromClient;
use crate::upstream::{FailureKind, Paths};

/// What the fake saw of the last request.
#[derive(Default, Clone)]
struct Seen {
    method: String,
    authorization: String,
    custom: String,
    body: String,
}

async fn serve(answer: fn() -> Response) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/{*rest}",
        any(
            move |method: axum::http::Method, h: HeaderMap, body: String| {
                let seen = s2.clone();
                async move {
                    let get = |k: &str| {
                        h.get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    *seen.lock().unwrap() = Seen {
                        method: method.to_string(),
                        authorization: get("authorization"),
                        custom: get("x-scope-orgid"),
                        body,
                    };
                    answer()
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), seen)
}

fn vector() -> Response {
    (
        [("content-type", "application/json")],
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}"#,
    )
        .into_response()
}

fn client(url: &str, auth: PrometheusAuth, paths: &Paths) -> PromClient {
    let cfg = PrometheusConfig {
        url: url.into(),
        auth,
        custom_headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "tenant-a".to_string())]),
        ..PrometheusConfig::default()
    };
    PromClient::configured(&cfg, Duration::from_secs(2), 4, paths).unwrap()
}

fn paths(dir: &std::path::Path) -> Paths {
    Paths {
        override_secrets_dir: dir.join("override"),
        ca_bundle_dir: dir.join("cabundle"),
        service_account_token: dir.join("sa-token"),
        client_secret_dir: dir.join("kiali-secret"),
    }
}

#[tokio::test]
async fn queries_are_posted_with_auth_and_custom_headers() {
    let (url, seen) = serve(vector).await;
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    // Inline basic auth.
    let basic = PrometheusAuth {
        auth_type: "basic".into(),
        username: "kiali".into(),
        password: "s3cret".into(),
        ..PrometheusAuth::default()
    };
    let c = client(&url, basic, &p);
    let samples = c.instant("up{namespace=~\"a|b\"}", Some(1)).await.unwrap();
    assert_eq!(samples[0].value, 2.0);
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.method, "POST");
    assert_eq!(s.authorization, "Basic a2lhbGk6czNjcmV0");
    assert_eq!(s.custom, "tenant-a");
    assert!(
        s.body.contains("query=up%7Bnamespace%3D%7E%22a%7Cb%22%7D"),
        "{}",
        s.body
    );
    assert!(s.body.contains("time=1"), "{}", s.body);

    // `secret:<name>:<key>` token: read from the mounted file, again when it changes.
    let tdir = dir.path().join("override/prometheus-token");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(tdir.join("value.txt"), "tok-1\n").unwrap();
    let bearer = PrometheusAuth {
        auth_type: "bearer".into(),
        token: "secret:prom-creds:token".into(),
        ..PrometheusAuth::default()
    };
    let c = client(&url, bearer, &p);
    c.instant("up", None).await.unwrap();
    assert_eq!(seen.lock().unwrap().authorization, "Bearer tok-1");

    // use_kiali_token: the ServiceAccount token file, re-read after the kubelet rotates it.
    std::fs::write(&p.service_account_token, "sa-1").unwrap();
    let own = PrometheusAuth {
        auth_type: "bearer".into(),
        use_kiali_token: true,
        ..PrometheusAuth::default()
    };
    let c = client(&url, own, &p);
    c.instant("up", None).await.unwrap();
    assert_eq!(seen.lock().unwrap().authorization, "Bearer sa-1");
    // Rotation as the kubelet's atomic writer does it: a new file renamed over the old.
    let tmp = dir.path().join("sa-token.new");
    std::fs::write(&tmp, "sa-2").unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(later)
        .unwrap();
    std::fs::rename(&tmp, &p.service_account_token).unwrap();
    c.instant("up", None).await.unwrap();
    assert_eq!(seen.lock().unwrap().authorization, "Bearer sa-2");

    // A missing mounted secret is a named failure, not a request without credentials.
    std::fs::remove_file(&p.service_account_token).unwrap();
    let e = c.instant("up", None).await.unwrap_err();
    assert_eq!(e.reason(), Some("credentials"));
    assert!(!e.to_string().contains("sa-2"), "{e}");
}

fn status(code: u16) -> Response {
    let body = format!("<html>upstream says secret-body-{code}</html>");
    (StatusCode::from_u16(code).unwrap(), body).into_response()
}

#[tokio::test]
async fn failures_are_named_without_url_credentials_or_upstream_body() {
    let cases: [(fn() -> Response, FailureKind); 6] = [
        (|| status(401), FailureKind::Unauthorized),
        (|| status(403), FailureKind::Forbidden),
        (|| status(502), FailureKind::ServerError),
        (|| status(503), FailureKind::ServerError),
        (
            || ([("content-type", "text/html")], "<html>login</html>").into_response(),
            FailureKind::NotJson,
        ),
        (
            || {
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"status":"error","errorType":"bad_data","error":"parse error near secret-body"}"#,
                )
                    .into_response()
            },
            FailureKind::Rejected,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (answer, kind) in cases {
        let (url, _) = serve(answer).await;
        let with_user = url.replace("http://", "http://admin:pa55@");
        let c = client(&with_user, PrometheusAuth::default(), &paths(dir.path()));
        let e = c.instant("up", None).await.unwrap_err();
        assert_eq!(e.reason(), Some(kind.code()), "{e}");
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = e.to_string();
        for leak in ["secret-body", "pa55", "admin", "127.0.0.1", "login"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert_eq!(c.url(), url, "the shown URL has no credentials");
    }
}

#[tokio::test]
async fn hanging_and_endless_upstreams_are_cut_off() {
    // A server that accepts and never answers: a timeout within the configured bound.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let c = client(
        &format!("http://{addr}"),
        PrometheusAuth::default(),
        &paths(dir.path()),
    );
    let t = std::time::Instant::now();
    let e = c.instant("up", None).await.unwrap_err();
    assert_eq!(e.reason(), Some("timeout"));
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // A 200 stream without a length, longer than the cap (80 MiB; endless in the fault suite):
    // stopped at the cap, not buffered. Finite, so that a client without the cap fails this test
    // with a wrong reason instead of exhausting the machine's memory.
    let (url, _) = serve(|| {
        let chunk = bytes_chunk();
        let s = futures::StreamExt::take(
            futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone())),
            80,
        );
        ([("content-type", "application/json")], Body::from_stream(s)).into_response()
    })
    .await;
    let c = PromClient::configured(
        &PrometheusConfig {
            url,
            ..PrometheusConfig::default()
        },
        Duration::from_secs(60),
        1,
        &paths(dir.path()),
    )
    .unwrap();
    let e = c.instant("up", None).await.unwrap_err();
    assert_eq!(e.reason(), Some("too_large"), "{e}");
}

fn bytes_chunk() -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b' '; 1 << 20])
}

#[tokio::test]
async fn configuration_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = paths(dir.path());
    let bad_type = PrometheusConfig {
        url: "http://127.0.0.1:9".into(),
        auth: PrometheusAuth {
            auth_type: "kerberos".into(),
            ..PrometheusAuth::default()
        },
        ..PrometheusConfig::default()
    };
    let e = PromClient::configured(&bad_type, Duration::from_secs(1), 1, &p)
        .err()
        .unwrap();
    assert!(e.to_string().contains("auth.type \"kerberos\""), "{e}");
    let bad_url = PrometheusConfig {
        url: "ftp://x".into(),
        ..PrometheusConfig::default()
    };
    let e = PromClient::configured(&bad_url, Duration::from_secs(1), 1, &p)
        .err()
        .unwrap();
    assert!(e.to_string().contains("http or https"), "{e}");
    let bad_scope = PrometheusConfig {
        url: "http://127.0.0.1:9".into(),
        query_scope: BTreeMap::from([("mesh-id".to_string(), "x".to_string())]),
        ..PrometheusConfig::default()
    };
    let e = PromClient::configured(&bad_scope, Duration::from_secs(1), 1, &p)
        .err()
        .unwrap();
    assert!(e.to_string().contains("query_scope"), "{e}");
    assert!(crate::upstream::secret_reference("secret:a:b") == Some(("a", "b")));
    assert!(crate::upstream::secret_reference("secret:a").is_none());
}

#[tokio::test]
async fn health_check_url_is_what_status_probes() {
    let (down, _) = serve(|| status(500)).await;
    let (up, _) = serve(vector).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = PrometheusConfig {
        url: down.clone(),
        ..PrometheusConfig::default()
    };
    let p = paths(dir.path());
    let c = PromClient::configured(&cfg, Duration::from_secs(2), 1, &p).unwrap();
    assert_eq!(
        c.check_health().await.unwrap_err().kind,
        FailureKind::ServerError
    );
    cfg.health_check_url = format!("{up}/-/ready");
    let c = PromClient::configured(&cfg, Duration::from_secs(2), 1, &p).unwrap();
    c.check_health().await.unwrap();
    // A login page answering 200 is not a healthy store.
    let (login, _) =
        serve(|| ([("content-type", "text/html")], "<html>login</html>").into_response()).await;
    cfg.health_check_url = format!("{login}/-/healthy");
    let c = PromClient::configured(&cfg, Duration::from_secs(2), 1, &p).unwrap();
    assert_eq!(
        c.check_health().await.unwrap_err().kind,
        FailureKind::NotJson
    );
}

#[test]
fn a_rustls_error_is_found_through_nested_io_errors() {
    // hyper wraps rustls' error in an io::Error inside another (what a missing CA gives).
    use std::io::{Error as Io, ErrorKind};
    let rustls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    let nested = Io::other(Io::new(ErrorKind::InvalidData, rustls));
    assert_eq!(
        crate::upstream::tls_kind(&nested),
        Some(FailureKind::TlsUnknownAuthority)
    );
    assert_eq!(crate::upstream::tls_kind(&Io::other("refused")), None);
}

#[tokio::test]
async fn health_is_probed_once_per_ttl_and_again_when_a_query_disagrees() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let up = Arc::new(AtomicBool::new(true));
    let probes = Arc::new(AtomicU32::new(0));
    let (u1, u2, p1) = (up.clone(), up.clone(), probes.clone());
    let app = axum::Router::new()
        .route(
            "/-/healthy",
            any(move || {
                let (up, probes) = (u1.clone(), p1.clone());
                async move {
                    probes.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        StatusCode::OK.into_response()
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                }
            }),
        )
        .route(
            "/api/v1/query",
            any(move || {
                let up = u2.clone();
                async move {
                    if up.load(Ordering::SeqCst) {
                        vector()
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                }
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    let c = PromClient::new(&format!("http://{addr}"), Duration::from_secs(2), 2).unwrap();

    // Ten reads within the TTL, concurrently: one probe.
    let reads = futures::future::join_all((0..10).map(|_| c.health())).await;
    assert!(reads.iter().all(Result::is_ok));
    assert_eq!(probes.load(Ordering::SeqCst), 1);
    // A successful query agrees with the probe: still one.
    c.instant("up", None).await.unwrap();
    c.health().await.unwrap();
    assert_eq!(probes.load(Ordering::SeqCst), 1);
    // The store goes down: a failed query makes the next read probe again, at once.
    up.store(false, Ordering::SeqCst);
    c.instant("up", None).await.unwrap_err();
    assert_eq!(c.health().await.unwrap_err().kind, FailureKind::ServerError);
    assert_eq!(probes.load(Ordering::SeqCst), 2);
    c.health().await.unwrap_err();
    assert_eq!(probes.load(Ordering::SeqCst), 2);
    // Back: the first successful query disagrees with the failed probe.
    up.store(true, Ordering::SeqCst);
    c.instant("up", None).await.unwrap();
    c.health().await.unwrap();
    assert_eq!(probes.load(Ordering::SeqCst), 3);
}

#[test]
fn displayed_urls_hold_no_credentials() {
    use crate::upstream::redacted;
    assert_eq!(
        redacted("https://admin:s3cret@grafana.istio-system:3000/?api_key=k3y#frag"),
        "https://grafana.istio-system:3000"
    );
    assert_eq!(
        redacted(" http://prometheus.istio-system:9090/prom/ "),
        "http://prometheus.istio-system:9090/prom"
    );
    assert_eq!(redacted("not a url"), "(invalid URL)");
}
