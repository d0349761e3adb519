//! End-to-end: every bad input of `meshglass-operator remote-secret` gives a one-line error that names the problem
//! and what to do, and leaves nothing written on either cluster.

use std::time::Duration;

use k8s_openapi::api::{
    core::v1::{Namespace, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{Api, ResourceExt, config::Kubeconfig};
use meshglass_operator::remote_secret::{self, Error};
use meshglass_testbed::{create_service_account, named, wait_gone};

mod common;
use common::{
    RemoteSecretCase, create, east_west_opts, exists, kubeconfig_file, run_remote_secret,
    unused_port,
};

/// Runs the CLI expecting a failure; checks the error is one line, has the category, names `needles`, and that
/// the command's own output stayed empty.
async fn fails(
    kubeconfig: &str,
    extra: &[&str],
    timeout: Option<Duration>,
    category: &str,
    needles: &[&str],
) -> Error {
    let (outcome, out) = run_remote_secret(kubeconfig, extra, timeout).await;
    let err = outcome.expect_err("the run must fail");
    let msg = err.to_string();
    assert_eq!(err.category(), category, "{msg}");
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    assert!(out.is_empty(), "printed on failure: {out}");
    err
}

/// [`fails`] for a run that uses the remote objects as they are (`--process-remote-resources false`); east is
/// left without a Secret for west.
async fn fails_with_existing_remote_objects(
    case: &RemoteSecretCase,
    timeout: Option<Duration>,
    category: &str,
    needles: &[&str],
) {
    fails(
        &case.kubeconfig,
        &[case.opts(), vec!["--process-remote-resources", "false"]].concat(),
        timeout,
        category,
        needles,
    )
    .await;
    no_secret_on_east(
        case,
        case.kiali_ns.name(),
        "kiali-remote-cluster-secret-west",
    )
    .await;
}

/// Asserts that neither cluster holds any object named after the case's resource name, nor east the west Secret
/// in `kiali_ns`.
async fn nothing_written(case: &RemoteSecretCase, kiali_ns: &str) {
    let (west, remote_ns, name) = (&case.west, &case.remote_ns, &case.name);
    no_secret_on_east(case, kiali_ns, "kiali-remote-cluster-secret-west").await;
    assert!(
        !exists(
            &Api::<ServiceAccount>::namespaced(west.clone(), remote_ns),
            name
        )
        .await
    );
    assert!(!exists(&Api::<Secret>::namespaced(west.clone(), remote_ns), name).await);
    assert!(!exists(&Api::<ClusterRoleBinding>::all(west.clone()), name).await);
    for role in [name.to_string(), format!("{name}-viewer")] {
        assert!(!exists(&Api::<ClusterRole>::all(west.clone()), &role).await);
    }
}

/// Asserts that east holds no remote-cluster Secret `secret` in `kiali_ns`.
async fn no_secret_on_east(case: &RemoteSecretCase, kiali_ns: &str, secret: &str) {
    assert!(
        !exists(
            &Api::<Secret>::namespaced(case.east.clone(), kiali_ns),
            secret
        )
        .await,
        "a Secret was written on east"
    );
}

/// Asserts that west has no namespace named as the case's remote namespace.
async fn no_remote_namespace(case: &RemoteSecretCase) {
    assert!(!exists(&Api::<Namespace>::all(case.west.clone()), &case.remote_ns).await);
}

#[tokio::test]
async fn argument_errors_name_the_problem() {
    let case = RemoteSecretCase::new("rs-err").await;
    let base = [
        "--kiali-cluster-namespace",
        case.kiali_ns.name(),
        "--remote-cluster-namespace",
        &case.remote_ns,
        "--kiali-resource-name",
        &case.name,
    ];
    let contexts = |kiali: &'static str, remote: &'static str| {
        [
            "--kiali-cluster-context",
            kiali,
            "--remote-cluster-context",
            remote,
        ]
    };
    let cases: [(&[&str], &str, &[&str]); 3] = [
        // The same context twice.
        (
            &contexts("west", "west"),
            "same_context",
            &["\"west\"", "--remote-cluster-context"],
        ),
        // An unknown context: the known ones are listed.
        (
            &contexts("east", "north"),
            "unknown_context",
            &["\"north\"", "east, west"],
        ),
        // An invalid cluster name: the allowed pattern is shown.
        (
            &[
                &contexts("east", "west")[..],
                &["--remote-cluster-name", "west/1"],
            ]
            .concat(),
            "invalid_cluster_name",
            &[
                "\"west/1\"",
                remote_secret::args::CLUSTER_NAME_PATTERN,
                "--remote-cluster-name",
            ],
        ),
    ];
    for (options, category, needles) in cases {
        let argv = [&base[..], options].concat();
        fails(&case.kubeconfig, &argv, None, category, needles).await;
    }
    nothing_written(&case, case.kiali_ns.name()).await;
    no_remote_namespace(&case).await;
}

#[tokio::test]
async fn a_missing_kiali_namespace_stops_before_any_write() {
    // The case's own Kiali namespace only marks the test; the one named on the command line does not exist.
    let case = RemoteSecretCase::new("rs-nons").await;
    let missing = format!("rs-missing-{}", common::suffix(&case.kiali_ns));
    fails(
        &case.kubeconfig,
        &east_west_opts(&missing, &case.remote_ns, &case.name),
        None,
        "primary_namespace_missing",
        &[&missing, "--kiali-cluster-namespace"],
    )
    .await;
    nothing_written(&case, &missing).await;
    no_remote_namespace(&case).await;
}

#[tokio::test]
async fn an_unreachable_remote_api_is_reported() {
    let case = RemoteSecretCase::new("rs-down").await;

    // A kubeconfig with a context "down" whose API server does not listen (a port nobody holds).
    let port = unused_port();
    let mut kubeconfig = Kubeconfig::read_from(case.bed.kubeconfig_path()).expect("bed kubeconfig");
    let mut down_cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == "west")
        .expect("west")
        .clone();
    down_cluster.name = "down".into();
    if let Some(c) = down_cluster.cluster.as_mut() {
        c.server = Some(format!("https://127.0.0.1:{port}"));
    }
    let mut down_context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == "west")
        .expect("west")
        .clone();
    down_context.name = "down".into();
    if let Some(c) = down_context.context.as_mut() {
        c.cluster = "down".into();
    }
    kubeconfig.clusters.push(down_cluster);
    kubeconfig.contexts.push(down_context);
    let (_dir, path) = kubeconfig_file(&kubeconfig);

    fails(
        &path,
        &[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "down",
            "--kiali-cluster-namespace",
            case.kiali_ns.name(),
            "--remote-cluster-namespace",
            &case.remote_ns,
            "--kiali-resource-name",
            &case.name,
        ],
        None,
        "unreachable",
        &[&format!("127.0.0.1:{port}"), "\"down\""],
    )
    .await;
    no_secret_on_east(
        &case,
        case.kiali_ns.name(),
        "kiali-remote-cluster-secret-down",
    )
    .await;
    nothing_written(&case, case.kiali_ns.name()).await;
}

