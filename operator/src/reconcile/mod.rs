//! One reconcile of a Kiali CR as typed stages, each with its own error:
//! [`validate`] (pure: the CR → [`validate::Validated`], holding the one effective `Config`) →
//! [`observe`] (the Secrets and namespaces that config points at) → [`crate::build`] (pure: the desired
//! objects) → [`apply`] (server-side apply of what changed, prune) → [`status`] (conditions and Events). Validation comes
//! before observation because what to observe (the deployment namespace, the secret label) is part of
//! the validated config. The finalizer and CRs that cannot be read are handled here too.

pub mod apply;
pub mod observe;
pub mod signing_key;
pub mod status;
pub mod validate;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use meshglass_crds::Kiali;
use meshglass_crds::names;
use meshglass_crds::status::{EnvironmentStatus, KialiStatus};
use serde_json::json;
use tracing::{info, warn};

use crate::build::{self, BuildOptions, Desired};
use crate::metrics::Metrics;
use crate::{Error, Result};
use validate::SecretScope;

/// The one field manager for every apply, children and status alike.
pub const MANAGER: &str = "meshglass-operator";
/// Periodic re-check (drift of objects outside the watched set, namespaces selected by labels).
pub const RESYNC: Duration = Duration::from_secs(300);

/// A Kiali CR, or why it could not be read: one unreadable object must not stop the watch.
pub type Guarded = DeserializeGuard<Kiali>;

/// Shared by every reconcile of one controller.
pub struct Context {
    client: Client,
    opts: BuildOptions,
    pub(crate) metrics: Metrics,
    recorder: Recorder,
    environment: EnvironmentStatus,
    /// Consecutive failures per CR: kube-runtime has no per-object increasing backoff.
    failures: Mutex<HashMap<ObjectRef<Guarded>, u32>>,
    /// (uid, generation) of unreadable CRs already reported, so their status is written once.
    reported_invalid: Mutex<BTreeSet<(String, i64)>>,
    /// Which Secrets each CR depends on, as of its last validation.
    pub(crate) secret_scopes: SecretScopes,
    /// What each CR's last apply wrote, so that unchanged children are not written again.
    applied: apply::Applied,
}

impl Context {
    pub fn new(
        client: Client,
        opts: BuildOptions,
        metrics: Metrics,
        kubernetes_version: String,
    ) -> Context {
        Context {
            recorder: Recorder::new(
                client.clone(),
                Reporter {
                    controller: MANAGER.into(),
                    instance: None,
                },
            ),
            client,
            opts,
            metrics,
            environment: EnvironmentStatus {
                is_kubernetes: true,
                kubernetes_version,
                operator_version: env!("CARGO_PKG_VERSION").into(),
            },
            failures: Mutex::new(HashMap::new()),
            reported_invalid: Mutex::new(BTreeSet::new()),
            secret_scopes: SecretScopes::default(),
            applied: apply::Applied::default(),
        }
    }

    /// The next retry delay for `obj`: doubling per consecutive failure, capped at [`RESYNC`].
    pub fn backoff(&self, obj: &Guarded) -> Duration {
        let mut f = lock(&self.failures);
        let n = f.entry(ObjectRef::from_obj(obj)).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_millis(500u64.saturating_mul(1 << (*n).min(9))).min(RESYNC)
    }

