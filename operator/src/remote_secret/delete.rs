//! `--delete`: removes what this tool wrote, and only that.

use std::fmt;

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, ListParams},
    config::Kubeconfig,
};
use serde::de::DeserializeOwned;

use super::{
    args::Args,
    cluster::connect,
    error::{Result, is_status},
    objects::{self, CLUSTER_ANNOTATION, MULTI_CLUSTER_LABEL, ROOT_CA_CONFIGMAP},
    outcome::{Action, Change, Outcome, Side},
    plan::Plan,
};

/// Deletes `name` when it exists and `ours` says this tool created it.
async fn delete_if<K>(
    api: &Api<K>,
    name: &str,
    dry_run: bool,
    ours: impl Fn(&K) -> bool,
) -> std::result::Result<Change, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug,
{
    match api.get_opt(name).await? {
        None => Ok(Change::Absent),
        Some(obj) if !ours(&obj) => Ok(Change::LeftAlone),
        Some(_) if dry_run => Ok(Change::WouldDelete),
        Some(_) => match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(Change::Deleted),
            Err(e) if is_status(&e, 404) => Ok(Change::Absent),
            Err(e) => Err(e),
        },
    }
}

fn deleted(
    side: Side,
    kind: &'static str,
    namespace: Option<&str>,
    name: &str,
    change: Change,
) -> Action {
    Action {
        side,
        kind,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        change,
    }
}

/// `--delete`: the Kiali-side Secret first (so the server stops using the cluster), then the remote objects this
/// tool created (both role names, whatever --view-only says now), and the remote namespace only when this tool
/// created it and nothing else lives in it.
pub(super) async fn delete(
    args: &Args,
    plan: &Plan,
    kubeconfig: &Kubeconfig,
    outcome: &mut Outcome,
) -> Result<()> {
    if let Some(ctx) = &plan.kiali_context {
        let kiali = connect(kubeconfig, ctx, Side::Kiali).await?;
        let ns = args.kiali_cluster_namespace.as_str();
        let name = objects::kiali_secret_name(&plan.cluster_name);
        let api: Api<Secret> = Api::namespaced(kiali.client.clone(), ns);
        let cluster = plan.cluster_name.clone();
        let change = delete_if(&api, &name, args.dry_run, |s: &Secret| {
            s.labels().get(MULTI_CLUSTER_LABEL).map(String::as_str) == Some("true")
                && s.annotations().get(CLUSTER_ANNOTATION) == Some(&cluster)
        })
        .await
        .map_err(kiali.kube_err(format!("deleting Secret {ns}/{name}")))?;
        outcome
            .actions
            .push(deleted(Side::Kiali, "Secret", Some(ns), &name, change));
    }
    if !args.process_remote_resources {
        return Ok(());
    }
    let remote = connect(kubeconfig, &plan.remote_context, Side::Remote).await?;
    let c = remote.client.clone();
    let ns = args.remote_cluster_namespace.as_str();
    let name = args.kiali_resource_name.as_str();
    let dry = args.dry_run;
    let err = |what: String| remote.kube_err(format!("deleting {what}"));

    let change = delete_if(&Api::<ClusterRoleBinding>::all(c.clone()), name, dry, |o| {
        objects::is_managed(o.meta())
    })
    .await
    .map_err(err(format!("ClusterRoleBinding {name}")))?;
    outcome.actions.push(deleted(
        Side::Remote,
        "ClusterRoleBinding",
        None,
        name,
        change,
    ));
    for role in [
        objects::cluster_role_name(name, true),
        objects::cluster_role_name(name, false),
    ] {
        let change = delete_if(&Api::<ClusterRole>::all(c.clone()), &role, dry, |o| {
            objects::is_managed(o.meta())
        })
        .await
        .map_err(err(format!("ClusterRole {role}")))?;
        outcome
            .actions
            .push(deleted(Side::Remote, "ClusterRole", None, &role, change));
    }
    let change = delete_if(&Api::<Secret>::namespaced(c.clone(), ns), name, dry, |o| {
        objects::is_managed(o.meta())
    })
    .await
    .map_err(err(format!("Secret {ns}/{name}")))?;
    outcome
        .actions
        .push(deleted(Side::Remote, "Secret", Some(ns), name, change));
    let change = delete_if(
        &Api::<ServiceAccount>::namespaced(c.clone(), ns),
        name,
        dry,
        |o| objects::is_managed(o.meta()),
    )
    .await
    .map_err(err(format!("ServiceAccount {ns}/{name}")))?;
    outcome.actions.push(deleted(
        Side::Remote,
        "ServiceAccount",
        Some(ns),
        name,
        change,
    ));

    let namespaces: Api<Namespace> = Api::all(c.clone());
    let change = match namespaces
        .get_opt(ns)
        .await
        .map_err(err(format!("Namespace {ns}")))?
    {
        None => Change::Absent,
        Some(n) if !objects::is_managed(&n.metadata) => Change::LeftAlone,
        Some(_)
            if !namespace_is_empty(&c, ns, dry.then_some(name))
                .await
                .map_err(err(format!("Namespace {ns}")))? =>
        {
            Change::LeftAlone
        }
        Some(_) => delete_if(&namespaces, ns, dry, |n| objects::is_managed(&n.metadata))
            .await
            .map_err(err(format!("Namespace {ns}")))?,
    };
    outcome
        .actions
        .push(deleted(Side::Remote, "Namespace", None, ns, change));
    Ok(())
}

/// `true` when a namespace holds nothing but what Kubernetes puts in every namespace (the `default`
/// ServiceAccount, the `kube-root-ca.crt` ConfigMap) and, in a dry run, the objects that would be deleted.
async fn namespace_is_empty(
    client: &Client,
    ns: &str,
    ours: Option<&str>,
) -> std::result::Result<bool, kube::Error> {
    let some = ListParams::default();
    let other = |n: &str| n != ours.unwrap_or_default();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list_metadata(&some)
        .await?;
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns)
        .list_metadata(&some)
        .await?;
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .list_metadata(&some)
        .await?;
    let secrets = Api::<Secret>::namespaced(client.clone(), ns)
        .list_metadata(&some)
        .await?;
    let maps = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list_metadata(&some)
        .await?;
    Ok(pods.items.is_empty()
        && deployments.items.is_empty()
        && accounts
            .items
            .iter()
            .all(|a| a.name_any() == "default" || !other(&a.name_any()))
        && secrets.items.iter().all(|s| !other(&s.name_any()))
        && maps.items.iter().all(|m| m.name_any() == ROOT_CA_CONFIGMAP))
}
