//! Prometheus HTTP API client: instant queries with a timeout and bounded concurrency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A Prometheus client.
pub struct PromClient {
    base: String,
    http: reqwest::Client,
    permits: Arc<Semaphore>,
    timeout: Duration,
    queries: AtomicU64,
}

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
    /// A client for `base` (e.g. `http://prometheus:9090`).
    pub fn new(base: &str, timeout: Duration, max_concurrency: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Prometheus(format!("cannot build HTTP client: {e}")))?;
        Ok(PromClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            permits: Arc::new(Semaphore::new(max_concurrency.max(1))),
            timeout,
            queries: AtomicU64::new(0),
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Queries sent so far.
    pub fn query_count(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Runs an instant query at `time` (Unix seconds; now when `None`) and returns the raw
    /// body of a successful answer.
    pub async fn instant_raw(&self, query: &str, time: Option<i64>) -> Result<Vec<u8>> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Prometheus("client closed".into()))?;
        self.queries.fetch_add(1, Ordering::Relaxed);
        let mut form = vec![("query", query.to_string())];
        if let Some(t) = time {
            form.push(("time", t.to_string()));
        }
        form.push(("timeout", format!("{}s", self.timeout.as_secs().max(1))));
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.base), &form)
            .map_err(|e| Error::Prometheus(format!("invalid Prometheus URL {}: {e}", self.base)))?;
        let resp = self.http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Prometheus(format!("query timed out after {:?}", self.timeout))
            } else {
                Error::Prometheus(format!("cannot reach {}: {}", self.base, root_cause(&e)))
            }
        })?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Error::Prometheus(format!("unreadable response (HTTP {status}): {e}")))?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<ApiResponse>(&body)
                .ok()
                .map(|b| {
                    format!(
                        "{}: {}",
                        b.error_type.unwrap_or_default(),
                        b.error.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(Error::Prometheus(format!("HTTP {status}: {reason}")));
        }
        Ok(body.to_vec())
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

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_prometheus_is_a_prometheus_error() {
        // Port 9 on loopback: nothing listens; the error names the URL.
        let c = PromClient::new("http://127.0.0.1:9", Duration::from_secs(2), 2).unwrap();
        let e = c.instant("up", None).await.unwrap_err();
        assert_eq!(e.category(), "prometheus");
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.to_string().contains("127.0.0.1:9"));
        assert_eq!(c.query_count(), 1);
    }
}
