//! OpenShift's OAuth, emulated on a test-bed cluster (OpenShift itself cannot run here).
//!
//! What is real: the OAuth2 server (Ory Hydra, [`crate::oidc::Provider`]: its authorization and
//! token endpoints, authorization codes, PKCE, opaque access tokens, and its login form through
//! the provider's login app), the API server (a real kube-apiserver that authenticates those
//! access tokens through its token webhook — `--authentication-token-webhook-config-file`,
//! [`crate::StartOptions::token_webhook`] — so TokenReview, RBAC and SubjectAccessReview judge the
//! OAuth user as OpenShift's API server does), and the `oauth.openshift.io/v1` OAuthClient API
//! (served from a CRD, so the operator's discovery finds it and writes the OAuthClient).
//!
//! What stands in for OpenShift: the token webhook is this module's (it asks Hydra's
//! introspection endpoint whether the token is active and answers the user `sub` with group
//! `system:authenticated:oauth`, as OpenShift's OAuth tokens carry); the OAuth server's clients
//! are mirrored from the cluster's OAuthClients by [`OAuthServer::sync_clients`] (OpenShift's
//! OAuth server reads them itself; Hydra matches redirect URIs exactly, OpenShift by prefix); and
//! the discovery document `/.well-known/oauth-authorization-server` is served by this module at
//! [`OAuthServer::discovery_url`], not by the API server (a kube-apiserver cannot serve it): the
//! console is pointed at it with `auth.openshift.clusters.<name>.discovery_url`, the one step of
//! the console's flow that differs from OpenShift. Not emulated: `users/~` (the console asks
//! TokenReview instead), OAuthAccessToken objects and their deletion at logout, and `oc login`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use crate::oidc::Provider;
use crate::{Cluster, Error};

/// The group OpenShift gives every user authenticated by an OAuth access token.
pub const OAUTH_GROUP: &str = "system:authenticated:oauth";

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::io(
        format!("emulated OpenShift OAuth: {what}"),
        std::io::Error::other(e.to_string()),
    )
}

/// `oauth.openshift.io/v1` OAuthClient.
pub fn oauth_client_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("oauth.openshift.io", "v1", "OAuthClient"),
        "oauthclients",
    )
}

/// Enough of OpenShift's OAuthClient (cluster-scoped) for the API server to serve and keep what
/// Kiali's operator writes.
pub fn oauth_client_crd() -> CustomResourceDefinition {
    let int = json!({"type": "integer", "format": "int32"});
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "oauthclients.oauth.openshift.io"},
        "spec": {
            "group": "oauth.openshift.io",
            "scope": "Cluster",
            "names": {"kind": "OAuthClient", "listKind": "OAuthClientList",
                      "plural": "oauthclients", "singular": "oauthclient"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "secret": {"type": "string"},
                    "additionalSecrets": {"type": "array", "items": {"type": "string"}},
                    "respondWithChallenges": {"type": "boolean"},
                    "redirectURIs": {"type": "array", "items": {"type": "string"}},
                    "grantMethod": {"type": "string", "enum": ["auto", "prompt"]},
                    "scopeRestrictions": {"type": "array", "items": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                    "accessTokenMaxAgeSeconds": int,
                    "accessTokenInactivityTimeoutSeconds": int,
                }}}
            }]
        }
    }))
    .unwrap_or_default()
}

#[derive(Clone)]
struct Hook {
    admin: String,
    /// The OAuthClients mirrored into Hydra: only their tokens are OpenShift OAuth tokens.
    clients: Arc<Mutex<BTreeSet<String>>>,
    discovery: Value,
    http: reqwest::Client,
}

