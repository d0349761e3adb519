//! Clients for the two clusters: one per kubeconfig context, checked to answer before anything is read.

use std::time::Duration;

use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};

use super::error::{Error, Result, describe, describe_kubeconfig};
use super::outcome::Side;

/// A cluster-admin-side client for one context, checked to answer.
pub(super) struct Cluster {
    pub(super) side: Side,
    pub(super) context: String,
    pub(super) client: Client,
}

impl Cluster {
    /// Turns a failed call into the one-line error naming this cluster, its context and `action`.
    pub(super) fn kube_err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(kube::Error) -> Error + '_ {
        let action = action.into();
        move |e| Error::Kube {
            action,
            side: self.side.word(),
            context: self.context.clone(),
            cause: describe(&e),
        }
    }
}

/// A client for `context` with the CLI's timeouts, and the URL it talks to.
pub(super) async fn client_for(
    kubeconfig: &Kubeconfig,
    context: &str,
    side: &'static str,
) -> Result<(Client, String)> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .map_err(|e| Error::Kubeconfig {
            origin: format!("context {context:?}"),
            cause: describe_kubeconfig(&e),
        })?;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(30));
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::Unreachable {
        side,
        context: context.to_string(),
        url: url.clone(),
        cause: describe(&e),
    })?;
    Ok((client, url))
}

pub(super) async fn connect(kubeconfig: &Kubeconfig, context: &str, side: Side) -> Result<Cluster> {
    let (client, url) = client_for(kubeconfig, context, side.word()).await?;
    match client.apiserver_version().await {
        Ok(_) => Ok(Cluster {
            side,
            context: context.to_string(),
            client,
        }),
        Err(e @ kube::Error::Api(_)) => Err(Error::Kube {
            action: "reading the API server version".to_string(),
            side: side.word(),
            context: context.to_string(),
            cause: describe(&e),
        }),
        Err(e) => Err(Error::Unreachable {
            side: side.word(),
            context: context.to_string(),
            url,
            cause: describe(&e),
        }),
    }
}
