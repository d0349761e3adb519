//! The plan of a create run, decided before anything is written: what the options and the kubeconfig
//! resolve to ([`Plan::new`], pure), then the checks that read the clusters and the remote writes they lead
//! to, in order ([`observe`]), and the Secret for the Kiali cluster once the token is known
//! ([`kiali_write`], pure). [`super::apply`] carries the writes out, or only shows them.

use k8s_openapi::api::{
    core::v1::{Namespace, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{Api, ResourceExt, config::Kubeconfig};

use super::{
    args::{Args, validate_cluster_name},
    cluster::Cluster,
    contexts::{KubeconfigTrust, context_cluster, kubeconfig_trust, resolve_context},
    error::{Error, Result},
    objects,
    outcome::{Action, Change, Side, action, yaml_of},
    token::PLACEHOLDER_TOKEN,
};

/// Everything resolved from the options and the kubeconfig before any cluster is contacted.
pub(super) struct Plan {
    pub(super) kiali_context: Option<String>,
    pub(super) remote_context: String,
    pub(super) remote_entry: String,
    pub(super) cluster_name: String,
    pub(super) server_url: String,
    pub(super) trust: KubeconfigTrust,
}

impl Plan {
    pub(super) fn new(args: &Args, kubeconfig: &Kubeconfig) -> Result<Plan> {
        let remote_context = resolve_context(
            kubeconfig,
            "--remote-cluster-context",
            &args.remote_cluster_context,
        )?;
        let kiali_context = if args.process_kiali_secret {
            let kiali = resolve_context(
                kubeconfig,
                "--kiali-cluster-context",
                &args.kiali_cluster_context,
            )?;
            if kiali == remote_context {
                return Err(Error::SameContext(kiali));
            }
            Some(kiali)
        } else {
            None
        };
        let (remote_entry, cluster) = context_cluster(kubeconfig, &remote_context)?;
        let cluster_name = args
            .remote_cluster_name
            .clone()
            .unwrap_or_else(|| remote_entry.to_string());
        validate_cluster_name(&cluster_name)?;
        let server_url = args
            .remote_cluster_url
            .clone()
            .or_else(|| cluster.server.clone())
            .ok_or_else(|| Error::NoServerUrl {
                context: remote_context.clone(),
                cluster: remote_entry.to_string(),
            })?;
        Ok(Plan {
            trust: kubeconfig_trust(remote_entry, cluster)?,
            kiali_context,
            remote_entry: remote_entry.to_string(),
            remote_context,
            cluster_name,
            server_url,
        })
    }
}

/// One write on the remote cluster, in the order they happen.
#[derive(Clone)]
pub(super) enum RemoteWrite {
    /// Created, not applied: an existing namespace is never claimed by this tool.
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    TokenSecret(Secret),
}

impl RemoteWrite {
    /// What the run was doing when this write failed, for the error message.
    pub(super) fn doing(&self) -> String {
        match self {
            RemoteWrite::Namespace(n) => format!("creating namespace {}", n.name_any()),
            RemoteWrite::ServiceAccount(_) => "applying the ServiceAccount".into(),
            RemoteWrite::ClusterRole(_) => "applying the ClusterRole".into(),
            RemoteWrite::ClusterRoleBinding(_) => "applying the ClusterRoleBinding".into(),
            RemoteWrite::TokenSecret(_) => "applying the token Secret".into(),
        }
    }

    /// `Kind namespace/name` (or `Kind name`), for the log.
    pub(super) fn label(&self) -> String {
        let a = self.action(Change::Unchanged);
        match a.namespace {
            Some(ns) => format!("{} {ns}/{}", a.kind, a.name),
            None => format!("{} {}", a.kind, a.name),
        }
    }

    pub(super) fn action(&self, change: Change) -> Action {
        match self {
            RemoteWrite::Namespace(o) => action(Side::Remote, o, change),
            RemoteWrite::ServiceAccount(o) => action(Side::Remote, o, change),
            RemoteWrite::ClusterRole(o) => action(Side::Remote, o, change),
            RemoteWrite::ClusterRoleBinding(o) => action(Side::Remote, o, change),
            RemoteWrite::TokenSecret(o) => action(Side::Remote, o, change),
        }
    }

    pub(super) fn yaml(&self) -> Result<String> {
        match self {
            RemoteWrite::Namespace(o) => yaml_of(o),
            RemoteWrite::ServiceAccount(o) => yaml_of(o),
            RemoteWrite::ClusterRole(o) => yaml_of(o),
            RemoteWrite::ClusterRoleBinding(o) => yaml_of(o),
            RemoteWrite::TokenSecret(o) => yaml_of(o),
        }
    }
}

/// The checks that read the clusters before any write (the Kiali namespace exists), and the remote writes:
/// the namespace when it is missing, then the ServiceAccount, its role, binding and token Secret.
pub(super) async fn observe(
    args: &Args,
    remote: &Cluster,
    kiali: Option<&Cluster>,
) -> Result<Vec<RemoteWrite>> {
    if let Some(kiali) = kiali {
        let namespaces: Api<Namespace> = Api::all(kiali.client.clone());
        let found = namespaces
            .get_opt(&args.kiali_cluster_namespace)
            .await
            .map_err(kiali.kube_err(format!(
                "reading namespace {}",
                args.kiali_cluster_namespace
            )))?;
        if found.is_none() {
            return Err(Error::PrimaryNamespaceMissing {
                context: kiali.context.clone(),
                namespace: args.kiali_cluster_namespace.clone(),
            });
        }
    }
    if !args.process_remote_resources {
        return Ok(Vec::new());
    }
    let ns = args.remote_cluster_namespace.as_str();
    let objs = objects::remote_objects(&args.kiali_resource_name, ns, args.view_only);
    let existing = Api::<Namespace>::all(remote.client.clone())
        .get_opt(ns)
        .await
        .map_err(remote.kube_err(format!("reading namespace {ns}")))?;
    let mut writes = Vec::new();
    if existing.is_none() {
        writes.push(RemoteWrite::Namespace(objs.namespace));
    }
    writes.extend([
        RemoteWrite::ServiceAccount(objs.service_account),
        RemoteWrite::ClusterRole(objs.cluster_role),
        RemoteWrite::ClusterRoleBinding(objs.cluster_role_binding),
        RemoteWrite::TokenSecret(objs.token_secret),
    ]);
    Ok(writes)
}

/// The Secret for the Kiali cluster, and what a dry run says above it.
pub(super) struct KialiWrite {
    pub(super) secret: Secret,
    pub(super) note: String,
}

/// The Kiali-side Secret holding `kubeconfig_yaml`; `live_token` says whether it holds a real token.
pub(super) fn kiali_write(
    args: &Args,
    plan: &Plan,
    kubeconfig_yaml: &str,
    live_token: bool,
) -> KialiWrite {
    let (ns, name) = (&args.remote_cluster_namespace, &args.kiali_resource_name);
    let note = if live_token {
        format!(
            "WARNING: this Secret holds a live credential: the token of ServiceAccount {ns}/{name} on \
             cluster {:?}. Keep this output private.",
            plan.cluster_name
        )
    } else {
        format!(
            "NOTE: the token Secret {ns}/{name} does not exist yet on the remote cluster, so this \
             kubeconfig holds the placeholder token {PLACEHOLDER_TOKEN:?}."
        )
    };
    KialiWrite {
        secret: objects::kiali_secret(
            &plan.cluster_name,
            &args.kiali_cluster_namespace,
            kubeconfig_yaml,
        ),
        note,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::remote_secret::args::parse_args;

    pub(crate) const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: west
contexts:
- name: east
  context: {cluster: east, user: admin}
- name: west
  context: {cluster: west, user: admin}
- name: eks
  context: {cluster: "arn:aws:eks:eu-west-1:1:cluster/prod", user: admin}
clusters:
- name: east
  cluster: {server: "https://127.0.0.1:1", certificate-authority-data: UEVN}
- name: west
  cluster: {server: "https://127.0.0.1:2", certificate-authority-data: UEVN}
- name: "arn:aws:eks:eu-west-1:1:cluster/prod"
  cluster: {server: "https://eks.example:443", certificate-authority-data: UEVN}
users:
- name: admin
  user: {token: x}
"#;

    pub(crate) fn plan(extra: &[&str]) -> Result<Plan> {
        let mut argv = vec!["remote-secret"];
        argv.extend_from_slice(extra);
        let args = parse_args(argv).expect("parses");
        args.validate()?;
        Plan::new(
            &args,
            &Kubeconfig::from_yaml(KUBECONFIG).expect("kubeconfig"),
        )
    }

    #[test]
    fn the_cluster_name_and_url_come_from_the_remote_context_unless_given() {
        let p = plan(&[]).expect("plan");
        assert_eq!(
            (p.cluster_name.as_str(), p.server_url.as_str()),
            ("west", "https://127.0.0.1:2")
        );
        assert_eq!(p.kiali_context.as_deref(), Some("east"));
        let p = plan(&[
            "--remote-cluster-name",
            "cluster2",
            "--remote-cluster-url",
            "https://10.1.1.1:6443",
        ])
        .expect("plan");
        assert_eq!(
            (p.cluster_name.as_str(), p.server_url.as_str()),
            ("cluster2", "https://10.1.1.1:6443")
        );
    }

    #[test]
    fn a_derived_cluster_name_that_is_not_allowed_asks_for_remote_cluster_name() {
        let err = plan(&["--remote-cluster-context", "eks"])
            .err()
            .expect("refused");
        assert_eq!(err.category(), "invalid_cluster_name");
        assert!(err.to_string().contains("--remote-cluster-name"), "{err}");
        assert!(
            plan(&[
                "--remote-cluster-context",
                "eks",
                "--remote-cluster-name",
                "prod"
            ])
            .is_ok()
        );
    }

    #[test]
    fn current_context_resolving_to_the_other_one_is_the_same_context() {
        let err = plan(&["--kiali-cluster-context", "current"])
            .err()
            .expect("refused");
        assert_eq!(err.category(), "same_context");
    }

    #[test]
    fn the_kiali_context_is_only_needed_for_the_kiali_secret() {
        assert_eq!(
            plan(&["--kiali-cluster-context", "nowhere"])
                .err()
                .map(|e| e.category()),
            Some("unknown_context")
        );
        let p = plan(&[
            "--kiali-cluster-context",
            "nowhere",
            "--process-kiali-secret",
            "false",
        ])
        .expect("plan");
        assert_eq!(p.kiali_context, None);
    }
}
