//! The remote-secret pipeline: read the kubeconfig → validate → (remote objects) → token → kubeconfig for the
//! server → prove it against the remote API → write the Secret on the Kiali cluster. Every check that needs no
//! write runs first; when a later step fails, the remote objects this run created are removed again, so a failed
//! run leaves nothing half-written.

use std::{
    fmt,
    io::Write,
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    authorization::v1::SelfSubjectAccessReview,
    core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{
    Api, Client, Config, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde::{Serialize, de::DeserializeOwned};
use tracing::info;

use super::{
    args::{Args, validate_cluster_name},
    contexts::{KubeconfigTrust, context_cluster, kubeconfig_trust, resolve_context},
    error::{Error, Result, describe, describe_kubeconfig, is_status},
    objects::{
        self, CLUSTER_ANNOTATION, FIELD_MANAGER, MULTI_CLUSTER_LABEL, ROOT_CA_CONFIGMAP,
        SERVICE_ACCOUNT_ANNOTATION, TOKEN_SECRET_TYPE, Trust,
    },
};

/// Which cluster an action happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Kiali,
    Remote,
}

impl Side {
    fn word(self) -> &'static str {
        match self {
            Side::Kiali => "Kiali",
            Side::Remote => "remote",
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// `--delete`: the object did not exist.
    Absent,
    /// `--delete`: the object exists but was not created by this tool, so it stays.
    LeftAlone,
    /// `--dry-run`: would be written (printed on the output).
    WouldApply,
    /// `--dry-run --delete`: would be deleted.
    WouldDelete,
}

/// One object the run touched (or would touch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub side: Side,
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub change: Change,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let change = match self.change {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Deleted => "deleted",
            Change::Absent => "not found (nothing to delete)",
            Change::LeftAlone => "left alone (not created by remote-secret)",
            Change::WouldApply => "would be applied (dry run)",
            Change::WouldDelete => "would be deleted (dry run)",
        };
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        write!(
            f,
            "{} cluster: {} {}{} {}",
            self.side.word(),
            self.kind,
            ns,
            self.name,
            change
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// The remote cluster's name (the Secret's key).
    pub cluster_name: String,
    /// The Secret's name on the Kiali cluster.
    pub secret_name: String,
}

impl Outcome {
    /// `true` when no object was created, updated or deleted.
    pub fn changed_nothing(&self) -> bool {
        self.actions.iter().all(|a| {
            matches!(
                a.change,
                Change::Unchanged
                    | Change::Absent
                    | Change::LeftAlone
                    | Change::WouldApply
                    | Change::WouldDelete
            )
        })
    }
}

/// Runs the CLI, as `meshglass-operator remote-secret` does: progress goes to the tracing log, the action summary
/// (or, with `--dry-run`, the YAML of every object) to `out`.
pub async fn run<W: Write>(args: &Args, out: &mut W) -> Result<Outcome> {
    args.validate()?;
    let kubeconfig = load_kubeconfig(args)?;
    let plan = Plan::new(args, &kubeconfig)?;
    info!(cluster = %plan.cluster_name, remote_context = %plan.remote_context, "remote-secret");
    let mut outcome = Outcome {
        cluster_name: plan.cluster_name.clone(),
        secret_name: objects::kiali_secret_name(&plan.cluster_name),
        actions: Vec::new(),
    };
    if !args.process_remote_resources && !args.process_kiali_secret {
        writeln!(
            out,
            "nothing to do: both --process-remote-resources and --process-kiali-secret are false"
        )
        .map_err(|e| Error::Output(e.to_string()))?;
        return Ok(outcome);
    }
    if args.delete {
        delete(args, &plan, &kubeconfig, &mut outcome).await?;
        for a in &outcome.actions {
            writeln!(out, "{a}").map_err(|e| Error::Output(e.to_string()))?;
        }
        return Ok(outcome);
    }

    let remote = connect(&kubeconfig, &plan.remote_context, Side::Remote).await?;
    let kiali = match &plan.kiali_context {
        Some(ctx) => Some(connect(&kubeconfig, ctx, Side::Kiali).await?),
        None => None,
    };
    let mut written = Vec::new();
    let mut docs = Vec::new();
    let result = create(
        args,
        &plan,
        &remote,
        kiali.as_ref(),
        &mut outcome,
        &mut written,
        &mut docs,
    )
    .await;
    if let Err(err) = result {
        rollback(&remote, written).await;
        return Err(err);
    }
    if args.dry_run {
        write_dry_run(out, args, &plan, &docs)?;
    } else {
        for a in &outcome.actions {
            writeln!(out, "{a}").map_err(|e| Error::Output(e.to_string()))?;
        }
    }
    Ok(outcome)
}

fn load_kubeconfig(args: &Args) -> Result<Kubeconfig> {
    match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig {
            origin: path.display().to_string(),
            cause: describe_kubeconfig(&e),
        }),
        None => Kubeconfig::read().map_err(|e| Error::Kubeconfig {
            origin: "$KUBECONFIG or ~/.kube/config".to_string(),
            cause: describe_kubeconfig(&e),
        }),
    }
}

