//! `meshglass-simulator`: Istio standard metrics for a topology file, served live per cluster or written as
//! backfillable OpenMetrics; also the Kubernetes objects of the topology.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use meshglass_simulator::live::Live;
use meshglass_simulator::serve::{metrics_router, now};
use meshglass_simulator::{Mesh, Topology, manifests, metrics, parse_duration, parse_time};

#[derive(Parser)]
#[command(name = "meshglass-simulator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one cluster's sidecar metrics live on /metrics (Prometheus text format).
    Serve {
        #[arg(long)]
        topology: PathBuf,
        /// The cluster whose proxies this endpoint stands for.
        #[arg(long)]
        cluster: String,
        #[arg(long, default_value = "127.0.0.1:15090")]
        listen: SocketAddr,
        /// Time counters start from (Unix seconds or RFC 3339); default: when the server starts.
        #[arg(long)]
        origin: Option<String>,
        /// Follow the VirtualService weights of this cluster (a context of --kubeconfig named as the topology's
        /// cluster); repeat for every cluster. Without it the topology's splits stay.
        #[arg(long = "follow")]
        follow: Vec<String>,
        /// The kubeconfig of the --follow contexts; default: $KUBECONFIG or ~/.kube/config.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Write timestamped OpenMetrics (ending in `# EOF`) for `promtool tsdb create-blocks-from openmetrics`.
    Openmetrics {
        #[arg(long)]
        topology: PathBuf,
        /// Only what this cluster's proxies report; default: every cluster (a unified store).
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        #[arg(long, default_value = "15s")]
        step: String,
        /// Time counters start from; default: --start.
        #[arg(long)]
        origin: Option<String>,
        /// Output file; default: standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print the Kubernetes objects (Namespaces, ServiceAccounts, Deployments, Services) of one cluster as YAML.
    Manifests {
        #[arg(long)]
        topology: PathBuf,
        #[arg(long)]
        cluster: String,
    },
    /// Check a topology file and print its flows.
    Check {
        #[arg(long)]
        topology: PathBuf,
    },
}

fn load(path: &std::path::Path, cluster: Option<&str>) -> anyhow::Result<Mesh> {
    let mesh = Topology::load(path)?;
    if let Some(c) = cluster
        && !mesh.topology.clusters.iter().any(|k| k == c)
    {
        bail!(
            "cluster {c:?} is not in the topology (clusters: {})",
            mesh.topology.clusters.join(", ")
        );
    }
    Ok(mesh)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            topology,
            cluster,
            listen,
            origin,
            follow,
            kubeconfig,
        } => {
            let mesh = load(&topology, Some(&cluster))?;
            let origin = match origin {
                Some(o) => parse_time(&o)?,
                None => now(),
            };
            let live = Live::new(Arc::new(mesh), origin);
            if !follow.is_empty() {
                let mut clients = Vec::new();
                for context in follow {
                    clients.push((
                        context.clone(),
                        client(kubeconfig.as_deref(), &context).await?,
                    ));
                }
                tokio::spawn(meshglass_simulator::follow::follow(live.clone(), clients));
            }
            serve(live, cluster, listen).await
        }
        Command::Openmetrics {
            topology,
            cluster,
            start,
            end,
            step,
            origin,
            output,
        } => {
            let mesh = load(&topology, cluster.as_deref())?;
            let (start, end, step) = (
                parse_time(&start)?,
                parse_time(&end)?,
                parse_duration(&step)?,
            );
            if end < start {
                bail!("--end is before --start");
            }
            let origin = match origin {
                Some(o) => parse_time(&o)?,
                None => start,
            };
            let text = metrics::openmetrics(
                &mesh,
                cluster.as_deref(),
                origin,
                &metrics::time_steps(start, end, step),
            );
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => write_stdout(&text)?,
            }
            Ok(())
        }
        Command::Manifests { topology, cluster } => {
            let mesh = load(&topology, Some(&cluster))?;
            write_stdout(&manifests::to_yaml(&manifests::for_cluster(
                &mesh, &cluster,
            )))?;
            Ok(())
        }
        Command::Check { topology } => {
            let mesh = load(&topology, None)?;
            for f in &mesh.flows {
                println!(
                    "{}/{}@{} -> {}.{} -> {}@{}  {} {:.3}/s",
                    f.source.namespace,
                    f.source.name,
                    f.source.cluster,
                    f.service.name,
                    f.service.namespace,
                    f.destination.name,
                    f.destination.cluster,
                    f.protocol.as_str(),
                    f.rate
                );
            }
            Ok(())
        }
    }
}

/// A client of `context` of the kubeconfig (the default one without a path).
async fn client(path: Option<&std::path::Path>, context: &str) -> anyhow::Result<kube::Client> {
    let kubeconfig = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p)
            .with_context(|| format!("reading {}", p.display()))?,
        None => kube::config::Kubeconfig::read().context("reading the default kubeconfig")?,
    };
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("context {context}"))?;
    Ok(kube::Client::try_from(config)?)
}

async fn serve(live: Arc<Live>, cluster: String, listen: SocketAddr) -> anyhow::Result<()> {
    use axum::routing::get;
    let app = metrics_router(live, Some(cluster.clone())).route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(%cluster, address = %listener.local_addr()?, "serving Istio metrics on /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        })
        .await?;
    Ok(())
}