#[tokio::test]
async fn a_token_that_is_never_populated_times_out_with_advice() {
    let case = RemoteSecretCase::with_remote_namespace("rs-tok").await;
    let (name, remote_ns) = (&case.name, &case.remote_ns);
    // A Secret of that name exists but nothing ever puts a token in it.
    create(
        &Api::<Secret>::namespaced(case.west.clone(), remote_ns),
        &named(name),
    )
    .await;

    fails_with_existing_remote_objects(
        &case,
        Some(Duration::from_secs(3)),
        "token_timeout",
        &[
            &format!("{remote_ns}/{name}"),
            "remote_cluster_resources_only",
            "after 3s",
        ],
    )
    .await;
}

#[tokio::test]
async fn credentials_without_the_needed_permissions_are_refused_by_name() {
    let case = RemoteSecretCase::with_remote_namespace("rs-perm").await;
    let (name, remote_ns) = (&case.name, &case.remote_ns);
    // A ServiceAccount with a token but no role at all.
    create_service_account(&case.west, remote_ns, name, name)
        .await
        .expect("a ServiceAccount and its token Secret");

    fails_with_existing_remote_objects(
        &case,
        None,
        "permission_missing",
        &["may not list namespaces", &format!("{remote_ns}/{name}")],
    )
    .await;
}

#[tokio::test]
async fn a_failure_after_the_remote_writes_removes_them_again() {
    let case = RemoteSecretCase::new("rs-undo").await;
    // The URL the server would use does not answer: found only when the generated kubeconfig is proven, after
    // the ServiceAccount, role, binding, token Secret and namespace were created on west.
    let port = unused_port();
    let url = format!("https://127.0.0.1:{port}");
    fails(
        &case.kubeconfig,
        &[case.opts(), vec!["--remote-cluster-url", &url]].concat(),
        None,
        "unreachable",
        &[&format!("127.0.0.1:{port}")],
    )
    .await;
    nothing_written(&case, case.kiali_ns.name()).await;
    wait_gone(
        &Api::<Namespace>::all(case.west.clone()),
        &case.remote_ns,
        Duration::from_secs(60),
    )
    .await
    .expect("the namespace the failed run created is gone");
}

/// No takeover: a ClusterRole of the name the CLI would write, made by someone else, is neither changed nor adopted;
/// the error names it and how it is managed, and what the run created before is removed again.
#[tokio::test]
async fn an_object_the_cli_did_not_create_is_not_taken_over() {
    let case = RemoteSecretCase::with_remote_namespace("rs-own").await;
    let roles: Api<ClusterRole> = Api::all(case.west.clone());
    let mut names = Vec::new();
    for role in [case.name.clone(), format!("{}-viewer", case.name)] {
        let mut theirs: ClusterRole = named(&role);
        theirs.metadata.labels = Some(
            [(
                "app.kubernetes.io/managed-by".to_string(),
                "someone-else".to_string(),
            )]
            .into(),
        );
        create(&roles, &theirs).await;
        names.push(role);
    }
    fails(
        &case.kubeconfig,
        &case.opts(),
        None,
        "not_ours",
        &[
            &format!("ClusterRole {}", case.name),
            "managed by someone-else",
            "--kiali-resource-name",
        ],
    )
    .await;
    for role in &names {
        let kept = roles
            .get(role)
            .await
            .expect("the foreign ClusterRole stays");
        assert_eq!(
            kept.labels()
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("someone-else"),
            "{role} was relabelled"
        );
        assert_eq!(kept.rules, None, "{role} was rewritten");
    }
    // The ServiceAccount the run created before the refusal is gone again.
    wait_gone(
        &Api::<ServiceAccount>::namespaced(case.west.clone(), &case.remote_ns),
        &case.name,
        Duration::from_secs(30),
    )
    .await
    .expect("the run's ServiceAccount removed");
    for role in &names {
        roles
            .delete(role, &Default::default())
            .await
            .expect("clean up");
    }
}
