//! The reachability of an external service as the mesh page shows it (Grafana, the tracing
//! store): the answer of one probe, kept for [`PROBE_TTL`].
//!
//! Any caller of the mesh routes may ask (anyone under the `anonymous` strategy), so concurrent
//! callers share one probe and, whatever the request rate, a service gets at most one probe per
//! [`PROBE_TTL`] from the server.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// How long one probe's answer is kept.
pub const PROBE_TTL: Duration = Duration::from_secs(10);
/// How long a probe may take; longer is unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last probe's answer, and how many were sent.
#[derive(Debug, Default)]
pub struct Reachability {
    /// When the last probe was sent, and its answer.
    last: Mutex<Option<(Instant, bool)>>,
    sent: AtomicU64,
}

impl Reachability {
    /// The last answer as of `now`, or the answer of `probe`, run (by one caller at a time) when
    /// there is none younger than [`PROBE_TTL`].
    pub async fn check_at<F, Fut>(&self, now: Instant, probe: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && now.saturating_duration_since(at) < PROBE_TTL
        {
            return ok;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let ok = probe().await;
        *last = Some((now, ok));
        ok
    }

    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_probe_per_ttl() {
        let r = Arc::new(Reachability::default());
        let t0 = Instant::now();
        let asks: Vec<_> = (0..20)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.check_at(t0, || async { true }).await })
            })
            .collect();
        for a in asks {
            assert!(a.await.unwrap());
        }
        // Within the TTL the kept answer, whatever a new probe would say.
        assert!(r.check_at(t0 + PROBE_TTL / 2, || async { false }).await);
        assert_eq!(r.sent(), 1);
        assert!(!r.check_at(t0 + PROBE_TTL, || async { false }).await);
        assert_eq!(r.sent(), 2);
    }
}
