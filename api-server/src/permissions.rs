//! Kiali's `permissions` of an Istio config detail: whether the caller may create, update and
//! delete objects of that kind in that namespace of that cluster.
//!
//! Asked of the cluster itself with SelfSubjectAccessReviews sent with the caller's own
//! credential ([`client_for`]: the caller's token, the ID token of its login to that cluster, or
//! the server's ServiceAccount under `anonymous` — the credential a write would go with), so the
//! answer is the one the write would get. Verbs as Kiali asks them: `create`, `patch` (update),
//! `delete`. `deployment.view_only_mode: true` answers false without asking. Answers are cached
//! for [`crate::auth::REVIEW_TTL`] per credential (its SHA-256), cluster, namespace and kind.

use std::time::Instant;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use meshglass_engine::IstioKind;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::as_caller::client_for;
use crate::auth::{Caller, Identity, PermissionKey};
use crate::registry::describe_kube_error;
use crate::state::Shared;

/// Kiali's `ResourcePermissions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
}

/// The verbs asked, in the order of the cached answer.
const VERBS: [&str; 3] = ["create", "patch", "delete"];

/// What the caller may do with `kind` in `ns` of `cluster`. Never fails: a cluster that cannot
/// be asked, or a caller without a credential for it, gets no permission (and a log line).
pub async fn of(
    s: &Shared,
    caller: &Caller,
    cluster: &str,
    ns: &str,
    kind: IstioKind,
) -> Permissions {
    if s.config.deployment.view_only_mode {
        return Permissions::default();
    }
    let Some(credential) = credential_hash(caller, cluster) else {
        // A signed-in caller without a credential for this cluster can write nothing there.
        return Permissions::default();
    };
    let key: PermissionKey = (credential, cluster.to_string(), ns.to_string(), kind);
    if let Some(a) = lock(s).get(&key, Instant::now()) {
        return from_answers(a);
    }
    let client = match client_for(s, caller, cluster) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(cluster, user = caller.id.name(), error = %e, "no credential to ask permissions with");
            return Permissions::default();
        }
    };
    let asks = VERBS.map(|verb| {
        s.auth.counts.access_reviews.inc();
        ask(client.clone(), ns, kind, verb)
    });
    let [c, u, d] = asks;
    let (c, u, d) = futures::join!(c, u, d);
    let mut answers = [false; 3];
    let mut complete = true;
    for (slot, (verb, r)) in answers.iter_mut().zip(VERBS.iter().zip([c, u, d])) {
        match r {
            Ok(a) => *slot = a,
            Err(e) => {
                complete = false;
                tracing::warn!(cluster, user = caller.id.name(), verb, kind = kind.kind(), error = %e, "self access review failed");
            }
        }
    }
    // A failed review is asked again next time rather than remembered as a refusal.
    if complete {
        lock(s).insert(key, answers, Instant::now());
    }
    from_answers(answers)
}

fn from_answers([create, update, delete]: [bool; 3]) -> Permissions {
    Permissions {
        create,
        update,
        delete,
    }
}

fn lock(
    s: &Shared,
) -> std::sync::MutexGuard<'_, crate::ttl_cache::TtlCache<PermissionKey, [bool; 3]>> {
    s.auth.permissions.lock().unwrap_or_else(|e| e.into_inner())
}

/// The SHA-256 of the credential a request to `cluster` goes with: zeros for the server's own
/// (`anonymous`), `None` for a signed-in caller with no credential for that cluster.
fn credential_hash(caller: &Caller, cluster: &str) -> Option<[u8; 32]> {
    match (&caller.id, caller.token_for(cluster)) {
        (Identity::Anonymous, _) => Some([0; 32]),
        (_, Some(t)) => Some(Sha256::digest(t.expose().as_bytes()).into()),
        (_, None) => None,
    }
}

/// One SelfSubjectAccessReview: may the client's credential `verb` objects of `kind` in `ns`.
async fn ask(client: kube::Client, ns: &str, kind: IstioKind, verb: &str) -> Result<bool, String> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.to_string()),
                verb: Some(verb.to_string()),
                group: Some(kind.group().to_string()),
                resource: Some(kind.plural().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SelfSubjectAccessReview>::all(client)
        .create(&PostParams::default(), &review)
        .await
        .map(|r| r.status.is_some_and(|s| s.allowed))
        .map_err(|e| describe_kube_error(&e))
}
