use std::collections::BTreeMap;

use super::*;

const NOW: i64 = 1_700_000_000;

fn parse(target: MetricsTarget, pairs: &[(&str, &str)]) -> Result<MetricsQuery, Error> {
    MetricsQuery::from_query_pairs("bookinfo", target, pairs.iter().copied(), NOW)
}

fn workload() -> MetricsTarget {
    MetricsTarget::Workload("reviews-v1".into())
}

#[test]
fn kiali_defaults_and_every_parameter() {
    let q = parse(workload(), &[]).unwrap();
    assert_eq!(q.direction, Direction::Outbound);
    assert_eq!(q.reporter, Reporter::Source);
    assert!(q.avg && q.quantiles.is_empty() && q.by_labels.is_empty());
    assert_eq!((q.step, q.rate_interval, q.end), (15, 60, NOW));
    assert_eq!(q.start, NOW - 1800 - (NOW - 1800).rem_euclid(15));

    let q = parse(
        workload(),
        &[
            ("direction", "inbound"),
            ("reporter", "both"),
            ("requestProtocol", "grpc"),
            ("quantiles[]", "0.5"),
            ("quantiles[]", "0.99"),
            ("quantiles[]", "0.5"),
            ("avg", "false"),
            ("byLabels[]", "destination_cluster"),
            ("filters[]", "request_count"),
            ("step", "30"),
            ("rateInterval", "2m"),
            ("rateFunc", "irate"),
            ("duration", "600"),
            ("queryTime", "1699999980"),
            ("unknown", "ignored"),
        ],
    )
    .unwrap();
    assert_eq!(q.direction, Direction::Inbound);
    assert_eq!(q.reporter, Reporter::Both);
    assert_eq!(q.request_protocol.as_deref(), Some("grpc"));
    assert_eq!(q.quantiles, ["0.5", "0.99"]);
    assert!(!q.avg);
    assert_eq!(q.by_labels, ["destination_cluster"]);
    assert_eq!(q.filters, ["request_count"]);
    assert_eq!(
        (q.step, q.rate_interval, q.rate_func),
        (30, 120, RateFunc::Irate)
    );
    assert_eq!((q.start, q.end), (1_699_999_380, 1_699_999_980));
}

#[test]
fn bad_values_name_their_parameter() {
    for (k, v) in [
        ("direction", "sideways"),
        ("reporter", "proxy"),
        ("requestProtocol", "http\"}"),
        ("quantiles[]", "1.5"),
        ("quantiles[]", "p99"),
        ("avg", "maybe"),
        ("byLabels[]", "destination-cluster"),
        ("filters[]", "request_bogus"),
        ("step", "0"),
        ("step", "soon"),
        ("rateInterval", "forever"),
        ("rateFunc", "delta"),
        ("duration", "31d"),
        ("queryTime", "-5"),
    ] {
        let err = parse(workload(), &[(k, v)]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidParam { name, .. } if *name == k),
            "{k}={v}: {err}"
        );
        let name = match &err {
            Error::InvalidParam { name, .. } => *name,
            _ => unreachable!(),
        };
        assert!(
            name == "avg" || crate::allowed_values(name) != "true, false",
            "{name} has words for what it accepts"
        );
    }
    // The cost bound: a week every second is more points than Prometheus answers.
    let err = parse(workload(), &[("duration", "7d"), ("step", "1")]).unwrap_err();
    assert!(err.to_string().contains("step"), "{err}");
    // Too many quantiles.
    let many: Vec<String> = (0..=MAX_LIST).map(|i| format!("0.{i}1")).collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|q| ("quantiles[]", q.as_str())).collect();
    assert!(parse(workload(), &pairs).is_err());
}

