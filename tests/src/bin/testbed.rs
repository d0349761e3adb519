//! `testbed`: start and stop local clusters (`make clusters-up` / `make clusters-down`), and
//! print the test bed's figures (`make bench-testbed`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use meshglass_testbed::{StartOptions, TestBed, stop_state_dir, tools, validate_cluster_name};

#[derive(Parser)]
#[command(
    name = "testbed",
    about = "Real Kubernetes control planes on loopback for meshglass"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start clusters in the background; writes <state-dir>/kubeconfig (one context per cluster).
    Up {
        /// Directory for the kubeconfig and the clusters' files.
        #[arg(long, default_value = ".local")]
        state_dir: PathBuf,
        /// Port of the first API server (the next clusters use the following ports); default: free ports.
        #[arg(long)]
        port: Option<u16>,
        /// Simulated nodes per cluster.
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// Cluster names (DNS labels).
        #[arg(default_values_t = ["east".to_string(), "west".to_string()])]
        clusters: Vec<String>,
    },
    /// Stop the clusters started by `up` and remove their files.
    Down {
        #[arg(long, default_value = ".local")]
        state_dir: PathBuf,
    },
    /// Print pinned versions, tool build times, warm start time and peak memory of two clusters.
    Bench {
        #[arg(default_values_t = ["east".to_string(), "west".to_string()])]
        clusters: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testbed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Up {
            state_dir,
            port,
            nodes,
            clusters,
        } => runtime.block_on(up(&state_dir, port, nodes, &clusters)),
        Command::Down { state_dir } => down(&state_dir),
        Command::Bench { clusters } => runtime.block_on(bench(&clusters)),
    }
}

fn run_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("testbed")
}

async fn up(
    state_dir: &Path,
    port: Option<u16>,
    nodes: usize,
    clusters: &[String],
) -> anyhow::Result<()> {
    for c in clusters {
        validate_cluster_name(c)?;
    }
    let start = Instant::now();
    let options = StartOptions {
        clusters: clusters.to_vec(),
        state_dir: Some(run_dir(state_dir)),
        detached: true,
        first_port: port,
        nodes,
        token_webhook: false,
    };
    eprintln!("testbed: starting {} ...", clusters.join(", "));
    let bed = TestBed::start_with(options).await?;
    fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    let kubeconfig = state_dir.join("kubeconfig");
    fs::copy(bed.kubeconfig_path(), &kubeconfig)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;

    let kubectl = match tools::kubectl() {
        Some(path)
            if path.parent().is_some_and(|d| d.ends_with("bin"))
                && !path.starts_with(tools::cache_dir()) =>
        {
            "kubectl".to_string()
        }
        Some(built) => {
            // Built by build-tools.sh: offer it as .local/bin/kubectl.
            let bin = state_dir.join("bin");
            fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
            let link = bin.join("kubectl");
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&built, &link)
                .with_context(|| format!("linking {}", link.display()))?;
            link.display().to_string()
        }
        None => "kubectl".to_string(),
    };
    println!(
        "Clusters up in {:.1} s (Kubernetes {}):",
        start.elapsed().as_secs_f64(),
        tools::versions().kubernetes
    );
    for c in bed.clusters() {
        println!("  {:<12} {}", c.name(), c.server_url());
    }
    let first = clusters.first().map(String::as_str).unwrap_or("east");
    let last = clusters.last().map(String::as_str).unwrap_or("west");
    println!();
    println!("Use them with (one context per cluster, named after it):");
    println!(
        "  {kubectl} --kubeconfig {} --context {last} get nodes",
        kubeconfig.display()
    );
    let absolute = std::path::absolute(&kubeconfig).unwrap_or_else(|_| kubeconfig.clone());
    println!(
        "  export KUBECONFIG={}   # current context: {first}",
        absolute.display()
    );
    println!("Logs: {}/logs/", run_dir(state_dir).display());
    println!("Stop them with: make clusters-down");
    Ok(())
}

fn down(state_dir: &Path) -> anyhow::Result<()> {
    let stopped = stop_state_dir(&run_dir(state_dir))?;
    for leftover in [
        state_dir.join("kubeconfig"),
        state_dir.join("bin").join("kubectl"),
    ] {
        let _ = fs::remove_file(leftover);
    }
    let _ = fs::remove_dir(state_dir.join("bin"));
    let _ = fs::remove_dir(state_dir);
    if stopped == 0 {
        println!(
            "No test-bed processes were running under {}.",
            state_dir.display()
        );
    } else {
        println!("Stopped {stopped} test-bed processes; ports are free.");
    }
    Ok(())
}

/// Peak resident memory (VmHWM, KiB) of a process.
fn peak_rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn bench(clusters: &[String]) -> anyhow::Result<()> {
    let v = tools::versions();
    println!("Pinned versions (tests/tools/versions.env):");
    println!("  Kubernetes  {}", v.kubernetes);
    println!("  etcd        {}", v.etcd);
    println!("  kwok        {}", v.kwok);
    println!("  istio.io/api {} (CRDs)", v.istio_api);
    let cache = tools::cache_dir();
    println!(
        "Cold build times, as recorded by build-tools.sh in {}:",
        cache.display()
    );
    for (tool, version) in [
        ("kubernetes", &v.kubernetes),
        ("etcd", &v.etcd),
        ("kwok", &v.kwok),
    ] {
        let recorded = fs::read_to_string(
            cache
                .join(format!("{tool}-{version}"))
                .join(".build-seconds"),
        )
        .map(|s| format!("{} s", s.trim()))
        .unwrap_or_else(|_| "not recorded".to_string());
        println!("  {tool:<11} {recorded}");
    }

    let names: Vec<&str> = clusters.iter().map(String::as_str).collect();
    let start = Instant::now();
    let bed = TestBed::start(&names).await?;
    let started = start.elapsed();
    let procs = bed.pids();
    let mut total = 0;
    println!(
        "Warm start of {} clusters ({}): {:.1} s (until /readyz, CRDs Established, default ServiceAccount, kube-root-ca.crt and Ready nodes)",
        names.len(),
        names.join(", "),
        started.as_secs_f64()
    );
    println!("Peak resident memory (VmHWM) per process:");
    for (what, pid) in &procs {
        let kib = peak_rss_kib(*pid);
        total += kib;
        println!("  {what:<40} {:>7.1} MiB", kib as f64 / 1024.0);
    }
    println!(
        "  {:<40} {:>7.1} MiB over {} processes",
        "total",
        total as f64 / 1024.0,
        procs.len()
    );
    let stop = Instant::now();
    bed.stop();
    println!("Stop: {:.2} s", stop.elapsed().as_secs_f64());
    Ok(())
}
