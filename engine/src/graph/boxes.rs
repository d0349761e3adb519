//! Compound parents (boxes by app, namespace and cluster) and Kiali's node order.

use std::collections::BTreeMap;

use super::cytoscape::{Id, NodeData, NodeWrapper};
use super::ids::sha256_id;
use crate::options::{GraphOptions, GraphType};

/// Compound parents, inner boxes first (app, then namespace, then cluster), as Kiali does.
pub(super) fn add_boxes(opts: &GraphOptions, nodes: &mut Vec<NodeWrapper>) {
    if opts.box_by.app || matches!(opts.graph_type, GraphType::App | GraphType::VersionedApp) {
        let mut groups: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if !d.app.is_empty() && d.app != "unknown" {
                groups
                    .entry((d.cluster.clone(), d.namespace.clone(), d.app.clone()))
                    .or_default()
                    .push(i);
            }
        }
        for ((cluster, namespace, app), members) in groups {
            if members.len() < 2 {
                continue;
            }
            let id = sha256_id(format!("box_{cluster}_{namespace}_{app}").as_bytes());
            let mut bx = box_node(id, "app", &cluster, &namespace, &app);
            for &m in &members {
                let d = &mut nodes[m].data;
                d.parent = Some(id.to_string());
                bx.is_out_of_mesh |= d.is_out_of_mesh;
                bx.is_inaccessible |= d.is_inaccessible;
                bx.is_outside |= d.is_outside;
            }
            nodes.push(NodeWrapper { data: bx });
        }
    }
    if opts.box_by.namespace {
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if d.parent.is_none() && d.namespace != "unknown" {
                groups
                    .entry((d.cluster.clone(), d.namespace.clone()))
                    .or_default()
                    .push(i);
            }
        }
        if groups.len() > 1 {
            for ((cluster, namespace), members) in groups {
                if members.len() < 2 {
                    continue;
                }
                let id = sha256_id(format!("box_{cluster}_{namespace}").as_bytes());
                for &m in &members {
                    nodes[m].data.parent = Some(id.to_string());
                }
                nodes.push(NodeWrapper {
                    data: box_node(id, "namespace", &cluster, &namespace, ""),
                });
            }
        }
    }
    if opts.box_by.cluster {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if d.parent.is_none() && d.cluster != "unknown" {
                groups.entry(d.cluster.clone()).or_default().push(i);
            }
        }
        if groups.len() > 1 {
            for (cluster, members) in groups {
                if members.len() < 2 {
                    continue;
                }
                let id = sha256_id(format!("box_{cluster}").as_bytes());
                for &m in &members {
                    nodes[m].data.parent = Some(id.to_string());
                }
                nodes.push(NodeWrapper {
                    data: box_node(id, "cluster", &cluster, "", ""),
                });
            }
        }
    }
}

fn box_node(id: Id, kind: &'static str, cluster: &str, namespace: &str, app: &str) -> NodeData {
    NodeData {
        id,
        node_type: "box",
        cluster: cluster.to_string(),
        namespace: namespace.to_string(),
        app: app.to_string(),
        is_box: kind,
        ..NodeData::default()
    }
}

/// Kiali's order: boxes first (cluster, namespace, app), then by cluster, namespace, app, version,
/// service, workload; ties broken by id so the output is fully deterministic. Edges by source,
/// target, protocol.
/// Kiali's node order: boxes first (cluster, namespace, app), then by cluster, namespace, app,
/// version, service, workload and id. Sorted by index, then each node moved once.
pub(super) fn sort_nodes(nodes: &mut Vec<NodeWrapper>) {
    pub(super) fn rank(b: &str) -> u8 {
        match b {
            "cluster" => 0,
            "namespace" => 1,
            "app" => 2,
            _ => 3,
        }
    }
    let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes[a as usize].data, &nodes[b as usize].data);
        rank(a.is_box)
            .cmp(&rank(b.is_box))
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.app.cmp(&b.app))
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.workload.cmp(&b.workload))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut slots: Vec<Option<NodeWrapper>> = std::mem::take(nodes).into_iter().map(Some).collect();
    nodes.extend(order.iter().filter_map(|&i| slots[i as usize].take()));
}
