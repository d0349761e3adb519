//! Authentication and cross-cluster authorization.
//!
//! `anonymous`: everyone sees everything the server caches. `token` and `header`: the bearer
//! token (sent by the user, or injected by an authenticating proxy) is checked with a
//! TokenReview on the home cluster; then, on every cluster, a SubjectAccessReview asks whether
//! that identity may read each namespace a request names, and responses only contain namespaces
//! it may (per cluster: reading `bookinfo` in east says nothing about west).
//! Impersonation is never used. Tokens are never logged or stored; caches key on their
//! SHA-256.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, header};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::registry::{ClusterEntry, Registry, describe_kube_error};
use crate::session::{self, Sealer, Session};
use crate::ttl_cache::TtlCache;
use meshglass_crds::Config;
pub use meshglass_crds::spec::AuthStrategy;

/// The configured strategy (anonymous, token, header, openid, openshift).
pub fn configured_strategy(config: &Config) -> Result<AuthStrategy> {
    match config.auth_strategy() {
        Some(s) if s != AuthStrategy::Unset => Ok(s),
        _ => Err(Error::Config(format!(
            "auth.strategy {:?} is not supported (allowed: anonymous, token, header, openid, openshift)",
            config.auth.strategy
        ))),
    }
}

/// An authenticated user, as the home cluster's TokenReview describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Identity {
    Anonymous,
    /// One credential for every cluster (`token`, `header`): the home cluster's review of it.
    User(Arc<User>),
    /// `openid`, `openshift`: a credential per cluster the user logged in to, each reviewed by
    /// that cluster (`users`); a cluster without one shows nothing of its namespaces.
    Clusters {
        name: String,
        users: Arc<BTreeMap<String, Arc<User>>>,
    },
}

/// The caller's bearer token, kept for the request only so that writes go to a cluster with the
/// caller's own credentials ([`crate::routes::istio_write`]). Never logged: `Debug` prints nothing
/// of it.
#[derive(Clone)]
pub struct CallerToken(Arc<str>);

impl CallerToken {
    /// The token text, to put in an `Authorization` header of a request to a cluster.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerToken(..)")
    }
}

/// An authenticated request: who, and the bearer token it came with (none under `anonymous`);
/// under `openid`, instead, the ID token of each cluster the session is logged in to and that
/// cluster accepts.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Identity,
    pub token: Option<CallerToken>,
    pub cluster_tokens: BTreeMap<String, CallerToken>,
}

impl Caller {
    /// The credential of the caller towards `cluster`: that cluster's own login, else the one
    /// bearer token.
    pub fn token_for(&self, cluster: &str) -> Option<&CallerToken> {
        self.cluster_tokens.get(cluster).or(self.token.as_ref())
    }
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl Identity {
    /// The user name (or `anonymous`).
    pub fn name(&self) -> &str {
        match self {
            Identity::Anonymous => "anonymous",
            Identity::User(u) => &u.username,
            Identity::Clusters { name, .. } => name,
        }
    }

    /// Whether what the caller sees is restricted by its rights (a signed-in user).
    pub fn is_user(&self) -> bool {
        !matches!(self, Identity::Anonymous)
    }

    /// The user as `cluster` knows it; `None` for a cluster the user is not logged in to.
    fn on(&self, cluster: &str) -> Option<Arc<User>> {
        match self {
            Identity::Anonymous => None,
            Identity::User(u) => Some(u.clone()),
            Identity::Clusters { users, .. } => users.get(cluster).cloned(),
        }
    }
}

/// Answers "who is this token" and "may this user read that namespace".
pub trait Reviewer: Send + Sync {
    /// `Ok(None)` when the token is not valid (reviewed by the home cluster).
    fn review_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<User>>>;
    /// `Ok(None)` when `cluster` does not accept the token (a per-cluster login).
    fn review_token_on<'a>(
        &'a self,
        cluster: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>>>;
    /// Whether `user` may read namespace `ns` on `cluster`.
    fn can_read_namespace<'a>(
        &'a self,
        cluster: &'a ClusterEntry,
        user: &'a User,
        ns: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;
}

/// The Kubernetes implementation: TokenReview on the home cluster, SubjectAccessReview on each.
pub struct KubeReviewer {
    pub registry: Arc<Registry>,
}

impl Reviewer for KubeReviewer {
    fn review_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<User>>> {
        async move {
            let home = self
                .registry
                .home()
                .and_then(|h| h.client.clone())
                .ok_or_else(|| {
                    Error::Unauthorized("home cluster not available to review tokens".into())
                })?;
            token_review(home, token).await
        }
        .boxed()
    }

