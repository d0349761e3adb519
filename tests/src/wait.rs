//! Waiting on conditions with a timeout whose error says what was last seen.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::Error;

/// Polls `check` until it returns `Ok(Some(v))` and returns `v`.
///
/// `Ok(None)` means "not yet"; an `Err` is remembered and polling goes on. On timeout the error
/// names `what` and includes the Debug of the last error, or says that the last check returned
/// `None`. Polls every 100 ms at first, backing off to 500 ms.
pub async fn wait_until<T, E, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, Error>
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    poll(what, timeout, || {
        let fut = check();
        async move {
            match fut.await {
                Ok(Some(v)) => Ok(v),
                Ok(None) => {
                    Err("the condition was not met yet (check returned Ok(None))".to_string())
                }
                Err(e) => Err(format!("{e:?}")),
            }
        }
    })
    .await
}

/// Like [`wait_until`], but `check` describes what it saw: `Err(description)` means "not yet".
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut interval = Duration::from_millis(100);
    let mut last = String::from("nothing (no check completed)");
    loop {
        let remaining = timeout.saturating_sub(start.elapsed());
        match tokio::time::timeout(remaining.max(Duration::from_millis(1)), check()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(seen)) => last = seen,
            Err(_) => last = format!("{last} (the last check itself did not finish in time)"),
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                seconds: timeout.as_secs_f64(),
                last,
            });
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(start.elapsed()))).await;
        interval = (interval * 3 / 2).min(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_value_once_the_check_passes() {
        let n = AtomicU32::new(0);
        let v = wait_until("counter reaches 3", Duration::from_secs(5), || async {
            let v = n.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>((v >= 3).then_some(v))
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test]
    async fn timeout_reports_the_last_error() {
        let err = wait_until("never", Duration::from_millis(300), || async {
            Err::<Option<()>, _>("pods: 1 of 2 available".to_string())
        })
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("never"), "{msg}");
        assert!(msg.contains("1 of 2 available"), "{msg}");
        assert_eq!(err.category(), "timeout");
    }
}
