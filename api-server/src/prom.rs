//! Prometheus HTTP API client: instant queries with a timeout and bounded concurrency, over the
//! shared upstream client (TLS, auth, headers, bounded bodies, named failures).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};

use meshglass_crds::config::PrometheusConfig;

use crate::error::{Error, Result};
use crate::upstream;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A Prometheus client: the shared upstream client, the query scope and the concurrency bound.
pub struct PromClient {
    upstream: upstream::Client,
    permits: Arc<Semaphore>,
    timeout: Duration,
    queries: AtomicU64,
    scope: meshglass_engine::QueryScope,
    health_check_url: String,
    /// The last probe of `health_check_url` and when it was made (see [`PromClient::health`]).
    health: Mutex<Option<(Instant, Health)>>,
    /// Set when a query's outcome disagrees with the last probe: the next read probes again.
    health_stale: AtomicBool,
    last_healthy: AtomicBool,
    /// Instant queries in flight, by PromQL and time: a caller asking one of them again waits
    /// for its answer instead of sending it twice ([`PromClient::instant_shared`]).
    in_flight: std::sync::Mutex<HashMap<(String, Option<i64>), InFlight>>,
}

/// An instant query in flight, as every caller waiting for it sees it: its body, or the failure
/// (the error of a request a caller did not send is a Prometheus error with the same message,
/// unless it is an upstream failure, kept as it is).
type InFlight = futures::future::Shared<
    futures::future::BoxFuture<'static, std::result::Result<Arc<Vec<u8>>, SharedFailure>>,
>;

#[derive(Clone, Debug)]
enum SharedFailure {
    Upstream(upstream::Failure),
    Other(String),
}

impl SharedFailure {
    fn of(e: Error) -> Self {
        match e {
            Error::Upstream(f) => SharedFailure::Upstream(f),
            Error::Prometheus(m) => SharedFailure::Other(m),
            other => SharedFailure::Other(other.to_string()),
        }
    }

    fn into_error(self) -> Error {
        match self {
            SharedFailure::Upstream(f) => Error::Upstream(f),
            SharedFailure::Other(m) => Error::Prometheus(m),
        }
    }
}

/// The store's health: `Ok`, or why not.
pub type Health = std::result::Result<(), upstream::Failure>;

/// How long one probe of the store's health answers `/api/status` and the mesh page.
pub const HEALTH_TTL: Duration = Duration::from_secs(5);

