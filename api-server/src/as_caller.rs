//! Requests sent to a cluster as the caller: with the caller's own bearer token and nothing of
//! the server's credentials, so that the cluster's API server decides (Istio config writes, pod
//! logs). Only under `anonymous`, where there is no caller identity, does the server's own
//! ServiceAccount go. A refusal of the API server is passed on with its status and reason.

use crate::auth::{Caller, Identity};
use crate::error::{Error, Result};
use crate::registry::describe_kube_error;
use crate::state::Shared;

/// A refusal of the cluster's API server, passed on with its status and reason; a 401 (the
/// cluster does not accept the caller's token) becomes a 403 naming the cluster, so that the UI
/// does not take it for the end of its own session.
pub fn refused(cluster: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 401 => Error::Refused {
            cluster: cluster.to_string(),
            code: 403,
            reason: "Unauthorized".into(),
            message: format!("cluster {cluster} does not accept the caller's credentials"),
        },
        kube::Error::Api(s) if (400..500).contains(&s.code) => Error::Refused {
            cluster: cluster.to_string(),
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        e => Error::Kube(format!("cluster {cluster}: {}", describe_kube_error(&e))),
    }
}

/// The client of `cluster` a request goes with: the caller's own token (`token`, `header`), the
/// ID token of the caller's login to that cluster (`openid`), or under `anonymous` the server's.
pub fn client_for(s: &Shared, caller: &Caller, cluster: &str) -> Result<kube::Client> {
    let entry = s.entry(cluster)?;
    match (&caller.id, caller.token_for(cluster)) {
        (Identity::Anonymous, _) => entry
            .client
            .clone()
            .ok_or_else(|| Error::Kube(format!("cluster {cluster} has no client"))),
        (_, Some(t)) => entry.client_as(t.expose()),
        (Identity::User(u), None) => Err(Error::Forbidden(format!(
            "user {} has no bearer token to send to cluster {cluster}",
            u.username
        ))),
        // `openid`: the ID token of the login to that cluster.
        (Identity::Clusters { name, .. }, None) => Err(Error::Forbidden(format!(
            "user {name} is not logged in to cluster {cluster}: log in to it first"
        ))),
    }
}
