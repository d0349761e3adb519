//! Pods and their container logs, as Kiali serves them: `/api/namespaces/{ns}/pods/{pod}`
//! (Kiali's `Pod`, from the caches, for a caller who may read the namespace) and
//! `/api/namespaces/{ns}/pods/{pod}/logs` (Kiali's `PodLogs`: `entries` of `timestamp`,
//! `timestampUnix`, `message`, `severity`, and `linesTruncated`).
//!
//! Logs are read from the pod's own cluster (`clusterName`, else the cluster whose cache holds
//! the pod) with the caller's own credentials ([`crate::as_caller`]): the cluster's API server
//! checks `get pods/log`, and its refusal is passed on. Only `anonymous` reads with the server's
//! ServiceAccount. Every read is bounded: at most [`MAX_LINES`] lines and [`MAX_BYTES`] bytes,
//! [`READ_TIMEOUT`] for a plain read; `follow=true` (BEYOND Kiali, whose UI polls) streams one
//! entry per line (`application/x-ndjson`) for at most [`FOLLOW_MAX`].

use std::collections::HashMap;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::{Value, json};

use crate::as_caller::{client_for, refused};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::kiali_json;
use crate::params::{Params, check_path_names};
use crate::state::{Shared, Views};

/// Lines a response holds at most (`maxLines` above it is refused).
pub const MAX_LINES: usize = 10_000;
/// Bytes of log the API server is asked for at most (`limitBytes`).
pub const MAX_BYTES: i64 = 8 * 1024 * 1024;
/// How long a plain (not followed) read may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a followed stream lasts at most; the UI follows again after it.
pub const FOLLOW_MAX: Duration = Duration::from_secs(600);
/// The longest `duration` accepted (a week).
const MAX_DURATION_SECS: u64 = 7 * 24 * 3600;

/// What a logs request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub container: Option<String>,
    /// `sinceTime`: Unix seconds.
    pub since: Option<i64>,
    /// `duration`: only lines up to `since + duration` (Kiali: the time range's end).
    pub duration_secs: Option<u64>,
    pub tail_lines: Option<i64>,
    pub max_lines: usize,
    pub follow: bool,
}

impl LogQuery {
    /// Kiali's parameters: `container`, `sinceTime`, `duration`, `tailLines`, `maxLines`, and
    /// `follow`.
    pub fn from_params(p: &Params) -> Result<Self> {
        let container = match p.get("container") {
            None => None,
            Some(c) if meshglass_crds::names::is_dns_label(c) => Some(c.to_string()),
            Some(c) => {
                return Err(Error::bad_param(
                    "container",
                    c,
                    "a container name (RFC 1123 label)",
                ));
            }
        };
        let since = match p.get("sinceTime") {
            None => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|t| *t >= 0)
                    .ok_or_else(|| Error::bad_param("sinceTime", v, "Unix seconds (>= 0)"))?,
            ),
        };
        let duration_secs = match p.get("duration") {
            None => None,
            Some(v) => Some(
                meshglass_engine::check_duration("duration", v)
                    .ok()
                    .filter(|d| *d > 0 && *d <= MAX_DURATION_SECS)
                    .ok_or_else(|| {
                        Error::bad_param(
                            "duration",
                            v,
                            "a duration such as 600s, 10m or 1h, at most 7d",
                        )
                    })?,
            ),
        };
        let tail_lines = p.positive_int("tailLines", MAX_LINES as i64)?;
        let max_lines = p
            .positive_int("maxLines", MAX_LINES as i64)?
            .map(|n| n as usize)
            .unwrap_or(MAX_LINES);
        Ok(LogQuery {
            container,
            since,
            duration_secs,
            tail_lines,
            max_lines,
            follow: p.bool("follow", false)?,
        })
    }

    /// The last instant of the range (Unix milliseconds), when `sinceTime` and `duration` set one.
    fn until_millis(&self) -> Option<i64> {
        Some((self.since? + self.duration_secs? as i64) * 1000)
    }

    fn params(&self, container: Option<String>) -> LogParams {
        LogParams {
            container,
            follow: self.follow,
            limit_bytes: (!self.follow).then_some(MAX_BYTES),
            since_time: self
                .since
                .and_then(|t| k8s_openapi::jiff::Timestamp::from_second(t).ok()),
            tail_lines: self.tail_lines,
            timestamps: true,
            ..LogParams::default()
        }
    }
}

