//! ServiceAccount token Secrets (`kubernetes.io/service-account-token`), filled in by the token controller.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::{Error, named, wait_until};

/// Creates the ServiceAccount `ns/sa` and a token Secret `ns/secret` for it, as `kubectl` users do; the token
/// controller fills it in later ([`wait_for_token`]). The ServiceAccount is given no role.
pub async fn create_service_account(
    client: &Client,
    ns: &str,
    sa: &str,
    secret: &str,
) -> Result<(), Error> {
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &named(sa))
        .await?;
    let mut token: Secret = named(secret);
    token.metadata.annotations = Some(
        [(
            "kubernetes.io/service-account.name".to_string(),
            sa.to_string(),
        )]
        .into(),
    );
    token.type_ = Some("kubernetes.io/service-account-token".to_string());
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &token)
        .await?;
    Ok(())
}

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