/// Everything resolved from the options and the kubeconfig before any cluster is contacted.
struct Plan {
    kiali_context: Option<String>,
    remote_context: String,
    remote_entry: String,
    cluster_name: String,
    server_url: String,
    trust: KubeconfigTrust,
}

impl Plan {
    fn new(args: &Args, kubeconfig: &Kubeconfig) -> Result<Plan> {
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

/// A cluster-admin-side client for one context, checked to answer.
struct Side_ {
    side: Side,
    context: String,
    client: Client,
}

impl Side_ {
    fn kube_err(&self, action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error + '_ {
        let action = action.into();
        move |e| Error::Kube {
            action,
            side: self.side.word(),
            context: self.context.clone(),
            cause: describe(&e),
        }
    }
}

async fn client_for(
    kubeconfig: &Kubeconfig,
    context: &str,
    side: &'static str,
) -> Result<(Client, String)> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .map_err(|e| Error::Kubeconfig {
            origin: format!("context {context:?}"),
            cause: describe_kubeconfig(&e),
        })?;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(30));
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::Unreachable {
        side,
        context: context.to_string(),
        url: url.clone(),
        cause: describe(&e),
    })?;
    Ok((client, url))
}

async fn connect(kubeconfig: &Kubeconfig, context: &str, side: Side) -> Result<Side_> {
    let (client, url) = client_for(kubeconfig, context, side.word()).await?;
    match client.apiserver_version().await {
        Ok(_) => Ok(Side_ {
            side,
            context: context.to_string(),
            client,
        }),
        Err(e @ kube::Error::Api(_)) => Err(Error::Kube {
            action: "reading the API server version".to_string(),
            side: side.word(),
            context: context.to_string(),
            cause: describe(&e),
        }),
        Err(e) => Err(Error::Unreachable {
            side: side.word(),
            context: context.to_string(),
            url,
            cause: describe(&e),
        }),
    }
}

/// An object this run created on the remote cluster; removed again if the run fails.
enum Written {
    Namespace(String),
    ServiceAccount(String, String),
    ClusterRole(String),
    ClusterRoleBinding(String),
    Secret(String, String),
}

/// One YAML document for `--dry-run`, with the cluster it belongs to.
struct Doc {
    side: Side,
    yaml: String,
    note: Option<String>,
}

fn yaml_of<K: Serialize>(obj: &K) -> Result<String> {
    serde_yaml_ng::to_string(obj).map_err(|_| Error::Encode {
        what: "an object as YAML",
        cause: "YAML serialization failed".to_string(),
    })
}

/// Server-side apply with the CLI's field manager; reports whether the object was created, changed or left as is
/// (same resourceVersion).
async fn apply<K>(api: &Api<K>, obj: &K) -> std::result::Result<Change, kube::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let before = api
        .get_opt(&name)
        .await?
        .and_then(|o| o.meta().resource_version.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api.patch(&name, &params, &Patch::Apply(obj)).await?;
    Ok(match before {
        None => Change::Created,
        Some(rv) if Some(&rv) == after.meta().resource_version.as_ref() => Change::Unchanged,
        Some(_) => Change::Updated,
    })
}

