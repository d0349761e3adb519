//! The one query-parameter parser never panics: a million generated parameter sets, each given
//! to every parser of `params.rs` (graph options, node graphs, namespaces, health, times,
//! metrics requests and their range queries).
//! A parameter either parses or is a 400 naming a parameter.

use std::collections::HashMap;

use meshglass_server::Error;
use meshglass_server::params::Params;
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "namespaces",
    "graphType",
    "boxBy",
    "injectServiceNodes",
    "includeIdleEdges",
    "idleNodes",
    "rateHttp",
    "rateGrpc",
    "rateTcp",
    "responseTime",
    "throughputType",
    "appenders",
    "duration",
    "queryTime",
    "type",
    "rateInterval",
    "clusterName",
    "validate",
    "detail",
    "direction",
    "reporter",
    "requestProtocol",
    "quantiles[]",
    "avg",
    "byLabels[]",
    "filters[]",
    "step",
    "rateFunc",
];

/// Pieces of valid and nearly valid values.
const FRAGMENTS: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "10m",
    "600s",
    "1h30m",
    "30d",
    "31d",
    "2592000",
    "2592001",
    "1ms",
    "5y",
    "9999999999999999999999",
    "bookinfo",
    "Bookinfo",
    "a..b",
    "app",
    "workload",
    "versionedApp",
    "service",
    "true",
    "false",
    "T",
    "cluster,namespace,app",
    "avg",
    "95",
    "request",
    "response",
    "deadNode,idleNode",
    "inbound",
    "both",
    "0.95",
    "destination_cluster",
    "request_duration_millis",
    "irate",
    "ü",
    "\u{0}",
    "%00",
    " ",
    ",,,",
];

/// Characters of durations, lists and times, and a few others.
const CHARS: &[char] = &[
    '0', '1', '5', '9', 's', 'm', 'h', 'd', 'w', 'y', ',', '-', '.', ' ', 'a', 'Z', 'é', '\u{0}',
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        (
            proptest::sample::select(FRAGMENTS),
            proptest::sample::select(FRAGMENTS)
        )
            .prop_map(|(a, b)| format!("{a},{b}")),
        any::<i64>().prop_map(|n| n.to_string()),
        proptest::collection::vec(proptest::sample::select(CHARS), 0..24)
            .prop_map(|c| c.into_iter().collect()),
        // Any bytes, as the query decoder would pass them on.
        proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn params() -> impl Strategy<Value = HashMap<String, String>> {
    let key = prop_oneof![
        4 => proptest::sample::select(NAMES).prop_map(str::to_string),
        1 => proptest::collection::vec(proptest::sample::select(CHARS), 0..8)
            .prop_map(|c| c.into_iter().collect::<String>()),
    ];
    proptest::collection::hash_map(key, value(), 0..8)
}

fn is_400(r: Result<impl Sized, Error>) {
    if let Err(e) = r {
        assert_eq!(e.status(), 400, "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // A million by default; PARAMS_CASES for a quicker run.
        cases: std::env::var("PARAMS_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parameters_parse_or_are_400s(
        q in params(),
        ns in proptest::collection::vec(proptest::sample::select(CHARS), 0..70)
            .prop_map(|c| c.into_iter().collect::<String>()),
    ) {
        let pairs: Vec<(String, String)> = q.clone().into_iter().collect();
        let target = meshglass_engine::metrics::MetricsTarget::Workload(ns.clone());
        match meshglass_server::params::metrics_query(&ns, target, &pairs) {
            Ok(m) => assert!(m.range_queries().len() <= 4),
            Err(e) => assert_eq!(e.status(), 400, "{e}"),
        }
        let p = Params(q);
        is_400(p.graph_options(None));
        is_400(p.graph_options(Some(&ns)));
        is_400(p.namespaces());
        is_400(p.health_kind());
        is_400(p.rate_interval());
        is_400(p.query_time());
        is_400(p.bool("validate", false));
        let _ = p.cluster();
    }
}
