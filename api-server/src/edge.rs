//! The HTTP edge: the accept loop (header-read timeout, connection cap, header size) and the
//! layers every request passes before a route (request timeout, concurrency cap answering 503
//! with `Retry-After`, body limit, Origin check for writes) and every response after (security
//! headers). The limits are constants, listed in the README's security section.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::Error;

/// A client must send a request's headers within this time, or the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request that has not been answered in this time gets a 504.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests served at once (probes are not counted); beyond, a request waits for a slot.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// Requests waiting for a slot at once; beyond, a 503 with `Retry-After`. The overview alone
/// sends about 17 requests at once (per cluster), so a burst of users queues instead of failing.
pub const MAX_WAITING_REQUESTS: usize = 512;
/// How long a request waits for a slot before its 503.
pub const SLOT_WAIT: Duration = Duration::from_secs(10);
/// Open connections; beyond, new connections are closed at once.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Request bodies larger than this get a 413 (the largest are Istio config writes and the login form).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// The request line and headers must fit in this buffer.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The Content-Security-Policy of every response: the UI loads its own scripts and styles and
/// calls its own API only, and no page may frame it.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Serves `app` on `listener` with the edge's connection limits, until the listener fails.
pub async fn serve(listener: TcpListener, app: Router) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
}

/// Wraps `app` in the request limits and the response headers.
pub fn layers(app: Router) -> Router {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS));
    let waiting = Arc::new(Semaphore::new(MAX_WAITING_REQUESTS));
    app.layer(middleware::from_fn(move |req: Request, next: Next| {
        let (slots, waiting) = (slots.clone(), waiting.clone());
        async move { limit(slots, waiting, req, next).await }
    }))
    .layer(middleware::from_fn(check_request))
    .layer(middleware::from_fn(security_headers))
}

fn is_probe(path: &str) -> bool {
    path.ends_with("/healthz") || path.ends_with("/readyz")
}

/// A slot of `slots`: at once when one is free, else after waiting up to [`SLOT_WAIT`] as one of
/// at most [`MAX_WAITING_REQUESTS`] (`waiting`); `None` beyond either.
async fn slot(
    slots: Arc<Semaphore>,
    waiting: &Semaphore,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    if let Ok(p) = slots.clone().try_acquire_owned() {
        return Some(p);
    }
    let _place = waiting.try_acquire().ok()?;
    tokio::time::timeout(SLOT_WAIT, slots.acquire_owned())
        .await
        .ok()?
        .ok()
}

/// The concurrency cap (with its queue) and the request timeout.
async fn limit(
    slots: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    req: Request,
    next: Next,
) -> Response {
    let _permit = if is_probe(req.uri().path()) {
        None
    } else {
        match slot(slots, &waiting).await.ok_or(()) {
            Ok(p) => Some(p),
            Err(_) => {
                return Error::Busy(format!(
                    "more than {MAX_CONCURRENT_REQUESTS} requests in progress for {} s",
                    SLOT_WAIT.as_secs()
                ))
                .into_response();
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            axum::Json(json!({
                "error": format!("the request took longer than {} s", REQUEST_TIMEOUT.as_secs()),
                "category": "timeout",
            })),
        )
            .into_response(),
    }
}

/// Body limit, and the Origin of writes.
async fn check_request(req: Request, next: Next) -> Response {
    let too_long = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    if too_long {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && let Err(why) = same_origin(req.headers())
    {
        return refuse(StatusCode::FORBIDDEN, why);
    }
    let (parts, body) = req.into_parts();
    // Chunked bodies without a length are cut at the limit too.
    let body = axum::body::Body::new(http_body_util::Limited::new(
        body,
        usize::try_from(MAX_BODY_BYTES).unwrap_or(usize::MAX),
    ));
    next.run(Request::from_parts(parts, body)).await
}

/// A write must come from the server's own pages: its `Origin` (when a browser sends one)
/// names the host the request was sent to, and `Sec-Fetch-Site` is not cross-site.
fn same_origin(h: &HeaderMap) -> Result<(), String> {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(origin) = h.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or_default();
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(format!(
                "writes are accepted from this server's own origin only (Origin {origin:?}, host {host:?})"
            ));
        }
    }
    match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(site) => Err(format!(
            "writes are accepted from this server's own origin only (Sec-Fetch-Site {site})"
        )),
    }
}

