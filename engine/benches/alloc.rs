//! Peak heap, allocation count and peak RSS of one workload-graph build + JSON serialisation from
//! 100,000 samples (≈2,000 workloads, 200 namespaces, 3 clusters). Prints the figures; the
//! allocator is dhat's counting allocator, so no unsafe code is needed here.

use meshglass_engine::{GraphOptions, GraphType, build_graph, fixtures};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    // `cargo bench` passes `--bench`; any other filter argument that excludes us is ignored.
    let _profiler = dhat::Profiler::builder().testing().build();
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(3, 200, 2_000, 100_000);
    let opts = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces,
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    let input = dhat::HeapStats::get();
    let rss_input = vm_hwm_kib();

    let started = std::time::Instant::now();
    let r = build_graph(&opts, &samples, &inv);
    let json = r.graph.to_json_vec();
    let elapsed = started.elapsed();
    let after = dhat::HeapStats::get();

    println!("alloc/workload_100k_samples_build_and_json (one run under the counting allocator)");
    println!(
        "  samples: {}  nodes: {}  edges: {}  json: {} bytes",
        samples.len(),
        r.graph.elements.nodes.len(),
        r.graph.elements.edges.len(),
        json.len()
    );
    println!(
        "  allocations: {} ({} bytes allocated in total)",
        after.total_blocks - input.total_blocks,
        after.total_bytes - input.total_bytes
    );
    println!(
        "  peak heap: {:.1} MiB total, of which input {:.1} MiB; engine + JSON at most {:.1} MiB above the input",
        after.max_bytes as f64 / 1048576.0,
        input.curr_bytes as f64 / 1048576.0,
        after.max_bytes.saturating_sub(input.curr_bytes) as f64 / 1048576.0
    );
    if let (Some(before), Some(peak)) = (rss_input, vm_hwm_kib()) {
        println!(
            "  peak RSS: {:.1} MiB (after building the input: {:.1} MiB)",
            peak as f64 / 1024.0,
            before as f64 / 1024.0
        );
    }
    println!(
        "  wall time under the counting allocator: {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
}
