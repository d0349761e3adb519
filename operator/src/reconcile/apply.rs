//! The apply stage: server-side apply of every desired child with the one field manager, then prune
//! of what carries this CR's owner labels but is no longer desired. A child this process applied
//! before with the same body and that nobody wrote since is not applied again ([`Applied`]), and the
//! Roles and RoleBindings of the selected namespaces go [`APPLIES_AT_ONCE`] at a time.
//!
//! No takeover: an object is changed or deleted only when it is this CR's ([`ownership`]: its owner labels
//! name this CR and this operator's field manager wrote it). A child that does not exist yet is applied
//! without `force`, so an object created in between by someone else fails the apply instead of being adopted;
//! an existing object that is someone else's fails the reconcile with [`Error::Conflict`], naming its owner.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use kube::{Client, ResourceExt};
use meshglass_crds::names;
use sha2::{Digest as _, Sha256};
use tracing::{debug, info, warn};

use super::MANAGER;
use crate::build::{Child, Desired, oauth_client_resource, route_resource};

/// A write or a prune failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("applying {key}: {source}")]
    Apply { key: String, source: kube::Error },
    #[error("cannot serialize an object: {0}")]
    Serialize(String),
    /// A desired child's name is taken by an object this CR did not create.
    #[error(
        "{key} already exists and {owner}; the operator changes and deletes only objects it created for this \
         Kiali CR (choose another deployment.instance_name, or remove that object)"
    )]
    Conflict { key: String, owner: String },
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube_api",
            Error::Apply { .. } => "apply",
            Error::Serialize(_) => "serialize",
            Error::Conflict { .. } => "conflict",
        }
    }
}

/// Children of the per-namespace kinds (Roles, RoleBindings) applied at once: thousands of selected
/// namespaces are thousands of writes, which one at a time made a reconcile take minutes.
pub const APPLIES_AT_ONCE: usize = 16;

/// A child by kind, namespace and name (the key prune keeps by).
type ChildKey = (String, Option<String>, String);

fn child_key(child: &Child) -> ChildKey {
    let m = child.meta();
    (
        child.kind().to_string(),
        m.namespace.clone(),
        m.name.clone().unwrap_or_default(),
    )
}

/// What the operator last applied, per CR: for each child, the digest of the body applied and the
/// `resourceVersion` the apply answered. A child listed with that same `resourceVersion` (nobody wrote
/// it since) whose desired body has that same digest is not applied again: the apply would change
/// nothing. Anything else — a changed body, an object someone edited, deleted or relabelled, a restart
/// of the operator (the record is in memory) — is applied as before.
#[derive(Default)]
pub struct Applied(Mutex<HashMap<(String, String), Record>>);

/// One CR's children as last applied: the body's digest and the `resourceVersion` answered.
type Record = HashMap<ChildKey, (Digest, String)>;

/// One child's apply: its key, body digest, `resourceVersion` now, and whether it was written.
type Written = (ChildKey, Digest, String, Outcome);

type Digest = [u8; 32];

impl Applied {
    fn take(&self, cr: &(String, String)) -> Record {
        lock(&self.0).remove(cr).unwrap_or_default()
    }

    fn store(&self, cr: (String, String), record: Record) {
        lock(&self.0).insert(cr, record);
    }

    /// Drops a CR's record (it was deleted).
    pub fn forget(&self, cr_ns: &str, cr_name: &str) {
        lock(&self.0).remove(&(cr_ns.to_string(), cr_name.to_string()));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest(value: &serde_json::Value) -> Result<Digest, Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Serialize(e.to_string()))?;
    Ok(Sha256::digest(&bytes).into())
}

/// How one child's apply went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Unchanged since this operator's last apply (see [`Applied`]).
    Unchanged,
}

