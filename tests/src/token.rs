//! ServiceAccount token Secrets (`kubernetes.io/service-account-token`), filled in by the token controller.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::{Error, wait_until};

/// Waits until the token controller has put a token into the Secret `ns/name` and returns it.
pub async fn wait_for_token(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    wait_until(
        &format!("Secret {ns}/{name} holds a token"),
        timeout,
        || async {
            let s = secrets.get(name).await?;
            let token = s
                .data
                .and_then(|d| d.get("token").cloned())
                .and_then(|t| String::from_utf8(t.0).ok());
            Ok::<_, kube::Error>(token.filter(|t| !t.is_empty()))
        },
    )
    .await
}