    fn reset(&self, obj: &Guarded) {
        lock(&self.failures).remove(&ObjectRef::from_obj(obj));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Each CR's [`SecretScope`] from its last validation, so that a Secret event maps to CRs without
/// recomputing any CR's effective config. A scope is recorded before the secrets are observed, so a
/// Secret written after that read always maps to the CR; a spec edit triggers a reconcile of its own,
/// which records the new scope. CRs that failed validation or run remote-only have none.
#[derive(Clone, Default)]
pub struct SecretScopes(Arc<Mutex<HashMap<ObjectRef<Guarded>, SecretScope>>>);

impl SecretScopes {
    fn record(&self, kiali: &Kiali, scope: Option<&SecretScope>) {
        let key = ObjectRef::<Guarded>::new(&kiali.name_any())
            .within(&kiali.namespace().unwrap_or_default());
        let mut scopes = lock(&self.0);
        match scope {
            Some(s) => scopes.insert(key, s.clone()),
            None => scopes.remove(&key),
        };
    }

    /// CRs in `store` that mount (or would mount) `secret`: listed in their status, or a candidate.
    pub fn users<S: Resource>(
        &self,
        store: &Store<Guarded>,
        secret: &S,
    ) -> Vec<ObjectRef<Guarded>> {
        let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
        let scopes = lock(&self.0);
        let mut out = Vec::new();
        for guard in store.state() {
            let Ok(k) = &guard.0 else { continue };
            let key = ObjectRef::from_obj(&*guard);
            let Some(scope) = scopes.get(&key).filter(|s| s.namespace == ns) else {
                continue;
            };
            let listed = k
                .status
                .as_ref()
                .is_some_and(|s| s.remote_cluster_secrets.iter().any(|r| r.name == name));
            if listed || scope.matches(secret) || scope.signing_key == name {
                out.push(key);
            }
        }
        out
    }
}

/// The controller's reconcile: the finalizer around [`converge`], or [`unreadable`].
pub async fn reconcile(guard: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start();
    let kiali = match &guard.0 {
        Ok(k) => Arc::new(k.clone()),
        Err(invalid) => return unreadable(invalid, &ctx).await,
    };
    let ns = validate::namespace_of(&kiali)?;
    let api: Api<Kiali> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, names::FINALIZER, kiali.clone(), |event| async {
        match event {
            FinalizerEvent::Apply(k) => reconcile_generation(&k, &ctx).await,
            FinalizerEvent::Cleanup(k) => cleanup(&k, &ctx).await,
        }
    })
    .await;
    match result {
        Ok(action) => {
            ctx.reset(&guard);
            Ok(action)
        }
        Err(
            kube::runtime::finalizer::Error::ApplyFailed(e)
            | kube::runtime::finalizer::Error::CleanupFailed(e),
        ) => Err(e),
        Err(e) => Err(Error::Finalizer(e.to_string())),
    }
}

/// Opens the generation in the status, runs the stages, and reports how they ended.
async fn reconcile_generation(kiali: &Kiali, ctx: &Context) -> Result<Action> {
    let started = Instant::now();
    let generation = kiali.metadata.generation;
    let mut previous = kiali.status.clone().unwrap_or_default();
    let (ns, name) = (kiali.namespace().unwrap_or_default(), kiali.name_any());
    if let Some(running) = status::running(&previous, generation, &ctx.environment, &status::now())
    {
        status::write(&ctx.client, &ns, &name, &running).await?;
        previous = running;
    }
    match converge(kiali, ctx).await {
        Ok(desired) => {
            let now = status::now();
            let update = status::succeeded(
                &previous,
                generation,
                &desired,
                &ctx.environment,
                &now,
                started.elapsed(),
            );
            if let Some(update) = update {
                status::report(&ctx.client, &ctx.recorder, kiali, &update).await?;
                info!(kiali = %ObjectRef::from_obj(kiali), generation, "reconciled");
            }
            Ok(Action::requeue(RESYNC))
        }
        Err(err) => {
            let msg = err.to_string();
            let now = status::now();
            if let Some(update) =
                status::failed(&previous, generation, &msg, &ctx.environment, &now)
            {
                status::report(&ctx.client, &ctx.recorder, kiali, &update).await?;
            }
            Err(err)
        }
    }
}

/// validate → observe → build → apply.
async fn converge(kiali: &Kiali, ctx: &Context) -> Result<Desired> {
    let validated = match validate::validate(kiali, &ctx.opts.tenancy) {
        Ok(v) => v,
        Err(e) => {
            ctx.secret_scopes.record(kiali, None);
            return Err(e.into());
        }
    };
    ctx.secret_scopes.record(kiali, validated.secrets.as_ref());
    let mut observed = observe::observe(&ctx.client, &validated).await?;
    if validated.secrets.is_some() {
        // A primary runs a server: its sessions need a key (created once, then kept).
        let cfg = &validated.config;
        let key = signing_key::ensure(
            &ctx.client,
            kiali,
            &cfg.deployment.namespace,
            cfg.instance(),
        )
        .await?;
        observed.secrets.push(key);
    }
    let desired = build::desired(
        &validated,
        &observed.secrets,
        &observed.namespaces,
        observed.platform,
        &ctx.opts,
    )?;
    apply::apply(
        &ctx.client,
        &validated.cr_namespace,
        &kiali.name_any(),
        &desired,
        &ctx.applied,
    )
    .await?;
    Ok(desired)
}

/// The finalizer step: remove what garbage collection cannot reach.
async fn cleanup(kiali: &Kiali, ctx: &Context) -> Result<Action> {
    ctx.secret_scopes.record(kiali, None);
    let (ns, name) = (kiali.namespace().unwrap_or_default(), kiali.name_any());
    ctx.applied.forget(&ns, &name);
    apply::prune(&ctx.client, &ns, &name, None).await?;
    let note = status::Note {
        type_: EventType::Normal,
        reason: "Deleted",
        note: "Removed cluster-scoped RBAC and children".into(),
    };
    status::publish(&ctx.recorder, &kiali.object_ref(&()), &note).await;
    Ok(Action::await_change())
}

/// A CR whose spec cannot be read into the Kiali types (written against another schema): report it
/// once per generation, and still honour deletion so it is never stuck on the finalizer.
async fn unreadable(invalid: &InvalidObject, ctx: &Context) -> Result<Action> {
    let meta = &invalid.metadata;
    let (ns, name) = (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    );
    if meta.deletion_timestamp.is_some() {
        ctx.applied.forget(&ns, &name);
        apply::prune(&ctx.client, &ns, &name, None).await?;
        let finalizers: Vec<String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| f.as_str() != names::FINALIZER)
            .cloned()
            .collect();
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta.resource_version}});
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &ns, &ApiResource::erase::<Kiali>(&()));
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(apply::Error::from(e).into()),
        }
        return Ok(Action::await_change());
    }
    let key = (
        meta.uid.clone().unwrap_or_default(),
        meta.generation.unwrap_or_default(),
    );
    if !lock(&ctx.reported_invalid).insert(key) {
        return Ok(Action::await_change());
    }
    let message = format!("the Kiali CR cannot be read: {}", invalid.error);
    let report = status::failed_status(
        &KialiStatus::default(),
        meta.generation,
        &message,
        &ctx.environment,
        &status::now(),
    );
    status::write(&ctx.client, &ns, &name, &report).await?;
    let reference = ObjectReference {
        api_version: Some(Kiali::api_version(&()).to_string()),
        kind: Some(Kiali::kind(&()).to_string()),
        name: Some(name.clone()),
        namespace: Some(ns.clone()),
        uid: meta.uid.clone(),
        ..Default::default()
    };
    let note = status::Note {
        type_: EventType::Warning,
        reason: "InvalidSpec",
        note: message,
    };
    status::publish(&ctx.recorder, &reference, &note).await;
    warn!(kiali = %format!("{ns}/{name}"), error = %invalid.error, "unreadable Kiali CR");
    Ok(Action::await_change())
}
