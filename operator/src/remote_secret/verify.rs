//! Proving the generated kubeconfig: it must reach the remote API, authenticate, and hold every
//! permission the server needs, with the CA chosen for it (or, only when allowed, without verifying TLS).

use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use kube::{Api, api::PostParams, config::Kubeconfig};
use tracing::info;

use super::{
    args::Args,
    cluster::{Cluster, client_for},
    contexts::KubeconfigTrust,
    error::{Error, Result, describe, is_status},
    objects::{self, ROOT_CA_CONFIGMAP, Trust},
    plan::Plan,
    token::{FoundToken, PLACEHOLDER_TOKEN, root_ca},
};

/// The CA for the generated kubeconfig: the kubeconfig's own, else the remote `kube-root-ca.crt`, else (only
/// when allowed) skipping TLS verification. Whether the chosen CA really verifies the server is proven later.
fn choose_trust(
    from_kubeconfig: &KubeconfigTrust,
    root_ca: Option<Vec<u8>>,
    allow_skip: bool,
    cluster: &str,
) -> Result<Trust> {
    match (from_kubeconfig, root_ca) {
        (KubeconfigTrust::Ca(pem), _) => Ok(Trust::Ca(pem.clone())),
        (_, Some(pem)) => Ok(Trust::Ca(pem)),
        (_, None) if allow_skip => Ok(Trust::SkipVerify),
        (_, None) => Err(Error::SkipTlsNotAllowed {
            cluster: cluster.to_string(),
            detail: format!(
                "the kubeconfig has no CA and the remote has no {ROOT_CA_CONFIGMAP} ConfigMap"
            ),
        }),
    }
}

enum VerifyFailure {
    Tls(String),
    Error(Error),
}

impl VerifyFailure {
    fn into_error(self, plan: &Plan, earlier_tls: &str) -> Error {
        match self {
            VerifyFailure::Error(e) => e,
            VerifyFailure::Tls(cause) => Error::SkipTlsNotAllowed {
                cluster: plan.cluster_name.clone(),
                detail: format!(
                    "the CA does not verify the API server at {} ({})",
                    plan.server_url,
                    if earlier_tls.is_empty() {
                        cause
                    } else {
                        earlier_tls.to_string()
                    }
                ),
            },
        }
    }
}

fn looks_like_tls(err: &kube::Error) -> bool {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push(' ');
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    let text = text.to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls") || text.contains("unknownissuer")
}

