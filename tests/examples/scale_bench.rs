//! The server at scale on the test bed (`make bench-scale`; not part of `make test`, whose
//! `scale_small` runs the same code at 50 namespaces): three clusters holding the same
//! `--namespaces` namespaces (800: 2,400 namespace entries) with `--pods` pods in each
//! (8: about 20,000 pods cached), Prometheus backfilled (see `support/scale.rs`).
//!
//! Prints, for the pages people wait on (the namespace graph of every namespace, the overview,
//! the three list pages, a workload's detail page, each as the web UI requests it): p50/p95 from
//! one client over `--rounds` loads, the share of time outside Prometheus and the gzip-compressed
//! bytes; then `--clients` concurrent clients mixing those pages for `--mix-seconds`: their
//! p95 per page beside the single client's, and every error; start-up to ready and resident
//! memory per cached pod.
//! Usage: `scale_bench [--server-bin PATH] [--namespaces 800] [--pods 8] [--rounds 10] [--clients 20] [--mix-seconds 120]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/scale.rs"]
mod scale;
mod support;

use support::{arg, percentile};

fn number(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = number("--namespaces", 800);
    let pods = number("--pods", 8);
    let rounds = number("--rounds", 10);
    let clients = number("--clients", 20);
    let mix_s = number("--mix-seconds", 120);
    let bin = arg("--server-bin").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        Path::new(&target).join("release").join("meshglass-server")
    });
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p meshglass-server",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let s = scale::Scenario::start(&bin, dir.path(), n, pods).await;
    let (edges, cross) = (
        scale::workload_edges(n),
        scale::cross_cluster_flows(&s.namespaces).len(),
    );
    println!(
        "set-up: {} clusters x {n} namespaces ({} entries), {} pods cached, {edges} workload edges \
         ({cross} across clusters) backfilled into {}, in {:.0} s; server {}",
        scale::CLUSTERS.len(),
        n * scale::CLUSTERS.len(),
        s.cached_pods,
        s.prom.url(),
        s.setup_s,
        bin.display()
    );
    println!(
        "start-up to ready (every cache synced): {:.1} s; RSS {} MiB: {:.2} KiB per cached pod (the whole process over the pods)",
        s.startup_s,
        s.rss_kib / 1024,
        s.rss_kib as f64 / s.cached_pods.max(1) as f64
    );
    let single = s.single(rounds).await;
    // After every page was loaded: what the process keeps (the pages' kept workloads, services
    // and list items, and what the allocator holds on to), not only the caches at start-up.
    let after = support::rss_kib(s.server.pid);
    println!(
        "RSS after the single-client pages: {} MiB: {:.2} KiB per cached pod",
        after / 1024,
        after as f64 / s.cached_pods.max(1) as f64
    );
    let (mixed, errors) = scale::mix(
        &s.server.http,
        &s.server.base,
        &s.pages(),
        clients,
        Duration::from_secs(mix_s as u64),
    )
    .await;
    println!(
        "\n| page ({n} namespaces x 3 clusters) | p50 ms | p95 ms | time outside Prometheus | gzip bytes | {clients} clients: loads | p95 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (f, (_, m)) in single.iter().zip(&mixed) {
        println!(
            "| {} | {:.1} | {:.1} | {} | {} | {} | {:.1} ({:.1}x) |",
            f.name,
            percentile(&f.ms, 0.5),
            percentile(&f.ms, 0.95),
            f.outside_share()
                .map_or("n/a".into(), |v| format!("{:.0} %", v * 100.0)),
            f.bytes,
            m.len(),
            percentile(m, 0.95),
            percentile(m, 0.95) / percentile(&f.ms, 0.95)
        );
    }
    println!(
        "\nwhere each page's time goes, one client (p50 / p95 ms of each request; per-cluster requests together):\n"
    );
    println!("| page | request | requests | p50 ms | p95 ms |");
    println!("|---|---|---:|---:|---:|");
    for f in &single {
        for (label, v) in &f.requests {
            println!(
                "| {} | `{label}` | {} | {:.1} | {:.1} |",
                f.name,
                v.len(),
                percentile(v, 0.5),
                percentile(v, 0.95)
            );
        }
    }
    let single_errors: Vec<&String> = single.iter().flat_map(|f| &f.errors).collect();
    println!(
        "\nerrors: {} from one client, {} from {clients} clients over {mix_s} s",
        single_errors.len(),
        errors.len(),
    );
    // Each distinct failure once, with how often it happened.
    let mut distinct = std::collections::BTreeMap::<&str, usize>::new();
    for e in single_errors.into_iter().chain(&errors) {
        *distinct.entry(e).or_default() += 1;
    }
    for (e, count) in distinct {
        println!("  {count} x {e}");
    }
    println!(
        "peak RSS: {} MiB",
        meshglass_testbed::faults::peak_rss_mib(s.server.pid)
    );
    s.bed.stop();
}
