//! Grafana's reachability, as the mesh page shows it (`external_services.grafana` enabled with an
//! `internal_url`): healthy when `<internal_url>/api/health` answers 2xx within
//! [`PROBE_TIMEOUT`], without following redirects.
//!
//! Any caller of the mesh routes may ask for it, so the answer is kept (the shared
//! [`Reachability`]): the server sends Grafana at most one request per [`PROBE_TTL`]. The URL is
//! never shown here; the route shows it, without credentials, to signed-in callers only.

use std::time::Instant;

use meshglass_crds::config::GrafanaConfig;

use crate::error::Result;
pub use crate::upstream::reachability::{PROBE_TIMEOUT, PROBE_TTL};
use crate::upstream::{ClientOptions, Paths, Reachability, http_client};

/// The probe of the configured Grafana.
pub struct Probe {
    url: String,
    http: reqwest::Client,
    reach: Reachability,
}

impl Probe {
    /// The probe `cfg` describes; `None` when Grafana is disabled or has no `internal_url`. Its
    /// client is the server's one outbound builder's ([`http_client`]: the platform's roots and
    /// the CA bundle of `paths`), with [`PROBE_TIMEOUT`] and no redirects.
    pub fn configured(cfg: &GrafanaConfig, paths: &Paths) -> Result<Option<Probe>> {
        let url = cfg.internal_url.trim().trim_end_matches('/');
        if !cfg.enabled || url.is_empty() {
            return Ok(None);
        }
        let http = http_client(&ClientOptions {
            service: "grafana",
            ca_file: "",
            insecure: false,
            timeout: PROBE_TIMEOUT,
            follow_redirects: false,
            headers: Default::default(),
            paths,
        })?;
        Ok(Some(Probe {
            url: url.to_string(),
            http,
            reach: Reachability::default(),
        }))
    }

    /// Grafana's base URL as configured (it may hold credentials: not for display).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether Grafana answered its last probe, probing again when that is older than
    /// [`PROBE_TTL`].
    pub async fn healthy(&self) -> bool {
        self.healthy_at(Instant::now()).await
    }

    /// [`Probe::healthy`] as of `now`.
    pub async fn healthy_at(&self, now: Instant) -> bool {
        self.reach
            .check_at(now, || async {
                self.http
                    .get(format!("{}/api/health", self.url))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
            .await
    }

    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.reach.sent()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A Grafana stand-in counting the requests it gets; `/api/health` answers `status`.
    async fn grafana(status: u16) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let code = if uri.path() == "/api/health" {
                    status
                } else {
                    404
                };
                let mut resp = axum::response::Response::new(axum::body::Body::empty());
                *resp.status_mut() = axum::http::StatusCode::from_u16(code).unwrap();
                if code == 302 {
                    resp.headers_mut()
                        .insert("location", "/elsewhere".parse().unwrap());
                }
                resp
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (format!("http://{addr}/"), hits)
    }

    fn probe(url: &str) -> Probe {
        Probe::configured(
            &GrafanaConfig {
                internal_url: url.into(),
                ..GrafanaConfig::default()
            },
            &Paths::default(),
        )
        .expect("a client")
        .expect("configured")
    }

    #[tokio::test]
    async fn many_callers_send_one_probe_per_ttl() {
        let (url, hits) = grafana(200).await;
        let p = Arc::new(probe(&url));
        let t0 = Instant::now();
        let asks: Vec<_> = (0..50)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.healthy_at(t0).await })
            })
            .collect();
        for a in asks {
            assert!(a.await.unwrap());
        }
        assert!(p.healthy_at(t0 + PROBE_TTL / 2).await);
        assert_eq!((hits.load(Ordering::SeqCst), p.sent()), (1, 1));
        // Once the answer is older than the TTL, one new probe.
        assert!(p.healthy_at(t0 + PROBE_TTL).await);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_redirect_or_an_error_is_unhealthy_and_not_followed() {
        let (url, hits) = grafana(302).await;
        assert!(!probe(&url).healthy().await);
        assert_eq!(hits.load(Ordering::SeqCst), 1, "the redirect was followed");
        let (url, _) = grafana(503).await;
        assert!(!probe(&url).healthy().await);
    }

    #[test]
    fn disabled_or_without_a_url_there_is_no_probe() {
        let none = |cfg: &GrafanaConfig| Probe::configured(cfg, &Paths::default()).unwrap();
        assert!(none(&GrafanaConfig::default()).is_none());
        let off = GrafanaConfig {
            enabled: false,
            internal_url: "http://grafana:3000".into(),
            ..GrafanaConfig::default()
        };
        assert!(none(&off).is_none());
    }
}
