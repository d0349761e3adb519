//! The Controller wiring for one cluster: the watches, the mappers from watched objects to Kiali CRs,
//! and the error policy. One reconcile is [`crate::reconcile`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, Resource};
use meshglass_crds::names;
use tracing::{info, warn};

use crate::Error;
use crate::build::BuildOptions;
use crate::metrics::Metrics;
use crate::reconcile::{Context, Guarded, reconcile};

pub use crate::reconcile::MANAGER;

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
    let ctx = Arc::new(Context::new(
        client.clone(),
        settings.build.clone(),
        settings.metrics.clone(),
        kubernetes_version,
    ));

    let controller = Controller::new(
        Api::<Guarded>::all(client.clone()),
        watcher::Config::default().any_semantic(),
    );
    let store = controller.store();
    tokio::spawn(mark_ready(store.clone(), settings.ready.clone()));
    let managed = watcher::Config::default()
        .labels(names::OWNER_NAME_LABEL)
        .any_semantic();
    let (secret_store, scopes) = (store.clone(), ctx.secret_scopes.clone());
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
        // Secrets and Namespaces: metadata only (name, namespace, labels are all the mappers read), so that
        // the cluster's other Secrets cost a few hundred bytes each, never their data. A CR's own Secrets are
        // read whole only in its observe stage, by label and by name.
        .watches(
            Api::<PartialObjectMeta<Secret>>::all(client.clone()),
            watcher::Config::default().any_semantic(),
            move |s: PartialObjectMeta<Secret>| {
                let mut out: Vec<ObjectRef<Guarded>> = owner_of(s.clone()).into_iter().collect();
                out.extend(scopes.users(&secret_store, &s));
                out
            },
        )
        .watches(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default().any_semantic(),
            move |_: PartialObjectMeta<Namespace>| namespace_scoped(&ns_store),
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

/// Sets `ready` once the Kiali watch cache has synced.
async fn mark_ready(store: Store<Guarded>, ready: Arc<AtomicBool>) {
    // Re-poll: the store's readiness future keeps only the last waker, and the controller
    // itself waits on the same store, so a single await here may never be woken.
    loop {
        match tokio::time::timeout(Duration::from_millis(500), store.wait_until_ready()).await {
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
}

/// The CR named by a child's owner labels.
fn owner_of<K: Resource>(obj: K) -> Option<ObjectRef<Guarded>> {
    let labels = obj.meta().labels.as_ref()?;
    let ns = labels.get(names::OWNER_NAMESPACE_LABEL)?;
    let name = labels.get(names::OWNER_NAME_LABEL)?;
    Some(ObjectRef::new(name).within(ns))
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

fn error_policy(kiali: Arc<Guarded>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error(err.category());
    let delay = ctx.backoff(&kiali);
    warn!(kiali = %ObjectRef::from_obj(&*kiali), category = err.category(), error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
