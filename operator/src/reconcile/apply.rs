//! The apply stage: server-side apply of every desired child with the one field manager, then prune
//! of what carries this CR's owner labels but is no longer desired.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use meshglass_crds::names;
use tracing::info;

use super::MANAGER;
use crate::build::{Child, Desired};

/// A write or a prune failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("applying {key}: {source}")]
    Apply { key: String, source: kube::Error },
    #[error("cannot serialize an object: {0}")]
    Serialize(String),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube_api",
            Error::Apply { .. } => "apply",
            Error::Serialize(_) => "serialize",
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
        apply_child(client, child).await?;
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
    };
    v.map_err(|e| Error::Serialize(e.to_string()))
}

/// Server-side apply of one child; a binding whose roleRef changed is replaced (roleRef is immutable).
async fn apply_child(client: &Client, child: &Child) -> Result<(), Error> {
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

async fn delete_ignoring_missing(api: &Api<DynamicObject>, name: &str) -> Result<(), Error> {
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
