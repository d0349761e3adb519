//! The one apply interface of a create run, [`Apply`], with its two implementations: [`DryRun`] shows
//! every write as a YAML document and applies nothing; [`Live`] server-side applies with the CLI's field
//! manager and, when the run fails, removes the remote objects it created. The run itself
//! ([`super::run`]) is written once against the interface.

use std::{fmt, io::Write};

use k8s_openapi::api::{
    core::v1::{Namespace, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde::{Serialize, de::DeserializeOwned};
use tracing::info;

use super::{
    args::Args,
    cluster::Cluster,
    error::{Error, Result, describe, is_status},
    objects::{self, FIELD_MANAGER},
    outcome::{Action, Change, Side, action, print_actions, yaml_of},
    plan::{KialiWrite, Plan, RemoteWrite},
    token::{FoundToken, find_token, wait_token},
};

/// Carries out (or shows) the writes of a create run.
pub(super) trait Apply {
    /// One write on the remote cluster.
    async fn remote(&mut self, remote: &Cluster, write: &RemoteWrite) -> Result<()>;
    /// The remote token: a live run waits for the token controller to fill it in, a dry run takes what
    /// exists now.
    async fn token(&mut self, args: &Args, remote: &Cluster) -> Result<Option<FoundToken>>;
    /// The Secret on the Kiali cluster.
    async fn kiali(&mut self, kiali: &Cluster, write: &KialiWrite) -> Result<()>;
    /// After a failure: undo what this run wrote, best effort.
    async fn rollback(self, remote: &Cluster);
    /// After success: the summary on `out`; returns the actions for the outcome.
    fn finish<W: Write>(self, out: &mut W, args: &Args, plan: &Plan) -> Result<Vec<Action>>;
}

/// `--dry-run`: every write becomes a YAML document on the output, marked with its cluster.
#[derive(Default)]
pub(super) struct DryRun {
    docs: Vec<Doc>,
    actions: Vec<Action>,
}

impl Apply for DryRun {
    async fn remote(&mut self, _remote: &Cluster, write: &RemoteWrite) -> Result<()> {
        self.docs.push(Doc {
            side: Side::Remote,
            yaml: write.yaml()?,
            note: None,
        });
        // A missing namespace is shown, not listed: it would be created, never applied.
        if !matches!(write, RemoteWrite::Namespace(_)) {
            self.actions.push(write.action(Change::WouldApply));
        }
        Ok(())
    }

    async fn token(&mut self, args: &Args, remote: &Cluster) -> Result<Option<FoundToken>> {
        find_token(
            remote,
            &token_secrets(args, remote),
            &args.kiali_resource_name,
        )
        .await
    }

    async fn kiali(&mut self, _kiali: &Cluster, write: &KialiWrite) -> Result<()> {
        self.docs.push(Doc {
            side: Side::Kiali,
            yaml: yaml_of(&objects::readable_secret(&write.secret))?,
            note: Some(write.note.clone()),
        });
        self.actions
            .push(action(Side::Kiali, &write.secret, Change::WouldApply));
        Ok(())
    }

    async fn rollback(self, _remote: &Cluster) {}

    fn finish<W: Write>(self, out: &mut W, args: &Args, plan: &Plan) -> Result<Vec<Action>> {
        write_dry_run(out, args, plan, &self.docs)?;
        Ok(self.actions)
    }
}

/// A real run: server-side apply; what it created on the remote cluster is remembered for [`Apply::rollback`].
#[derive(Default)]
pub(super) struct Live {
    actions: Vec<Action>,
    created: Vec<RemoteWrite>,
}

impl Apply for Live {
    async fn remote(&mut self, remote: &Cluster, write: &RemoteWrite) -> Result<()> {
        let c = remote.client.clone();
        let change = match write {
            RemoteWrite::Namespace(o) => Api::<Namespace>::all(c)
                .create(&PostParams::default(), o)
                .await
                .map(|_| Change::Created)
                .map_err(SsaError::Kube),
            RemoteWrite::ServiceAccount(o) => {
                ssa(&namespaced::<ServiceAccount>(remote, o), o).await
            }
            RemoteWrite::ClusterRole(o) => ssa(&Api::<ClusterRole>::all(c), o).await,
            RemoteWrite::ClusterRoleBinding(o) => ssa(&Api::<ClusterRoleBinding>::all(c), o).await,
            RemoteWrite::TokenSecret(o) => ssa(&namespaced::<Secret>(remote, o), o).await,
        }
        .map_err(|e| e.into_error(remote, write.doing(), &write.label()))?;
        if change == Change::Created {
            self.created.push(write.clone());
        }
        self.actions.push(write.action(change));
        Ok(())
    }

    async fn token(&mut self, args: &Args, remote: &Cluster) -> Result<Option<FoundToken>> {
        Ok(Some(
            wait_token(args, remote, &token_secrets(args, remote)).await?,
        ))
    }

    async fn kiali(&mut self, kiali: &Cluster, write: &KialiWrite) -> Result<()> {
        let api: Api<Secret> = namespaced(kiali, &write.secret);
        let change = ssa(&api, &write.secret).await.map_err(|e| {
            e.into_error(
                kiali,
                "applying the remote-cluster Secret".into(),
                &format!("Secret {}", object_label(&write.secret)),
            )
        })?;
        self.actions
            .push(action(Side::Kiali, &write.secret, change));
        Ok(())
    }

    /// Removes the remote objects this run created, newest first. Best effort: the error that stopped the run
    /// is what the user sees.
    async fn rollback(self, remote: &Cluster) {
        for write in self.created.into_iter().rev() {
            let c = remote.client.clone();
            let result = match &write {
                RemoteWrite::Namespace(o) => remove(Api::<Namespace>::all(c), o).await,
                RemoteWrite::ServiceAccount(o) => remove(namespaced(remote, o), o).await,
                RemoteWrite::ClusterRole(o) => remove(Api::<ClusterRole>::all(c), o).await,
                RemoteWrite::ClusterRoleBinding(o) => {
                    remove(Api::<ClusterRoleBinding>::all(c), o).await
                }
                RemoteWrite::TokenSecret(o) => remove(namespaced(remote, o), o).await,
            };
            let label = write.label();
            match result {
                Ok(()) => info!(object = %label, "removed again after the failure"),
                Err(e) if is_status(&e, 404) => {}
                Err(e) => {
                    tracing::warn!(object = %label, error = %describe(&e), "could not remove after the failure")
                }
            }
        }
    }

    fn finish<W: Write>(self, out: &mut W, _args: &Args, _plan: &Plan) -> Result<Vec<Action>> {
        print_actions(out, &self.actions)?;
        Ok(self.actions)
    }
}

async fn remove<K>(api: Api<K>, obj: &K) -> std::result::Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug,
{
    api.delete(&obj.name_any(), &DeleteParams::default())
        .await
        .map(drop)
}

/// The token Secrets of the remote namespace.
fn token_secrets(args: &Args, remote: &Cluster) -> Api<Secret> {
    Api::namespaced(remote.client.clone(), &args.remote_cluster_namespace)
}

/// The API of `obj`'s kind in `obj`'s namespace on `cluster`.
fn namespaced<K>(cluster: &Cluster, obj: &K) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(
        cluster.client.clone(),
        obj.meta().namespace.as_deref().unwrap_or_default(),
    )
}

/// Why [`ssa`] did not write.
enum SsaError {
    Kube(kube::Error),
    /// The object exists and lacks the CLI's managed-by label; the text names who manages it.
    NotOurs(String),
}

impl From<kube::Error> for SsaError {
    fn from(e: kube::Error) -> Self {
        SsaError::Kube(e)
    }
}

impl SsaError {
    fn into_error(self, cluster: &Cluster, doing: String, object: &str) -> Error {
        match self {
            SsaError::Kube(e) => cluster.kube_err(doing)(e),
            SsaError::NotOurs(owner) => Error::NotOurs {
                object: object.to_string(),
                side: cluster.side.word(),
                context: cluster.context.clone(),
                owner,
            },
        }
    }
}

fn object_label<K: Resource>(obj: &K) -> String {
    match obj.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{}", obj.name_any()),
        None => obj.name_any(),
    }
}

