//! Rough CPU-time breakdown of the 100k-sample workload graph (diagnostic aid for the benchmark).
use meshglass_engine::{GraphOptions, GraphType, build_graph, fixtures};

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(3, 200, 2_000, 100_000);
    let opts = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces,
        query_time: 1,
        ..GraphOptions::default()
    };
    for round in 0..3 {
        let t = cpu_ns();
        let mut total = 0usize;
        for s in &samples {
            let l = &s.labels;
            for v in [
                &l.source_workload,
                &l.destination_workload,
                &l.destination_service,
                &l.source_canonical_service,
                &l.response_code,
            ] {
                total += v.as_deref().map_or(0, |x| x.len());
            }
        }
        let scan = cpu_ns() - t;
        let t = cpu_ns();
        let none = GraphOptions {
            appenders: Some(vec![]),
            ..opts.clone()
        };
        let r = build_graph(&none, &samples, &inv);
        let bare = cpu_ns() - t;
        let t = cpu_ns();
        let r2 = build_graph(&opts, &samples, &inv);
        let full = cpu_ns() - t;
        let t = cpu_ns();
        let json = serde_json::to_vec(&r2.graph).unwrap_or_default();
        let ser = cpu_ns() - t;
        println!(
            "round {round}: scan {:.1} ms, build (no appenders) {:.1} ms, build (all) {:.1} ms, json {:.1} ms [{} {} {}]",
            scan as f64 / 1e6,
            bare as f64 / 1e6,
            full as f64 / 1e6,
            ser as f64 / 1e6,
            total,
            r.graph.elements.edges.len(),
            json.len()
        );
    }
}
