//! Writes the graph JSON of the synthetic mesh for several option sets (output comparison aid).
use meshglass_engine::{GraphOptions, GraphType, build_graph, fixtures};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".into());
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(3, 200, 2_000, 100_000);
    let base = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces: namespaces.clone(),
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    let some_ns: Vec<String> = namespaces.iter().take(50).cloned().collect();
    let variants: Vec<(&str, GraphOptions)> = vec![
        ("workload", base.clone()),
        (
            "injected",
            GraphOptions {
                inject_service_nodes: true,
                ..base.clone()
            },
        ),
        (
            "app",
            GraphOptions {
                graph_type: GraphType::App,
                ..base.clone()
            },
        ),
        (
            "vapp",
            GraphOptions {
                graph_type: GraphType::VersionedApp,
                ..base.clone()
            },
        ),
        (
            "service",
            GraphOptions {
                graph_type: GraphType::Service,
                ..base.clone()
            },
        ),
        (
            "some_ns_idle",
            GraphOptions {
                namespaces: some_ns,
                include_idle_nodes: true,
                ..base.clone()
            },
        ),
    ];
    for (name, mut o) in variants {
        if name == "vapp" {
            o.box_by.app = true;
            o.box_by.namespace = true;
            o.box_by.cluster = true;
        }
        let r = build_graph(&o, &samples, &inv);
        let json = serde_json::to_vec_pretty(&r.graph).unwrap_or_default();
        std::fs::write(format!("{dir}/{name}.json"), &json).ok();
        std::fs::write(format!("{dir}/{name}.diag"), format!("{:?}", r.diagnostics)).ok();
        let direct = r.graph.to_json_vec();
        let same = serde_json::to_vec(&r.graph).is_ok_and(|v| v == direct);
        println!(
            "{name}: {} bytes; to_json_vec identical to serde_json::to_vec: {same}",
            json.len()
        );
    }
}