/// Who manages an object the CLI did not create: its managed-by label, else its field managers.
fn owner_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    if let Some(by) = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(objects::MANAGED_BY_KEY))
    {
        return format!("managed by {by}");
    }
    let managers: Vec<String> = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.clone())
        .collect();
    if managers.is_empty() {
        "no managed-by label".into()
    } else {
        format!("field managers {}", managers.join(", "))
    }
}

/// Server-side apply with the CLI's field manager; reports whether the object was created, changed or left as is
/// (same resourceVersion). An existing object is changed only when it carries the CLI's managed-by label (no
/// takeover of objects someone else made); a new one is applied without `force`, so that one created meanwhile by
/// someone else fails the apply rather than being adopted.
async fn ssa<K>(api: &Api<K>, obj: &K) -> std::result::Result<Change, SsaError>
where
    K: Resource + Clone + Serialize + DeserializeOwned + fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let existing = api.get_opt(&name).await?;
    let params = match &existing {
        None => PatchParams::apply(FIELD_MANAGER),
        Some(o) if objects::is_managed(o.meta()) => PatchParams::apply(FIELD_MANAGER).force(),
        Some(o) => return Err(SsaError::NotOurs(owner_of(o.meta()))),
    };
    let before = existing.and_then(|o| o.meta().resource_version.clone());
    let after = api.patch(&name, &params, &Patch::Apply(obj)).await?;
    Ok(match before {
        None => Change::Created,
        Some(rv) if Some(&rv) == after.meta().resource_version.as_ref() => Change::Unchanged,
        Some(_) => Change::Updated,
    })
}

