//! Istio standard metrics for a [`Mesh`], as the sidecars of one cluster would expose them.
//!
//! Every flow is counted twice, as Istio does: by the source workload's sidecar (`reporter="source"`, exposed in
//! the source's cluster) and by the destination's (`reporter="destination"`, exposed in the destination's
//! cluster). Counters are deterministic functions of time: `floor(rate × share × (t − origin))`, so two scrapes
//! (or a backfilled file) give exact, predictable rates.

use std::fmt::Write as _;

use crate::topology::{Flow, Mesh, Protocol, Response, Workload};

/// Istio's default buckets for `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];
/// Istio's default buckets for `istio_request_bytes` / `istio_response_bytes`.
pub const SIZE_BUCKETS: [f64; 9] = [
    1.0,
    10.0,
    100.0,
    1000.0,
    10000.0,
    100000.0,
    1000000.0,
    10000000.0,
    100000000.0,
];

/// Which sidecar counted a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    Source,
    Destination,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
    /// The cluster whose `/metrics` exposes what this reporter counted for `flow`.
    pub fn cluster(self, flow: &Flow) -> &str {
        match self {
            Reporter::Source => &flow.source.cluster,
            Reporter::Destination => &flow.destination.cluster,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Histogram,
}

/// What one metric family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Requests,
    Duration,
    RequestBytes,
    ResponseBytes,
    RequestMessages,
    ResponseMessages,
    TcpSent,
    TcpReceived,
    TcpOpened,
    TcpClosed,
}

struct Family {
    /// Name without the `_total` suffix of counters (the OpenMetrics family name).
    name: &'static str,
    help: &'static str,
    kind: Kind,
    measure: Measure,
}

impl Family {
    fn applies_to(&self, protocol: Protocol) -> bool {
        use Measure::*;
        match self.measure {
            Requests | Duration | RequestBytes | ResponseBytes => protocol != Protocol::Tcp,
            RequestMessages | ResponseMessages => protocol == Protocol::Grpc,
            TcpSent | TcpReceived | TcpOpened | TcpClosed => protocol == Protocol::Tcp,
        }
    }
}

const FAMILIES: [Family; 10] = [
    Family {
        name: "istio_requests",
        help: "Total requests.",
        kind: Kind::Counter,
        measure: Measure::Requests,
    },
    Family {
        name: "istio_request_duration_milliseconds",
        help: "Request duration in milliseconds.",
        kind: Kind::Histogram,
        measure: Measure::Duration,
    },
    Family {
        name: "istio_request_bytes",
        help: "Request size in bytes.",
        kind: Kind::Histogram,
        measure: Measure::RequestBytes,
    },
    Family {
        name: "istio_response_bytes",
        help: "Response size in bytes.",
        kind: Kind::Histogram,
        measure: Measure::ResponseBytes,
    },
    Family {
        name: "istio_request_messages",
        help: "gRPC messages sent by the client.",
        kind: Kind::Counter,
        measure: Measure::RequestMessages,
    },
    Family {
        name: "istio_response_messages",
        help: "gRPC messages sent by the server.",
        kind: Kind::Counter,
        measure: Measure::ResponseMessages,
    },
    Family {
        name: "istio_tcp_sent_bytes",
        help: "Bytes sent during responses on TCP connections.",
        kind: Kind::Counter,
        measure: Measure::TcpSent,
    },
    Family {
        name: "istio_tcp_received_bytes",
        help: "Bytes received during requests on TCP connections.",
        kind: Kind::Counter,
        measure: Measure::TcpReceived,
    },
    Family {
        name: "istio_tcp_connections_opened",
        help: "TCP connections opened.",
        kind: Kind::Counter,
        measure: Measure::TcpOpened,
    },
    Family {
        name: "istio_tcp_connections_closed",
        help: "TCP connections closed.",
        kind: Kind::Counter,
        measure: Measure::TcpClosed,
    },
];

/// One labelled series of a family, before values: a flow, a reporter and (HTTP/gRPC) a response code.
#[derive(Debug, Clone, Copy)]
pub struct SeriesRef<'a> {
    pub flow: &'a Flow,
    pub reporter: Reporter,
    pub response: &'a Response,
}

/// Requests (connections) of one series counted by time `elapsed` seconds after the origin.
pub fn count(flow: &Flow, response: &Response, elapsed: f64) -> f64 {
    // The epsilon keeps products like 20 × 0.95 × 15 from flooring to one less than the exact integer.
    (flow.rate * response.fraction * elapsed.max(0.0) + 1e-6).floor()
}