fn action<K: Resource<DynamicType = ()>>(side: Side, obj: &K, change: Change) -> Action {
    Action {
        side,
        kind: static_kind::<K>(),
        namespace: obj.meta().namespace.clone(),
        name: obj.meta().name.clone().unwrap_or_default(),
        change,
    }
}

fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    // The kinds the CLI handles, as static strings for `Action`.
    match K::kind(&()).as_ref() {
        "Namespace" => "Namespace",
        "ServiceAccount" => "ServiceAccount",
        "ClusterRole" => "ClusterRole",
        "ClusterRoleBinding" => "ClusterRoleBinding",
        "Secret" => "Secret",
        _ => "object",
    }
}

async fn create(
    args: &Args,
    plan: &Plan,
    remote: &Side_,
    kiali: Option<&Side_>,
    outcome: &mut Outcome,
    written: &mut Vec<Written>,
    docs: &mut Vec<Doc>,
) -> Result<()> {
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

    let ns = args.remote_cluster_namespace.as_str();
    let name = args.kiali_resource_name.as_str();
    if args.process_remote_resources {
        let objs = objects::remote_objects(name, ns, args.view_only);
        let namespaces: Api<Namespace> = Api::all(remote.client.clone());
        let existing = namespaces
            .get_opt(ns)
            .await
            .map_err(remote.kube_err(format!("reading namespace {ns}")))?;
        if args.dry_run {
            if existing.is_none() {
                docs.push(Doc {
                    side: Side::Remote,
                    yaml: yaml_of(&objs.namespace)?,
                    note: None,
                });
            }
            for yaml in [
                yaml_of(&objs.service_account)?,
                yaml_of(&objs.cluster_role)?,
                yaml_of(&objs.cluster_role_binding)?,
                yaml_of(&objs.token_secret)?,
            ] {
                docs.push(Doc {
                    side: Side::Remote,
                    yaml,
                    note: None,
                });
            }
            outcome.actions.extend([
                action(Side::Remote, &objs.service_account, Change::WouldApply),
                action(Side::Remote, &objs.cluster_role, Change::WouldApply),
                action(Side::Remote, &objs.cluster_role_binding, Change::WouldApply),
                action(Side::Remote, &objs.token_secret, Change::WouldApply),
            ]);
        } else {
            if existing.is_none() {
                // Created, not applied: an existing namespace is never claimed by this tool.
                namespaces
                    .create(&PostParams::default(), &objs.namespace)
                    .await
                    .map_err(remote.kube_err(format!("creating namespace {ns}")))?;
                written.push(Written::Namespace(ns.to_string()));
                outcome
                    .actions
                    .push(action(Side::Remote, &objs.namespace, Change::Created));
            }
            let c = remote.client.clone();
            let change = apply(
                &Api::<ServiceAccount>::namespaced(c.clone(), ns),
                &objs.service_account,
            )
            .await
            .map_err(remote.kube_err("applying the ServiceAccount"))?;
            note(
                written,
                change,
                Written::ServiceAccount(ns.to_string(), name.to_string()),
            );
            outcome
                .actions
                .push(action(Side::Remote, &objs.service_account, change));

            let change = apply(&Api::<ClusterRole>::all(c.clone()), &objs.cluster_role)
                .await
                .map_err(remote.kube_err("applying the ClusterRole"))?;
            note(
                written,
                change,
                Written::ClusterRole(objs.cluster_role.name_any()),
            );
            outcome
                .actions
                .push(action(Side::Remote, &objs.cluster_role, change));

            let change = apply(
                &Api::<ClusterRoleBinding>::all(c.clone()),
                &objs.cluster_role_binding,
            )
            .await
            .map_err(remote.kube_err("applying the ClusterRoleBinding"))?;
            note(
                written,
                change,
                Written::ClusterRoleBinding(name.to_string()),
            );
            outcome
                .actions
                .push(action(Side::Remote, &objs.cluster_role_binding, change));

            let change = apply(&Api::<Secret>::namespaced(c, ns), &objs.token_secret)
                .await
                .map_err(remote.kube_err("applying the token Secret"))?;
            note(
                written,
                change,
                Written::Secret(ns.to_string(), name.to_string()),
            );
            outcome
                .actions
                .push(action(Side::Remote, &objs.token_secret, change));
        }
    }

    // The token: waited for unless dry-running, where an existing one is used and a placeholder otherwise.
    let secrets: Api<Secret> = Api::namespaced(remote.client.clone(), ns);
    let token = if args.dry_run {
        find_token(remote, &secrets, name).await?
    } else {
        Some(wait_token(args, remote, &secrets).await?)
    };

    // The CA: from the kubeconfig, else the remote kube-root-ca.crt ConfigMap, else skip-verify when allowed.
    let root = match &plan.trust {
        KubeconfigTrust::Ca(_) => None,
        KubeconfigTrust::Insecure | KubeconfigTrust::Nothing => root_ca(remote, ns).await?,
    };
    let mut trust = choose_trust(
        &plan.trust,
        root,
        args.allow_skip_tls_verify,
        &plan.remote_entry,
    )?;

    let kubeconfig_yaml = match &token {
        Some(found) => {
            let generated = objects::remote_kubeconfig(
                &plan.cluster_name,
                &plan.server_url,
                &trust,
                &found.token,
            )?;
            if let Err(failure) = verify(plan, generated, found).await {
                match failure {
                    VerifyFailure::Tls(cause)
                        if args.allow_skip_tls_verify && trust != Trust::SkipVerify =>
                    {
                        info!(cluster = %plan.cluster_name, "the CA does not verify the remote API server; using insecure-skip-tls-verify as allowed");
                        trust = Trust::SkipVerify;
                        let generated = objects::remote_kubeconfig(
                            &plan.cluster_name,
                            &plan.server_url,
                            &trust,
                            &found.token,
                        )?;
                        verify(plan, generated, found)
                            .await
                            .map_err(|f| f.into_error(plan, &cause))?;
                    }
                    other => return Err(other.into_error(plan, "")),
                }
            }
            objects::kubeconfig_yaml(&objects::remote_kubeconfig(
                &plan.cluster_name,
                &plan.server_url,
                &trust,
                &found.token,
            )?)?
        }
        None => objects::kubeconfig_yaml(&objects::remote_kubeconfig(
            &plan.cluster_name,
            &plan.server_url,
            &trust,
            PLACEHOLDER_TOKEN,
        )?)?,
    };

    if let Some(kiali) = kiali {
        let secret = objects::kiali_secret(
            &plan.cluster_name,
            &args.kiali_cluster_namespace,
            &kubeconfig_yaml,
        );
        if args.dry_run {
            let note = match &token {
                Some(_) => format!(
                    "WARNING: this Secret holds a live credential: the token of ServiceAccount {ns}/{name} on \
                     cluster {:?}. Keep this output private.",
                    plan.cluster_name
                ),
                None => format!(
                    "NOTE: the token Secret {ns}/{name} does not exist yet on the remote cluster, so this \
                     kubeconfig holds the placeholder token {PLACEHOLDER_TOKEN:?}."
                ),
            };
            docs.push(Doc {
                side: Side::Kiali,
                yaml: yaml_of(&objects::readable_secret(&secret))?,
                note: Some(note),
            });
            outcome
                .actions
                .push(action(Side::Kiali, &secret, Change::WouldApply));
        } else {
            let api: Api<Secret> =
                Api::namespaced(kiali.client.clone(), &args.kiali_cluster_namespace);
            let change = apply(&api, &secret)
                .await
                .map_err(kiali.kube_err("applying the remote-cluster Secret"))?;
            outcome.actions.push(action(Side::Kiali, &secret, change));
        }
    }
    Ok(())
}