/// Kiali's `LogEntry` of one line the API server sent with `timestamps=true`
/// (`<RFC 3339 time> <message>`): `timestamp` as `2006-01-02 15:04:05.000` (UTC),
/// `timestampUnix` in milliseconds, and the severity the message names (`ERROR`, `WARN`, `DEBUG`,
/// `TRACE`, else `INFO`), as Kiali reads it.
pub fn log_entry(line: &str) -> Option<(i64, Value)> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (ts, message) = line.split_once(' ').unwrap_or((line, ""));
    let t: jiff::Timestamp = ts.parse().ok()?;
    let millis = t.as_millisecond();
    let shown = t.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string();
    Some((
        millis,
        json!({
            "timestamp": shown,
            "timestampUnix": millis,
            "message": message,
            "severity": severity(message),
        }),
    ))
}

/// The first of `ERROR`, `WARN`, `DEBUG`, `TRACE` the message names (any case), else `INFO`.
fn severity(message: &str) -> &'static str {
    let upper = message.to_ascii_uppercase();
    ["ERROR", "WARN", "DEBUG", "TRACE"]
        .into_iter()
        .filter_map(|s| upper.find(s).map(|at| (at, s)))
        .min()
        .map(|(_, s)| s)
        .unwrap_or("INFO")
}

/// The views of `ns` the caller may read (403 when none), and the pod `name` in them: its
/// cluster and its Kiali JSON (404 when no view has it).
pub(crate) async fn find_pod(
    s: &Shared,
    caller: &Caller,
    ns: &str,
    name: &str,
    p: &Params,
) -> Result<(Views, String, Value)> {
    check_path_names(ns, name)?;
    let views = s
        .views(&caller.id, p.cluster(), Some([ns.to_string()].into()))
        .await?;
    s.require_namespaces(&caller.id, &views, &[ns.to_string()])?;
    let found = views
        .clusters
        .iter()
        .filter(|v| v.may_see(ns))
        .find_map(|v| {
            v.workloads_in(&|n| n == ns)
                .iter()
                .find_map(|w| w.pods.iter().find(|pod| pod.name == name))
                .map(|pod| (v.name().to_string(), kiali_json::pod(v.name(), pod)))
        });
    match found {
        Some((cluster, mut pod)) => {
            pod["namespace"] = json!(ns);
            Ok((views, cluster, pod))
        }
        None => Err(Error::NotFound(format!(
            "pod {ns}/{name} is in no cluster the caller may read{}",
            p.cluster()
                .map(|c| format!(" (clusterName {c})"))
                .unwrap_or_default()
        ))),
    }
}

/// `/api/namespaces/{ns}/pods/{pod}`: Kiali's `Pod` (with its `cluster`).
pub async fn get_pod(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, pod)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let (views, _, body) = find_pod(&s, &caller, &ns, &pod, &p).await?;
    Ok(views.respond(body))
}

