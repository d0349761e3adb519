//! The Kiali controller: observe → validate and build (pure, [`crate::build`]) → server-side apply
//! with one field manager → prune what is no longer desired → status.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use meshglass_crds::Kiali;
use meshglass_crds::config::{self, Config};
use meshglass_crds::names;
use meshglass_crds::status::{DeploymentStatus, EnvironmentStatus, KialiStatus, ProgressStatus};
use serde_json::json;
use tracing::{info, warn};

use crate::build::{self, BuildOptions, Child, Desired};
use crate::conditions::{Phase, conditions};
use crate::metrics::Metrics;
use crate::{Error, Result};

/// The one field manager for every apply, children and status alike.
pub const MANAGER: &str = "meshglass-operator";
/// Periodic re-check (drift of objects outside the watched set, namespaces selected by labels).
const RESYNC: Duration = Duration::from_secs(300);

/// Settings for one controller (one cluster).
#[derive(Clone)]
pub struct Settings {
    pub build: BuildOptions,
    pub metrics: Metrics,
    /// Set once the Kiali watch cache has synced (`/readyz`).
    pub ready: Arc<AtomicBool>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            build: BuildOptions::default(),
            metrics: Metrics::default(),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }
}

pub struct Context {
    client: Client,
    opts: BuildOptions,
    metrics: Metrics,
    recorder: Recorder,
    environment: EnvironmentStatus,
    /// Consecutive failures per CR: kube-runtime has no per-object increasing backoff.
    failures: Mutex<HashMap<ObjectRef<Guarded>, u32>>,
    /// (uid, generation) of unreadable CRs already reported, so their status is written once.
    reported_invalid: Mutex<BTreeSet<(String, i64)>>,
}

/// A Kiali CR, or why it could not be read: one unreadable object must not stop the watch.
type Guarded = DeserializeGuard<Kiali>;

impl Context {
    fn backoff(&self, obj: &Guarded) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(ObjectRef::from_obj(obj)).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_millis(500u64.saturating_mul(1 << (*n).min(9))).min(RESYNC)
    }

    fn reset(&self, obj: &Guarded) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ObjectRef::from_obj(obj));
    }
}

/// Runs the controller against one cluster until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let kubernetes_version = match client.apiserver_version().await {
        Ok(v) => v.git_version,
        Err(e) => {
            warn!(error = %e, "cannot read the API server version");
            String::new()
        }
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        opts: settings.build.clone(),
        metrics: settings.metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: None,
            },
        ),
        environment: EnvironmentStatus {
            is_kubernetes: true,
            kubernetes_version,
            operator_version: env!("CARGO_PKG_VERSION").into(),
        },
        failures: Mutex::new(HashMap::new()),
        reported_invalid: Mutex::new(BTreeSet::new()),
    });

    let controller = Controller::new(
        Api::<Guarded>::all(client.clone()),
        watcher::Config::default().any_semantic(),
    );
    let store = controller.store();
    let ready = settings.ready.clone();
    let ready_store = store.clone();
    tokio::spawn(async move {
        // Re-poll: the store's readiness future keeps only the last waker, and the controller
        // itself waits on the same store, so a single await here may never be woken.
        loop {
            match tokio::time::timeout(Duration::from_millis(500), ready_store.wait_until_ready())
                .await
            {
                Ok(Ok(())) => {
                    info!("Kiali watch cache synced");
                    ready.store(true, Ordering::Relaxed);
                    break;
                }
                Ok(Err(e)) => {
                    warn!(error = %e, "the Kiali watch stopped before syncing");
                    break;
                }
                Err(_) => continue,
            }
        }
    });
    let managed = watcher::Config::default()
        .labels(names::OWNER_NAME_LABEL)
        .any_semantic();
    let secret_store = store.clone();
    let ns_store = store.clone();
    controller
        .owns(Api::<Deployment>::all(client.clone()), managed.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), managed.clone())
        .owns(Api::<Service>::all(client.clone()), managed.clone())
        .owns(Api::<ServiceAccount>::all(client.clone()), managed.clone())
        .watches(
            Api::<ClusterRole>::all(client.clone()),
            managed.clone(),
            owner_of,
        )
        .watches(
            Api::<ClusterRoleBinding>::all(client.clone()),
            managed.clone(),
            owner_of,
        )
        .watches(Api::<Role>::all(client.clone()), managed.clone(), owner_of)
        .watches(Api::<RoleBinding>::all(client.clone()), managed, owner_of)
        .watches(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default().any_semantic(),
            move |s: Secret| secret_users(&secret_store, &s),
        )
        .watches(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default().any_semantic(),
            move |_: Namespace| namespace_scoped(&ns_store),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                warn!(error = %e, "reconcile failed");
            }
        })
        .await;
}