/// The CA for the generated kubeconfig: the kubeconfig's own, else the remote `kube-root-ca.crt`, else (only
/// when allowed) skipping TLS verification. Whether the chosen CA really verifies the server is proven later.
fn choose_trust(
    from_kubeconfig: &KubeconfigTrust,
    root_ca: Option<Vec<u8>>,
    allow_skip: bool,
    cluster: &str,
) -> Result<Trust> {
    match (from_kubeconfig, root_ca) {
        (KubeconfigTrust::Ca(pem), _) => Ok(Trust::Ca(pem.clone())),
        (_, Some(pem)) => Ok(Trust::Ca(pem)),
        (_, None) if allow_skip => Ok(Trust::SkipVerify),
        (_, None) => Err(Error::SkipTlsNotAllowed {
            cluster: cluster.to_string(),
            detail: format!(
                "the kubeconfig has no CA and the remote has no {ROOT_CA_CONFIGMAP} ConfigMap"
            ),
        }),
    }
}

/// Token written into `--dry-run` output when the token Secret does not exist yet.
pub const PLACEHOLDER_TOKEN: &str = "dry-run-placeholder-token";

fn note(written: &mut Vec<Written>, change: Change, what: Written) {
    if change == Change::Created {
        written.push(what);
    }
}

/// A populated token Secret and the ServiceAccount it belongs to.
struct FoundToken {
    secret: String,
    service_account: String,
    namespace: String,
    token: String,
}

