//! Rough CPU-time breakdown of the 100k-sample workload graph (diagnostic aid for the benchmark):
//! this thread's CPU time per phase (work done on other threads is not in it) and the wall time.
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
    let rounds = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    let mut best = [u64::MAX; 4];
    // Thread CPU time is accounted at scheduler ticks here (4 ms steps), so single rounds are
    // coarse: the mean over the rounds after the first is the figure to compare.
    let mut sum = [0u64; 4];
    let mut wall_sum = 0f64;
    let mut wall_best = f64::MAX;
    for round in 0..rounds {
        let w0 = std::time::Instant::now();
        let t0 = cpu_ns();
        let r = build_graph(&opts, &samples, &inv);
        let t1 = cpu_ns();
        let json = r.graph.to_json_vec();
        let t2 = cpu_ns();
        let len = json.len();
        drop(json);
        drop(r);
        let t3 = cpu_ns();
        let wall = w0.elapsed().as_secs_f64() * 1e3;
        wall_best = wall_best.min(wall);
        let phase = [t1 - t0, t2 - t1, t3 - t2, t3 - t0];
        for (b, p) in best.iter_mut().zip(phase) {
            *b = (*b).min(p);
        }
        if round > 0 {
            wall_sum += wall;
            for (m, p) in sum.iter_mut().zip(phase) {
                *m += p;
            }
        }
        println!(
            "round {round}: build {:.1} ms, json {:.1} ms, drop {:.1} ms, total {:.1} ms, wall {wall:.1} ms [{len} bytes]",
            phase[0] as f64 / 1e6,
            phase[1] as f64 / 1e6,
            phase[2] as f64 / 1e6,
            phase[3] as f64 / 1e6,
        );
    }
    let n = rounds.saturating_sub(1).max(1) as f64;
    println!(
        "mean of rounds 1..: build {:.1} ms, json {:.1} ms, drop {:.1} ms, total {:.1} ms, wall {:.1} ms",
        sum[0] as f64 / n / 1e6,
        sum[1] as f64 / n / 1e6,
        sum[2] as f64 / n / 1e6,
        sum[3] as f64 / n / 1e6,
        wall_sum / n,
    );
    println!(
        "best: build {:.1} ms, json {:.1} ms, drop {:.1} ms, total {:.1} ms, wall {wall_best:.1} ms",
        best[0] as f64 / 1e6,
        best[1] as f64 / 1e6,
        best[2] as f64 / 1e6,
        best[3] as f64 / 1e6,
    );
}
