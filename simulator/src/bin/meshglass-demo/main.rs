//! `meshglass-demo`: the seeds' meshes, end to end, on one machine (`make demo`, `make demo-down`).
//!
//! `up` starts the topology's clusters with the test bed (state in `.local/`) — east and west, labelled as
//! Istio's primary-remote, multi-network setup does (the default), or with `--topology multi-primary` the
//! seeds' three-cluster lab (cluster1..3, an istiod, east-west gateway and remote secrets in each) — creates
//! the demo apps from the topology file, serves each cluster's sidecar metrics from the simulator, runs one
//! Prometheus per cluster (the home's federates the others), runs the operator against every cluster with
//! the example Kiali CRs, wires the others into the home with `meshglass-operator remote-secret`, and finally
//! runs the server out of cluster with exactly what the operator produced (its ConfigMap's `config.yaml`, the
//! remote-cluster secrets its Deployment mounts). It then waits for Ctrl-C or SIGTERM (`down`) and stops
//! everything it started, and nothing else.
//!
//! `main` parses the command line and owns the lifecycle (start, interrupt, stop); the steps live in
//! [`steps`], one function per step, each printing its own progress.

mod files;
mod kube_util;
mod ports;
mod procs;
mod progress;
mod running;
mod sidecars;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use files::absolute;
use ports::Ports;
use progress::Progress;
use running::Running;
use steps::{Clusters, Metrics, Setup, Topology};

#[derive(Parser)]
#[command(
    name = "meshglass-demo",
    version,
    about = "The demo mesh (east/west primary-remote, or the three-cluster multi-primary lab) with the operator and the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set everything up, print the URL, and run until Ctrl-C or `meshglass-demo down`.
    Up(UpArgs),
    /// Stop a running demo (and whatever a crashed one left behind) in this state directory.
    Down {
        #[arg(long, default_value = ".local")]
        state_dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct UpArgs {
    /// Where clusters, logs, Prometheus data and the server's materialised config live.
    #[arg(long, default_value = ".local")]
    state_dir: PathBuf,
    /// The demo's examples: demo-mesh.yaml, kiali-primary.yaml, kiali-remote.yaml, prometheus/ (and the
    /// multi-primary's demo-multi-primary-mesh.yaml, kiali-multi-primary.yaml).
    #[arg(long, default_value = "examples")]
    examples: PathBuf,
    /// The Istio mesh: `primary-remote` (east and west, the default) or `multi-primary` (the seeds' lab:
    /// cluster1, cluster2 and cluster3, each its own istiod; the console on cluster1). `make demo
    /// TOPOLOGY=multi-primary`.
    #[arg(long, value_enum, default_value_t = Topology::PrimaryRemote)]
    topology: Topology,
    /// Use these running clusters (one context per cluster of the topology) instead of starting them.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Directory of meshglass-operator and meshglass-server; default: this program's directory.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Pick free ports instead of the fixed ones of the examples (server 20001 and 9090, Prometheus
    /// 9091/9092/9093, simulated sidecars 15091/15092/15093, operators' admin endpoints 18081/18082/18083).
    #[arg(long)]
    free_ports: bool,
    /// Where the server reads metrics: `prometheus` (east's Prometheus, federating west) or `thanos` (Thanos
    /// sidecars and Query over both clusters' Prometheus, behind an HTTPS ServiceAccount-token gate; the
    /// primary CR as the seeds write it). `make demo METRICS=thanos`.
    #[arg(long, value_enum, default_value_t = Metrics::Prometheus)]
    metrics: Metrics,
    /// Also run an OpenID provider (Ory Hydra) per cluster, each trusted by its cluster's API server, and a
    /// second server with `auth.strategy: openid` on the same clusters (users alice and bob, password
    /// `<user>-password`; what they may see is the clusters' RBAC). Needs the clusters the demo starts.
    #[arg(long)]
    openid: bool,
    /// Once ready, write a JSON file with the URLs here.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The client logs every refused connection while an API server starts; the demo reports
            // failures itself.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,kube_client=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Up(args) => up(args).await,
        Command::Down { state_dir } => down(&state_dir).await,
    };
    if let Err(e) = result {
        eprintln!("meshglass-demo: {e:#}");
        std::process::exit(1);
    }
}

