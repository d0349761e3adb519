//! Command line: `meshglass-operator [run] …` (the default), `meshglass-operator crd`. New
//! subcommands are one variant of [`Command`] plus one arm in [`main`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tracing::{error, info};

use crate::admin::{self, AdminState};
use crate::build::BuildOptions;
use crate::controller::{self, Settings};
use crate::metrics::Metrics;
use crate::reconcile::validate::Tenancy;

#[derive(Parser, Debug)]
#[command(
    name = "meshglass-operator",
    version,
    about = "Reconciles kiali.io/v1alpha1 Kiali custom resources"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `run` when no subcommand is given.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller (the default).
    Run(RunArgs),
    /// Print the kialis.kiali.io CustomResourceDefinition as YAML.
    Crd,
    /// Print the operator's own RBAC rules as YAML (`clusterRules`, `namespaceRules`): the source
    /// of the Helm chart's and the OLM bundle's permissions.
    Rbac(RbacArgs),
    /// Create the remote-cluster Secret for another cluster (kiali-prepare-remote-cluster.sh equivalent).
    RemoteSecret(crate::remote_secret::Args),
    /// Write the OLM bundle (ClusterServiceVersion, CRD, metadata, bundle.Dockerfile) into a directory.
    Bundle(BundleArgs),
}

#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// Directory to write (created; files of the bundle are overwritten, others left alone).
    #[arg(long, default_value = "bundle")]
    pub out: PathBuf,
    /// Kiali CR files whose documents become the CSV's alm-examples, in order.
    #[arg(long = "example", default_values = ["examples/kiali-primary.yaml", "examples/kiali-remote.yaml"])]
    pub examples: Vec<PathBuf>,
    /// Registry of the operator and server images named in the CSV.
    #[arg(long, default_value = "localhost")]
    pub image_registry: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RbacArgs {
    /// Print the server's ClusterRole rules instead (`rules`): what the operator grants a server,
    /// the source of the server chart's ClusterRole.
    #[arg(long)]
    pub server: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Kubeconfig file; without it (and without KUBECONFIG) the in-cluster credentials are used.
    /// (KUBECONFIG, also a list of files, is honoured when this is not given.)
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(
        long,
        env = "MESHGLASS_OPERATOR_ADMIN_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub admin_addr: SocketAddr,
    /// Log format.
    #[arg(long, value_enum, env = "MESHGLASS_OPERATOR_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Image of the server when a CR does not name one (deployment.image_name).
    #[arg(
        long,
        env = "MESHGLASS_SERVER_IMAGE",
        default_value = "meshglass-server"
    )]
    pub server_image: String,
    /// Let a Kiali CR deploy the server into a namespace other than its own (`deployment.namespace`); off, such a
    /// CR fails with the reason. Kiali's operator setting of the same name.
    #[arg(long, env = "ALLOW_AD_HOC_KIALI_NAMESPACE", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_ad_hoc_kiali_namespace: bool,
    /// Let a Kiali CR pick the server image (`deployment.image_name`, `image_version`, `image_digest`); off,
    /// only the default image (`--server-image`) is deployed. Kiali's operator setting of the same name.
    #[arg(long, env = "ALLOW_AD_HOC_KIALI_IMAGE", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_ad_hoc_kiali_image: bool,
    /// Let a Kiali CR run in remote mode (`deployment.remote_cluster_resources_only`), which mints a
    /// non-expiring ServiceAccount token with cluster-wide read for a Kiali on another cluster.
    #[arg(long, env = "ALLOW_REMOTE_CLUSTER_RESOURCES", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_remote_cluster_resources: bool,
    /// Elect a leader through a Lease so that only one replica reconciles.
    #[arg(long, env = "MESHGLASS_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Namespace of the Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, default_value = "meshglass-operator")]
    pub lease_name: String,
}

/// Entry point of the binary.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::RemoteSecret(args)) => Ok(crate::remote_secret::main(args)?),
        Some(Command::Crd) => {
            print!("{}", meshglass_crds::crd_yaml()?);
            Ok(())
        }
        Some(Command::Rbac(args)) if args.server => {
            print!("{}", crate::rbac::server_rbac_yaml()?);
            Ok(())
        }
        Some(Command::Rbac(_)) => {
            print!("{}", crate::rbac::operator_rbac_yaml()?);
            Ok(())
        }
        Some(Command::Bundle(args)) => bundle(&args),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn bundle(args: &BundleArgs) -> anyhow::Result<()> {
    let mut examples = Vec::new();
    for path in &args.examples {
        examples.push(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
    }
    let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
    let opts = crate::bundle::BundleOptions::for_registry(&args.image_registry);
    for (rel, content) in crate::bundle::files(&meshglass_crds::crd_yaml()?, &examples, &opts)? {
        let path = args.out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// A client from `--kubeconfig`/`--context`, else in-cluster credentials.
pub async fn client(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None if context.is_some() || std::env::var_os("KUBECONFIG").is_some() => {
            kube::Config::from_kubeconfig(&options).await?
        }
        None => {
            kube::Config::incluster().context("no --kubeconfig and no in-cluster credentials")?
        }
    };
    Ok(kube::Client::try_from(config)?)
}

/// Resolves on SIGINT or SIGTERM (what Kubernetes sends before killing the pod).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let settings = Settings {
            build: BuildOptions {
                server_image: args.server_image.clone(),
                tenancy: Tenancy {
                    allow_ad_hoc_namespace: args.allow_ad_hoc_kiali_namespace,
                    allow_ad_hoc_image: args.allow_ad_hoc_kiali_image,
                    allow_remote_cluster_resources: args.allow_remote_cluster_resources,
                },
                ..BuildOptions::default()
            },
            metrics: Metrics::default(),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let admin_state = AdminState { ready: settings.ready.clone(), metrics: settings.metrics.clone() };
        let admin_addr = args.admin_addr;
        tokio::spawn(async move {
            if let Err(e) = admin::serve(admin_addr, admin_state).await {
                error!(error = %e, addr = %admin_addr, "admin server stopped");
            }
        });
        let shutdown = shutdown_signal();
        if !args.leader_election {
            controller::run(client, settings, shutdown).await;
            return Ok(());
        }
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("meshglass-operator-{}", std::process::id()));
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &args.lease_name)
            .with_namespace(&args.lease_namespace)
            .with_identity(identity)
            .with_field_manager(controller::MANAGER)
            .build()
            .await?;
        let (mut leader, lease_task) = manager.watch().await;
        info!(lease = %args.lease_name, namespace = %args.lease_namespace, "waiting for leadership");
        while !*leader.borrow_and_update() {
            leader.changed().await.context("lease manager stopped")?;
        }
        info!("leading");
        let lost = async move {
            while *leader.borrow_and_update() {
                if leader.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = controller::run(client, settings, shutdown) => {},
            _ = lost => {
                error!("leadership lost; exiting so a fresh process can compete again");
                std::process::exit(1);
            }
        }
        // Shutting down: closing the channel stops the lease task, then the lease is released so a
        // standby replica takes over at once instead of after the lease expires.
        if let Ok(Ok(manager)) = lease_task.await
            && let Err(e) = manager.release().await
        {
            error!(error = %e, "cannot release the lease");
        }
        info!("stopped");
        Ok(())
    })
}
