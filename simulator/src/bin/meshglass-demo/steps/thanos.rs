//! `--metrics thanos` (`make demo METRICS=thanos`): the seeds' distributed metrics store instead of east
//! federating west. Each cluster's Prometheus keeps only what its own proxies report; a Thanos sidecar
//! beside each, one Thanos Query over both, and in front an HTTPS gate (oauth2-proxy) admitting exactly the
//! server's ServiceAccount token, as OpenShift's thanos-querier does. The primary CR then reads it as the
//! seed does (`auth: {type: bearer, use_kiali_token: true}`, `thanos_proxy: {enabled: true}`), with the
//! gate's CA in ConfigMap `kiali-cabundle`. The processes are the test bed's (`meshglass_testbed::ThanosQuery`,
//! `TokenGate`), built by `make tools`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use meshglass_testbed::{GateOptions, ThanosQuery, TokenGate};
use serde_json::{Value, json};

use super::{Clusters, NAMESPACE, PRIMARY, Setup};
use crate::files::write_private;
use crate::kube_util::{self, wait_for};
use crate::progress::Progress;
use crate::running::Running;

/// The store the primary CR points at, and what the out-of-cluster server needs to read it.
pub struct Store {
    /// The gate's `https://` URL.
    pub url: String,
    /// Thanos Query itself (behind the gate), for the closing lines.
    pub query_url: String,
    /// The CA of the gate's serving certificate.
    pub ca_pem: String,
}

/// East's API server URL and CA from the kubeconfig: the ServiceAccount issuer the gate trusts.
fn issuer(kubeconfig: &std::path::Path) -> anyhow::Result<(String, Vec<u8>)> {
    use base64::Engine as _;
    let c = kube_util::context_cluster(kubeconfig, PRIMARY)?;
    let server = kube_util::server_url(kubeconfig, PRIMARY)?;
    let ca = c
        .certificate_authority_data
        .as_deref()
        .ok_or_else(|| anyhow!("cluster {PRIMARY} has no certificate-authority-data"))?;
    let ca = base64::engine::general_purpose::STANDARD.decode(ca.trim())?;
    Ok((server, ca))
}

/// Step 6 of `--metrics thanos`: sidecars and Thanos Query over both clusters' Prometheus, waited on until
/// Query answers with both clusters' proxies; the token gate in front of it; ConfigMap `kiali-cabundle`.
pub async fn start_store(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    http: &reqwest::Client,
    clusters: &mut Clusters,
    instance: &str,
) -> anyhow::Result<Store> {
    let ports = setup.ports;
    progress.begin("Thanos sidecars, Thanos Query, and the ServiceAccount-token gate in front");
    let data = |c: &str| setup.state_dir.join(format!("prometheus-{c}")).join("data");
    let (east, west) = (
        format!("http://127.0.0.1:{}", ports.prometheus[0]),
        format!("http://127.0.0.1:{}", ports.prometheus[1]),
    );
    let (east_data, west_data) = (data(PRIMARY), data(super::REMOTE));
    let query = ThanosQuery::start_over(&[(&east, &east_data), (&west, &west_data)])
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let query_url = query.url().to_owned();
    wait_for(
        "Thanos Query to answer with both clusters' proxies",
        Duration::from_secs(90),
        || {
            let http = http.clone();
            let url = format!("{query_url}/api/v1/query");
            async move {
                let q = r#"count by (reporter) (istio_requests_total{source_cluster="east",destination_cluster="west"})"#;
                let url = reqwest::Url::parse_with_params(&url, &[("query", q)])?;
                let v: Value = http.get(url).send().await?.json().await?;
                let reporters = v["data"]["result"].as_array().map_or(0, Vec::len);
                Ok((reporters == 2).then_some(()))
            }
        },
    )
    .await?;
    // The gate reads the issuer's JWKS as an anonymous caller, as on a cluster whose issuer is public.
    clusters
        .home_mut()
        .apply
        .apply(&json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "meshglass-demo-issuer-discovery"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:service-account-issuer-discovery"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "system:unauthenticated"}]}))
        .await?;
    let (issuer_url, issuer_ca) = issuer(&clusters.kubeconfig)?;
    let subject = format!(
        "system:serviceaccount:{NAMESPACE}:{}",
        meshglass_crds::names::service_account(instance)
    );
    let gate = TokenGate::start(&GateOptions {
        issuer_url: &issuer_url,
        issuer_ca_pem: &issuer_ca,
        subject: &subject,
        upstream: &query_url,
    })
    .await
    .map_err(|e| anyhow!("{e}"))?;
    // What a user does for a store with a private CA: ConfigMap <instance>-cabundle, which the operator
    // mounts into the server.
    clusters
        .home_mut()
        .apply
        .apply(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{instance}-cabundle"), "namespace": NAMESPACE},
            "data": {meshglass_crds::config::CA_BUNDLE_KEY: gate.ca_pem()}}))
        .await?;
    let store = Store {
        url: gate.url().to_owned(),
        query_url,
        ca_pem: gate.ca_pem().to_owned(),
    };
    running.thanos = Some(Box::new((gate, query)));
    progress.done(&format!(
        "Thanos Query {} behind {} (admits {subject} only)",
        store.query_url, store.url
    ));
    Ok(store)
}

/// The primary CR's metrics store as the seed writes it, pointed at the gate.
pub fn seed_prometheus(store: &Store) -> Value {
    json!({
        "auth": {"type": "bearer", "use_kiali_token": true},
        "thanos_proxy": {"enabled": true},
        "url": store.url,
    })
}

/// What the out-of-cluster server reads in-cluster from its pod: its ServiceAccount token (a TokenRequest, as
/// the kubelet projects it) and the CA bundle, written under the state directory; the server's flags for them.
pub async fn server_files(
    setup: &Setup,
    clusters: &Clusters,
    instance: &str,
    store: &Store,
) -> anyhow::Result<Vec<String>> {
    let dir = setup.state_dir.join("kiali");
    std::fs::create_dir_all(dir.join("cabundle"))?;
    let sa = meshglass_crds::names::service_account(instance);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(24 * 3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = Api::<ServiceAccount>::namespaced(clusters.home().client.clone(), NAMESPACE)
        .create_token_request(&sa, &PostParams::default(), &request)
        .await
        .with_context(|| format!("a token for ServiceAccount {NAMESPACE}/{sa}"))?
        .status
        .ok_or_else(|| anyhow!("TokenRequest for {NAMESPACE}/{sa} without status"))?
        .token;
    let token_file: PathBuf = dir.join("token");
    write_private(&token_file, token.as_bytes())?;
    let ca_dir = dir.join("cabundle");
    std::fs::write(
        ca_dir.join(meshglass_crds::config::CA_BUNDLE_KEY),
        &store.ca_pem,
    )?;
    Ok(vec![
        "--service-account-token".into(),
        token_file.display().to_string(),
        "--ca-bundle-dir".into(),
        ca_dir.display().to_string(),
    ])
}