fn principal(trust_domain: &str, w: &Workload, mtls: bool) -> String {
    if mtls {
        format!(
            "spiffe://{trust_domain}/ns/{}/sa/{}",
            w.namespace,
            w.service_account()
        )
    } else {
        "unknown".to_owned()
    }
}

/// The labels Istio's sidecars put on a series, in the order they emit them.
pub fn labels(trust_domain: &str, s: &SeriesRef<'_>) -> Vec<(&'static str, String)> {
    let f = s.flow;
    let (src, dst, svc) = (&f.source, &f.destination, &f.service);
    let security = match (s.reporter, f.mtls) {
        (Reporter::Source, _) => "unknown",
        (Reporter::Destination, true) => "mutual_tls",
        (Reporter::Destination, false) => "none",
    };
    let mut l = vec![
        ("reporter", s.reporter.as_str().to_owned()),
        ("source_workload", src.name.clone()),
        ("source_workload_namespace", src.namespace.clone()),
        ("source_principal", principal(trust_domain, src, f.mtls)),
        ("source_app", src.app.clone()),
        ("source_version", src.version().to_owned()),
        ("source_canonical_service", src.app.clone()),
        ("source_canonical_revision", src.version().to_owned()),
        ("source_cluster", src.cluster.clone()),
        ("destination_workload", dst.name.clone()),
        ("destination_workload_namespace", dst.namespace.clone()),
        (
            "destination_principal",
            principal(trust_domain, dst, f.mtls),
        ),
        ("destination_app", dst.app.clone()),
        ("destination_version", dst.version().to_owned()),
        (
            "destination_service",
            format!("{}.{}.svc.cluster.local", svc.name, svc.namespace),
        ),
        ("destination_service_name", svc.name.clone()),
        ("destination_service_namespace", svc.namespace.clone()),
        ("destination_canonical_service", dst.app.clone()),
        ("destination_canonical_revision", dst.version().to_owned()),
        ("destination_cluster", dst.cluster.clone()),
        ("request_protocol", f.protocol.as_str().to_owned()),
    ];
    if f.protocol != Protocol::Tcp {
        l.push(("response_code", s.response.code.clone()));
        l.push(("grpc_response_status", s.response.grpc_status.clone()));
    }
    l.push(("response_flags", "-".to_owned()));
    l.push(("connection_security_policy", security.to_owned()));
    l
}