fn token_of(secret: &Secret) -> Option<String> {
    let token = secret.data.as_ref()?.get("token")?;
    let token = String::from_utf8(token.0.clone()).ok()?;
    (!token.is_empty()).then_some(token)
}

/// The token Secret named `name`, else any populated token Secret annotated for ServiceAccount `name`.
async fn find_token(
    remote: &Side_,
    secrets: &Api<Secret>,
    name: &str,
) -> Result<Option<FoundToken>> {
    let ns = secrets.namespace().unwrap_or_default().to_string();
    let found = |s: &Secret, token: String| FoundToken {
        secret: s.name_any(),
        service_account: s
            .annotations()
            .get(SERVICE_ACCOUNT_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| name.to_string()),
        namespace: ns.clone(),
        token,
    };
    let named = secrets
        .get_opt(name)
        .await
        .map_err(remote.kube_err(format!("reading Secret {ns}/{name}")))?;
    if let Some(secret) = &named {
        return Ok(token_of(secret).map(|t| found(secret, t)));
    }
    let list = secrets
        .list(&ListParams::default().fields(&format!("type={TOKEN_SECRET_TYPE}")))
        .await
        .map_err(remote.kube_err(format!("listing token Secrets in {ns}")))?;
    let mut candidates: Vec<&Secret> = list
        .items
        .iter()
        .filter(|s| {
            s.annotations()
                .get(SERVICE_ACCOUNT_ANNOTATION)
                .map(String::as_str)
                == Some(name)
        })
        .collect();
    candidates.sort_by_key(|s| s.name_any());
    Ok(candidates
        .into_iter()
        .find_map(|s| token_of(s).map(|t| found(s, t))))
}