/// A cluster's emulated OAuth server: Hydra, the token webhook its API server asks, and the
/// discovery document. Dropping it stops them.
pub struct OAuthServer {
    pub provider: Provider,
    /// `http://127.0.0.1:<webhook port>/.well-known/oauth-authorization-server`.
    pub discovery_url: String,
    clients: Arc<Mutex<BTreeSet<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl OAuthServer {
    /// Starts Hydra as the OAuth server of `cluster` (started with
    /// [`crate::StartOptions::token_webhook`]), with `users` (name, password), and the webhook and
    /// discovery document on the cluster's webhook port.
    pub async fn start(cluster: &Cluster, users: &[(&str, &str)]) -> Result<OAuthServer, Error> {
        let port = cluster.token_webhook_port().ok_or(Error::Unsupported(
            "the emulated OpenShift OAuth server needs a bed started with StartOptions::token_webhook",
        ))?;
        // Hydra's own OpenID client is not used here; its redirect URI goes nowhere.
        let provider =
            Provider::start(cluster, users, &["http://127.0.0.1:1/unused".into()]).await?;
        let issuer = provider.issuer.url.clone();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| Error::io(format!("the token webhook's port {port}"), e))?;
        let clients: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        // OpenShift's document has these keys (and more, which the console does not read).
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth2/auth"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "scopes_supported": ["user:check-access", "user:full", "user:info", "user:list-projects", "user:list-scoped-projects"],
            "response_types_supported": ["code", "token"],
            "grant_types_supported": ["authorization_code", "implicit"],
            "code_challenge_methods_supported": ["plain", "S256"],
        });
        let hook = Hook {
            admin: provider.admin_url.clone(),
            clients: clients.clone(),
            discovery,
            http: reqwest::Client::new(),
        };
        let router = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(|State(h): State<Hook>| async move { Json(h.discovery) }),
            )
            .route("/tokenreview", axum::routing::post(token_review))
            .with_state(hook);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(OAuthServer {
            provider,
            discovery_url: format!(
                "http://127.0.0.1:{port}/.well-known/oauth-authorization-server"
            ),
            clients,
            _task: task,
        })
    }

    /// Mirrors every OAuthClient of the cluster of `client` into Hydra's clients (name as
    /// `client_id`, a public client with PKCE, `redirectURIs`, scope `user:full`), as OpenShift's
    /// OAuth server reads them. Returns their names.
    pub async fn sync_clients(&self, client: &kube::Client) -> Result<Vec<String>, Error> {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &oauth_client_resource());
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| err("listing OAuthClients", e))?;
        let mut names = Vec::new();
        for o in list.items {
            let name = o.metadata.name.clone().unwrap_or_default();
            let mut c = json!({
                "client_id": name,
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "scope": "user:full user:info user:check-access",
                "redirect_uris": o.data["redirectURIs"],
            });
            if let Some(age) = o.data["accessTokenMaxAgeSeconds"]
                .as_i64()
                .filter(|a| *a > 0)
            {
                c["authorization_code_grant_access_token_lifespan"] = json!(format!("{age}s"));
            }
            self.provider.put_client(&c).await?;
            if let Ok(mut set) = self.clients.lock() {
                set.insert(name.clone());
            }
            names.push(name);
        }
        Ok(names)
    }
}

fn is_mirrored(clients: &Mutex<BTreeSet<String>>, client: &str) -> bool {
    match clients.lock() {
        Ok(c) => c.contains(client),
        Err(_) => false,
    }
}

/// The API server's TokenReview of a bearer token it does not know: an access token Hydra issued
/// to a mirrored OAuthClient and still holds active is that user's.
async fn token_review(State(h): State<Hook>, Json(review): Json<Value>) -> Json<Value> {
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let no = || {
        Json(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                    "status": {"authenticated": false}}),
        )
    };
    if token.is_empty() {
        return no();
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let sent = h
        .http
        .post(format!("{}/admin/oauth2/introspect", h.admin))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    let answer: Value = match sent {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => return no(),
    };
    let client = answer["client_id"].as_str().unwrap_or_default();
    let ours = is_mirrored(&h.clients, client);
    let user = answer["sub"].as_str().unwrap_or_default();
    if answer["active"] != json!(true) || !ours || user.is_empty() {
        return no();
    }
    Json(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "status": {"authenticated": true, "user": {"username": user, "groups": [OAUTH_GROUP]}},
    }))
}