/// `/api/namespaces/{ns}/pods/{pod}/logs`: Kiali's `PodLogs`, or with `follow=true` a stream of
/// its entries, one JSON object per line.
pub async fn get_pod_logs(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, pod)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let lq = LogQuery::from_params(&p)?;
    let (_, cluster, pod_json) = find_pod(&s, &caller, &ns, &pod, &p).await?;
    // Without `container`: the pod's first application container (Kiali's UI always names one).
    let container = lq.container.clone().or_else(|| {
        pod_json["containers"][0]["name"]
            .as_str()
            .or_else(|| pod_json["istioContainers"][0]["name"].as_str())
            .map(String::from)
    });
    let client = client_for(&s, &caller, &cluster)?;
    let api: Api<Pod> = Api::namespaced(client, &ns);
    let lp = lq.params(container.clone());
    tracing::info!(
        target: "meshglass::pod_logs",
        user = %caller.id.name(),
        cluster = %cluster,
        namespace = %ns,
        pod = %pod,
        container = container.as_deref().unwrap_or_default(),
        follow = lq.follow,
        "pod logs"
    );
    let reader = open_log(&api, &pod, &lp, &cluster, READ_TIMEOUT).await?;
    let deadline = tokio::time::Instant::now() + if lq.follow { FOLLOW_MAX } else { READ_TIMEOUT };
    if lq.follow {
        // The stream ends at FOLLOW_MAX; the UI follows again.
        let ndjson = entries(reader, lq.until_millis(), lq.max_lines, deadline).filter_map(|e| {
            std::future::ready(e.map(|e| Ok::<_, std::io::Error>(format!("{e}\n"))))
        });
        return Ok((
            [
                (header::CONTENT_TYPE, super::NDJSON),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Body::from_stream(ndjson),
        )
            .into_response());
    }
    // One line past `maxLines` tells that the answer is truncated.
    let mut read: Vec<Option<Value>> =
        entries(reader, lq.until_millis(), lq.max_lines + 1, deadline)
            .collect()
            .await;
    if read.last().is_some_and(Option::is_none) {
        return Err(timed_out(&cluster, READ_TIMEOUT));
    }
    let truncated = read.len() > lq.max_lines;
    read.truncate(lq.max_lines);
    Ok(axum::Json(json!({"entries": read, "linesTruncated": truncated})).into_response())
}

/// Opens the pod's log stream, within `within` whether followed or not (an API server that
/// accepts and never answers holds no request open).
async fn open_log(
    api: &Api<Pod>,
    pod: &str,
    lp: &LogParams,
    cluster: &str,
    within: Duration,
) -> Result<impl futures::AsyncBufRead + use<>> {
    match tokio::time::timeout(within, api.log_stream(pod, lp)).await {
        Ok(r) => r.map_err(|e| refused(cluster, e)),
        Err(_) => Err(timed_out(cluster, within)),
    }
}

/// The log's entries up to `until` (Unix milliseconds), at most `max` of them, until `deadline`:
/// a stream that reaching the deadline ends with one `None`.
fn entries(
    reader: impl futures::AsyncBufRead + Send + 'static,
    until: Option<i64>,
    max: usize,
    deadline: tokio::time::Instant,
) -> impl futures::Stream<Item = Option<Value>> + Send + 'static {
    let lines = reader
        .lines()
        .filter_map(|l| std::future::ready(l.ok().and_then(|l| log_entry(&l))))
        .take_while(move |(t, _)| std::future::ready(until.is_none_or(|u| *t <= u)))
        .map(|(_, e)| e)
        .take(max);
    futures::stream::unfold(Some(Box::pin(lines)), move |st| async move {
        let mut st = st?;
        match tokio::time::timeout_at(deadline, st.next()).await {
            Ok(Some(e)) => Some((Some(e), Some(st))),
            Ok(None) => None,
            Err(_) => Some((None, None)),
        }
    })
}