#[test]
fn a_dashboard_is_four_queries_per_direction_against_kialis_twenty_two() {
    let q = parse(
        workload(),
        &[
            ("direction", "inbound"),
            ("reporter", "destination"),
            ("quantiles[]", "0.5"),
            ("quantiles[]", "0.95"),
            ("quantiles[]", "0.99"),
        ],
    )
    .unwrap();
    let qs = q.range_queries();
    assert_eq!(qs.len(), 4);
    let rates = &qs[0].promql;
    for m in ISTIO_METRICS.iter().filter(|m| !m.histogram) {
        assert!(
            rates.contains(&format!("\"{METRIC_LABEL}\", \"{}\"", m.name)),
            "{m:?}"
        );
    }
    for (m, q) in ISTIO_METRICS.iter().filter(|m| m.histogram).zip(&qs[1..]) {
        assert!(
            q.promql.contains(&format!("{}_bucket", m.istio)),
            "{}",
            q.promql
        );
        for stat in ["avg", "0.5", "0.95", "0.99"] {
            assert!(q.promql.contains(&format!("\"{STAT_LABEL}\", \"{stat}\"")));
        }
    }
    let sel = "{reporter=\"destination\",destination_workload_namespace=\"bookinfo\",destination_workload=\"reviews-v1\"}";
    assert!(
        rates.contains(&format!("rate(istio_requests_total{sel}[60s])")),
        "{rates}"
    );
    // Kiali's error selector.
    assert!(
        rates.contains("response_code=~\"^0$|^[4-5]\\\\d\\\\d$\""),
        "{rates}"
    );
    assert!(qs.iter().all(|r| r.step == 15 && r.end == NOW));
    // Filters pick the queries: one histogram only.
    let only = parse(
        workload(),
        &[
            ("filters[]", "request_duration_millis"),
            ("quantiles[]", "0.5"),
        ],
    )
    .unwrap();
    assert_eq!(only.range_queries().len(), 1);
}

#[test]
fn selectors_follow_the_direction_target_and_clusters() {
    let out = parse(MetricsTarget::App("reviews".into()), &[]).unwrap();
    let p = &out.range_queries()[0].promql;
    assert!(
        p.contains("{reporter=\"source\",source_workload_namespace=\"bookinfo\",source_canonical_service=\"reviews\"}"),
        "{p}"
    );
    let mut svc = parse(
        MetricsTarget::Service("reviews".into()),
        &[("direction", "inbound"), ("requestProtocol", "http")],
    )
    .unwrap();
    svc.clusters = Some(vec!["east".into(), "we.st".into()]);
    svc.scope = crate::QueryScope::new(&BTreeMap::from([("mesh_id".into(), "m1".into())])).unwrap();
    let p = &svc.range_queries()[0].promql;
    assert!(
        p.contains("{mesh_id=\"m1\",reporter=\"source\",destination_service_name=\"reviews\",destination_service_namespace=\"bookinfo\",request_protocol=\"http\",destination_cluster=~\"east|we\\\\.st\"}"),
        "{p}"
    );
    // http only: no gRPC error selector.
    assert!(!p.contains("grpc_response_status"), "{p}");
    let ns = parse(MetricsTarget::Namespace, &[("direction", "inbound")]).unwrap();
    assert!(
        ns.range_queries()[0]
            .promql
            .contains("{reporter=\"source\",destination_workload_namespace=\"bookinfo\"}")
    );
    // No cluster readable: nothing to ask.
    let mut none = ns.clone();
    none.clusters = Some(Vec::new());
    assert!(none.range_queries().is_empty());
    // A hostile name stays inside its string.
    let evil = parse(
        MetricsTarget::Workload("a\"}[1m]) or vector(1) #".into()),
        &[],
    )
    .unwrap();
    assert!(
        evil.range_queries()[0]
            .promql
            .contains("source_workload=\"a\\\"}[1m]) or vector(1) #\"")
    );
}

