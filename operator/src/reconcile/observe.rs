//! The observe stage: reads what the build depends on besides the CR — the candidate remote-cluster
//! Secrets (primary mode), when cluster-wide access is off the namespaces, and whether the Route and
//! OAuthClient APIs exist.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::validate::{SecretScope, Validated};
use crate::build::Platform;

/// A read from the API server failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube_api",
        }
    }
}

/// What the cluster holds that the desired objects depend on.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub secrets: Vec<Secret>,
    pub namespaces: Vec<Namespace>,
    pub platform: Platform,
}

pub async fn observe(client: &Client, validated: &Validated<'_>) -> Result<Observed, Error> {
    let secrets = match &validated.secrets {
        Some(scope) => candidate_secrets(client, scope).await?,
        None => Vec::new(),
    };
    let namespaces = if validated.config.deployment.cluster_wide_access {
        Vec::new()
    } else {
        Api::<Namespace>::all(client.clone())
            .list(&ListParams::default())
            .await?
            .items
    };
    let platform = Platform {
        routes: route_api(client).await?,
        oauth_clients: api_serves(client, "oauth.openshift.io/v1", "oauthclients").await?,
    };
    Ok(Observed {
        secrets,
        namespaces,
        platform,
    })
}

/// Whether the cluster serves `route.openshift.io/v1` Routes (OpenShift, or a cluster with the
/// Route CRD). Asked on every reconcile, so an API added later is used without a restart.
pub async fn route_api(client: &Client) -> Result<bool, Error> {
    api_serves(client, "route.openshift.io/v1", "routes").await
}

/// Whether the cluster serves `resource` of `group_version` (an OpenShift API, or its CRD).
pub async fn api_serves(
    client: &Client,
    group_version: &str,
    resource: &str,
) -> Result<bool, Error> {
    match client.list_api_group_resources(group_version).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == resource)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The candidate remote-cluster secrets: listed by label, then each named one not already found.
async fn candidate_secrets(client: &Client, scope: &SecretScope) -> Result<Vec<Secret>, Error> {
    let api = Api::<Secret>::namespaced(client.clone(), &scope.namespace);
    let mut out = Vec::new();
    if let Some((k, v)) = &scope.label {
        out.extend(
            api.list(&ListParams::default().labels(&format!("{k}={v}")))
                .await?
                .items,
        );
    }
    for name in &scope.names {
        if out.iter().any(|s| &s.name_any() == name) {
            continue;
        }
        if let Some(s) = api.get_opt(name).await? {
            out.push(s);
        }
    }
    Ok(out)
}