/// The CR named by a child's owner labels.
fn owner_of<K: Resource>(obj: K) -> Option<ObjectRef<Guarded>> {
    let labels = obj.meta().labels.as_ref()?;
    let ns = labels.get(names::OWNER_NAMESPACE_LABEL)?;
    let name = labels.get(names::OWNER_NAME_LABEL)?;
    Some(ObjectRef::new(name).within(ns))
}

/// CRs that mount (or would mount) a secret, or own it.
fn secret_users(store: &Store<Guarded>, secret: &Secret) -> Vec<ObjectRef<Guarded>> {
    let mut out: Vec<ObjectRef<Guarded>> = owner_of(secret.clone()).into_iter().collect();
    let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
    for guard in store.state() {
        let Ok(k) = &guard.0 else { continue };
        let Ok(cfg) = Config::from_spec(&k.spec, &k.namespace().unwrap_or_default()) else {
            continue;
        };
        if cfg.deployment.namespace != ns || cfg.deployment.remote_cluster_resources_only {
            continue;
        }
        let listed = k
            .status
            .as_ref()
            .is_some_and(|s| s.remote_cluster_secrets.iter().any(|r| r.name == name));
        if listed || build::is_candidate_secret(&cfg, secret) {
            out.push(ObjectRef::from_obj(&*guard));
        }
    }
    out
}

/// CRs whose RBAC depends on the set of namespaces.
fn namespace_scoped(store: &Store<Guarded>) -> Vec<ObjectRef<Guarded>> {
    store
        .state()
        .iter()
        .filter(|g| {
            g.0.as_ref()
                .ok()
                .and_then(|k| k.spec.deployment.as_ref())
                .and_then(|d| d.cluster_wide_access)
                == Some(false)
        })
        .map(|k| ObjectRef::from_obj(&**k))
        .collect()
}

