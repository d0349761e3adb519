//! The remote ServiceAccount's token: found in its token Secret (waited for after a real apply), and the
//! remote root CA the generated kubeconfig may trust.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt, api::ListParams};
use tracing::info;

use super::{
    args::Args,
    cluster::Cluster,
    error::{Error, Result},
    objects::{ROOT_CA_CONFIGMAP, SERVICE_ACCOUNT_ANNOTATION, TOKEN_SECRET_TYPE},
};

/// Token written into `--dry-run` output when the token Secret does not exist yet.
pub const PLACEHOLDER_TOKEN: &str = "dry-run-placeholder-token";

/// A populated token Secret and the ServiceAccount it belongs to.
pub(super) struct FoundToken {
    pub(super) secret: String,
    pub(super) service_account: String,
    pub(super) namespace: String,
    pub(super) token: String,
}

fn token_of(secret: &Secret) -> Option<String> {
    let token = secret.data.as_ref()?.get("token")?;
    let token = String::from_utf8(token.0.clone()).ok()?;
    (!token.is_empty()).then_some(token)
}

/// The token Secret named `name`, else any populated token Secret annotated for ServiceAccount `name`.
pub(super) async fn find_token(
    remote: &Cluster,
    secrets: &Api<Secret>,
    name: &str,
) -> Result<Option<FoundToken>> {
    let ns = secrets.namespace().unwrap_or_default().to_string();
    let found = |s: &Secret, token: String| FoundToken {
        secret: s.name_any(),
        service_account: s
            .annotations()
            .get(SERVICE_ACCOUNT_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| name.to_string()),
        namespace: ns.clone(),
        token,
    };
    let named = secrets
        .get_opt(name)
        .await
        .map_err(remote.kube_err(format!("reading Secret {ns}/{name}")))?;
    if let Some(secret) = &named {
        return Ok(token_of(secret).map(|t| found(secret, t)));
    }
    let list = secrets
        .list(&ListParams::default().fields(&format!("type={TOKEN_SECRET_TYPE}")))
        .await
        .map_err(remote.kube_err(format!("listing token Secrets in {ns}")))?;
    let mut candidates: Vec<&Secret> = list
        .items
        .iter()
        .filter(|s| {
            s.annotations()
                .get(SERVICE_ACCOUNT_ANNOTATION)
                .map(String::as_str)
                == Some(name)
        })
        .collect();
    candidates.sort_by_key(|s| s.name_any());
    Ok(candidates
        .into_iter()
        .find_map(|s| token_of(s).map(|t| found(s, t))))
}

pub(super) async fn wait_token(
    args: &Args,
    remote: &Cluster,
    secrets: &Api<Secret>,
) -> Result<FoundToken> {
    let name = &args.kiali_resource_name;
    let deadline = Instant::now() + args.token_timeout;
    info!(secret = %name, namespace = %args.remote_cluster_namespace, "waiting for the remote token Secret");
    loop {
        if let Some(found) = find_token(remote, secrets, name).await? {
            info!(secret = %found.secret, namespace = %found.namespace, "using the token of this Secret");
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(Error::TokenTimeout {
                context: remote.context.clone(),
                namespace: args.remote_cluster_namespace.clone(),
                name: name.clone(),
                secs: args.token_timeout.as_secs(),
                hint: if args.process_remote_resources {
                    "the remote token controller did not fill it in; check that kube-controller-manager runs there \
                     with --service-account-private-key-file"
                } else {
                    "apply a Kiali CR with spec.deployment.remote_cluster_resources_only: true on the remote cluster \
                     (its operator makes the token Secret) or rerun with --process-remote-resources true; check \
                     --kiali-resource-name and --remote-cluster-namespace"
                },
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// PEM of the remote `kube-root-ca.crt` ConfigMap (in the remote namespace, else in kube-system).
pub(super) async fn root_ca(remote: &Cluster, namespace: &str) -> Result<Option<Vec<u8>>> {
    for ns in [namespace, "kube-system"] {
        let api: Api<ConfigMap> = Api::namespaced(remote.client.clone(), ns);
        let cm = api
            .get_opt(ROOT_CA_CONFIGMAP)
            .await
            .map_err(remote.kube_err(format!("reading ConfigMap {ns}/{ROOT_CA_CONFIGMAP}")))?;
        if let Some(pem) = cm
            .and_then(|cm| cm.data?.get("ca.crt").cloned())
            .filter(|p| !p.is_empty())
        {
            return Ok(Some(pem.into_bytes()));
        }
    }
    Ok(None)
}
