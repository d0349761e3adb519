//! Validations of 2 clusters × 200 namespaces × 5 objects (2,000 Istio objects, 1,200 services,
//! 1,600 workloads). Target: ≤ 200 ms per full run. Then one run under dhat's counting allocator
//! (idle during the timed runs) prints the allocations.

use std::hint::black_box;

use criterion::Criterion;
use meshglass_engine::{fixtures, validations};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let clusters = fixtures::synthetic_config(2, 200);
    let objects: usize = clusters
        .iter()
        .map(|c| c.objects.values().map(Vec::len).sum::<usize>())
        .sum();
    assert_eq!(objects, 2_000);
    let mut c = Criterion::default().configure_from_args().sample_size(20);
    c.bench_function("validations/2x200x5_objects", |b| {
        b.iter(|| black_box(validations::validate(black_box(&clusters))))
    });
    c.final_summary();

    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get();
    let started = std::time::Instant::now();
    let out = validations::validate(&clusters);
    let elapsed = started.elapsed();
    let after = dhat::HeapStats::get();
    let checks: usize = out.iter().map(|v| v.checks.len()).sum();
    println!("alloc/validations_2x200x5_objects (one run under the counting allocator)");
    println!("  validations: {}  checks: {checks}", out.len());
    println!(
        "  allocations: {} ({:.1} MiB allocated in total), peak heap above the input: {:.1} MiB",
        after.total_blocks - before.total_blocks,
        (after.total_bytes - before.total_bytes) as f64 / 1048576.0,
        after.max_bytes.saturating_sub(before.curr_bytes) as f64 / 1048576.0
    );
    println!(
        "  wall time under the counting allocator: {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
}
