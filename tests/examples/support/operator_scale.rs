//! The operator at scale, shared by `tests/tests/operator_scale.rs` (50 namespaces, in `make test`)
//! and the `operator_bench` example (`make bench-operator`, 2,000 namespaces): the real
//! `meshglass-operator run` process ([`OperatorProcess`]) on one cluster, `n` namespaces
//! `<prefix>-n0000…` labelled for the CR's discovery selectors, and a Kiali CR with
//! `deployment.cluster_wide_access: false`, so that the operator writes a Role and a RoleBinding in
//! each of them. Timed: CR created → `Successful`, a spec change (`deployment.logger.log_level`) →
//! `Successful` for the new generation, and CR deleted → gone (the finalizer prunes every child);
//! measured: the Roles and RoleBindings that exist, and the operator's peak RSS (VmHWM).
//! Includers provide `crate::common` (tests/tests/common/mod.rs).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use meshglass_crds::names;
use meshglass_operator::crds::Kiali;
use meshglass_testbed::faults::OperatorProcess;
use meshglass_testbed::{Cluster, TestNamespace};

use crate::common::{
    delete_cr_and_wait_within, install_kiali_crd, test_namespace, wait_successful_within,
};

/// Namespaces created (and deleted afterwards) at a time.
const WRITES_AT_ONCE: usize = 16;
/// The label the CR's `discovery_selectors.default` matches, valued with the CR's namespace.
const LABEL: &str = "meshglass.io/scale";

/// What one run measured.
#[derive(Debug, Default)]
pub struct Figures {
    pub namespaces: usize,
    /// Creating the `n` labelled namespaces (16 at a time).
    pub create_namespaces: Duration,
    /// CR created → `Successful` for generation 1.
    pub first: Duration,
    /// The operator's own duration of that reconcile (`status.progress.duration`).
    pub first_reported: String,
    /// Roles and RoleBindings of the CR in the `n` namespaces once `Successful`.
    pub roles: usize,
    pub bindings: usize,
    /// `deployment.logger.log_level` changed → `Successful` for the new generation.
    pub change: Duration,
    pub change_reported: String,
    /// CR deleted → gone, its cluster-scoped RBAC too (the finalizer's prune).
    pub delete: Duration,
    /// Reconciles run and their total seconds (the operator's `/metrics`).
    pub reconciles: f64,
    pub reconcile_seconds: f64,
    /// Peak resident set of the operator process (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

impl Figures {
    /// The figures as the lines the bench prints and the test shows.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "namespaces: {} (created in {:.1} s)",
                self.namespaces,
                self.create_namespaces.as_secs_f64()
            ),
            format!(
                "CR created -> Successful: {:.1} s (reconcile {}), {} Roles, {} RoleBindings",
                self.first.as_secs_f64(),
                self.first_reported,
                self.roles,
                self.bindings
            ),
            format!(
                "deployment.logger.log_level changed -> Successful: {:.1} s (reconcile {})",
                self.change.as_secs_f64(),
                self.change_reported
            ),
            format!(
                "CR deleted -> gone (prune): {:.1} s",
                self.delete.as_secs_f64()
            ),
            format!(
                "reconciles: {} ({:.1} s in total)",
                self.reconciles, self.reconcile_seconds
            ),
            format!("operator peak RSS (VmHWM): {} MiB", self.peak_rss_mib),
        ]
    }
}

/// The namespace names of a run whose CR lives in `prefix`.
pub fn namespace_names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-n{i:04}")).collect()
}

/// Runs the whole scenario on `cluster` with the operator `binary` (its log in `log_dir`), `n`
/// namespaces, giving each wait `timeout`.
#[allow(
    dead_code,
    reason = "the test runs the steps itself, with checks between them"
)]
pub async fn run(
    cluster: &Cluster,
    binary: &Path,
    log_dir: &Path,
    n: usize,
    timeout: Duration,
) -> Figures {
    let mut scale = Scale::start(cluster, binary, log_dir, n, timeout).await;
    scale.create_cr().await;
    scale.change_spec().await;
    scale.delete_cr().await;
    scale.finish().await
}