async fn wait_token(args: &Args, remote: &Side_, secrets: &Api<Secret>) -> Result<FoundToken> {
    let name = &args.kiali_resource_name;
    let deadline = Instant::now() + args.token_timeout;
    info!(secret = %name, namespace = %args.remote_cluster_namespace, "waiting for the remote token Secret");
    loop {
        if let Some(found) = find_token(remote, secrets, name).await? {
            info!(secret = %found.secret, namespace = %found.namespace, "using the token of this Secret");
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(Error::TokenTimeout {
                context: remote.context.clone(),
                namespace: args.remote_cluster_namespace.clone(),
                name: name.clone(),
                secs: args.token_timeout.as_secs(),
                hint: if args.process_remote_resources {
                    "the remote token controller did not fill it in; check that kube-controller-manager runs there \
                     with --service-account-private-key-file"
                } else {
                    "apply a Kiali CR with spec.deployment.remote_cluster_resources_only: true on the remote cluster \
                     (its operator makes the token Secret) or rerun with --process-remote-resources true; check \
                     --kiali-resource-name and --remote-cluster-namespace"
                },
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// PEM of the remote `kube-root-ca.crt` ConfigMap (in the remote namespace, else in kube-system).
async fn root_ca(remote: &Side_, namespace: &str) -> Result<Option<Vec<u8>>> {
    for ns in [namespace, "kube-system"] {
        let api: Api<ConfigMap> = Api::namespaced(remote.client.clone(), ns);
        let cm = api
            .get_opt(ROOT_CA_CONFIGMAP)
            .await
            .map_err(remote.kube_err(format!("reading ConfigMap {ns}/{ROOT_CA_CONFIGMAP}")))?;
        if let Some(pem) = cm
            .and_then(|cm| cm.data?.get("ca.crt").cloned())
            .filter(|p| !p.is_empty())
        {
            return Ok(Some(pem.into_bytes()));
        }
    }
    Ok(None)
}

enum VerifyFailure {
    Tls(String),
    Error(Error),
}

impl VerifyFailure {
    fn into_error(self, plan: &Plan, earlier_tls: &str) -> Error {
        match self {
            VerifyFailure::Error(e) => e,
            VerifyFailure::Tls(cause) => Error::SkipTlsNotAllowed {
                cluster: plan.cluster_name.clone(),
                detail: format!(
                    "the CA does not verify the API server at {} ({})",
                    plan.server_url,
                    if earlier_tls.is_empty() {
                        cause
                    } else {
                        earlier_tls.to_string()
                    }
                ),
            },
        }
    }
}

fn looks_like_tls(err: &kube::Error) -> bool {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push(' ');
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    let text = text.to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls") || text.contains("unknownissuer")
}

/// Uses the generated kubeconfig against the remote API: it must authenticate and hold every permission of
/// [`objects::required_access`]. RBAC and token caches may lag a just-written binding or token by a moment, so
/// refusals are retried for a short while before they count.
async fn verify(
    plan: &Plan,
    generated: Kubeconfig,
    found: &FoundToken,
) -> std::result::Result<(), VerifyFailure> {
    const SETTLE: Duration = Duration::from_secs(20);
    let (client, url) = client_for(&generated, &plan.cluster_name, "remote")
        .await
        .map_err(VerifyFailure::Error)?;
    let deadline = Instant::now() + SETTLE;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let required = objects::required_access();
    loop {
        let last = match client.apiserver_version().await {
            Err(e) if !matches!(e, kube::Error::Api(_)) => {
                return Err(if looks_like_tls(&e) {
                    VerifyFailure::Tls(describe(&e))
                } else {
                    VerifyFailure::Error(Error::Unreachable {
                        side: "remote",
                        context: format!("generated for {}", plan.cluster_name),
                        url: url.clone(),
                        cause: describe(&e),
                    })
                });
            }
            Err(e) => Error::CredentialRejected {
                cluster: plan.cluster_name.clone(),
                url: url.clone(),
                cause: describe(&e),
            },
            Ok(_) => {
                let checks = required.iter().map(|access| {
                    let reviews = reviews.clone();
                    async move {
                        (
                            access,
                            reviews
                                .create(&PostParams::default(), &objects::access_review(access))
                                .await,
                        )
                    }
                });
                let results = futures::future::join_all(checks).await;
                let mut missing = Vec::new();
                let mut failure = None;
                for (access, result) in results {
                    match result {
                        Ok(review) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
                        Ok(_) => missing.push(access.to_string()),
                        Err(e) if failure.is_none() => {
                            failure = Some(if is_status(&e, 401) {
                                Error::CredentialRejected {
                                    cluster: plan.cluster_name.clone(),
                                    url: url.clone(),
                                    cause: describe(&e),
                                }
                            } else {
                                Error::Kube {
                                    action: format!(
                                        "asking whether the generated credentials may {access}"
                                    ),
                                    side: "remote",
                                    context: plan.remote_context.clone(),
                                    cause: describe(&e),
                                }
                            });
                        }
                        Err(_) => {}
                    }
                }
                match (failure, missing.first()) {
                    (Some(e), _) => e,
                    (None, None) => return Ok(()),
                    (None, Some(first)) => Error::PermissionMissing {
                        cluster: plan.cluster_name.clone(),
                        namespace: found.namespace.clone(),
                        service_account: found.service_account.clone(),
                        missing: first.clone(),
                        more: match missing.len() - 1 {
                            0 => String::new(),
                            n => format!(" (and {n} more permissions)"),
                        },
                    },
                }
            }
        };
        if Instant::now() >= deadline {
            return Err(VerifyFailure::Error(last));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Removes the remote objects a failed run created, newest first. Best effort: the error that stopped the run is
/// what the user sees.
async fn rollback(remote: &Side_, written: Vec<Written>) {
    let c = remote.client.clone();
    let dp = DeleteParams::default();
    for what in written.into_iter().rev() {
        let (label, result) = match &what {
            Written::Namespace(n) => (
                format!("Namespace {n}"),
                Api::<Namespace>::all(c.clone())
                    .delete(n, &dp)
                    .await
                    .map(drop),
            ),
            Written::ServiceAccount(ns, n) => (
                format!("ServiceAccount {ns}/{n}"),
                Api::<ServiceAccount>::namespaced(c.clone(), ns)
                    .delete(n, &dp)
                    .await
                    .map(drop),
            ),
            Written::ClusterRole(n) => (
                format!("ClusterRole {n}"),
                Api::<ClusterRole>::all(c.clone())
                    .delete(n, &dp)
                    .await
                    .map(drop),
            ),
            Written::ClusterRoleBinding(n) => (
                format!("ClusterRoleBinding {n}"),
                Api::<ClusterRoleBinding>::all(c.clone())
                    .delete(n, &dp)
                    .await
                    .map(drop),
            ),
            Written::Secret(ns, n) => (
                format!("Secret {ns}/{n}"),
                Api::<Secret>::namespaced(c.clone(), ns)
                    .delete(n, &dp)
                    .await
                    .map(drop),
            ),
        };
        match result {
            Ok(()) => info!(object = %label, "removed again after the failure"),
            Err(e) if is_status(&e, 404) => {}
            Err(e) => {
                tracing::warn!(object = %label, error = %describe(&e), "could not remove after the failure")
            }
        }
    }
}

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
async fn delete(
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

    const KUBECONFIG: &str = r#"
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

    fn plan(extra: &[&str]) -> Result<Plan> {
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

    #[test]
    fn kubeconfig_errors_never_quote_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "users:\n- name: a\n  user: {token: very-secret-token\n  : [",
        )
        .expect("write");
        let args = parse_args(["remote-secret", "--kubeconfig", &path.display().to_string()])
            .expect("parses");
        let err = load_kubeconfig(&args).expect_err("bad YAML");
        assert_eq!(err.category(), "kubeconfig");
        let msg = err.to_string();
        assert!(
            !msg.contains("very-secret-token") && !msg.contains('\n'),
            "{msg}"
        );
    }

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

    #[test]
    fn trust_prefers_the_kubeconfig_then_the_root_ca_and_skips_only_when_allowed() {
        let kc = KubeconfigTrust::Ca(b"KC".to_vec());
        let root = || Some(b"ROOT".to_vec());
        assert_eq!(
            choose_trust(&kc, root(), false, "w").expect("kc"),
            Trust::Ca(b"KC".to_vec())
        );
        for from in [KubeconfigTrust::Insecure, KubeconfigTrust::Nothing] {
            assert_eq!(
                choose_trust(&from, root(), false, "w").expect("root"),
                Trust::Ca(b"ROOT".to_vec())
            );
            assert_eq!(
                choose_trust(&from, None, true, "w").expect("skip"),
                Trust::SkipVerify
            );
            let err = choose_trust(&from, None, false, "w").expect_err("not allowed");
            assert_eq!(err.category(), "skip_tls_not_allowed");
            assert!(
                err.to_string().contains("--allow-skip-tls-verify true"),
                "{err}"
            );
        }
    }

    #[test]
    fn actions_read_as_sentences() {
        let a = Action {
            side: Side::Remote,
            kind: "ServiceAccount",
            namespace: Some("kiali-access-ns".into()),
            name: "kiali-remote-access".into(),
            change: Change::Created,
        };
        assert_eq!(
            a.to_string(),
            "remote cluster: ServiceAccount kiali-access-ns/kiali-remote-access created"
        );
        let outcome = Outcome {
            actions: vec![Action {
                change: Change::Unchanged,
                ..a.clone()
            }],
            ..Default::default()
        };
        assert!(outcome.changed_nothing());
        assert!(
            !Outcome {
                actions: vec![a],
                ..Default::default()
            }
            .changed_nothing()
        );
    }
}