/// Largest Prometheus answer read (a 50-namespace graph answers a few MiB).
pub const MAX_BODY: usize = 64 << 20;

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl PromClient {
    /// A client for `base` (e.g. `http://prometheus:9090`) without auth, TLS extras or scope.
    pub fn new(base: &str, timeout: Duration, max_concurrency: usize) -> Result<Self> {
        let cfg = PrometheusConfig {
            url: base.to_string(),
            ..PrometheusConfig::default()
        };
        Self::configured(&cfg, timeout, max_concurrency, &upstream::Paths::default())
    }

    /// The client `external_services.prometheus` describes.
    pub fn configured(
        cfg: &PrometheusConfig,
        timeout: Duration,
        max_concurrency: usize,
        paths: &upstream::Paths,
    ) -> Result<Self> {
        let upstream = upstream::Client::new(&upstream::Settings {
            service: "prometheus",
            url: &cfg.url,
            auth: &cfg.auth,
            custom_headers: &cfg.custom_headers,
            timeout,
            max_body: MAX_BODY,
            follow_redirects: true,
            paths,
        })?;
        let scope = meshglass_engine::QueryScope::new(&cfg.query_scope).map_err(|e| {
            Error::Config(format!(
                "external_services.prometheus.query_scope: {e}: label names match [a-zA-Z_][a-zA-Z0-9_]*"
            ))
        })?;
        Ok(PromClient {
            upstream,
            permits: Arc::new(Semaphore::new(max_concurrency.max(1))),
            timeout,
            queries: AtomicU64::new(0),
            scope,
            health_check_url: cfg.health_check_url.trim().to_string(),
            health: Mutex::new(None),
            health_stale: AtomicBool::new(false),
            last_healthy: AtomicBool::new(true),
            in_flight: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The label matchers every query carries (`query_scope`).
    pub fn scope(&self) -> &meshglass_engine::QueryScope {
        &self.scope
    }

    /// The store's health as `/api/status` and the mesh page report it: the last probe of
    /// `health_check_url` when it is younger than [`HEALTH_TTL`] and no query has since
    /// disagreed with it (a failed query after a healthy probe, or the reverse); else a new
    /// probe. Concurrent callers share one probe.
    pub async fn health(&self) -> Health {
        let mut slot = self.health.lock().await;
        let stale = self.health_stale.swap(false, Ordering::AcqRel);
        if let Some((at, h)) = slot.as_ref()
            && !stale
            && at.elapsed() < HEALTH_TTL
        {
            return h.clone();
        }
        let h = self.check_health().await;
        self.last_healthy.store(h.is_ok(), Ordering::Release);
        *slot = Some((Instant::now(), h.clone()));
        h
    }

    /// Marks the last probe stale when a query's outcome disagrees with it.
    fn note_outcome(&self, ok: bool) {
        if ok != self.last_healthy.load(Ordering::Acquire) {
            self.health_stale.store(true, Ordering::Release);
        }
    }

    /// Probes `health_check_url` (default `<url>/-/healthy`): `Ok` when it answers 2xx with
    /// anything but an HTML page.
    pub async fn check_health(&self) -> Health {
        let target = if self.health_check_url.is_empty() {
            "/-/healthy"
        } else {
            self.health_check_url.as_str()
        };
        let answer = self.upstream.get(target).await?;
        // A login page in front of the store answers 200 too: that is not a healthy store.
        if answer
            .content_type
            .to_ascii_lowercase()
            .starts_with("text/html")
        {
            return Err(upstream::Failure {
                service: "prometheus",
                kind: upstream::FailureKind::NotJson,
                message: "the health check answered an HTML page, not the store (a login page?)"
                    .to_string(),
            });
        }
        Ok(())
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.upstream.url()
    }

    /// Queries sent so far.
    pub fn query_count(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Runs an instant query at `time` (Unix seconds; now when `None`) and returns the raw
    /// body of a successful answer.
    pub async fn instant_raw(&self, query: &str, time: Option<i64>) -> Result<Vec<u8>> {
        let mut form = vec![("query", query.to_string())];
        if let Some(t) = time {
            form.push(("time", t.to_string()));
        }
        let r = self.post_query("/api/v1/query", form).await;
        self.note_outcome(r.is_ok());
        r
    }

    /// [`PromClient::instant_raw`], with concurrent identical queries (the same PromQL at the
    /// same time) sent once: the overview asks every cluster's app, service and workload health
    /// at once, each the same query over every namespace. The query runs on its own task, so a
    /// caller that goes away does not cancel it for the others.
    pub async fn instant_shared(
        self: &Arc<Self>,
        query: &str,
        time: Option<i64>,
    ) -> Result<Arc<Vec<u8>>> {
        use futures::FutureExt;
        let key = (query.to_string(), time);
        let flight = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            match in_flight.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let me = self.clone();
                    let k = key.clone();
                    let task = tokio::spawn(async move {
                        let r = me.instant_raw(&k.0, k.1).await;
                        me.in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&k);
                        r.map(Arc::new).map_err(SharedFailure::of)
                    });
                    let f: InFlight = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(SharedFailure::Other(format!("query task stopped: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, f.clone());
                    f
                }
            }
        };
        flight.await.map_err(SharedFailure::into_error)
    }

    /// Runs a range query from `start` to `end` (Unix seconds) every `step` seconds and returns
    /// the raw body of a successful answer.
    pub async fn range_raw(&self, query: &str, start: i64, end: i64, step: u64) -> Result<Vec<u8>> {
        let form = vec![
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ];
        let r = self.post_query("/api/v1/query_range", form).await;
        self.note_outcome(r.is_ok());
        r
    }

    /// POSTs a query form (one permit of the concurrency bound, counted) and returns the body
    /// of a JSON answer.
    async fn post_query(
        &self,
        path: &str,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<Vec<u8>> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Prometheus("client closed".into()))?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        form.push(("timeout", format!("{}s", self.timeout.as_secs().max(1))));
        let answer = self.upstream.post_form(path, &form).await?;
        let ct = answer.content_type.to_ascii_lowercase();
        if !ct.is_empty() && !ct.contains("json") {
            return Err(upstream::Failure {
                service: "prometheus",
                kind: upstream::FailureKind::NotJson,
                message: format!(
                    "the answer is {}, not JSON (is the URL a Prometheus API?)",
                    ct.split(';').next().unwrap_or_default()
                ),
            }
            .into());
        }
        Ok(answer.body)
    }

    /// Runs an instant query at `time` (Unix seconds; now when `None`).
    pub async fn instant(&self, query: &str, time: Option<i64>) -> Result<Vec<Sample>> {
        let raw = self.instant_raw(query, time).await?;
        let body: ApiResponse = serde_json::from_slice(&raw)
            .map_err(|e| Error::Prometheus(format!("unreadable response: {e}")))?;
        if body.status != "success" {
            return Err(Error::Prometheus(format!(
                "{}: {}",
                body.error_type.unwrap_or_default(),
                body.error.unwrap_or_default()
            )));
        }
        let data = body
            .data
            .ok_or_else(|| Error::Prometheus("response without data".into()))?;
        match data.result_type.as_str() {
            "vector" => {
                let items: Vec<VectorItem> = serde_json::from_value(data.result)
                    .map_err(|e| Error::Prometheus(format!("unexpected vector: {e}")))?;
                Ok(items
                    .into_iter()
                    .map(|i| Sample {
                        labels: i.metric,
                        value: i.value.1.parse().unwrap_or(f64::NAN),
                    })
                    .collect())
            }
            "scalar" => {
                let (_, v): (f64, String) = serde_json::from_value(data.result)
                    .map_err(|e| Error::Prometheus(format!("unexpected scalar: {e}")))?;
                Ok(vec![Sample {
                    labels: BTreeMap::new(),
                    value: v.parse().unwrap_or(f64::NAN),
                }])
            }
            other => Err(Error::Prometheus(format!("unexpected result type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_prometheus_is_a_named_503_without_the_url() {
        // Port 9 on loopback: nothing listens.
        let c = PromClient::new("http://user:pw@127.0.0.1:9", Duration::from_secs(2), 2).unwrap();
        assert_eq!(c.url(), "http://127.0.0.1:9");
        let e = c.instant("up", None).await.unwrap_err();
        assert_eq!(e.category(), "prometheus");
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.reason(), Some("unreachable"));
        let text = e.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("pw"),
            "{text}"
        );
        assert_eq!(c.query_count(), 1);
    }

    /// A Prometheus that answers every query after `delay`, counting the queries it received.
    async fn slow_prometheus(delay: Duration) -> (String, Arc<AtomicU64>) {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let app = axum::Router::new().route(
            "/api/v1/query",
            axum::routing::post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    axum::Json(serde_json::json!({"status": "success",
                        "data": {"resultType": "vector", "result": []}}))
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (url, seen)
    }

    #[tokio::test]
    async fn concurrent_identical_queries_are_sent_once() {
        let (url, seen) = slow_prometheus(Duration::from_millis(300)).await;
        let c = Arc::new(PromClient::new(&url, Duration::from_secs(5), 8).unwrap());
        // Nine callers of one query at one time (the overview's health of three kinds in three
        // clusters), and one of another time: two requests.
        let same = (0..9).map(|_| c.instant_shared("sum(up)", Some(1_000)));
        let other = c.instant_shared("sum(up)", Some(1_060));
        let (answers, other) = tokio::join!(futures::future::join_all(same), other);
        assert!(answers.iter().all(|a| a.is_ok()) && other.is_ok());
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert_eq!(c.query_count(), 2);
        // Once answered, the same query is sent again (no answer is kept).
        c.instant_shared("sum(up)", Some(1_000)).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }
}