async fn down(state_dir: &Path) -> anyhow::Result<()> {
    let demo_dir = state_dir.join("demo");
    let stopped = procs::stop_running_demo(&demo_dir).await?;
    let leftovers = procs::kill_recorded(&demo_dir);
    // Clusters the demo started (a crashed demo's watchdog normally stopped them already).
    let mut clusters = 0;
    if demo_dir.join("owns-clusters").exists() {
        clusters = meshglass_testbed::stop_state_dir(&state_dir.join("clusters"))
            .map_err(|e| anyhow!("{e}"))?;
        let _ = std::fs::remove_file(state_dir.join("kubeconfig"));
    }
    let _ = std::fs::remove_dir_all(&demo_dir);
    match (stopped, leftovers + clusters) {
        (false, 0) => println!("no demo running in {}", state_dir.display()),
        (true, _) => println!("demo stopped"),
        (false, n) => println!("stopped {n} processes left by an earlier demo"),
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    // Jaeger's readiness check builds the first HTTP client, before any Kubernetes client has installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state_dir = absolute(&args.state_dir)?;
    let examples = absolute(&args.examples)?;
    let demo_dir = state_dir.join("demo");
    std::fs::create_dir_all(&demo_dir)?;
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("no exe dir"))?,
    };
    for tool in ["meshglass-operator", "meshglass-server"] {
        if !bin_dir.join(tool).exists() {
            bail!(
                "{} not found: build it first (`cargo build -p meshglass-operator -p meshglass-server`)",
                bin_dir.join(tool).display()
            );
        }
    }
    if procs::demo_alive(&demo_dir) {
        bail!(
            "a demo is already running from {} (`make demo-down` stops it)",
            state_dir.display()
        );
    }
    if args.topology == Topology::MultiPrimary && (args.openid || args.metrics == Metrics::Thanos) {
        bail!(
            "--topology multi-primary runs with the federated Prometheus and without --openid: drop --metrics thanos / --openid"
        );
    }
    procs::kill_recorded(&demo_dir);
    let ports = if args.free_ports {
        Ports::free()?
    } else {
        Ports::FIXED
    };
    ports.check_free(args.topology.clusters())?;
    procs::write_demo_pid(&demo_dir)?;

    let setup = Setup {
        topology: args.topology,
        metrics: args.metrics,
        state_dir,
        examples,
        bin_dir,
        ports,
        kubeconfig: args.kubeconfig.clone(),
    };
    let mut running = Running::new(demo_dir.clone());
    let result = tokio::select! {
        r = run(&setup, args.openid, args.ready_file.as_deref(), &mut running) => r,
        _ = shutdown_signal() => { println!("interrupted; stopping what the demo started"); Ok(()) }
    };
    if result.is_err() {
        eprintln!("the demo failed; logs: {}", demo_dir.join("logs").display());
    }
    running.stop().await;
    let _ = std::fs::remove_file(demo_dir.join("demo.pid"));
    let _ = std::fs::remove_file(demo_dir.join("owns-clusters"));
    if let Some(f) = &args.ready_file {
        let _ = std::fs::remove_file(f);
    }
    println!("demo stopped");
    result
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
}