/// Applies every desired object, then prunes the rest. The objects carrying this CR's owner labels are
/// listed once (metadata only) for both: an existing child's ownership is read from that list, and only a
/// child missing from it is looked up by name (a namesake without the labels is someone else's). Children
/// are applied in the build's order, except that a run of Roles and RoleBindings goes [`APPLIES_AT_ONCE`]
/// at a time.
pub async fn apply(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    desired: &Desired,
    applied: &Applied,
) -> Result<(), Error> {
    let cr = (cr_ns.to_string(), cr_name.to_string());
    let owned = list_owned(client, cr_ns, cr_name).await?;
    let listed: HashMap<ChildKey, &ObjectMeta> = owned
        .iter()
        .map(|o| {
            (
                (o.kind.clone(), o.namespace.clone(), o.name.clone()),
                &o.meta,
            )
        })
        .collect();
    let last = applied.take(&cr);
    let mut record = HashMap::new();
    let (mut written, mut unchanged) = (0usize, 0usize);
    for batch in batches(&desired.objects) {
        // Collected and boxed first: a stream over a closure that borrows from this pass cannot be
        // proven `Send` through the closure's higher-ranked lifetimes.
        let writes: Vec<BoxFuture<'_, Result<Written, Error>>> = batch
            .iter()
            .map(|child| {
                let key = child_key(child);
                let existing = listed.get(&key).copied();
                let previous = last.get(&key);
                async move {
                    let (digest, rv, outcome) =
                        apply_child(client, cr_ns, cr_name, child, existing, previous).await?;
                    Ok((key, digest, rv, outcome))
                }
                .boxed()
            })
            .collect();
        let results: Vec<Written> = futures::stream::iter(writes)
            .buffer_unordered(APPLIES_AT_ONCE)
            .try_collect()
            .await?;
        for (key, digest, rv, outcome) in results {
            match outcome {
                Outcome::Applied => written += 1,
                Outcome::Unchanged => unchanged += 1,
            }
            record.insert(key, (digest, rv));
        }
    }
    applied.store(cr, record);
    debug!(written, unchanged, "children applied");
    let keep: BTreeSet<ChildKey> = desired.objects.iter().map(child_key).collect();
    prune_listed(client, cr_ns, cr_name, &keep, owned).await
}

/// The desired objects in apply order: one at a time, except consecutive Roles and RoleBindings (one of
/// each per selected namespace), which form one batch.
fn batches(objects: &[Child]) -> Vec<&[Child]> {
    let fan_out = |c: &Child| matches!(c, Child::Role(_) | Child::RoleBinding(_));
    let mut out = Vec::new();
    let mut start = 0;
    while start < objects.len() {
        let mut end = start + 1;
        if fan_out(&objects[start]) {
            while end < objects.len() && fan_out(&objects[end]) {
                end += 1;
            }
        }
        out.push(&objects[start..end]);
        start = end;
    }
    out
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
        Child::Ingress(_) => ApiResource::erase::<Ingress>(&()),
        Child::Route(_) => route_resource(),
        Child::OAuthClient(_) => oauth_client_resource(),
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
        (ApiResource::erase::<Ingress>(&()), true),
        // Listed only where the API exists (prune treats its absence as nothing to delete).
        (route_resource(), true),
        (ApiResource::erase::<Role>(&()), true),
        (ApiResource::erase::<RoleBinding>(&()), true),
        (ApiResource::erase::<ClusterRole>(&()), false),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
        (oauth_client_resource(), false),
    ]
}

pub(super) fn dyn_api(client: &Client, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

fn child_value(child: &Child) -> Result<serde_json::Value, Error> {
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
        Child::Ingress(o) => serde_json::to_value(o),
        Child::Route(o) => serde_json::to_value(o),
        Child::OAuthClient(o) => serde_json::to_value(o),
    };
    v.map_err(|e| Error::Serialize(e.to_string()))
}

/// Whose an existing object is, as far as the CR `cr_ns/cr_name` is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Labelled for this CR and written by this operator's field manager: the CR's to change and delete.
    Ours,
    /// Someone else's; the text names the owner, for [`Error::Conflict`].
    Theirs(String),
}