fn refuse(status: StatusCode, error: String) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "category": "refused"})),
    )
        .into_response()
}

/// Security headers on every response.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn get_req(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    // Time is paused: a request waiting for a slot is cut off at SLOT_WAIT as soon as every task
    // waits, without the test waiting that long.
    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_cap_wait_for_a_slot_then_get_503_with_retry_after() {
        let hold = Arc::new(Semaphore::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let (h, e) = (hold.clone(), entered.clone());
        let slow = move || {
            let (h, e) = (h.clone(), e.clone());
            async move {
                e.fetch_add(1, Ordering::SeqCst);
                let _held = h.acquire().await;
                "done"
            }
        };
        let app = layers(
            Router::new()
                .route("/slow", get(slow))
                .route("/healthz", get(|| async { "ok" })),
        );
        let tasks: Vec<_> = (0..MAX_CONCURRENT_REQUESTS)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.oneshot(get_req("/slow")).await.unwrap().status() })
            })
            .collect();
        while entered.load(Ordering::SeqCst) < MAX_CONCURRENT_REQUESTS {
            tokio::task::yield_now().await;
        }
        // Every slot held: one more waits SLOT_WAIT for a slot, then gets its 503.
        let t0 = tokio::time::Instant::now();
        let over = app.clone().oneshot(get_req("/slow")).await.unwrap();
        assert!(t0.elapsed() >= SLOT_WAIT, "{:?}", t0.elapsed());
        assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(over.headers()[header::RETRY_AFTER], "1");
        assert!(over.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let probe = app.clone().oneshot(get_req("/healthz")).await.unwrap();
        assert_eq!(probe.status(), StatusCode::OK, "probes are not counted");
        // One more waits, and is served once the slots are given back.
        let queued = tokio::spawn({
            let app = app.clone();
            async move { app.oneshot(get_req("/slow")).await.unwrap().status() }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!queued.is_finished(), "waits for a slot");
        hold.add_permits(MAX_CONCURRENT_REQUESTS);
        assert_eq!(
            queued.await.unwrap(),
            StatusCode::OK,
            "served after waiting"
        );
        for t in tasks {
            assert_eq!(t.await.unwrap(), StatusCode::OK);
        }
        let after = app.oneshot(get_req("/slow")).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK, "slots are given back");
    }

    /// A client that sends part of its headers and then nothing is cut off at
    /// [`HEADER_READ_TIMEOUT`] (hyper's own default is 30 s; without a timer, never).
    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off_at_the_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(serve(l, Router::new().route("/", get(|| async { "ok" }))));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: kiali.example\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(
            HEADER_READ_TIMEOUT + Duration::from_secs(25),
            c.read_to_end(&mut rest),
        )
        .await;
        let took = started.elapsed();
        assert!(closed.is_ok(), "still open after {took:?}");
        assert!(
            took >= HEADER_READ_TIMEOUT - Duration::from_secs(1)
                && took < HEADER_READ_TIMEOUT + Duration::from_secs(3),
            "closed after {took:?}, not at the {HEADER_READ_TIMEOUT:?} header-read timeout"
        );
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn writes_need_the_servers_own_origin() {
        assert!(same_origin(&headers(&[("host", "kiali.example:20001")])).is_ok());
        assert!(
            same_origin(&headers(&[
                ("host", "kiali.example:20001"),
                ("origin", "https://kiali.example:20001")
            ]))
            .is_ok()
        );
        for bad in [
            headers(&[
                ("host", "kiali.example"),
                ("origin", "https://evil.example"),
            ]),
            headers(&[("host", "kiali.example"), ("origin", "null")]),
            headers(&[("host", "kiali.example"), ("sec-fetch-site", "cross-site")]),
        ] {
            assert!(same_origin(&bad).is_err(), "{bad:?}");
        }
    }
}
