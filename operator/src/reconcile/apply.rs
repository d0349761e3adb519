//! The apply stage: server-side apply of every desired child with the one field manager, then prune
//! of what carries this CR's owner labels but is no longer desired.
//!
//! No takeover: an object is changed or deleted only when it is this CR's ([`ownership`]: its owner labels
//! name this CR and this operator's field manager wrote it). A child that does not exist yet is applied
//! without `force`, so an object created in between by someone else fails the apply instead of being adopted;
//! an existing object that is someone else's fails the reconcile with [`Error::Conflict`], naming its owner.

use std::collections::BTreeSet;

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
use tracing::{info, warn};

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

/// Applies every desired object, then prunes the rest.
pub async fn apply(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    desired: &Desired,
) -> Result<(), Error> {
    for child in &desired.objects {
        apply_child(client, cr_ns, cr_name, child).await?;
    }
    prune(client, cr_ns, cr_name, Some(desired)).await
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

/// Server-side apply of one child, after checking that an existing object of that name is this CR's. A
/// binding of ours whose roleRef changed is replaced (roleRef is immutable), deleting exactly the object
/// checked (uid precondition).
async fn apply_child(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    child: &Child,
) -> Result<(), Error> {
    let ar = resource_of(child);
    let meta = child.meta();
    let name = meta.name.clone().unwrap_or_default();
    let api = dyn_api(client, &ar, meta.namespace.as_deref());
    let value = child_value(child)?;
    let failed = |source| Error::Apply {
        key: child.key(),
        source,
    };
    let existing = api.get_opt(&name).await?;
    let params = match &existing {
        // Not forced: should someone create it meanwhile, the apply conflicts instead of adopting it.
        None => PatchParams::apply(MANAGER),
        Some(obj) => match ownership(&obj.metadata, cr_ns, cr_name) {
            // Ours: take back fields others changed since (drift).
            Ownership::Ours => PatchParams::apply(MANAGER).force(),
            Ownership::Theirs(owner) => {
                return Err(Error::Conflict {
                    key: child.key(),
                    owner,
                });
            }
        },
    };
    match api.patch(&name, &params, &Patch::Apply(&value)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s))
            if s.code == 422
                && matches!(child, Child::ClusterRoleBinding(_) | Child::RoleBinding(_)) =>
        {
            let Some(obj) = existing else {
                return Err(failed(kube::Error::Api(s)));
            };
            delete_exactly(&api, &obj).await?;
            api.patch(&name, &PatchParams::apply(MANAGER), &Patch::Apply(&value))
                .await
                .map(|_| ())
                .map_err(failed)
        }
        Err(source) => Err(failed(source)),
    }
}

/// Deletes `obj` itself (uid precondition: never a namesake created since); NotFound and a changed uid
/// count as done.
async fn delete_exactly(api: &Api<DynamicObject>, obj: &DynamicObject) -> Result<(), Error> {
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: obj.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&obj.name_any(), &dp).await {
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

/// Deletes every object carrying this CR's owner labels that is not desired (all of them when
/// `desired` is None, the finalizer's cleanup). NotFound counts as done.
pub async fn prune(
    client: &Client,
    cr_ns: &str,
    cr_name: &str,
    desired: Option<&Desired>,
) -> Result<(), Error> {
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
        let list = match dyn_api(client, &ar, None).list(&lp).await {
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
            let ns = if namespaced { obj.namespace() } else { None };
            let key = (ar.kind.clone(), ns.clone(), obj.name_any());
            if keep.contains(&key) {
                continue;
            }
            if let Ownership::Theirs(owner) = ownership(&obj.metadata, cr_ns, cr_name) {
                warn!(kind = %ar.kind, namespace = ?ns, name = %obj.name_any(), owner = %owner, "left alone: carries the owner labels but is not ours");
                continue;
            }
            info!(kind = %ar.kind, namespace = ?ns, name = %obj.name_any(), "deleting object no longer desired");
            delete_exactly(&dyn_api(client, &ar, ns.as_deref()), &obj).await?;
        }
    }
    Ok(())
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