/// Reads `meta` of an existing object: ours only when both owner labels name `cr_ns/cr_name` and the
/// operator's field manager is among its managers (labels alone can be copied onto any object).
pub fn ownership(meta: &ObjectMeta, cr_ns: &str, cr_name: &str) -> Ownership {
    let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
    let (ns, name) = (
        label(names::OWNER_NAMESPACE_LABEL),
        label(names::OWNER_NAME_LABEL),
    );
    let managers: Vec<String> = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.clone())
        .fold(Vec::new(), |mut v, m| {
            if !v.contains(&m) {
                v.push(m);
            }
            v
        });
    let written_by_us = managers.iter().any(|m| m == MANAGER);
    match (ns, name) {
        (Some(ns), Some(name))
            if ns == cr_ns && name == names::owner_label_value(cr_name) && written_by_us =>
        {
            Ownership::Ours
        }
        (Some(ns), Some(name)) if ns != cr_ns || name != names::owner_label_value(cr_name) => {
            Ownership::Theirs(format!("belongs to Kiali CR {ns}/{name}"))
        }
        (Some(_), Some(_)) => Ownership::Theirs(format!(
            "carries this CR's owner labels but was not written by {MANAGER} (managers: {})",
            list_or_none(&managers)
        )),
        _ => Ownership::Theirs(format!(
            "was not created by {MANAGER} for a Kiali CR (managers: {})",
            list_or_none(&managers)
        )),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none recorded".into()
    } else {
        items.join(", ")
    }
}

/// Server-side apply of one child, after checking that an existing object of that name is this CR's
/// (`listed`: its metadata from the owner-label list; when absent it is looked up by name). Skipped when
/// `previous` (this operator's last apply of it) shows it unchanged. A binding of ours whose roleRef
/// changed is replaced (roleRef is immutable), deleting exactly the object checked (uid precondition).
/// Returns the digest of the body and the `resourceVersion` the object has now.
async fn apply_child(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    child: &Child,
    listed: Option<&ObjectMeta>,
    previous: Option<&(Digest, String)>,
) -> Result<(Digest, String, Outcome), Error> {
    let ar = resource_of(child);
    let meta = child.meta();
    let name = meta.name.clone().unwrap_or_default();
    let api = dyn_api(client, &ar, meta.namespace.as_deref());
    let value = child_value(child)?;
    let body = digest(&value)?;
    let failed = |source| Error::Apply {
        key: child.key(),
        source,
    };
    let existing = match listed {
        Some(m) => Some(m.clone()),
        None => api.get_opt(&name).await?.map(|o| o.metadata),
    };
    let params = match &existing {
        // Not forced: should someone create it meanwhile, the apply conflicts instead of adopting it.
        None => PatchParams::apply(MANAGER),
        Some(m) => match ownership(m, cr_ns, cr_name) {
            Ownership::Ours => {
                let rv = m.resource_version.clone().unwrap_or_default();
                if unchanged(previous, &body, &rv) {
                    return Ok((body, rv, Outcome::Unchanged));
                }
                // Take back fields others changed since (drift).
                PatchParams::apply(MANAGER).force()
            }
            Ownership::Theirs(owner) => {
                return Err(Error::Conflict {
                    key: child.key(),
                    owner,
                });
            }
        },
    };
    let done = |o: DynamicObject| {
        (
            body,
            o.resource_version().unwrap_or_default(),
            Outcome::Applied,
        )
    };
    match api.patch(&name, &params, &Patch::Apply(&value)).await {
        Ok(o) => Ok(done(o)),
        Err(kube::Error::Api(s))
            if s.code == 422
                && matches!(child, Child::ClusterRoleBinding(_) | Child::RoleBinding(_)) =>
        {
            let Some(m) = existing else {
                return Err(failed(kube::Error::Api(s)));
            };
            delete_exactly(&api, &name, &m).await?;
            api.patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&value))
                .await
                .map(done)
                .map_err(failed)
        }
        Err(source) => Err(failed(source)),
    }
}

