//! `--openid`: a real OpenID provider (Ory Hydra, from the test bed) per cluster, each the issuer that
//! cluster's API server trusts, and a second server with the `openid` strategy on the same clusters,
//! Prometheus and remote secrets as the first one. The demo's users are [`USERS`]; what each may see is
//! up to the clusters' RBAC (the demo grants nothing: `kubectl create rolebinding ... --user=alice`).

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail};
use meshglass_testbed::oidc::{CLIENT_SECRET, Provider};
use serde_json::{Value, json};

use super::kiali::server_args;
use super::{PRIMARY, REMOTE, ServerInputs, Setup};
use crate::files::write_private;
use crate::kube_util::wait_for;
use crate::progress::Progress;
use crate::running::Running;

/// The users of the demo's providers: (name, password). The ID token's `sub` is the name (the API
/// servers' user name), its `email` `<name>@example.com` (the console's user name).
pub const USERS: [(&str, &str); 2] = [("alice", "alice-password"), ("bob", "bob-password")];

/// The openid server's base URL and each cluster's provider (issuer URL, login form).
pub struct OpenidDemo {
    pub url: String,
    pub providers: Value,
}

/// The extra step: the providers, then the `openid` server, waiting until it answers.
pub async fn start_openid(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    kc: &str,
    inputs: &ServerInputs,
) -> anyhow::Result<OpenidDemo> {
    progress.begin(
        "OpenID providers (Ory Hydra) for east and west, and a server with auth.strategy openid",
    );
    let bed = running
        .bed
        .as_ref()
        .ok_or_else(|| anyhow!("--openid needs the clusters the demo starts itself (not --kubeconfig or `make clusters-up`)"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}/kiali");
    let dir = setup.state_dir.join("kiali-openid");
    let _ = std::fs::remove_dir_all(&dir);
    let ca_dir = dir.join("cabundle");
    let secret_dir = dir.join("kiali-secret");
    std::fs::create_dir_all(&ca_dir)?;
    std::fs::create_dir_all(&secret_dir)?;
    write_private(&secret_dir.join("oidc-secret"), CLIENT_SECRET.as_bytes())?;
    let mut providers = serde_json::Map::new();
    for name in [PRIMARY, REMOTE] {
        let cluster = bed.cluster(name);
        let callback = format!("{base}/api/auth/callback/{name}");
        let p = Provider::start(cluster, &USERS, &[callback])
            .await
            .map_err(|e| anyhow!("{name}'s provider: {e}"))?;
        std::fs::write(ca_dir.join(format!("{name}.pem")), &p.issuer.ca_pem)?;
        providers.insert(
            name.to_string(),
            json!({"issuer": p.issuer.url, "clientId": p.issuer.client_id, "login": p.login_url}),
        );
        running.providers.push(p);
    }
    // The first server's CA bundle (Thanos' gate) too.
    let mut args: Vec<String> = Vec::new();
    let mut extra = inputs.extra_args.iter();
    while let Some(a) = extra.next() {
        match (a.as_str(), extra.next()) {
            ("--ca-bundle-dir", Some(d)) => copy_files(Path::new(d), &ca_dir)?,
            (_, Some(v)) => args.extend([a.clone(), v.clone()]),
            (_, None) => args.push(a.clone()),
        }
    }
    let mut config: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&inputs.config)?)?;
    let issuer = |name: &str| providers[name].clone();
    config["auth"] = json!({"strategy": "openid", "openid": {
        "client_id": issuer(PRIMARY)["clientId"],
        "issuer_uri": issuer(PRIMARY)["issuer"],
        "username_claim": "email",
        "clusters": {REMOTE: {"client_id": issuer(REMOTE)["clientId"], "issuer_uri": issuer(REMOTE)["issuer"]}},
    }});
    let Some(server) = config.get_mut("server").and_then(Value::as_object_mut) else {
        bail!("{} has no server section", inputs.config.display());
    };
    server.insert("port".into(), json!(port));
    server.insert("address".into(), json!("127.0.0.1"));
    server.insert(
        "observability".into(),
        json!({"metrics": {"enabled": false}}),
    );
    let config_file = dir.join("config.yaml");
    std::fs::write(&config_file, serde_yaml_ng::to_string(&config)?)?;
    let key = random_key()?;
    let mut all = server_args(&config_file, kc, PRIMARY, &inputs.secrets_dir);
    all.extend([
        "--ca-bundle-dir".into(),
        ca_dir.display().to_string(),
        "--client-secret-dir".into(),
        secret_dir.display().to_string(),
    ]);
    all.extend(args);
    running.procs.spawn(
        "server-openid",
        &setup.bin_dir.join("meshglass-server"),
        &all,
        &[("LOGIN_TOKEN_SIGNING_KEY", key.as_str())],
    )?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    wait_for(
        "the openid server to answer",
        Duration::from_secs(60),
        || {
            let alive = running.procs.check_alive("server-openid");
            let url = format!("{base}/api/auth/info");
            let http = http.clone();
            async move {
                alive?;
                let info: Value = http.get(url).send().await?.json().await?;
                Ok((info["strategy"] == "openid").then_some(()))
            }
        },
    )
    .await?;
    progress.done(&format!(
        "{base} (users alice, bob; password <user>-password)"
    ));
    Ok(OpenidDemo {
        url: base,
        providers: Value::Object(providers),
    })
}

fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// A random session key for this run (sessions end when the demo stops).
fn random_key() -> anyhow::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