/// One YAML document for `--dry-run`, with the cluster it belongs to.
struct Doc {
    side: Side,
    yaml: String,
    note: Option<String>,
}

fn write_dry_run<W: Write>(out: &mut W, args: &Args, plan: &Plan, docs: &[Doc]) -> Result<()> {
    let mut text = String::new();
    text.push_str(
        "# meshglass-operator remote-secret --dry-run: nothing was written to any cluster.\n",
    );
    text.push_str(&format!(
        "# Apply the documents marked \"remote cluster\" to context {:?} and the one marked \"Kiali cluster\" to \
         context {:?}.\n",
        plan.remote_context,
        plan.kiali_context.as_deref().unwrap_or(args.kiali_cluster_context.as_str())
    ));
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        match doc.side {
            Side::Remote => text.push_str(&format!(
                "# remote cluster {:?} (context {:?})\n",
                plan.cluster_name, plan.remote_context
            )),
            Side::Kiali => text.push_str(&format!(
                "# Kiali cluster (context {:?}), namespace {}\n",
                plan.kiali_context.as_deref().unwrap_or_default(),
                args.kiali_cluster_namespace
            )),
        }
        if let Some(note) = &doc.note {
            text.push_str(&format!("# {note}\n"));
        }
        text.push_str(&doc.yaml);
        if !doc.yaml.ends_with('\n') {
            text.push('\n');
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Output(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_secret::args::parse_args;
    use crate::remote_secret::plan::tests::plan;

    #[test]
    fn dry_run_output_marks_each_document_with_its_cluster() {
        let p = plan(&[]).expect("plan");
        let args = parse_args(["remote-secret"]).expect("parses");
        let docs = vec![
            Doc {
                side: Side::Remote,
                yaml: "kind: ServiceAccount\n".into(),
                note: None,
            },
            Doc {
                side: Side::Kiali,
                yaml: "kind: Secret\n".into(),
                note: Some("WARNING: live credential".into()),
            },
        ];
        let mut out = Vec::new();
        write_dry_run(&mut out, &args, &p, &docs).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        let parts: Vec<&str> = text.split("\n---\n").collect();
        assert_eq!(parts.len(), 2, "{text}");
        assert!(
            parts[0]
                .starts_with("# meshglass-operator remote-secret --dry-run: nothing was written")
        );
        assert!(
            parts[0].contains("# remote cluster \"west\" (context \"west\")\nkind: ServiceAccount"),
            "{text}"
        );
        assert!(
            parts[1].contains("# Kiali cluster (context \"east\"), namespace istio-system"),
            "{text}"
        );
        assert!(
            parts[1].contains("# WARNING: live credential\nkind: Secret"),
            "{text}"
        );
    }
}
