//! `meshglass-server`: the multi-cluster, Kiali-compatible API server.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Multi-cluster, Kiali-compatible observability server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The server configuration (the `config.yaml` of the operator's ConfigMap).
    #[arg(
        long,
        env = "MESHGLASS_CONFIG",
        default_value = meshglass_crds::config::CONFIG_FILE
    )]
    config: PathBuf,
    /// Kubeconfig of the home cluster (in-cluster credentials when absent).
    #[arg(long, env = "MESHGLASS_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig to use.
    #[arg(long)]
    context: Option<String>,
    /// The key sealing session cookies, overriding `login_token.signing_key` (the operator sets it
    /// from Secret `<instance>-signing-key`). Never printed.
    #[arg(long, env = "LOGIN_TOKEN_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// Directory of remote-cluster kubeconfigs: `<dir>/<secret-name>/<cluster-name>`.
    #[arg(
        long,
        env = "MESHGLASS_REMOTE_SECRETS_DIR",
        default_value = meshglass_crds::config::REMOTE_SECRETS_DIR
    )]
    remote_secrets_dir: PathBuf,
    /// Values of `secret:<name>:<key>` credentials: `<dir>/<service>-<field>/value.txt`.
    #[arg(
        long,
        env = "MESHGLASS_OVERRIDE_SECRETS_DIR",
        default_value = meshglass_crds::config::OVERRIDE_SECRETS_DIR
    )]
    override_secrets_dir: PathBuf,
    /// Extra CA certificates (`*.pem`, `*.crt`) trusted besides the platform's roots.
    #[arg(
        long,
        env = "MESHGLASS_CA_BUNDLE_DIR",
        default_value = meshglass_crds::config::CA_BUNDLE_DIR
    )]
    ca_bundle_dir: PathBuf,
    /// The server's ServiceAccount token (`auth.use_kiali_token`), re-read when it changes.
    #[arg(
        long,
        env = "MESHGLASS_SERVICE_ACCOUNT_TOKEN",
        default_value = meshglass_crds::config::SERVICE_ACCOUNT_TOKEN
    )]
    service_account_token: PathBuf,
    /// Secret `<instance>` as mounted: `oidc-secret` (the OpenID client secret) and
    /// `oidc-secret-<cluster>` (a cluster's own provider).
    #[arg(
        long,
        env = "MESHGLASS_CLIENT_SECRET_DIR",
        default_value = meshglass_crds::openid::CLIENT_SECRET_DIR
    )]
    client_secret_dir: PathBuf,
    /// Log as JSON lines, whatever `deployment.logger.log_format` says.
    #[arg(long)]
    log_json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The config comes first: `deployment.logger` decides how everything after it is logged.
    let (mut config, found) = if cli.config.exists() {
        let text = std::fs::read_to_string(&cli.config)
            .with_context(|| format!("cannot read {}", cli.config.display()))?;
        let config = meshglass_server::Config::from_yaml(&text).context("invalid config.yaml")?;
        (config, true)
    } else {
        (meshglass_server::Config::default(), false)
    };
    if let Some(k) = cli.signing_key.filter(|k| !k.is_empty()) {
        config.login_token.signing_key = k;
    }
    if cli.log_json {
        config.deployment.logger.log_format = "json".into();
    }
    meshglass_server::logging::init(&config.deployment.logger);
    if !found {
        tracing::warn!(path = %cli.config.display(), "no config file; using defaults");
    }
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: cli.kubeconfig,
        context: cli.context,
        remote_secrets_dir: cli.remote_secrets_dir,
        paths: meshglass_server::upstream::Paths {
            override_secrets_dir: cli.override_secrets_dir,
            ca_bundle_dir: cli.ca_bundle_dir,
            service_account_token: cli.service_account_token,
            client_secret_dir: cli.client_secret_dir,
        },
        secrets_poll: Duration::from_secs(2),
    })
    .await
    .context("starting the server")?;
    tokio::select! {
        _ = running.wait() => {}
        _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted; exiting"); }
    }
    Ok(())
}
