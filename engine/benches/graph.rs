//! Workload graph from 100,000 samples (≈2,000 workloads, 200 namespaces, 3 clusters), built and
//! serialised to JSON. Target: ≤ 50 ms. Measured twice: wall time, and this thread's CPU time
//! (from /proc/thread-self/schedstat) so the figure stays meaningful on a busy machine. Inputs of
//! 10k samples or more use a second thread too, whose CPU time is not in the second figure: wall
//! time is the one to hold against the target. Peak RSS is printed at the end; allocations and
//! peak heap: `benches/alloc.rs`.

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput};
use meshglass_engine::{GraphOptions, GraphType, MeshInventory, Sample, build_graph, fixtures};

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns (cpu)")
        } else if ns < 1e6 {
            (1e-3, "µs (cpu)")
        } else if ns < 1e9 {
            (1e-6, "ms (cpu)")
        } else {
            (1e-9, "s (cpu)")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "n/a"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

fn input() -> (GraphOptions, MeshInventory, Vec<Sample>) {
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(3, 200, 2_000, 100_000);
    let opts = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces,
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    (opts, inv, samples)
}

fn bench<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let (opts, inv, samples) = input();
    let mut g = c.benchmark_group(format!("graph_{suffix}"));
    g.sample_size(20);
    g.bench_function("workload_100k_samples_build_and_json", |b| {
        b.iter(|| {
            let r = build_graph(&opts, black_box(&samples), &inv);
            let json = r.graph.to_json_vec();
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
            black_box(r.graph.to_json_vec().len())
        })
    });
    g.finish();
}

fn main() {
    let mut wall = Criterion::default().configure_from_args();
    bench(&mut wall, "wall");
    let mut cpu = Criterion::default()
        .with_measurement(ThreadCpu)
        .configure_from_args();
    bench(&mut cpu, "thread_cpu");
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        });
    if let Some(kib) = hwm {
        println!(
            "peak RSS of the benchmark process (input + engine + JSON): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    Criterion::default().configure_from_args().final_summary();
}