/// A log that did not arrive in time: an upstream timeout, not a Kubernetes refusal.
fn timed_out(cluster: &str, within: Duration) -> Error {
    Error::UpstreamTimeout(format!(
        "cluster {cluster}: the pod's log did not arrive within {} s",
        within.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_line_becomes_kialis_log_entry() {
        let (t, e) = log_entry(
            "2026-12-01T10:00:00.123456789Z [2026-12-01 10:00:00] warning: upstream slow\n",
        )
        .expect("entry");
        assert_eq!(t, 1_796_119_200_123);
        assert_eq!(e["timestamp"], "2026-12-01 10:00:00.123");
        assert_eq!(e["timestampUnix"], 1_796_119_200_123_i64);
        assert_eq!(e["message"], "[2026-12-01 10:00:00] warning: upstream slow");
        assert_eq!(e["severity"], "WARN");
        assert!(log_entry("no timestamp here").is_none());
    }

    #[test]
    fn severity_is_the_first_level_named() {
        assert_eq!(severity("GET /reviews 200"), "INFO");
        assert_eq!(severity("error: debug dump follows"), "ERROR");
        assert_eq!(severity("debug: an error was retried"), "DEBUG");
        assert_eq!(severity("TRACE span"), "TRACE");
    }

    #[test]
    fn kialis_parameters_are_read_and_bounded() {
        let q = LogQuery::from_params(&params(&[
            ("container", "istio-proxy"),
            ("sinceTime", "1796119200"),
            ("duration", "10m"),
            ("tailLines", "50"),
            ("maxLines", "100"),
            ("follow", "true"),
        ]))
        .expect("valid");
        assert_eq!(q.container.as_deref(), Some("istio-proxy"));
        assert_eq!(q.until_millis(), Some((1_796_119_200 + 600) * 1000));
        assert_eq!((q.tail_lines, q.max_lines, q.follow), (Some(50), 100, true));
        let lp = q.params(q.container.clone());
        assert!(lp.timestamps && lp.follow && lp.limit_bytes.is_none());
        let plain = LogQuery::from_params(&params(&[])).expect("defaults");
        assert_eq!(plain.max_lines, MAX_LINES);
        assert_eq!(plain.params(None).limit_bytes, Some(MAX_BYTES));
        for (k, v) in [
            ("maxLines", "0"),
            ("maxLines", "10001"),
            ("tailLines", "-1"),
            ("sinceTime", "yesterday"),
            ("duration", "forever"),
            ("container", "a/b"),
            ("follow", "yes"),
        ] {
            let err = LogQuery::from_params(&params(&[(k, v)])).expect_err(k);
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
    }

    #[tokio::test]
    async fn an_entry_stream_stops_at_max_at_until_and_at_its_deadline() {
        use futures::TryStreamExt;
        let log = "2026-12-01T10:00:00Z a\n2026-12-01T10:00:01Z b\n2026-12-01T10:00:02Z c\n";
        let far = tokio::time::Instant::now() + Duration::from_secs(60);
        let all = |max, until| {
            entries(
                futures::io::Cursor::new(log.as_bytes().to_vec()),
                until,
                max,
                far,
            )
            .collect::<Vec<_>>()
        };
        let msgs = |v: Vec<Option<Value>>| -> Vec<String> {
            v.into_iter()
                .map(|e| {
                    e.expect("before the deadline")["message"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        };
        assert_eq!(msgs(all(2, None).await), ["a", "b"]);
        assert_eq!(msgs(all(10, Some(1_796_119_201_000)).await), ["a", "b"]);
        // A log that sends one line and then nothing: the line, then the deadline's `None`.
        let open = futures::stream::iter([Ok::<_, std::io::Error>(
            b"2026-12-01T10:00:00Z a\n".to_vec(),
        )])
        .chain(futures::stream::pending())
        .into_async_read();
        let soon = tokio::time::Instant::now() + Duration::from_millis(100);
        let got: Vec<_> = entries(open, None, 10, soon).collect().await;
        assert_eq!(got.len(), 2);
        assert!(got[0].is_some() && got[1].is_none());
    }

    #[tokio::test]
    async fn opening_a_log_is_bounded_followed_or_not() {
        // An API server that accepts connections and never answers.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((c, _)) = l.accept().await {
                held.push(c);
            }
        });
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let api: Api<Pod> = Api::namespaced(kube::Client::try_from(config).unwrap(), "bookinfo");
        for follow in [false, true] {
            let q = LogQuery::from_params(&params(&[(
                "follow",
                if follow { "true" } else { "false" },
            )]))
            .unwrap();
            let lp = q.params(None);
            let open = open_log(&api, "reviews", &lp, "east", Duration::from_millis(200));
            let err = match tokio::time::timeout(Duration::from_secs(10), open).await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => panic!("follow={follow}: a log from a silent server"),
                Err(_) => panic!("follow={follow}: opening the log was not bounded"),
            };
            assert_eq!(
                (err.category(), err.status()),
                ("upstream_timeout", axum::http::StatusCode::GATEWAY_TIMEOUT),
                "follow={follow}: {err}"
            );
        }
    }
}
