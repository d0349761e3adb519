//! End-to-end: every bad input of `meshglass-operator remote-secret` gives a one-line error that names the problem
//! and what to do, and leaves nothing written on either cluster.

use std::time::Duration;

use k8s_openapi::api::{
    core::v1::{Namespace, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
    config::Kubeconfig,
};
use meshglass_operator::remote_secret::{self, Error};
use meshglass_testbed::TestBed;

const CLUSTERS: &[&str] = &["east", "west"];

mod common;
use common::{east_west, east_west_opts, suffix, test_namespace};

async fn bed() -> &'static TestBed {
    meshglass_testbed::shared(CLUSTERS)
        .await
        .expect("test bed starts")
}

/// Runs the CLI expecting a failure; checks the error is one line, has the category, names `needles`, and that
/// the command's own output stayed empty.
async fn fails(
    kubeconfig: &str,
    extra: &[&str],
    timeout: Option<Duration>,
    category: &str,
    needles: &[&str],
) -> Error {
    let mut argv = vec!["remote-secret", "--kubeconfig", kubeconfig];
    argv.extend_from_slice(extra);
    let mut args = remote_secret::parse_args(argv).expect("options parse");
    if let Some(t) = timeout {
        args.token_timeout = t;
    }
    let mut out = Vec::new();
    let err = remote_secret::run(&args, &mut out)
        .await
        .expect_err("the run must fail");
    let msg = err.to_string();
    assert_eq!(err.category(), category, "{msg}");
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{needle:?} missing from: {msg}");
    }
    assert!(
        out.is_empty(),
        "printed on failure: {}",
        String::from_utf8_lossy(&out)
    );
    err
}

/// Asserts that neither cluster holds any object named after `name` / the west Secret in `kiali_ns`.
async fn nothing_written(
    east: &Client,
    west: &Client,
    kiali_ns: &str,
    remote_ns: &str,
    name: &str,
) {
    let secret = Api::<Secret>::namespaced(east.clone(), kiali_ns)
        .get_opt("kiali-remote-cluster-secret-west")
        .await
        .expect("get");
    assert!(secret.is_none(), "a Secret was written on east");
    assert!(
        Api::<ServiceAccount>::namespaced(west.clone(), remote_ns)
            .get_opt(name)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        Api::<Secret>::namespaced(west.clone(), remote_ns)
            .get_opt(name)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        Api::<ClusterRoleBinding>::all(west.clone())
            .get_opt(name)
            .await
            .expect("get")
            .is_none()
    );
    for role in [name.to_string(), format!("{name}-viewer")] {
        assert!(
            Api::<ClusterRole>::all(west.clone())
                .get_opt(&role)
                .await
                .expect("get")
                .is_none()
        );
    }
}

