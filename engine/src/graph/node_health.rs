//! The health appender: each node's `healthData` is the [`EntityHealth`] that
//! [`crate::health()`] computed for the node's object — the very entry `/api/clusters/health`
//! answers for it in its cluster — so the graph and the lists colour an object by one rule.

use std::collections::HashMap;

use super::cytoscape::{CytoscapeGraph, HealthJson};
use crate::health::{EntityHealth, HealthKind, HealthReport};

/// Which health entry a node shows, as Kiali's health appender picks it: a workload's (workload
/// nodes, and versioned-app nodes backed by a workload), an app's (app nodes and app boxes), a
/// service's (service nodes). The unknown source, namespace and cluster boxes have none.
fn entity_of<'d>(
    node_type: &str,
    is_box: &str,
    workload: &'d str,
    app: &'d str,
    service: &'d str,
) -> Option<(HealthKind, &'d str)> {
    let set = |s: &str| !s.is_empty() && s != "unknown";
    match (node_type, is_box) {
        ("box", "app") if set(app) => Some((HealthKind::App, app)),
        ("workload", _) if set(workload) => Some((HealthKind::Workload, workload)),
        ("app", _) if set(workload) => Some((HealthKind::Workload, workload)),
        ("app", _) if set(app) => Some((HealthKind::App, app)),
        ("service", _) if set(service) => Some((HealthKind::Service, service)),
        _ => None,
    }
}

/// Sets `healthData` (and `hasHealthConfig`, the object's `health.kiali.io/*` annotations) on
/// every node whose object has an entry in one of `reports`; other nodes keep `null`.
pub fn add_node_health(graph: &mut CytoscapeGraph, reports: &[&HealthReport]) {
    let index: HashMap<(HealthKind, &str, &str, &str), &EntityHealth> = reports
        .iter()
        .flat_map(|r| r.entities.iter())
        .map(|e| {
            (
                (
                    e.kind,
                    e.cluster.as_str(),
                    e.namespace.as_str(),
                    e.name.as_str(),
                ),
                e,
            )
        })
        .collect();
    for n in &mut graph.elements.nodes {
        let d = &mut n.data;
        if d.is_inaccessible {
            continue;
        }
        let Some((kind, name)) = entity_of(d.node_type, d.is_box, &d.workload, &d.app, &d.service)
        else {
            continue;
        };
        let Some(e) = index.get(&(kind, d.cluster.as_str(), d.namespace.as_str(), name)) else {
            continue;
        };
        d.health_data = Some(HealthJson::of(e));
        let annotations = &e.requests.health_annotations;
        if !annotations.is_empty() {
            d.has_health_config = Some(annotations.clone());
        }
    }
}