/// The ten steps (one more each for `--metrics thanos` and `--openid`), then the ready message; runs until
/// a child it started exits.
async fn run(
    setup: &Setup,
    openid: bool,
    ready_file: Option<&Path>,
    running: &mut Running,
) -> anyhow::Result<()> {
    let thanos = setup.metrics == Metrics::Thanos;
    let mut progress = Progress::new(10 + usize::from(thanos) + usize::from(openid));
    let mesh = steps::load_mesh(setup)?;
    // First: its five free ports were picked at start, and the clusters' connections take ephemeral ones.
    let jaeger = steps::start_tracing(setup, &mut progress, running, &mesh).await?;
    let kubeconfig = steps::start_clusters(setup, &mut progress, running).await?;
    let mut clusters = Clusters::connect(kubeconfig, setup.topology.clusters()).await?;
    steps::install_topology_and_crd(setup, &mut progress, &mut clusters, &mesh).await?;
    steps::deploy_apps(setup, &mut progress, &mut clusters, &mesh).await?;
    steps::serve_sidecars(setup, &mut progress, running, &mesh, &clusters).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let home_prom = steps::start_prometheus(setup, &mut progress, running, &http).await?;
    let store = if thanos {
        let instance = steps::primary_instance(setup)?;
        Some(
            steps::start_store(
                setup,
                &mut progress,
                running,
                &http,
                &mut clusters,
                &instance,
            )
            .await?,
        )
    } else {
        None
    };
    let instance = steps::start_operators(
        setup,
        &mut progress,
        running,
        &mut clusters,
        &home_prom,
        &jaeger,
        store.as_ref(),
    )
    .await?;
    let mounted = steps::wire_remote(setup, &mut progress, &clusters, &instance).await?;
    let mut inputs =
        steps::materialise_server_inputs(setup, &mut progress, &clusters, &instance, &mounted)
            .await?;
    if let Some(store) = &store {
        inputs.extra_args = steps::server_files(setup, &clusters, &instance, store).await?;
    }
    let kc = clusters.kc();
    let url =
        steps::start_server(setup, &mut progress, running, &http, &kc, &inputs, &mesh).await?;
    let openid = match openid {
        true => Some(steps::start_openid(setup, &mut progress, running, &kc, &inputs).await?),
        false => None,
    };
    let metrics = match &store {
        Some(s) => format!(
            "Thanos Query {} behind the token gate {} (sidecars beside east's and west's Prometheus)",
            s.query_url, s.url
        ),
        None => format!(
            "Prometheus  {home_prom} ({}, federating {})",
            setup.topology.home(),
            setup.topology.clusters()[1..].join(", ")
        ),
    };
    let store_url = store
        .as_ref()
        .map_or(home_prom.as_str(), |s| s.url.as_str());
    print_ready(
        setup,
        &progress,
        &url,
        (store_url, &metrics, &jaeger),
        &kc,
        openid.as_ref(),
        ready_file,
    )?;
    running.procs.wait_any_exit().await
}

/// The closing lines of `up`, and the `--ready-file` with the same URLs.
fn print_ready(
    setup: &Setup,
    progress: &Progress,
    url: &str,
    (home_prom, metrics, jaeger): (&str, &str, &str),
    kc: &str,
    openid: Option<&steps::OpenidDemo>,
    ready_file: Option<&Path>,
) -> anyhow::Result<()> {
    println!();
    println!(
        "meshglass is ready in {:.0} s: {url}",
        progress.start.elapsed().as_secs_f64()
    );
    println!(
        "  kubeconfig  {kc} (contexts {})",
        setup.topology.clusters().join(", ")
    );
    println!("  {metrics}");
    println!("  jaeger      {jaeger} (the simulator's live traces)");
    if let Some(o) = openid {
        println!(
            "  openid      {} (log in as alice or bob, password <user>-password)",
            o.url
        );
    }
    println!(
        "  logs        {}",
        setup.state_dir.join("demo/logs").display()
    );
    println!("Ctrl-C (or `make demo-down`) stops everything the demo started.");
    if let Some(f) = ready_file {
        let mut info = json!({"url": url, "prometheus": home_prom, "jaeger": jaeger, "kubeconfig": kc,
                          "clusters": setup.topology.clusters(),
                          "seconds": progress.start.elapsed().as_secs_f64()});
        if let Some(o) = openid {
            info["openid"] = json!({"url": o.url, "providers": o.providers});
        }
        std::fs::write(f, serde_json::to_vec_pretty(&info)?)?;
    }
    Ok(())
}