/// The scenario step by step (the test checks more between the steps).
pub struct Scale {
    pub client: Client,
    operator: OperatorProcess,
    own: TestNamespace,
    wanted: Vec<String>,
    timeout: Duration,
    figures: Figures,
}

impl Scale {
    /// Installs the Kiali CRD, starts the operator and waits until it is ready, then creates the
    /// CR's namespace `scale-<random>` and the `n` labelled namespaces.
    pub async fn start(
        cluster: &Cluster,
        binary: &Path,
        log_dir: &Path,
        n: usize,
        timeout: Duration,
    ) -> Scale {
        let client = cluster.client().await.expect("client");
        install_kiali_crd(&client).await;
        let mut operator = OperatorProcess::start(
            binary,
            &cluster.kubeconfig_path(),
            &log_dir.join("operator.log"),
        )
        .expect("the operator starts");
        operator.wait_ready().await.expect("the operator is ready");
        let own: TestNamespace = test_namespace(&client, "scale").await;
        let prefix = own.name().to_string();
        let wanted = namespace_names(&prefix, n);
        let started = Instant::now();
        for_each_namespace(&wanted, |name| create_namespace(&client, name, &prefix)).await;
        let figures = Figures {
            namespaces: n,
            create_namespaces: started.elapsed(),
            ..Figures::default()
        };
        Scale {
            client,
            operator,
            own,
            wanted,
            timeout,
            figures,
        }
    }

    /// The CR's namespace, also its instance name and the prefix of the selected namespaces.
    pub fn prefix(&self) -> &str {
        self.own.name()
    }

    /// The selected namespaces.
    #[allow(dead_code, reason = "the test edits some of them")]
    pub fn namespaces(&self) -> &[String] {
        &self.wanted
    }

    fn api(&self) -> Api<Kiali> {
        Api::namespaced(self.client.clone(), self.prefix())
    }

    /// Creates the CR and waits for `Successful`; counts the Roles and RoleBindings then.
    pub async fn create_cr(&mut self) {
        let prefix = self.prefix().to_string();
        let cr: Kiali = serde_json::from_value(serde_json::json!({
            "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
            "metadata": {"name": "kiali", "namespace": prefix},
            "spec": {
                "auth": {"strategy": "anonymous"},
                "deployment": {
                    "instance_name": prefix,
                    "cluster_wide_access": false,
                    "discovery_selectors": {"default": [{"matchLabels": {LABEL: prefix}}]},
                },
            },
        }))
        .expect("CR");
        let started = Instant::now();
        self.api()
            .create(&PostParams::default(), &cr)
            .await
            .expect("CR created");
        let k = wait_successful_within(&self.client, &prefix, "kiali", self.timeout).await;
        self.figures.first = started.elapsed();
        self.figures.first_reported = reported_duration(&k);
        (self.figures.roles, self.figures.bindings) = self.owned_rbac().await;
        self.operator.assert_running();
    }

    /// Changes `deployment.logger.log_level` and waits for `Successful` of the new generation.
    pub async fn change_spec(&mut self) {
        let started = Instant::now();
        self.api()
            .patch(
                "kiali",
                &PatchParams::default(),
                &Patch::Merge(
                    serde_json::json!({"spec": {"deployment": {"logger": {"log_level": "debug"}}}}),
                ),
            )
            .await
            .expect("spec change");
        let k = wait_successful_within(&self.client, self.prefix(), "kiali", self.timeout).await;
        self.figures.change = started.elapsed();
        self.figures.change_reported = reported_duration(&k);
        self.operator.assert_running();
    }