/// Every series the sidecars of `cluster` expose (all clusters when `None`), in a stable order.
pub fn series<'a>(mesh: &'a Mesh, cluster: Option<&'a str>) -> Vec<SeriesRef<'a>> {
    let mut out = Vec::new();
    for flow in &mesh.flows {
        for reporter in [Reporter::Source, Reporter::Destination] {
            if cluster.is_some_and(|c| reporter.cluster(flow) != c) {
                continue;
            }
            for response in &flow.responses {
                out.push(SeriesRef {
                    flow,
                    reporter,
                    response,
                });
            }
        }
    }
    out
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf; absolute error below 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// Fraction of requests at most `ms` long under the flow's log-normal latency.
pub fn latency_cdf(flow: &Flow, ms: f64) -> f64 {
    let (p50, p99) = (flow.latency_ms.p50, flow.latency_ms.p99);
    let sigma = (p99 / p50).ln() / Z99;
    if sigma <= 0.0 {
        return if ms >= p50 { 1.0 } else { 0.0 };
    }
    normal_cdf((ms.ln() - p50.ln()) / sigma).clamp(0.0, 1.0)
}

/// Mean of the flow's log-normal latency, in milliseconds.
pub fn latency_mean(flow: &Flow) -> f64 {
    let sigma = (flow.latency_ms.p99 / flow.latency_ms.p50).ln() / Z99;
    flow.latency_ms.p50 * (sigma * sigma / 2.0).exp()
}

/// One sample line: name suffix, extra `le` label, value.
struct Sample {
    suffix: &'static str,
    le: Option<f64>,
    value: f64,
}

fn samples(family: &Family, s: &SeriesRef<'_>, elapsed: f64) -> Vec<Sample> {
    let f = s.flow;
    let c = count(f, s.response, elapsed);
    let counter = |value: f64| {
        vec![Sample {
            suffix: "_total",
            le: None,
            value,
        }]
    };
    let histogram = |bucket: &dyn Fn(f64) -> f64, buckets: &[f64], sum: f64| {
        let mut v: Vec<Sample> = buckets
            .iter()
            .map(|&b| Sample {
                suffix: "_bucket",
                le: Some(b),
                value: bucket(b),
            })
            .collect();
        v.push(Sample {
            suffix: "_bucket",
            le: Some(f64::INFINITY),
            value: c,
        });
        v.push(Sample {
            suffix: "_sum",
            le: None,
            value: sum,
        });
        v.push(Sample {
            suffix: "_count",
            le: None,
            value: c,
        });
        v
    };
    let sized = |bytes: u64| {
        let bytes = bytes as f64;
        histogram(
            &|b| if bytes <= b { c } else { 0.0 },
            &SIZE_BUCKETS,
            c * bytes,
        )
    };
    match family.measure {
        Measure::Requests => counter(c),
        Measure::Duration => histogram(
            &|b| (c * latency_cdf(f, b) + 1e-6).floor().min(c),
            &DURATION_BUCKETS_MS,
            c * latency_mean(f),
        ),
        Measure::RequestBytes => sized(f.request_bytes),
        Measure::ResponseBytes => sized(f.response_bytes),
        Measure::RequestMessages | Measure::ResponseMessages => {
            counter(c * f64::from(f.grpc_messages))
        }
        Measure::TcpSent => counter(c * f.response_bytes as f64),
        Measure::TcpReceived => counter(c * f.request_bytes as f64),
        Measure::TcpOpened | Measure::TcpClosed => counter(c),
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        format!("{v}")
    }
}

fn write_sample(
    out: &mut String,
    family: &Family,
    labels: &str,
    sample: &Sample,
    timestamp: Option<f64>,
) {
    out.push_str(family.name);
    out.push_str(sample.suffix);
    out.push('{');
    out.push_str(labels);
    if let Some(le) = sample.le {
        let _ = write!(out, ",le=\"{}\"", number(le));
    }
    let _ = write!(out, "}} {}", number(sample.value));
    if let Some(ts) = timestamp {
        let _ = write!(out, " {}", number(ts));
    }
    out.push('\n');
}

fn label_text(trust_domain: &str, s: &SeriesRef<'_>) -> String {
    labels(trust_domain, s)
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn render(
    mesh: &Mesh,
    cluster: Option<&str>,
    origin: f64,
    times: &[f64],
    openmetrics: bool,
) -> String {
    let series = series(mesh, cluster);
    let trust_domain = &mesh.topology.trust_domain;
    let mut out = String::new();
    for family in &FAMILIES {
        let members: Vec<&SeriesRef<'_>> = series
            .iter()
            .filter(|s| family.applies_to(s.flow.protocol))
            .collect();
        if members.is_empty() {
            continue;
        }
        let (type_name, kind) = match family.kind {
            Kind::Counter => (
                if openmetrics {
                    family.name.to_owned()
                } else {
                    format!("{}_total", family.name)
                },
                "counter",
            ),
            Kind::Histogram => (family.name.to_owned(), "histogram"),
        };
        let _ = writeln!(out, "# HELP {type_name} {}", family.help);
        let _ = writeln!(out, "# TYPE {type_name} {kind}");
        for s in members {
            let labels = label_text(trust_domain, s);
            // Within one series, samples go in increasing time; a histogram's lines for one time stay together.
            for &t in times {
                let timestamp = openmetrics.then_some(t);
                for sample in samples(family, s, t - origin) {
                    write_sample(&mut out, family, &labels, &sample, timestamp);
                }
            }
        }
    }
    out
}

/// Prometheus text exposition (format 0.0.4) of what `cluster`'s sidecars expose at time `now`
/// (Unix seconds), with counters started at `origin`.
pub fn exposition(mesh: &Mesh, cluster: Option<&str>, origin: f64, now: f64) -> String {
    render(mesh, cluster, origin, &[now], false)
}

/// OpenMetrics text with one timestamped sample per series and time, ending in `# EOF`, for
/// `promtool tsdb create-blocks-from openmetrics`.
pub fn openmetrics(mesh: &Mesh, cluster: Option<&str>, origin: f64, times: &[f64]) -> String {
    let mut out = render(mesh, cluster, origin, times, true);
    out.push_str("# EOF\n");
    out
}

/// `start, start+step, …` up to and including `end`.
pub fn time_steps(start: f64, end: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !step.is_finite() || step <= 0.0 || end < start {
        return out;
    }
    let mut i = 0u64;
    loop {
        let t = start + step * i as f64;
        if t > end + 1e-9 {
            break;
        }
        out.push(t);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{demo, mesh};
    use std::collections::BTreeMap;

    const T0: f64 = 1_700_000_000.0;

    /// Every protocol, both in-cluster and cross-cluster.
    fn mixed() -> Mesh {
        mesh(
            "
clusters: [a, b]
workloads:
  - {cluster: a, namespace: ns, name: client, app: client}
  - {cluster: b, namespace: ns, name: api-v1, app: api, version: v1}
  - {cluster: a, namespace: ns, name: db-v1, app: db, version: v1}
services:
  - {namespace: ns, name: api, port: 8080}
  - {namespace: ns, name: db, port: 5432}
calls:
  - {from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: api}, rate: 4,
     protocol: grpc, responses: {'0': 3, '14': 1}, grpc_messages: 2}
  - {from: {cluster: b, namespace: ns, workload: api-v1}, to: {namespace: ns, service: db}, rate: 2,
     protocol: tcp, request_bytes: 100, response_bytes: 300, mtls: false}
",
        )
        .unwrap()
    }

    /// Parses exposition/OpenMetrics text into (name, labels, value, timestamp), checking the line syntax.
    type Parsed = (String, BTreeMap<String, String>, f64, Option<f64>);

    fn parse(text: &str) -> Vec<Parsed> {
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, rest) = line.split_once('{').expect(line);
            let (labels, rest) = rest.split_once("} ").expect(line);
            let labels: BTreeMap<String, String> = labels
                .split("\",")
                .map(|kv| {
                    let (k, v) = kv.split_once("=\"").expect(kv);
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            let mut fields = rest.split(' ');
            let value: f64 = fields
                .next()
                .unwrap()
                .replace("+Inf", "inf")
                .parse()
                .expect(line);
            let ts = fields.next().map(|t| t.parse().expect(line));
            assert!(fields.next().is_none(), "{line}");
            out.push((name.to_owned(), labels, value, ts));
        }
        out
    }

    fn requests(text: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        parse(text)
            .into_iter()
            .filter(|s| s.0 == "istio_requests_total")
            .map(|s| (s.1, s.2))
            .collect()
    }

    const REQUIRED: [&str; 21] = [
        "reporter",
        "source_workload",
        "source_workload_namespace",
        "source_app",
        "source_version",
        "source_cluster",
        "source_principal",
        "destination_service",
        "destination_service_name",
        "destination_service_namespace",
        "destination_workload",
        "destination_workload_namespace",
        "destination_app",
        "destination_version",
        "destination_cluster",
        "destination_principal",
        "request_protocol",
        "response_code",
        "grpc_response_status",
        "response_flags",
        "connection_security_policy",
    ];

    #[test]
    fn label_sets_are_complete() {
        let mesh = mixed();
        let text = exposition(&mesh, None, T0, T0 + 60.0);
        let samples = parse(&text);
        assert!(!samples.is_empty());
        for (name, labels, _, _) in &samples {
            let tcp = name.starts_with("istio_tcp_");
            for key in REQUIRED {
                if tcp && (key == "response_code" || key == "grpc_response_status") {
                    assert!(!labels.contains_key(key), "{name} has {key}");
                    continue;
                }
                let v = labels
                    .get(key)
                    .unwrap_or_else(|| panic!("{name} lacks {key}: {labels:?}"));
                if key != "grpc_response_status" {
                    assert!(!v.is_empty(), "{name} has empty {key}");
                }
            }
            for key in ["source_canonical_service", "destination_canonical_revision"] {
                assert!(labels.contains_key(key), "{name} lacks {key}");
            }
        }
        let families: std::collections::BTreeSet<&str> =
            samples.iter().map(|s| s.0.as_str()).collect();
        for f in [
            "istio_requests_total",
            "istio_request_duration_milliseconds_bucket",
            "istio_request_duration_milliseconds_sum",
            "istio_request_duration_milliseconds_count",
            "istio_request_bytes_sum",
            "istio_response_bytes_sum",
            "istio_request_messages_total",
            "istio_response_messages_total",
            "istio_tcp_sent_bytes_total",
            "istio_tcp_received_bytes_total",
            "istio_tcp_connections_opened_total",
        ] {
            assert!(families.contains(f), "missing {f}");
        }
    }

    #[test]
    fn each_cluster_exposes_what_its_proxies_report() {
        let mesh = demo();
        for cluster in ["east", "west"] {
            let all = requests(&exposition(&mesh, Some(cluster), T0, T0 + 60.0));
            assert!(!all.is_empty());
            for (l, _) in &all {
                let owner = if l["reporter"] == "source" {
                    &l["source_cluster"]
                } else {
                    &l["destination_cluster"]
                };
                assert_eq!(owner, cluster, "{l:?}");
            }
        }
        // reviews-v2 (east) -> ratings (west): source report on east, destination report on west.
        let cross = |cluster: &str, reporter: &str| {
            requests(&exposition(&mesh, Some(cluster), T0, T0 + 60.0))
                .into_iter()
                .any(|(l, _)| {
                    l["reporter"] == reporter
                        && l["source_workload"] == "reviews-v2"
                        && l["destination_workload"] == "ratings-v1"
                        && l["source_cluster"] == "east"
                        && l["destination_cluster"] == "west"
                        && l["destination_service"] == "ratings.bookinfo.svc.cluster.local"
                })
        };
        assert!(cross("east", "source"));
        assert!(cross("west", "destination"));
        assert!(!cross("east", "destination"));
        assert!(!cross("west", "source"));
    }

    #[test]
    fn mtls_shows_in_security_policy_and_principals() {
        let mesh = mixed();
        for (name, l, _, _) in parse(&exposition(&mesh, None, T0, T0 + 10.0)) {
            let mtls = l["request_protocol"] != "tcp";
            let expected = match (l["reporter"].as_str(), mtls) {
                ("source", _) => "unknown",
                (_, true) => "mutual_tls",
                (_, false) => "none",
            };
            assert_eq!(l["connection_security_policy"], expected, "{name} {l:?}");
            assert_eq!(
                l["source_principal"].starts_with("spiffe://cluster.local/ns/ns/sa/"),
                mtls
            );
        }
    }

    #[test]
    fn rates_are_exact() {
        let mesh = demo();
        let at = |t: f64| requests(&exposition(&mesh, None, T0, t));
        let (before, after) = (at(T0 + 600.0), at(T0 + 900.0));
        assert_eq!(before.len(), after.len());
        // ratings answers 503 to 5% of reviews-v2's 2 req/s: 0.1/s; 300 s → 30 more.
        let pick = |v: &[(BTreeMap<String, String>, f64)], code: &str| {
            v.iter()
                .find(|(l, _)| {
                    l["reporter"] == "destination"
                        && l["source_workload"] == "reviews-v2"
                        && l["response_code"] == code
                })
                .unwrap()
                .1
        };
        assert_eq!(pick(&after, "503") - pick(&before, "503"), 30.0);
        assert_eq!(pick(&after, "200") - pick(&before, "200"), 570.0);
        // helloworld-v2 fails 15% of east sleep's 2 req/s to it.
        let hw = |v: &[(BTreeMap<String, String>, f64)], code: &str| {
            v.iter()
                .find(|(l, _)| {
                    l["reporter"] == "source"
                        && l["source_cluster"] == "east"
                        && l["destination_workload"] == "helloworld-v2"
                        && l["response_code"] == code
                })
                .unwrap()
                .1
        };
        assert_eq!(hw(&after, "500") - hw(&before, "500"), 90.0);
        // Both reporters count the same requests.
        let total = |reporter: &str| {
            after
                .iter()
                .filter(|(l, _)| l["reporter"] == reporter)
                .map(|(_, v)| v)
                .sum::<f64>()
        };
        assert_eq!(total("source"), total("destination"));
        // Sum over the mesh: 30 req/s in the demo file.
        assert_eq!(total("source"), 30.0 * 900.0);
    }

    #[test]
    fn tcp_and_grpc_counters() {
        let mesh = mixed();
        let s = parse(&exposition(&mesh, None, T0, T0 + 100.0));
        let sum = |name: &str, reporter: &str| {
            s.iter()
                .filter(|x| x.0 == name && x.1["reporter"] == reporter)
                .map(|x| x.2)
                .sum::<f64>()
        };
        assert_eq!(
            sum("istio_tcp_received_bytes_total", "destination"),
            2.0 * 100.0 * 100.0
        );
        assert_eq!(
            sum("istio_tcp_sent_bytes_total", "source"),
            2.0 * 100.0 * 300.0
        );
        assert_eq!(sum("istio_tcp_connections_opened_total", "source"), 200.0);
        assert_eq!(
            sum("istio_request_messages_total", "source"),
            4.0 * 100.0 * 2.0
        );
        assert_eq!(sum("istio_requests_total", "destination"), 400.0);
        let unavailable: f64 = s
            .iter()
            .filter(|x| x.0 == "istio_requests_total" && x.1["grpc_response_status"] == "14")
            .map(|x| x.2)
            .sum();
        assert_eq!(unavailable, 2.0 * 100.0, "25% of 400, both reporters");
        assert!(
            s.iter()
                .filter(|x| x.0 == "istio_requests_total")
                .all(|x| x.1["response_code"] == "200")
        );
    }

    #[test]
    fn histograms_are_cumulative_and_consistent() {
        let mesh = demo();
        let s = parse(&exposition(&mesh, None, T0, T0 + 3600.0));
        let mut by_series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (name, mut l, v, _) in s.iter().cloned() {
            if name == "istio_request_duration_milliseconds_bucket" {
                let le: f64 = l
                    .remove("le")
                    .unwrap()
                    .replace("+Inf", "inf")
                    .parse()
                    .unwrap();
                by_series.entry(format!("{l:?}")).or_default().push((le, v));
            }
        }
        assert!(!by_series.is_empty());
        for buckets in by_series.values() {
            assert_eq!(buckets.len(), DURATION_BUCKETS_MS.len() + 1);
            assert!(
                buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{buckets:?}"
            );
        }
        // The median bucket holds about half: sleep -> productpage p50 = 40 ms, so le=25 < 50% < le=50.
        let flow = mesh
            .flows
            .iter()
            .find(|f| f.destination.name == "productpage-v1")
            .unwrap();
        assert!(latency_cdf(flow, 25.0) < 0.5 && latency_cdf(flow, 50.0) > 0.5);
        assert!((latency_cdf(flow, 40.0) - 0.5).abs() < 1e-6);
        assert!((latency_cdf(flow, 400.0) - 0.99).abs() < 1e-4);
        assert!(latency_mean(flow) > 40.0);
    }

    #[test]
    fn openmetrics_is_timestamped_and_ends_with_eof() {
        let mesh = demo();
        let times = time_steps(T0, T0 + 60.0, 15.0);
        assert_eq!(times, [T0, T0 + 15.0, T0 + 30.0, T0 + 45.0, T0 + 60.0]);
        let text = openmetrics(&mesh, Some("west"), T0, &times);
        assert!(text.ends_with("\n# EOF\n"));
        assert!(text.contains("# TYPE istio_requests counter\n"));
        assert!(text.contains("# TYPE istio_request_duration_milliseconds histogram\n"));
        let samples = parse(text.trim_end_matches("# EOF\n"));
        assert!(samples.iter().all(|s| s.3.is_some()));
        // Families are never interleaved.
        let mut order: Vec<&str> = Vec::new();
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let name = line.split(' ').nth(2).unwrap();
            assert!(!order.contains(&name));
            order.push(name);
        }
        // Each series' samples go forward in time.
        let mut last: BTreeMap<String, f64> = BTreeMap::new();
        for (name, l, _, ts) in &samples {
            let key = format!("{name}{l:?}");
            let ts = ts.unwrap();
            if let Some(prev) = last.insert(key, ts) {
                assert!(prev < ts);
            }
        }
        assert!(time_steps(T0, T0 - 1.0, 15.0).is_empty());
        assert!(time_steps(T0, T0 + 1.0, 0.0).is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn counters_never_decrease(a in 0.0f64..1e6, b in 0.0f64..1e6) {
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            let mesh = mixed();
            let before = parse(&exposition(&mesh, None, T0, T0 + early));
            let after = parse(&exposition(&mesh, None, T0, T0 + late));
            proptest::prop_assert_eq!(before.len(), after.len());
            for (x, y) in before.iter().zip(&after) {
                proptest::prop_assert_eq!(&x.1, &y.1);
                proptest::prop_assert!(x.2 <= y.2, "{} {:?}: {} > {}", x.0, x.1, x.2, y.2);
            }
        }
    }
}