#[test]
fn grouping_by_cluster_adds_the_total_in_the_same_query() {
    let q = parse(
        workload(),
        &[
            ("direction", "inbound"),
            ("byLabels[]", "destination_cluster"),
            ("byLabels[]", "response_code"),
            ("quantiles[]", "0.5"),
            ("filters[]", "request_count"),
            ("filters[]", "request_duration_millis"),
        ],
    )
    .unwrap();
    let qs = q.range_queries();
    assert_eq!(qs.len(), 2);
    assert!(
        qs[0]
            .promql
            .contains("(sum by (destination_cluster,response_code) (rate(istio_requests_total")
            && qs[0]
                .promql
                .contains(" or sum by (response_code) (rate(istio_requests_total"),
        "{}",
        qs[0].promql
    );
    assert!(
        qs[1]
            .promql
            .contains("histogram_quantile(0.5, (sum by (le,destination_cluster,response_code)"),
        "{}",
        qs[1].promql
    );
}

/// One stand-in series: labels and (time, value) points.
type Stub<'a> = (&'a [(&'a str, &'a str)], &'a [(f64, &'a str)]);

fn answer(series: &[Stub<'_>]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|(labels, values)| {
            let metric: BTreeMap<&str, &str> = labels.iter().copied().collect();
            serde_json::json!({"metric": metric, "values": values})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": result}}))
        .unwrap()
}

#[test]
fn answers_become_kialis_metrics_map_and_dashboard() {
    let body = answer(&[
        (
            &[
                (METRIC_LABEL, "request_count"),
                ("destination_cluster", "west"),
            ],
            &[(1_700_000_000.0, "2"), (1_700_000_015.0, "2")],
        ),
        (
            &[
                (METRIC_LABEL, "request_count"),
                ("destination_cluster", "east"),
            ],
            &[(1_700_000_000.0, "4")],
        ),
        (
            &[(METRIC_LABEL, "request_count")],
            &[(1_700_000_000.0, "6")],
        ),
        (
            &[
                (METRIC_LABEL, "request_duration_millis"),
                (STAT_LABEL, "0.5"),
            ],
            &[(1_700_000_000.5, "20")],
        ),
        (&[("unrelated", "x")], &[(1.0, "1")]),
    ]);
    let series = MetricSeries::collect(parse_matrix(&body).unwrap());
    assert_eq!(series.len(), 4);
    let m = metrics_json(&series);
    let rc = m["request_count"].as_array().unwrap();
    assert_eq!(rc.len(), 3);
    assert_eq!(rc[0]["labels"], serde_json::json!({}));
    assert_eq!(
        rc[0]["datapoints"],
        serde_json::json!([[1_700_000_000i64, "6"]])
    );
    assert_eq!(rc[1]["labels"]["destination_cluster"], "east");
    assert_eq!(
        rc[2]["datapoints"][1],
        serde_json::json!([1_700_000_015i64, "2"])
    );
    assert_eq!(rc[0]["name"], "request_count");
    assert!(rc[0].get("stat").is_none());
    let d = &m["request_duration_millis"][0];
    assert_eq!(
        (d["stat"].as_str(), d["datapoints"][0][0].as_f64()),
        (Some("0.5"), Some(1_700_000_000.5))
    );

    let dash = dashboard_json(&series, Direction::Inbound);
    assert_eq!(dash["title"], "Inbound Metrics");
    assert_eq!(dash["rows"], 3);
    let charts = dash["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 12);
    assert_eq!(charts[0]["name"], "Request volume");
    assert_eq!(charts[0]["metrics"].as_array().unwrap().len(), 3);
    // Durations in seconds, as Kiali scales them.
    assert_eq!(charts[1]["unit"], "seconds");
    assert_eq!(charts[1]["metrics"][0]["datapoints"][0][1], "0.02");
    let labels: Vec<&str> = dash["aggregations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        &labels[..2],
        [
            "destination_canonical_revision",
            "source_workload_namespace"
        ]
    );
    assert!(labels.contains(&"destination_cluster"));
    // Not a matrix, an error, garbage: named errors.
    for bad in [
        &br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#[..],
        br#"{"status":"error","error":"bad query"}"#,
        b"<html>",
    ] {
        assert!(matches!(
            parse_matrix(bad),
            Err(Error::PrometheusResponse(_))
        ));
    }
}