async fn reconcile(guard: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start();
    let kiali = match &guard.0 {
        Ok(k) => Arc::new(k.clone()),
        Err(invalid) => return unreadable(invalid, &ctx).await,
    };
    let ns = kiali
        .namespace()
        .ok_or_else(|| Error::Invalid("the Kiali CR has no namespace".into()))?;
    let api: Api<Kiali> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, names::FINALIZER, kiali.clone(), |event| async {
        match event {
            FinalizerEvent::Apply(k) => apply(&k, &ctx).await,
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

fn error_policy(kiali: Arc<Guarded>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error(err.category());
    let delay = ctx.backoff(&kiali);
    warn!(kiali = %ObjectRef::from_obj(&*kiali), category = err.category(), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn apply(kiali: &Kiali, ctx: &Context) -> Result<Action> {
    let started = Instant::now();
    let generation = kiali.metadata.generation;
    let mut previous = kiali.status.clone().unwrap_or_default();
    let cr_ns = kiali.namespace().unwrap_or_default();

    // A new generation: Successful turns False before anything else happens.
    if previous.observed_generation != generation || previous.conditions.is_empty() {
        let mut status = previous.clone();
        status.conditions = conditions(&previous.conditions, generation, &Phase::Running, &now());
        status.observed_generation = generation;
        status.environment = Some(ctx.environment.clone());
        status.progress = Some(ProgressStatus {
            message: "Reconciling".into(),
            duration: None,
        });
        write_status(ctx, kiali, &status).await?;
        previous = status;
    }

    match converge(kiali, ctx, &cr_ns).await {
        Ok(desired) => {
            let mut status = KialiStatus {
                conditions: conditions(
                    &previous.conditions,
                    generation,
                    &Phase::Successful,
                    &now(),
                ),
                observed_generation: generation,
                deployment: Some(DeploymentStatus {
                    instance_name: desired.instance().to_string(),
                    namespace: desired.namespace().to_string(),
                    remote_cluster_resources_only: desired.remote_only(),
                }),
                environment: Some(ctx.environment.clone()),
                progress: Some(ProgressStatus {
                    message: format!("{} objects reconciled", desired.objects.len()),
                    duration: None,
                }),
                ignored_fields: desired.ignored_fields.clone(),
                remote_cluster_secrets: desired.remote_secrets.clone(),
                service_account_token_secret: desired
                    .remote_only()
                    .then(|| names::token_secret(desired.instance())),
            };
            let changed = !same_status(&previous, &status, generation);
            if changed {
                status.progress = Some(ProgressStatus {
                    message: format!("{} objects reconciled", desired.objects.len()),
                    duration: Some(format!("{:.3}s", started.elapsed().as_secs_f64())),
                });
                write_status(ctx, kiali, &status).await?;
                for s in desired.remote_secrets.iter().filter(|s| !s.mounted) {
                    let note = format!(
                        "remote-cluster secret {} left out: {}",
                        s.name,
                        s.problem.as_deref().unwrap_or("")
                    );
                    event(
                        ctx,
                        kiali,
                        EventType::Warning,
                        "RemoteSecretRejected",
                        &note,
                    )
                    .await;
                }
                if !desired.ignored_fields.is_empty()
                    && desired.ignored_fields != previous.ignored_fields
                {
                    let note = format!(
                        "accepted but not acted on: {}",
                        desired.ignored_fields.join(", ")
                    );
                    event(ctx, kiali, EventType::Normal, "FieldsIgnored", &note).await;
                }
                event(
                    ctx,
                    kiali,
                    EventType::Normal,
                    "Successful",
                    "Reconciliation succeeded",
                )
                .await;
                info!(kiali = %ObjectRef::from_obj(kiali), generation, "reconciled");
            }
            Ok(Action::requeue(RESYNC))
        }
        Err(err) => {
            let msg = err.to_string();
            let mut status = previous.clone();
            status.conditions = conditions(
                &previous.conditions,
                generation,
                &Phase::Failed(msg.clone()),
                &now(),
            );
            status.observed_generation = generation;
            status.environment = Some(ctx.environment.clone());
            status.progress = Some(ProgressStatus {
                message: "Reconciliation failed".into(),
                duration: None,
            });
            if !same_status(&previous, &status, generation) {
                write_status(ctx, kiali, &status).await?;
                event(ctx, kiali, EventType::Warning, "Failed", &msg).await;
            }
            Err(err)
        }
    }
}

/// Observe, build, apply, prune.
async fn converge(kiali: &Kiali, ctx: &Context, cr_ns: &str) -> Result<Desired> {
    let cfg = Config::from_spec(&kiali.spec, cr_ns)?;
    let secrets = if cfg.deployment.remote_cluster_resources_only {
        Vec::new()
    } else {
        observe_secrets(&ctx.client, &cfg).await?
    };
    let namespaces = if cfg.deployment.cluster_wide_access {
        Vec::new()
    } else {
        Api::<Namespace>::all(ctx.client.clone())
            .list(&ListParams::default())
            .await?
            .items
    };
    let desired = build::build(kiali, &secrets, &namespaces, &ctx.opts)?;
    for child in &desired.objects {
        apply_child(&ctx.client, child).await?;
    }
    prune(&ctx.client, cr_ns, &kiali.name_any(), Some(&desired)).await?;
    Ok(desired)
}

/// The candidate remote-cluster secrets in the deployment namespace.
async fn observe_secrets(client: &Client, cfg: &Config) -> Result<Vec<Secret>> {
    let api = Api::<Secret>::namespaced(client.clone(), &cfg.deployment.namespace);
    let mut out = Vec::new();
    if cfg.clustering.autodetect_secrets.enabled
        && let Some((k, v)) = names::parse_label_selector(&cfg.clustering.autodetect_secrets.label)
    {
        out.extend(
            api.list(&ListParams::default().labels(&format!("{k}={v}")))
                .await?
                .items,
        );
    }
    let named = cfg
        .clustering
        .clusters
        .iter()
        .map(|c| c.secret_name.as_str())
        .filter(|n| !n.is_empty())
        .chain([config::MULTI_CLUSTER_SECRET]);
    for name in named {
        if out.iter().any(|s| s.name_any() == name) {
            continue;
        }
        if let Some(s) = api.get_opt(name).await? {
            out.push(s);
        }
    }
    Ok(out)
}

fn resource_of(child: &Child) -> ApiResource {
    match child {
        Child::ServiceAccount(_) => ApiResource::erase::<ServiceAccount>(&()),
        Child::ConfigMap(_) => ApiResource::erase::<ConfigMap>(&()),
        Child::ClusterRole(_) => ApiResource::erase::<ClusterRole>(&()),
        Child::ClusterRoleBinding(_) => ApiResource::erase::<ClusterRoleBinding>(&()),
        Child::Role(_) => ApiResource::erase::<Role>(&()),
        Child::RoleBinding(_) => ApiResource::erase::<RoleBinding>(&()),
        Child::Deployment(_) => ApiResource::erase::<Deployment>(&()),
        Child::Service(_) => ApiResource::erase::<Service>(&()),
        Child::Secret(_) => ApiResource::erase::<Secret>(&()),
    }
}

/// Every kind the operator creates, with whether it is namespaced.
fn managed_kinds() -> Vec<(ApiResource, bool)> {
    vec![
        (ApiResource::erase::<ServiceAccount>(&()), true),
        (ApiResource::erase::<ConfigMap>(&()), true),
        (ApiResource::erase::<Deployment>(&()), true),
        (ApiResource::erase::<Service>(&()), true),
        (ApiResource::erase::<Secret>(&()), true),
        (ApiResource::erase::<Role>(&()), true),
        (ApiResource::erase::<RoleBinding>(&()), true),
        (ApiResource::erase::<ClusterRole>(&()), false),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
    ]
}

fn dyn_api(client: &Client, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

fn child_value(child: &Child) -> Result<serde_json::Value> {
    let v = match child {
        Child::ServiceAccount(o) => serde_json::to_value(o),
        Child::ConfigMap(o) => serde_json::to_value(o),
        Child::ClusterRole(o) => serde_json::to_value(o),
        Child::ClusterRoleBinding(o) => serde_json::to_value(o),
        Child::Role(o) => serde_json::to_value(o),
        Child::RoleBinding(o) => serde_json::to_value(o),
        Child::Deployment(o) => serde_json::to_value(o),
        Child::Service(o) => serde_json::to_value(o),
        Child::Secret(o) => serde_json::to_value(o),
    };
    v.map_err(|e| Error::Serialize(e.to_string()))
}

/// Server-side apply of one child; a binding whose roleRef changed is replaced (roleRef is immutable).
async fn apply_child(client: &Client, child: &Child) -> Result<()> {
    let ar = resource_of(child);
    let meta = child.meta();
    let name = meta.name.clone().unwrap_or_default();
    let api = dyn_api(client, &ar, meta.namespace.as_deref());
    let value = child_value(child)?;
    let params = PatchParams::apply(MANAGER).force();
    match api.patch(&name, &params, &Patch::Apply(&value)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s))
            if s.code == 422
                && matches!(child, Child::ClusterRoleBinding(_) | Child::RoleBinding(_)) =>
        {
            delete_ignoring_missing(&api, &name).await?;
            api.patch(&name, &params, &Patch::Apply(&value))
                .await
                .map(|_| ())
                .map_err(|source| Error::Apply {
                    key: child.key(),
                    source,
                })
        }
        Err(source) => Err(Error::Apply {
            key: child.key(),
            source,
        }),
    }
}

async fn delete_ignoring_missing(api: &Api<DynamicObject>, name: &str) -> Result<()> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn owner_selector(cr_ns: &str, cr_name: &str) -> String {
    format!(
        "{}={},{}={}",
        names::OWNER_NAMESPACE_LABEL,
        cr_ns,
        names::OWNER_NAME_LABEL,
        names::owner_label_value(cr_name)
    )
}

/// Deletes every object carrying this CR's owner labels that is not desired (all of them when
/// `desired` is None). NotFound counts as done.
async fn prune(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    desired: Option<&Desired>,
) -> Result<()> {
    let keep: BTreeSet<(String, Option<String>, String)> = desired
        .map(|d| {
            d.objects
                .iter()
                .map(|c| {
                    let m = c.meta();
                    (
                        c.kind().to_string(),
                        m.namespace.clone(),
                        m.name.clone().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lp = ListParams::default().labels(&owner_selector(cr_ns, cr_name));
    for (ar, namespaced) in managed_kinds() {
        let list = dyn_api(client, &ar, None).list(&lp).await?;
        for obj in list.items {
            let ns = if namespaced { obj.namespace() } else { None };
            let key = (ar.kind.clone(), ns.clone(), obj.name_any());
            if keep.contains(&key) {
                continue;
            }
            info!(kind = %ar.kind, namespace = ?ns, name = %obj.name_any(), "deleting object no longer desired");
            delete_ignoring_missing(&dyn_api(client, &ar, ns.as_deref()), &obj.name_any()).await?;
        }
    }
    Ok(())
}

/// The finalizer step: remove what garbage collection cannot reach.
async fn cleanup(kiali: &Kiali, ctx: &Context) -> Result<Action> {
    prune(
        &ctx.client,
        &kiali.namespace().unwrap_or_default(),
        &kiali.name_any(),
        None,
    )
    .await?;
    event(
        ctx,
        kiali,
        EventType::Normal,
        "Deleted",
        "Removed cluster-scoped RBAC and children",
    )
    .await;
    Ok(Action::await_change())
}

/// Equal apart from the timing details that change on every run.
fn same_status(old: &KialiStatus, new: &KialiStatus, generation: Option<i64>) -> bool {
    let strip = |s: &KialiStatus| {
        let mut s = s.clone();
        if let Some(p) = s.progress.as_mut() {
            p.duration = None;
        }
        s
    };
    old.observed_generation == generation && strip(old) == strip(new)
}

async fn write_status(ctx: &Context, kiali: &Kiali, status: &KialiStatus) -> Result<()> {
    let api: Api<Kiali> =
        Api::namespaced(ctx.client.clone(), &kiali.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": Kiali::api_version(&()),
        "kind": Kiali::kind(&()),
        "status": status,
    });
    api.patch_status(
        &kiali.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn event(ctx: &Context, kiali: &Kiali, type_: EventType, reason: &str, note: &str) {
    let ev = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &kiali.object_ref(&())).await {
        warn!(error = %e, "cannot publish event");
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A CR whose spec cannot be read into the Kiali types (written against another schema): report it
/// once per generation, and still honour deletion so it is never stuck on the finalizer.
async fn unreadable(
    invalid: &kube::core::error_boundary::InvalidObject,
    ctx: &Context,
) -> Result<Action> {
    let meta = &invalid.metadata;
    let (ns, name) = (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    );
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ns, &ApiResource::erase::<Kiali>(&()));
    if meta.deletion_timestamp.is_some() {
        prune(&ctx.client, &ns, &name, None).await?;
        let finalizers: Vec<String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| f.as_str() != names::FINALIZER)
            .cloned()
            .collect();
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta.resource_version}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Action::await_change());
    }
    let key = (
        meta.uid.clone().unwrap_or_default(),
        meta.generation.unwrap_or_default(),
    );
    let first = ctx
        .reported_invalid
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key);
    if first {
        let message = format!("the Kiali CR cannot be read: {}", invalid.error);
        let status = KialiStatus {
            conditions: conditions(
                &[],
                meta.generation,
                &Phase::Failed(message.clone()),
                &now(),
            ),
            observed_generation: meta.generation,
            environment: Some(ctx.environment.clone()),
            progress: Some(ProgressStatus {
                message: "Reconciliation failed".into(),
                duration: None,
            }),
            ..Default::default()
        };
        let patch = json!({"apiVersion": Kiali::api_version(&()), "kind": Kiali::kind(&()), "status": status});
        api.patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        let reference = ObjectReference {
            api_version: Some(Kiali::api_version(&()).to_string()),
            kind: Some(Kiali::kind(&()).to_string()),
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            uid: meta.uid.clone(),
            ..Default::default()
        };
        let ev = KubeEvent {
            type_: EventType::Warning,
            reason: "InvalidSpec".into(),
            note: Some(message.chars().take(1000).collect()),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &reference).await {
            warn!(error = %e, "cannot publish event");
        }
        warn!(kiali = %format!("{ns}/{name}"), error = %invalid.error, "unreadable Kiali CR");
    }
    Ok(Action::await_change())
}