    /// Deletes the CR and waits until it and its cluster-scoped RBAC are gone.
    pub async fn delete_cr(&mut self) {
        let started = Instant::now();
        let prefix = self.prefix().to_string();
        delete_cr_and_wait_within(&self.client, &prefix, "kiali", &prefix, self.timeout).await;
        self.figures.delete = started.elapsed();
        self.operator.assert_running();
    }

    /// How many of the selected namespaces hold the CR's Role, and how many its RoleBinding.
    pub async fn owned_rbac(&self) -> (usize, usize) {
        let selected: HashSet<&String> = self.wanted.iter().collect();
        let (roles, bindings) = owned_rbac(&self.client, self.prefix()).await;
        let count = |v: Vec<String>| v.iter().filter(|ns| selected.contains(ns)).count();
        (count(roles), count(bindings))
    }

    /// Reads the operator's peak RSS and reconcile counters, deletes the namespaces and returns the
    /// figures.
    pub async fn finish(mut self) -> Figures {
        self.figures.peak_rss_mib = self.operator.peak_rss_mib();
        (self.figures.reconciles, self.figures.reconcile_seconds) =
            reconcile_metrics(&self.operator).await;
        for_each_namespace(&self.wanted, |name| delete_namespace(&self.client, name)).await;
        self.own.delete().await.expect("delete the CR's namespace");
        self.figures
    }
}

async fn for_each_namespace<'a, F, Fut>(names: &'a [String], f: F)
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    futures::stream::iter(names.iter().map(|n| f(n.as_str())))
        .buffer_unordered(WRITES_AT_ONCE)
        .try_collect::<Vec<()>>()
        .await
        .expect("namespace writes");
}

async fn create_namespace(client: &Client, name: &str, prefix: &str) -> Result<(), kube::Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([(LABEL.to_string(), prefix.to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map(|_| ())
}

async fn delete_namespace(client: &Client, name: &str) -> Result<(), kube::Error> {
    match Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The namespaces holding a Role, and those holding a RoleBinding, of the CR `kiali` in `cr_ns`
/// (named after the instance, which is `cr_ns`).
async fn owned_rbac(client: &Client, cr_ns: &str) -> (Vec<String>, Vec<String>) {
    let lp = ListParams::default().labels(&format!(
        "{}={cr_ns},{}={}",
        names::OWNER_NAMESPACE_LABEL,
        names::OWNER_NAME_LABEL,
        names::owner_label_value("kiali")
    ));
    let roles = Api::<Role>::all(client.clone())
        .list_metadata(&lp)
        .await
        .expect("list Roles");
    let bindings = Api::<RoleBinding>::all(client.clone())
        .list_metadata(&lp)
        .await
        .expect("list RoleBindings");
    (
        in_namespaces(roles.items, cr_ns),
        in_namespaces(bindings.items, cr_ns),
    )
}

/// The namespaces of the objects named `name`.
fn in_namespaces<K: kube::Resource>(
    items: Vec<kube::core::PartialObjectMeta<K>>,
    name: &str,
) -> Vec<String> {
    items
        .into_iter()
        .filter(|o| o.name_any() == name)
        .filter_map(|o| o.namespace())
        .collect()
}

fn reported_duration(k: &Kiali) -> String {
    k.status
        .as_ref()
        .and_then(|s| s.progress.as_ref())
        .and_then(|p| p.duration.clone())
        .unwrap_or_else(|| "n/a".into())
}

/// `meshglass_operator_reconciles_total` and the sum of `…_reconcile_duration_seconds`.
async fn reconcile_metrics(operator: &OperatorProcess) -> (f64, f64) {
    let text = OperatorProcess::http()
        .get(format!("{}/metrics", operator.admin))
        .send()
        .await
        .expect("/metrics")
        .text()
        .await
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.split(' ').next() == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (
        value("meshglass_operator_reconciles_total"),
        value("meshglass_operator_reconcile_duration_seconds_sum"),
    )
}