#[tokio::test]
async fn argument_errors_name_the_problem() {
    let bed = bed().await;
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (east, west) = east_west(bed).await;
    let kiali_ns = test_namespace(&east, "rs-err").await;
    let remote_ns = format!("rs-err-access-{}", suffix(&kiali_ns));
    let name = format!("rs-err-{}", suffix(&kiali_ns));
    let base = [
        "--kiali-cluster-namespace",
        kiali_ns.name(),
        "--remote-cluster-namespace",
        &remote_ns,
        "--kiali-resource-name",
        &name,
    ];
    let with = |more: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(more);
        v
    };

    // The same context twice.
    fails(
        &kubeconfig,
        &with(&[
            "--kiali-cluster-context",
            "west",
            "--remote-cluster-context",
            "west",
        ]),
        None,
        "same_context",
        &["\"west\"", "--remote-cluster-context"],
    )
    .await;
    // An unknown context: the known ones are listed.
    fails(
        &kubeconfig,
        &with(&[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "north",
        ]),
        None,
        "unknown_context",
        &["\"north\"", "east, west"],
    )
    .await;
    // An invalid cluster name: the allowed pattern is shown.
    fails(
        &kubeconfig,
        &with(&[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "west",
            "--remote-cluster-name",
            "west/1",
        ]),
        None,
        "invalid_cluster_name",
        &[
            "\"west/1\"",
            remote_secret::args::CLUSTER_NAME_PATTERN,
            "--remote-cluster-name",
        ],
    )
    .await;
    nothing_written(&east, &west, kiali_ns.name(), &remote_ns, &name).await;
    assert!(
        Api::<Namespace>::all(west.clone())
            .get_opt(&remote_ns)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn a_missing_kiali_namespace_stops_before_any_write() {
    let bed = bed().await;
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (east, west) = east_west(bed).await;
    let marker = test_namespace(&east, "rs-nons").await;
    let id = suffix(&marker);
    let missing = format!("rs-missing-{id}");
    let remote_ns = format!("rs-nons-access-{id}");
    let name = format!("rs-nons-{id}");
    fails(
        &kubeconfig,
        &east_west_opts(&missing, &remote_ns, &name),
        None,
        "primary_namespace_missing",
        &[&missing, "--kiali-cluster-namespace"],
    )
    .await;
    nothing_written(&east, &west, &missing, &remote_ns, &name).await;
    assert!(
        Api::<Namespace>::all(west.clone())
            .get_opt(&remote_ns)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn an_unreachable_remote_api_is_reported() {
    let bed = bed().await;
    let (east, west) = east_west(bed).await;
    let kiali_ns = test_namespace(&east, "rs-down").await;
    let id = suffix(&kiali_ns);
    let name = format!("rs-down-{id}");
    let remote_ns = format!("rs-down-access-{id}");

    // A kubeconfig with a context "down" whose API server does not listen (a port nobody holds).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut kubeconfig = Kubeconfig::read_from(bed.kubeconfig_path()).expect("bed kubeconfig");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_yaml_ng::to_string(&kubeconfig).expect("yaml"))
        .expect("write kubeconfig");

    fails(
        &path.display().to_string(),
        &[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "down",
            "--kiali-cluster-namespace",
            kiali_ns.name(),
            "--remote-cluster-namespace",
            &remote_ns,
            "--kiali-resource-name",
            &name,
        ],
        None,
        "unreachable",
        &[&format!("127.0.0.1:{port}"), "\"down\""],
    )
    .await;
    let secret = Api::<Secret>::namespaced(east.clone(), kiali_ns.name())
        .get_opt("kiali-remote-cluster-secret-down")
        .await
        .expect("get");
    assert!(secret.is_none());
    nothing_written(&east, &west, kiali_ns.name(), &remote_ns, &name).await;
}

#[tokio::test]
async fn a_token_that_is_never_populated_times_out_with_advice() {
    let bed = bed().await;
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (east, west) = east_west(bed).await;
    let kiali_ns = test_namespace(&east, "rs-tok").await;
    let remote_ns = test_namespace(&west, "rs-tok-remote").await;
    let name = format!("rs-tok-{}", suffix(&kiali_ns));
    // A Secret of that name exists but nothing ever puts a token in it.
    let empty = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Secret>::namespaced(west.clone(), remote_ns.name())
        .create(&PostParams::default(), &empty)
        .await
        .expect("empty secret");

    fails(
        &kubeconfig,
        &[
            east_west_opts(kiali_ns.name(), remote_ns.name(), &name),
            vec!["--process-remote-resources", "false"],
        ]
        .concat(),
        Some(Duration::from_secs(3)),
        "token_timeout",
        &[
            &format!("{}/{name}", remote_ns.name()),
            "remote_cluster_resources_only",
            "after 3s",
        ],
    )
    .await;
    let secret = Api::<Secret>::namespaced(east.clone(), kiali_ns.name())
        .get_opt("kiali-remote-cluster-secret-west")
        .await
        .expect("get");
    assert!(secret.is_none(), "a Secret was written on east");
}

#[tokio::test]
async fn credentials_without_the_needed_permissions_are_refused_by_name() {
    let bed = bed().await;
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (east, west) = east_west(bed).await;
    let kiali_ns = test_namespace(&east, "rs-perm").await;
    let remote_ns = test_namespace(&west, "rs-perm-remote").await;
    let name = format!("rs-perm-{}", suffix(&kiali_ns));
    // A ServiceAccount with a token but no role at all.
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(west.clone(), remote_ns.name())
        .create(&PostParams::default(), &sa)
        .await
        .expect("sa");
    let token: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": name}},
        "type": "kubernetes.io/service-account-token",
    }))
    .expect("token secret");
    Api::<Secret>::namespaced(west.clone(), remote_ns.name())
        .create(&PostParams::default(), &token)
        .await
        .expect("token secret");

    fails(
        &kubeconfig,
        &[
            east_west_opts(kiali_ns.name(), remote_ns.name(), &name),
            vec!["--process-remote-resources", "false"],
        ]
        .concat(),
        None,
        "permission_missing",
        &[
            "may not list namespaces",
            &format!("{}/{name}", remote_ns.name()),
        ],
    )
    .await;
    let secret = Api::<Secret>::namespaced(east.clone(), kiali_ns.name())
        .get_opt("kiali-remote-cluster-secret-west")
        .await
        .expect("get");
    assert!(secret.is_none(), "a Secret was written on east");
}

#[tokio::test]
async fn a_failure_after_the_remote_writes_removes_them_again() {
    let bed = bed().await;
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (east, west) = east_west(bed).await;
    let kiali_ns = test_namespace(&east, "rs-undo").await;
    let id = suffix(&kiali_ns);
    let remote_ns = format!("rs-undo-access-{id}");
    let name = format!("rs-undo-{id}");
    // The URL the server would use does not answer: found only when the generated kubeconfig is proven, after
    // the ServiceAccount, role, binding, token Secret and namespace were created on west.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("https://127.0.0.1:{port}");
    fails(
        &kubeconfig,
        &[
            east_west_opts(kiali_ns.name(), &remote_ns, &name),
            vec!["--remote-cluster-url", &url],
        ]
        .concat(),
        None,
        "unreachable",
        &[&format!("127.0.0.1:{port}")],
    )
    .await;
    nothing_written(&east, &west, kiali_ns.name(), &remote_ns, &name).await;
    let namespaces: Api<Namespace> = Api::all(west.clone());
    meshglass_testbed::wait_until(
        "the namespace the failed run created is gone",
        Duration::from_secs(60),
        || {
            let namespaces = namespaces.clone();
            let remote_ns = remote_ns.clone();
            async move {
                Ok::<_, kube::Error>(
                    namespaces
                        .get_opt(&remote_ns)
                        .await?
                        .is_none()
                        .then_some(()),
                )
            }
        },
    )
    .await
    .expect("namespace removed");
}