/// Whether a child of ours need not be applied: this operator's last apply of it (`previous`) wrote the
/// same body and answered the `resourceVersion` it has now, so nobody has written it since.
fn unchanged(previous: Option<&(Digest, String)>, body: &Digest, rv: &str) -> bool {
    !rv.is_empty() && previous.is_some_and(|(d, v)| d == body && v == rv)
}

/// Deletes the object `name` that `meta` describes (uid precondition: never a namesake created since);
/// NotFound and a changed uid count as done.
async fn delete_exactly(
    api: &Api<DynamicObject>,
    name: &str,
    meta: &ObjectMeta,
) -> Result<(), Error> {
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
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

/// An object carrying a CR's owner labels, as listed (metadata only).
struct OwnedObject {
    ar: ApiResource,
    kind: String,
    /// None for a cluster-scoped kind.
    namespace: Option<String>,
    name: String,
    meta: ObjectMeta,
}

/// Every object of the managed kinds carrying this CR's owner labels (metadata only: managed fields,
/// labels and resourceVersion are all that ownership, skipping and prune read).
async fn list_owned(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
) -> Result<Vec<OwnedObject>, Error> {
    let lp = ListParams::default().labels(&owner_selector(cr_ns, cr_name));
    let mut out = Vec::new();
    for (ar, namespaced) in managed_kinds() {
        let list = match dyn_api(client, &ar, None).list_metadata(&lp).await {
            Ok(list) => list,
            // An API this cluster does not serve (Routes, OAuthClients outside OpenShift) holds
            // nothing of ours.
            Err(kube::Error::Api(s))
                if s.code == 404
                    && matches!(
                        ar.group.as_str(),
                        "route.openshift.io" | "oauth.openshift.io"
                    ) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for obj in list.items {
            out.push(OwnedObject {
                kind: ar.kind.clone(),
                namespace: if namespaced { obj.namespace() } else { None },
                name: obj.name_any(),
                meta: obj.metadata,
                ar: ar.clone(),
            });
        }
    }
    Ok(out)
}

/// Deletes every object carrying this CR's owner labels that is not desired (all of them when
/// `desired` is None, the finalizer's cleanup). NotFound counts as done.
pub async fn prune(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    desired: Option<&Desired>,
) -> Result<(), Error> {
    let keep: BTreeSet<ChildKey> = desired
        .map(|d| d.objects.iter().map(child_key).collect())
        .unwrap_or_default();
    let owned = list_owned(client, cr_ns, cr_name).await?;
    prune_listed(client, cr_ns, cr_name, &keep, owned).await
}

/// Prunes `owned` but `keep`, [`APPLIES_AT_ONCE`] deletes at a time.
async fn prune_listed(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    keep: &BTreeSet<ChildKey>,
    owned: Vec<OwnedObject>,
) -> Result<(), Error> {
    let doomed = owned.into_iter().filter(|o| {
        if keep.contains(&(o.kind.clone(), o.namespace.clone(), o.name.clone())) {
            return false;
        }
        if let Ownership::Theirs(owner) = ownership(&o.meta, cr_ns, cr_name) {
            warn!(kind = %o.kind, namespace = ?o.namespace, name = %o.name, owner = %owner, "left alone: carries the owner labels but is not ours");
            return false;
        }
        true
    });
    let deletes: Vec<BoxFuture<'_, Result<(), Error>>> = doomed
        .map(|o| {
            async move {
                info!(kind = %o.kind, namespace = ?o.namespace, name = %o.name, "deleting object no longer desired");
                delete_exactly(&dyn_api(client, &o.ar, o.namespace.as_deref()), &o.name, &o.meta)
                    .await
            }
            .boxed()
        })
        .collect();
    futures::stream::iter(deletes)
        .buffer_unordered(APPLIES_AT_ONCE)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    fn meta(labels: &[(&str, &str)], managers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            managed_fields: Some(
                managers
                    .iter()
                    .map(|m| ManagedFieldsEntry {
                        manager: Some(m.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn role(ns: &str) -> Child {
        Child::Role(Role {
            metadata: ObjectMeta {
                name: Some("kiali".into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            rules: None,
        })
    }

    fn binding(ns: &str) -> Child {
        Child::RoleBinding(RoleBinding {
            metadata: ObjectMeta {
                name: Some("kiali".into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn named<T: Default + kube::Resource>(name: &str) -> T {
        let mut o = T::default();
        o.meta_mut().name = Some(name.into());
        o
    }

    #[test]
    fn roles_and_bindings_in_a_row_form_one_batch_and_the_rest_keep_their_order() {
        let objects = vec![
            Child::ServiceAccount(named("kiali")),
            Child::ClusterRole(named("kiali")),
            role("a"),
            binding("a"),
            role("b"),
            binding("b"),
            Child::ConfigMap(named("kiali")),
            Child::Deployment(named("kiali")),
            role("c"),
        ];
        let shape: Vec<Vec<String>> = batches(&objects)
            .iter()
            .map(|b| b.iter().map(Child::key).collect())
            .collect();
        assert_eq!(
            shape,
            vec![
                vec!["ServiceAccount kiali".to_string()],
                vec!["ClusterRole kiali".to_string()],
                vec![
                    "Role a/kiali".to_string(),
                    "RoleBinding a/kiali".to_string(),
                    "Role b/kiali".to_string(),
                    "RoleBinding b/kiali".to_string(),
                ],
                vec!["ConfigMap kiali".to_string()],
                vec!["Deployment kiali".to_string()],
                vec!["Role c/kiali".to_string()],
            ]
        );
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn only_a_child_unwritten_since_the_same_body_was_applied_is_skipped() {
        let body = digest(&serde_json::json!({"rules": []})).unwrap();
        let other = digest(&serde_json::json!({"rules": [{"verbs": ["get"]}]})).unwrap();
        assert_ne!(body, other);
        let previous = (body, "41".to_string());
        assert!(unchanged(Some(&previous), &body, "41"));
        // Someone wrote it since (or it was deleted and created again).
        assert!(!unchanged(Some(&previous), &body, "57"));
        // The desired body changed.
        assert!(!unchanged(Some(&previous), &other, "41"));
        // Never applied by this process (a restart), or no resourceVersion to compare.
        assert!(!unchanged(None, &body, "41"));
        assert!(!unchanged(Some(&(body, String::new())), &body, ""));
    }

    const NS: &str = names::OWNER_NAMESPACE_LABEL;
    const NAME: &str = names::OWNER_NAME_LABEL;

    #[test]
    fn only_objects_labelled_for_this_cr_and_written_by_the_operator_are_ours() {
        let ours = meta(&[(NS, "a"), (NAME, "kiali")], &[MANAGER, "kubectl-edit"]);
        assert_eq!(ownership(&ours, "a", "kiali"), Ownership::Ours);

        let Ownership::Theirs(other) = ownership(&ours, "b", "kiali") else {
            panic!("another CR's object is not ours");
        };
        assert_eq!(other, "belongs to Kiali CR a/kiali");

        // A built-in ClusterRole (`admin`, `view`, ...) has neither the labels nor the manager.
        let builtin = meta(
            &[("kubernetes.io/bootstrapping", "rbac-defaults")],
            &["kube-apiserver"],
        );
        let Ownership::Theirs(m) = ownership(&builtin, "a", "kiali") else {
            panic!("a built-in role is not ours");
        };
        assert!(
            m.contains("not created by meshglass-operator") && m.contains("kube-apiserver"),
            "{m}"
        );

        // Copied labels are not enough.
        let forged = meta(&[(NS, "a"), (NAME, "kiali")], &["kubectl-create"]);
        assert!(
            matches!(ownership(&forged, "a", "kiali"), Ownership::Theirs(m) if m.contains("kubectl-create"))
        );
        assert!(
            matches!(ownership(&ObjectMeta::default(), "a", "kiali"), Ownership::Theirs(m) if m.contains("none recorded"))
        );
    }
}
