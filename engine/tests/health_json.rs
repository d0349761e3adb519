//! The health writer (`EntityHealth::write_kiali_json`, `HealthReport::write_kiali_json`) must
//! write exactly the bytes serde_json writes for Kiali's shapes built as `Value` trees — the
//! trees the server sent before the writer, built here the way it built them.

use std::collections::BTreeMap;

use meshglass_engine::{
    EntityHealth, HealthKind, HealthReport, HealthStatus, RequestHealth, WorkloadStatus,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Kiali's JSON of one entity as a `Value` tree (the shapes of `AppHealth`, `WorkloadHealth`
/// and `ServiceHealth` with the computed status).
fn tree(e: &EntityHealth) -> Value {
    let status = json!({ "status": e.status.as_str(), "errorRatio": e.error_ratio });
    match e.kind {
        HealthKind::App => json!({
            "workloadStatuses": e.workload_statuses,
            "requests": e.requests,
            "status": status,
        }),
        HealthKind::Workload => json!({
            "workloadStatus": e.workload_statuses.first(),
            "requests": e.requests,
            "status": status,
        }),
        HealthKind::Service => json!({ "requests": e.requests, "status": status }),
    }
}

const STATUSES: [HealthStatus; 5] = [
    HealthStatus::Na,
    HealthStatus::Healthy,
    HealthStatus::NotReady,
    HealthStatus::Degraded,
    HealthStatus::Failure,
];
const KINDS: [HealthKind; 3] = [HealthKind::App, HealthKind::Workload, HealthKind::Service];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,12}",
        any::<String>(),
        Just("q\"uote\\back\nnl\u{1}\u{7f}é\u{2028}".to_string()),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        0.0..100.0f64,
        Just(1e21),
        Just(1.5e-7),
    ]
}

fn rates() -> impl Strategy<Value = BTreeMap<String, BTreeMap<String, f64>>> {
    prop::collection::btree_map(
        text(),
        prop::collection::btree_map(text(), number(), 0..4),
        0..3,
    )
}

fn entity() -> impl Strategy<Value = EntityHealth> {
    let status = prop::collection::vec(
        (
            text(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
        ),
        0..3,
    );
    (
        (text(), text(), 0..3usize, status),
        (
            rates(),
            rates(),
            prop::collection::btree_map(text(), text(), 0..3),
        ),
        (0..5usize, number(), 0..5usize),
    )
        .prop_map(
            |((namespace, name, kind, ws), (inb, outb, ann), (rs, ratio, st))| EntityHealth {
                cluster: "east".to_string(),
                namespace,
                name,
                kind: KINDS[kind],
                workload_statuses: ws
                    .into_iter()
                    .map(|(name, d, c, a, s)| WorkloadStatus {
                        name,
                        desired_replicas: d,
                        current_replicas: c,
                        available_replicas: a,
                        synced_proxies: s,
                    })
                    .collect(),
                requests: RequestHealth {
                    inbound: inb,
                    outbound: outb,
                    health_annotations: ann,
                },
                request_status: STATUSES[rs],
                error_ratio: ratio,
                status: STATUSES[st],
            },
        )
}

proptest! {
    #[test]
    fn an_entity_is_written_as_its_tree(e in entity()) {
        let want = serde_json::to_vec(&tree(&e)).unwrap();
        let got = e.kiali_json_bytes();
        prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
    }

    #[test]
    fn a_report_of_one_cluster_is_written_as_its_tree(
        entities in prop::collection::vec(entity(), 0..8),
        extra in prop::collection::vec(text(), 0..3),
        kind in 0..3usize,
    ) {
        let kind = KINDS[kind];
        let mut requested: Vec<String> = entities.iter().map(|e| e.namespace.clone()).chain(extra).collect();
        requested.sort();
        requested.dedup();
        // One entity per (namespace, name) of the kind, as one cluster has them.
        let mut seen = std::collections::HashSet::new();
        let entities: Vec<EntityHealth> = entities
            .into_iter()
            .map(|mut e| { e.kind = kind; e })
            .filter(|e| seen.insert((e.namespace.clone(), e.name.clone())))
            .collect();
        let mut body = serde_json::Map::new();
        for ns in &requested {
            let items: serde_json::Map<String, Value> = entities
                .iter()
                .filter(|e| &e.namespace == ns)
                .map(|e| (e.name.clone(), tree(e)))
                .collect();
            body.insert(ns.clone(), Value::Object(items));
        }
        let key = match kind {
            HealthKind::App => "namespaceAppHealth",
            HealthKind::Service => "namespaceServiceHealth",
            HealthKind::Workload => "namespaceWorkloadHealth",
        };
        let want = serde_json::to_vec(&json!({ key: body })).unwrap();
        let report = HealthReport { entities, namespaces: vec![], requested, diagnostics: vec![] };
        for cluster in [None, Some("east")] {
            let got = report.write_kiali_json(kind, cluster);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
        // Another cluster's view holds the namespaces asked for, each empty.
        let other: Value = serde_json::from_slice(&report.write_kiali_json(kind, Some("west"))).unwrap();
        prop_assert!(other[key].as_object().unwrap().values().all(|v| v.as_object().unwrap().is_empty()));
    }
}
