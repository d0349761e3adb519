//! Workload graph from 100,000 samples (≈2,000 workloads, 200 namespaces, 3 clusters), built and
//! serialised to JSON. Target: ≤ 50 ms. Memory and allocation figures: `benches/alloc.rs`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meshglass_engine::{GraphOptions, GraphType, build_graph, fixtures};

fn bench(c: &mut Criterion) {
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(3, 200, 2_000, 100_000);
    let opts = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces,
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    let mut g = c.benchmark_group("graph");
    g.sample_size(20);
    g.bench_function("workload_100k_samples_build_and_json", |b| {
        b.iter(|| {
            let r = build_graph(&opts, black_box(&samples), &inv);
            let json = serde_json::to_vec(&r.graph).unwrap_or_default();
            black_box(json.len())
        })
    });
    g.bench_function("workload_100k_samples_build_only", |b| {
        b.iter(|| {
            black_box(
                build_graph(&opts, black_box(&samples), &inv)
                    .graph
                    .elements
                    .edges
                    .len(),
            )
        })
    });
    let injected = GraphOptions {
        inject_service_nodes: true,
        ..opts.clone()
    };
    g.bench_function("workload_100k_samples_injected_build_and_json", |b| {
        b.iter(|| {
            let r = build_graph(&injected, black_box(&samples), &inv);
            black_box(serde_json::to_vec(&r.graph).unwrap_or_default().len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