/// Uses the generated kubeconfig against the remote API: it must authenticate and hold every permission of
/// [`objects::required_access`]. RBAC and token caches may lag a just-written binding or token by a moment, so
/// refusals are retried for a short while before they count.
async fn verify(
    plan: &Plan,
    generated: Kubeconfig,
    found: &FoundToken,
) -> std::result::Result<(), VerifyFailure> {
    const SETTLE: Duration = Duration::from_secs(20);
    let (client, url) = client_for(&generated, &plan.cluster_name, "remote")
        .await
        .map_err(VerifyFailure::Error)?;
    let deadline = Instant::now() + SETTLE;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let required = objects::required_access();
    loop {
        let last = match client.apiserver_version().await {
            Err(e) if !matches!(e, kube::Error::Api(_)) => {
                return Err(if looks_like_tls(&e) {
                    VerifyFailure::Tls(describe(&e))
                } else {
                    VerifyFailure::Error(Error::Unreachable {
                        side: "remote",
                        context: format!("generated for {}", plan.cluster_name),
                        url: url.clone(),
                        cause: describe(&e),
                    })
                });
            }
            Err(e) => Error::CredentialRejected {
                cluster: plan.cluster_name.clone(),
                url: url.clone(),
                cause: describe(&e),
            },
            Ok(_) => {
                let checks = required.iter().map(|access| {
                    let reviews = reviews.clone();
                    async move {
                        (
                            access,
                            reviews
                                .create(&PostParams::default(), &objects::access_review(access))
                                .await,
                        )
                    }
                });
                let results = futures::future::join_all(checks).await;
                let mut missing = Vec::new();
                let mut failure = None;
                for (access, result) in results {
                    match result {
                        Ok(review) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
                        Ok(_) => missing.push(access.to_string()),
                        Err(e) if failure.is_none() => {
                            failure = Some(if is_status(&e, 401) {
                                Error::CredentialRejected {
                                    cluster: plan.cluster_name.clone(),
                                    url: url.clone(),
                                    cause: describe(&e),
                                }
                            } else {
                                Error::Kube {
                                    action: format!(
                                        "asking whether the generated credentials may {access}"
                                    ),
                                    side: "remote",
                                    context: plan.remote_context.clone(),
                                    cause: describe(&e),
                                }
                            });
                        }
                        Err(_) => {}
                    }
                }
                match (failure, missing.first()) {
                    (Some(e), _) => e,
                    (None, None) => return Ok(()),
                    (None, Some(first)) => Error::PermissionMissing {
                        cluster: plan.cluster_name.clone(),
                        namespace: found.namespace.clone(),
                        service_account: found.service_account.clone(),
                        missing: first.clone(),
                        more: match missing.len() - 1 {
                            0 => String::new(),
                            n => format!(" (and {n} more permissions)"),
                        },
                    },
                }
            }
        };
        if Instant::now() >= deadline {
            return Err(VerifyFailure::Error(last));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The kubeconfig the server will use, as YAML: the trust chosen as [`choose_trust`] says, then proven with
/// the token. Without a token (a dry run before the token Secret exists) it holds [`PLACEHOLDER_TOKEN`] and
/// is not proven.
pub(super) async fn server_kubeconfig(
    args: &Args,
    plan: &Plan,
    remote: &Cluster,
    token: Option<&FoundToken>,
) -> Result<String> {
    let root = match &plan.trust {
        KubeconfigTrust::Ca(_) => None,
        KubeconfigTrust::Insecure | KubeconfigTrust::Nothing => {
            root_ca(remote, &args.remote_cluster_namespace).await?
        }
    };
    let mut trust = choose_trust(
        &plan.trust,
        root,
        args.allow_skip_tls_verify,
        &plan.remote_entry,
    )?;
    let Some(found) = token else {
        return objects::kubeconfig_yaml(&generated(plan, &trust, PLACEHOLDER_TOKEN)?);
    };
    if let Err(failure) = verify(plan, generated(plan, &trust, &found.token)?, found).await {
        match failure {
            VerifyFailure::Tls(cause)
                if args.allow_skip_tls_verify && trust != Trust::SkipVerify =>
            {
                info!(cluster = %plan.cluster_name, "the CA does not verify the remote API server; using insecure-skip-tls-verify as allowed");
                trust = Trust::SkipVerify;
                verify(plan, generated(plan, &trust, &found.token)?, found)
                    .await
                    .map_err(|f| f.into_error(plan, &cause))?;
            }
            other => return Err(other.into_error(plan, "")),
        }
    }
    objects::kubeconfig_yaml(&generated(plan, &trust, &found.token)?)
}

fn generated(plan: &Plan, trust: &Trust, token: &str) -> Result<Kubeconfig> {
    objects::remote_kubeconfig(&plan.cluster_name, &plan.server_url, trust, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_prefers_the_kubeconfig_then_the_root_ca_and_skips_only_when_allowed() {
        let kc = KubeconfigTrust::Ca(b"KC".to_vec());
        let root = || Some(b"ROOT".to_vec());
        assert_eq!(
            choose_trust(&kc, root(), false, "w").expect("kc"),
            Trust::Ca(b"KC".to_vec())
        );
        for from in [KubeconfigTrust::Insecure, KubeconfigTrust::Nothing] {
            assert_eq!(
                choose_trust(&from, root(), false, "w").expect("root"),
                Trust::Ca(b"ROOT".to_vec())
            );
            assert_eq!(
                choose_trust(&from, None, true, "w").expect("skip"),
                Trust::SkipVerify
            );
            let err = choose_trust(&from, None, false, "w").expect_err("not allowed");
            assert_eq!(err.category(), "skip_tls_not_allowed");
            assert!(
                err.to_string().contains("--allow-skip-tls-verify true"),
                "{err}"
            );
        }
    }
}