    fn review_token_on<'a>(
        &'a self,
        cluster: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>>> {
        async move {
            let client = self
                .registry
                .entry(cluster)
                .and_then(|c| c.client.clone())
                .ok_or_else(|| {
                    Error::Unauthorized(format!(
                        "cluster {cluster} is not available to review tokens"
                    ))
                })?;
            token_review(client, token).await
        }
        .boxed()
    }

    fn can_read_namespace<'a>(
        &'a self,
        cluster: &'a ClusterEntry,
        user: &'a User,
        ns: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        async move {
            let client = cluster
                .client
                .clone()
                .ok_or_else(|| Error::Kube(format!("cluster {} has no client", cluster.name)))?;
            let sar = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user.username.clone()),
                    uid: Some(user.uid.clone()).filter(|u| !u.is_empty()),
                    groups: Some(user.groups.clone()),
                    extra: Some(user.extra.clone()).filter(|e| !e.is_empty()),
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(ns.to_string()),
                        verb: Some("get".into()),
                        resource: Some("namespaces".into()),
                        name: Some(ns.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let res = Api::<SubjectAccessReview>::all(client)
                .create(&PostParams::default(), &sar)
                .await
                .map_err(|e| {
                    Error::Kube(format!(
                        "access review on {}: {}",
                        cluster.name,
                        describe_kube_error(&e)
                    ))
                })?;
            Ok(res.status.is_some_and(|s| s.allowed))
        }
        .boxed()
    }
}

/// A TokenReview of `token` on the cluster of `client`.
async fn token_review(client: kube::Client, token: &str) -> Result<Option<User>> {
    let tr = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let res = Api::<TokenReview>::all(client)
        .create(&PostParams::default(), &tr)
        .await
        .map_err(|e| Error::Kube(format!("token review failed: {}", describe_kube_error(&e))))?;
    let Some(status) = res.status else {
        return Ok(None);
    };
    if status.authenticated != Some(true) {
        return Ok(None);
    }
    let u = status.user.unwrap_or_default();
    Ok(Some(User {
        username: u.username.unwrap_or_default(),
        uid: u.uid.unwrap_or_default(),
        groups: u.groups.unwrap_or_default(),
        extra: u.extra.unwrap_or_default(),
    }))
}

/// How long a token review (either answer) and an access review are trusted.
pub const REVIEW_TTL: Duration = Duration::from_secs(30);
/// At most this many tokens (valid or not) are remembered.
pub const TOKEN_CACHE_SIZE: usize = 10_000;
/// At most this many (user, cluster, namespace) access answers are remembered.
pub const ACCESS_CACHE_SIZE: usize = 50_000;
/// TokenReviews of tokens not in the cache: a burst of this many...
pub const TOKEN_REVIEW_BURST: u32 = 20;
/// ...then this many per second; beyond, the request gets a 503 with `Retry-After`.
pub const TOKEN_REVIEWS_PER_SEC: u32 = 10;
/// Longer bearer tokens are refused without a review (Kubernetes tokens are a few KiB at most).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

type AccessKey = (Arc<User>, String, String);

/// A credential's (SHA-256 of the token; zeros for the server's own) rights on one kind of one
/// namespace of one cluster: [`crate::permissions`].
pub type PermissionKey = ([u8; 32], String, String, meshglass_engine::IstioKind);

/// A token bucket: `burst` reviews at once, refilled at `rate` per second.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64()
            * f64::from(TOKEN_REVIEWS_PER_SEC);
        self.tokens = (self.tokens + refill).min(f64::from(TOKEN_REVIEW_BURST));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts of the reviews the server asked for (exported on the metrics port).
#[derive(Default, Clone)]
pub struct ReviewCounts {
    /// TokenReviews sent to the home cluster.
    pub token_reviews: prometheus_client::metrics::counter::Counter,
    /// Requests refused because the TokenReview budget was spent.
    pub token_reviews_refused: prometheus_client::metrics::counter::Counter,
    /// SubjectAccessReviews sent (all clusters).
    pub access_reviews: prometheus_client::metrics::counter::Counter,
}

