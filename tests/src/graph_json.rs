//! Reading a graph answer in Kiali's cytoscape JSON (`elements.nodes[].data`, `elements.edges[].data`).

use serde_json::Value;

/// The `data` of every node of `graph`.
pub fn node_data(graph: &Value) -> Vec<&Value> {
    graph["elements"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| &n["data"])
        .collect()
}

/// The ids of the nodes (their `data`) that `pred` holds for.
pub fn node_ids(nodes: &[&Value], pred: impl Fn(&Value) -> bool) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| pred(n))
        .filter_map(|n| n["id"].as_str().map(String::from))
        .collect()
}

/// Every edge of `graph` as (source id, target id).
pub fn edge_pairs(graph: &Value) -> Vec<(String, String)> {
    graph["elements"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e["data"][k].as_str().unwrap_or_default().to_string();
            (s("source"), s("target"))
        })
        .collect()
}