/// Authentication and access decisions with short-lived, bounded caches: a token is reviewed
/// once per [`REVIEW_TTL`] whatever the answer (a rejected token is remembered too, so replaying
/// junk costs nothing), and new tokens are reviewed at a bounded rate.
pub struct Auth {
    pub strategy: AuthStrategy,
    reviewer: Arc<dyn Reviewer>,
    tokens: Mutex<TtlCache<[u8; 32], Option<Arc<User>>>>,
    access: Mutex<TtlCache<AccessKey, bool>>,
    /// `(create, update, delete)` answers of SelfSubjectAccessReviews, cached like `access`.
    pub permissions: Mutex<TtlCache<PermissionKey, [bool; 3]>>,
    bucket: Mutex<Bucket>,
    pub counts: ReviewCounts,
    /// Seals the sessions of logins.
    pub sealer: Sealer,
    /// `login_token.expiration_seconds`.
    pub session_seconds: u64,
    /// The `openid` strategy's providers.
    pub openid: Option<Arc<crate::openid::OpenId>>,
    /// The `openshift` strategy's OAuth servers.
    pub openshift: Option<Arc<crate::openshift::OpenShift>>,
}

impl Auth {
    /// An authenticator for `strategy`.
    pub fn new(strategy: AuthStrategy, reviewer: Arc<dyn Reviewer>) -> Self {
        Auth {
            strategy,
            reviewer,
            tokens: Mutex::new(TtlCache::new(REVIEW_TTL, TOKEN_CACHE_SIZE)),
            access: Mutex::new(TtlCache::new(REVIEW_TTL, ACCESS_CACHE_SIZE)),
            permissions: Mutex::new(TtlCache::new(REVIEW_TTL, ACCESS_CACHE_SIZE)),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(TOKEN_REVIEW_BURST),
                last: Instant::now(),
            }),
            counts: ReviewCounts::default(),
            sealer: Sealer::random(),
            session_seconds: meshglass_crds::config::DEFAULT_SESSION_SECONDS,
            openid: None,
            openshift: None,
        }
    }

    /// Whether a login is per cluster (each cluster's own credential in the session).
    pub fn per_cluster(&self) -> bool {
        matches!(
            self.strategy,
            AuthStrategy::Openid | AuthStrategy::Openshift
        )
    }

    /// The `openshift` strategy's OAuth servers.
    pub fn with_openshift(mut self, openshift: crate::openshift::OpenShift) -> Self {
        self.openshift = Some(Arc::new(openshift));
        self
    }

    /// The `openid` strategy's providers.
    pub fn with_openid(mut self, openid: crate::openid::OpenId) -> Self {
        self.openid = Some(Arc::new(openid));
        self
    }

    /// Sessions sealed with `sealer`, lasting `seconds`.
    pub fn with_sessions(mut self, sealer: Sealer, seconds: u64) -> Self {
        self.sealer = sealer;
        self.session_seconds = seconds;
        self
    }

    /// The session of a request's cookies: `Ok(None)` without one, an error when it does not
    /// open (forged, tampered, expired, another key) or was made for another strategy.
    pub fn session(&self, headers: &HeaderMap, now: i64) -> Result<Option<Session>> {
        let jar = session::cookies(headers);
        let Some(text) = session::session_text(&jar) else {
            return Ok(None);
        };
        let s = self.sealer.open(&text, now)?;
        if s.strategy != self.strategy.effective() {
            return Err(Error::Unauthorized(format!(
                "the session was made for the {} strategy; log in again",
                s.strategy
            )));
        }
        Ok(Some(s))
    }

    /// Authenticates a request: its `Authorization` header, else its session cookie (whose CSRF
    /// token a state-changing request must send), else as a caller without credentials.
    pub async fn authenticate_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Identity> {
        Ok(self.authenticate_caller(method, headers, now).await?.id)
    }

    /// As [`Auth::authenticate_request`], keeping the caller's bearer token for writes.
    pub async fn authenticate_caller(
        &self,
        method: &Method,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Caller> {
        let authz = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if authz.is_some() || self.strategy == AuthStrategy::Header {
            return self.caller(authz).await;
        }
        let Some(s) = self.session(headers, now)? else {
            return self.caller(None).await;
        };
        if session::is_write(method) {
            let sent = headers
                .get(session::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !session::same_token(&s.csrf, sent) {
                return Err(Error::Forbidden(format!(
                    "this request changes state and needs the session's CSRF token in {}",
                    session::CSRF_HEADER
                )));
            }
        }
        if self.per_cluster() {
            // Each cluster's token is that cluster's: no one token goes with the caller.
            let id = self.cluster_identity(&s).await?;
            let cluster_tokens = match &id {
                Identity::Clusters { users, .. } => s
                    .clusters
                    .iter()
                    .filter(|(c, _)| users.contains_key(*c))
                    .map(|(c, t)| (c.clone(), CallerToken(Arc::from(t.as_str()))))
                    .collect(),
                _ => BTreeMap::new(),
            };
            return Ok(Caller {
                id,
                token: None,
                cluster_tokens,
            });
        }
        match &s.token {
            Some(t) => self.caller(Some(&format!("Bearer {t}"))).await,
            None => self.caller(None).await,
        }
    }

    /// `openid`, `openshift`: the user on each cluster of the session, that cluster reviewing its
    /// own token (ID token, OAuth access token). A token a cluster no longer accepts (expired, revoked) leaves that cluster out; with
    /// none left the session is over.
    pub async fn cluster_identity(&self, s: &Session) -> Result<Identity> {
        let mut users = BTreeMap::new();
        for (cluster, token) in &s.clusters {
            match self.review(Some(cluster), token).await {
                Ok(Some(u)) => {
                    users.insert(cluster.clone(), u);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(cluster = %cluster, error = %e, "cannot review the session's ID token")
                }
            }
        }
        if users.is_empty() {
            return Err(Error::Unauthorized(
                "no cluster accepts the session's login any more; log in again".into(),
            ));
        }
        Ok(Identity::Clusters {
            name: s.username.clone(),
            users: Arc::new(users),
        })
    }

    /// The review of `token` by `cluster` (`None`: the home cluster), cached for [`REVIEW_TTL`]
    /// whatever the answer, new tokens at a bounded rate.
    pub async fn review(&self, cluster: Option<&str>, token: &str) -> Result<Option<Arc<User>>> {
        let mut h = Sha256::new();
        if let Some(c) = cluster {
            h.update(c.as_bytes());
            h.update([0u8]);
        }
        h.update(token.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if let Some(u) = lock(&self.tokens).get(&key, Instant::now()) {
            return Ok(u);
        }
        if !lock(&self.bucket).take(Instant::now()) {
            self.counts.token_reviews_refused.inc();
            return Err(Error::Busy(
                "too many new tokens to review; try again shortly".into(),
            ));
        }
        self.counts.token_reviews.inc();
        let u = match cluster {
            Some(c) => self.reviewer.review_token_on(c, token).await?,
            None => self.reviewer.review_token(token).await?,
        }
        .map(Arc::new);
        lock(&self.tokens).insert(key, u.clone(), Instant::now());
        Ok(u)
    }

    async fn caller(&self, authorization: Option<&str>) -> Result<Caller> {
        let id = self.authenticate(authorization).await?;
        let token = match id {
            Identity::Anonymous => None,
            Identity::User(_) => bearer(authorization).map(|t| CallerToken(Arc::from(t))),
            Identity::Clusters { .. } => None,
        };
        Ok(Caller {
            id,
            token,
            cluster_tokens: BTreeMap::new(),
        })
    }

    /// Authenticates a request from its `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Identity> {
        if self.strategy == AuthStrategy::Anonymous {
            return Ok(Identity::Anonymous);
        }
        let token = bearer(authorization).ok_or_else(|| {
            Error::Unauthorized(match self.strategy {
                AuthStrategy::Header => {
                    "no bearer token in the Authorization header set by the proxy".into()
                }
                _ => "no bearer token in the Authorization header".into(),
            })
        })?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::Unauthorized(format!(
                "the bearer token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let user = self.review(None, token).await?;
        user.map(Identity::User).ok_or_else(|| {
            Error::Unauthorized("the token was rejected by the home cluster (TokenReview)".into())
        })
    }

    /// The namespaces of `cluster` (among `candidates`) the identity may read; `None` = all.
    /// Only the candidates are reviewed (at most 16 at a time), each answer cached.
    pub async fn allowed_namespaces(
        &self,
        identity: &Identity,
        cluster: &ClusterEntry,
        candidates: Vec<String>,
    ) -> Result<Option<BTreeSet<String>>> {
        if !identity.is_user() {
            return Ok(None);
        }
        let mut allowed = BTreeSet::new();
        // A cluster the user has not logged in to: none of its namespaces.
        let Some(user) = identity.on(&cluster.name) else {
            return Ok(Some(allowed));
        };
        let user = &user;
        let mut todo = Vec::new();
        {
            let m = lock(&self.access);
            let now = Instant::now();
            for ns in candidates {
                match m.get(&(user.clone(), cluster.name.clone(), ns.clone()), now) {
                    Some(true) => {
                        allowed.insert(ns);
                    }
                    Some(false) => {}
                    None => todo.push(ns),
                }
            }
        }
        let results: Vec<(String, Result<bool>)> = futures::stream::iter(todo)
            .map(|ns| async move {
                self.counts.access_reviews.inc();
                let r = self.reviewer.can_read_namespace(cluster, user, &ns).await;
                (ns, r)
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut m = lock(&self.access);
        for (ns, r) in results {
            let ok = r?;
            m.insert(
                (user.clone(), cluster.name.clone(), ns.clone()),
                ok,
                Instant::now(),
            );
            if ok {
                allowed.insert(ns);
            }
        }
        Ok(Some(allowed))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fixed reviewer for tests: tokens map to users, users to (cluster, namespace) grants.
pub struct StaticReviewer {
    pub tokens: HashMap<String, User>,
    pub grants: BTreeSet<(String, String, String)>,
}

impl Reviewer for StaticReviewer {
    fn review_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<User>>> {
        let u = self.tokens.get(token).cloned();
        async move { Ok(u) }.boxed()
    }

    /// `<cluster>:<token>` when listed, else the token as the home cluster knows it.
    fn review_token_on<'a>(
        &'a self,
        cluster: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>>> {
        let u = self
            .tokens
            .get(&format!("{cluster}:{token}"))
            .or_else(|| self.tokens.get(token))
            .cloned();
        async move { Ok(u) }.boxed()
    }

    fn can_read_namespace<'a>(
        &'a self,
        cluster: &'a ClusterEntry,
        user: &'a User,
        ns: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        let ok =
            self.grants
                .contains(&(user.username.clone(), cluster.name.clone(), ns.to_string()));
        async move { Ok(ok) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviewer() -> Arc<StaticReviewer> {
        let alice = User {
            username: "alice".into(),
            uid: String::new(),
            groups: vec![],
            extra: BTreeMap::new(),
        };
        Arc::new(StaticReviewer {
            tokens: [("t-alice".to_string(), alice)].into(),
            grants: [(
                "alice".to_string(),
                "east".to_string(),
                "bookinfo".to_string(),
            )]
            .into(),
        })
    }

    #[tokio::test]
    async fn token_strategy_requires_valid_bearer() {
        let a = Auth::new(AuthStrategy::Token, reviewer());
        assert!(matches!(
            a.authenticate(None).await,
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            a.authenticate(Some("Basic x")).await,
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            a.authenticate(Some("Bearer bad")).await,
            Err(Error::Unauthorized(_))
        ));
        let id = a.authenticate(Some("Bearer t-alice")).await.unwrap();
        assert_eq!(id.name(), "alice");
        let anon = Auth::new(AuthStrategy::Anonymous, reviewer());
        assert_eq!(anon.authenticate(None).await.unwrap().name(), "anonymous");
    }

    #[tokio::test]
    async fn namespaces_filtered_per_cluster() {
        let a = Auth::new(AuthStrategy::Token, reviewer());
        let id = a.authenticate(Some("Bearer t-alice")).await.unwrap();
        let east = ClusterEntry::in_memory(
            "east",
            true,
            crate::cache::ClusterCache::from_objects(Default::default()),
        );
        let west = ClusterEntry::in_memory(
            "west",
            false,
            crate::cache::ClusterCache::from_objects(Default::default()),
        );
        let cands = vec!["bookinfo".to_string(), "other".to_string()];
        let e = a
            .allowed_namespaces(&id, &east, cands.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            e.into_iter().collect::<Vec<_>>(),
            vec!["bookinfo".to_string()]
        );
        let w = a
            .allowed_namespaces(&id, &west, cands.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(w.is_empty());
        // Cached answers give the same result.
        let e2 = a
            .allowed_namespaces(&id, &east, cands)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e2.len(), 1);
        assert!(
            a.allowed_namespaces(&Identity::Anonymous, &east, vec![])
                .await
                .unwrap()
                .is_none()
        );
    }
}
