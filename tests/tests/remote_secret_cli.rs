//! End-to-end: `meshglass-operator remote-secret` between two real clusters, east (the Kiali cluster) and west
//! (the remote). The CLI runs in-process through the operator library with options parsed exactly as on the
//! command line.

use std::{collections::BTreeMap, io::Write as _, process::Stdio, time::Duration};

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Secret, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    config::Kubeconfig,
};
use meshglass_operator::remote_secret::{self, Change, Outcome};
use meshglass_testbed::{TestBed, named, tools, wait_gone, wait_until};

mod common;
use common::{
    RemoteSecretCase, assert_remote_cluster_secret, client_from_secret, create, exists,
    kubeconfig_file, kubeconfig_in, run_remote_secret,
};

/// Runs the CLI with the bed's kubeconfig and `extra` options; returns the outcome and what it printed.
async fn run_cli(bed: &TestBed, extra: &[&str]) -> Result<(Outcome, String), remote_secret::Error> {
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (outcome, printed) = run_remote_secret(&kubeconfig, extra, None).await;
    Ok((outcome?, printed))
}

async fn rv<K>(api: &Api<K>, name: &str) -> Option<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .expect("get")
        .and_then(|o| o.meta().resource_version.clone())
}

/// The CA a kubeconfig cluster entry embeds (`certificate-authority-data`), decoded.
fn ca_data(cluster: &kube::config::Cluster) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority_data.clone().expect("CA data"))
        .expect("base64 CA")
}

#[tokio::test]
async fn process_remote_resources_creates_a_working_view_only_secret_idempotently_and_deletes_it() {
    // The remote namespace does not exist: the CLI creates it (and, with --delete, removes it again).
    let case = RemoteSecretCase::new("rs-kiali").await;
    let (bed, east, west) = (case.bed, &case.east, &case.west);
    let (kiali_ns, remote_ns, name) = (&case.kiali_ns, &case.remote_ns, &case.name);
    let opts = case.opts();

    let (first, printed) = run_cli(bed, &opts).await.expect("first run succeeds");
    assert_eq!(first.cluster_name, "west");
    assert_eq!(first.secret_name, "kiali-remote-cluster-secret-west");
    assert!(
        first.actions.iter().all(|a| a.change == Change::Created),
        "{:?}",
        first.actions
    );
    assert!(printed.contains("Secret"), "{printed}");

    // The Secret on east is exactly as the contract says.
    let east_secrets: Api<Secret> = Api::namespaced(east.clone(), kiali_ns.name());
    let secret = east_secrets
        .get("kiali-remote-cluster-secret-west")
        .await
        .expect("secret on east");
    assert_remote_cluster_secret(&secret, "west");
    let data = secret.data.clone().expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), ["west"]);
    let kubeconfig = kubeconfig_in(&secret, "west");
    assert_eq!(kubeconfig.clusters.len(), 1);
    assert_eq!(kubeconfig.auth_infos.len(), 1);
    assert_eq!(kubeconfig.contexts.len(), 1);
    assert_eq!(kubeconfig.clusters[0].name, "west");
    assert_eq!(kubeconfig.auth_infos[0].name, "west");
    assert_eq!(kubeconfig.contexts[0].name, "west");
    let cluster = kubeconfig.clusters[0].cluster.clone().expect("cluster");
    assert_eq!(
        cluster.server.as_deref(),
        Some(bed.cluster("west").server_url())
    );
    let ca = ca_data(&cluster);
    assert_eq!(ca, bed.cluster("west").ca_pem());
    assert_eq!(cluster.insecure_skip_tls_verify, None);

    // Its kubeconfig reads west and may not write there (view-only).
    let remote = client_from_secret(&secret, "west").await;
    let pods: Api<Pod> = Api::all(remote.clone());
    pods.list(&ListParams::default())
        .await
        .expect("the kubeconfig lists pods on west");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "should-not-exist"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod");
    let refused = Api::<Pod>::namespaced(remote, remote_ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect_err("creating a pod must be refused");
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 403),
        "{refused:?}"
    );

    // A second run changes nothing: every object keeps its resourceVersion.
    let west_sa: Api<ServiceAccount> = Api::namespaced(west.clone(), remote_ns);
    let west_tokens: Api<Secret> = Api::namespaced(west.clone(), remote_ns);
    let roles: Api<ClusterRole> = Api::all(west.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(west.clone());
    let viewer = format!("{name}-viewer");
    let before = (
        rv(&east_secrets, "kiali-remote-cluster-secret-west").await,
        rv(&west_sa, name).await,
        rv(&west_tokens, name).await,
        rv(&roles, &viewer).await,
        rv(&bindings, name).await,
    );
    let (second, _) = run_cli(bed, &opts).await.expect("second run succeeds");
    assert!(second.changed_nothing(), "{:?}", second.actions);
    let after = (
        rv(&east_secrets, "kiali-remote-cluster-secret-west").await,
        rv(&west_sa, name).await,
        rv(&west_tokens, name).await,
        rv(&roles, &viewer).await,
        rv(&bindings, name).await,
    );
    assert_eq!(before, after);

    // --delete leaves neither cluster with any of its objects.
    let mut delete_opts = opts.to_vec();
    delete_opts.extend_from_slice(&["--delete", "true"]);
    let (deleted, _) = run_cli(bed, &delete_opts).await.expect("delete succeeds");
    assert!(
        deleted.actions.iter().any(|a| a.change == Change::Deleted),
        "{:?}",
        deleted.actions
    );
    assert!(!exists(&east_secrets, "kiali-remote-cluster-secret-west").await);
    assert!(!exists(&west_sa, name).await);
    assert!(!exists(&west_tokens, name).await);
    assert!(!exists(&roles, &viewer).await);
    assert!(!exists(&roles, name).await);
    assert!(!exists(&bindings, name).await);
    let labelled = ListParams::default().labels(&format!("app.kubernetes.io/instance={name}"));
    assert!(roles.list(&labelled).await.expect("list").items.is_empty());
    assert!(
        bindings
            .list(&labelled)
            .await
            .expect("list")
            .items
            .is_empty()
    );
    wait_gone(
        &Api::<Namespace>::all(west.clone()),
        remote_ns,
        Duration::from_secs(60),
    )
    .await
    .expect("the remote namespace the CLI created is gone");

    // A second delete finds nothing to do.
    let (again, _) = run_cli(bed, &delete_opts)
        .await
        .expect("second delete succeeds");
    assert!(again.changed_nothing(), "{:?}", again.actions);
}

#[tokio::test]
async fn delete_leaves_objects_it_did_not_create_alone() {
    let case = RemoteSecretCase::with_remote_namespace("rs-keep").await;
    let (east, west) = (&case.east, &case.west);
    let (kiali_ns, remote_ns, name) = (&case.kiali_ns, &case.remote_ns, &case.name);
    // A same-named ServiceAccount and Secret made by someone else.
    let west_sa = Api::<ServiceAccount>::namespaced(west.clone(), remote_ns);
    create(&west_sa, &named(name)).await;
    let mut foreign: Secret = named("kiali-remote-cluster-secret-west");
    foreign.string_data = Some(BTreeMap::from([("other".to_string(), "data".to_string())]));
    let east_secrets = Api::<Secret>::namespaced(east.clone(), kiali_ns.name());
    create(&east_secrets, &foreign).await;

    let (outcome, _) = run_cli(case.bed, &[case.opts(), vec!["--delete", "true"]].concat())
        .await
        .expect("delete runs");
    assert!(outcome.changed_nothing(), "{:?}", outcome.actions);
    assert!(exists(&west_sa, name).await);
    assert!(exists(&east_secrets, "kiali-remote-cluster-secret-west").await);
    assert!(
        Api::<Namespace>::all(west.clone())
            .get_opt(remote_ns)
            .await
            .expect("get")
            .is_some_and(|n| n.metadata.deletion_timestamp.is_none())
    );
}

/// Splits `--dry-run` output into the documents for the remote cluster and those for the Kiali cluster.
fn split_dry_run(output: &str) -> (String, String) {
    let mut remote = Vec::new();
    let mut kiali = Vec::new();
    for doc in output.split("\n---\n") {
        if doc.contains("# remote cluster") {
            remote.push(doc.to_string());
        } else if doc.contains("# Kiali cluster") {
            kiali.push(doc.to_string());
        } else {
            panic!("document of unknown cluster in dry-run output:\n{doc}");
        }
    }
    (remote.join("\n---\n"), kiali.join("\n---\n"))
}

fn kubectl_apply(bed: &TestBed, context: &str, yaml: &str) {
    let kubectl = tools::kubectl().expect("kubectl (on PATH or built by `make tools`)");
    let mut child = std::process::Command::new(kubectl)
        .args([
            "--kubeconfig",
            &bed.kubeconfig_path().display().to_string(),
            "--context",
            context,
        ])
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("write yaml");
    let out = child.wait_with_output().expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply on {context} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn dry_run_writes_nothing_and_its_output_applies_cleanly_with_kubectl() {
    let case = RemoteSecretCase::new("rs-dry").await;
    let (bed, east, west) = (case.bed, &case.east, &case.west);
    let (kiali_ns, remote_ns, name) = (&case.kiali_ns, &case.remote_ns, &case.name);
    let opts = [case.opts(), vec!["--remote-cluster-name", "west-dry"]].concat();
    let mut dry = opts.to_vec();
    dry.extend_from_slice(&["--dry-run", "true"]);
    let (outcome, output) = run_cli(bed, &dry).await.expect("dry run succeeds");
    assert!(outcome.changed_nothing(), "{:?}", outcome.actions);

    // Nothing was written on either side.
    assert!(!exists(&Api::<Namespace>::all(west.clone()), remote_ns).await);
    assert!(
        !exists(
            &Api::<ClusterRole>::all(west.clone()),
            &format!("{name}-viewer")
        )
        .await
    );
    assert!(!exists(&Api::<ClusterRoleBinding>::all(west.clone()), name).await);
    let east_secrets: Api<Secret> = Api::namespaced(east.clone(), kiali_ns.name());
    assert!(!exists(&east_secrets, "kiali-remote-cluster-secret-west-dry").await);

    // Every object is in the output, the Secret clearly marked.
    for kind in [
        "kind: Namespace",
        "kind: ServiceAccount",
        "kind: ClusterRole",
        "kind: ClusterRoleBinding",
    ] {
        assert!(output.contains(kind), "{kind} missing from:\n{output}");
    }
    assert!(output.contains("nothing was written"), "{output}");
    assert!(
        output.contains("kiali-remote-cluster-secret-west-dry"),
        "{output}"
    );
    assert!(
        output.contains(remote_secret::run::PLACEHOLDER_TOKEN),
        "{output}"
    );
    let (remote_yaml, kiali_yaml) = split_dry_run(&output);
    assert!(
        kiali_yaml.contains("kind: Secret") && kiali_yaml.contains("NOTE:"),
        "{kiali_yaml}"
    );

    // The output applies cleanly with kubectl: remote objects on west, the Secret on east.
    kubectl_apply(bed, "west", &remote_yaml);
    kubectl_apply(bed, "east", &kiali_yaml);
    let secret = east_secrets
        .get("kiali-remote-cluster-secret-west-dry")
        .await
        .expect("applied secret");
    assert_eq!(
        secret
            .annotations()
            .get("kiali.io/cluster")
            .map(String::as_str),
        Some("west-dry")
    );
    assert!(
        secret
            .data
            .as_ref()
            .is_some_and(|d| d.contains_key("west-dry"))
    );
    let sa: Api<ServiceAccount> = Api::namespaced(west.clone(), remote_ns);
    assert!(exists(&sa, name).await);

    // Now that the token exists, a dry run embeds it and says so.
    let token_secrets: Api<Secret> = Api::namespaced(west.clone(), remote_ns);
    wait_until(
        "the applied token Secret is populated",
        Duration::from_secs(60),
        || {
            let token_secrets = token_secrets.clone();
            let name = name.clone();
            async move {
                let s = token_secrets.get_opt(&name).await?;
                Ok::<_, kube::Error>(
                    s.and_then(|s| s.data)
                        .filter(|d| d.contains_key("token"))
                        .map(|_| ()),
                )
            }
        },
    )
    .await
    .expect("token populated");
    let (_, output) = run_cli(bed, &dry).await.expect("second dry run succeeds");
    assert!(
        output.contains("WARNING: this Secret holds a live credential"),
        "{output}"
    );
    assert!(
        !output.contains("kind: Namespace"),
        "existing namespace must not be printed:\n{output}"
    );

    // Clean up through the CLI (the objects carry its labels).
    let mut delete = opts.to_vec();
    delete.extend_from_slice(&["--delete", "true"]);
    run_cli(bed, &delete).await.expect("delete succeeds");
    assert!(!exists(&east_secrets, "kiali-remote-cluster-secret-west-dry").await);
    assert!(!exists(&sa, name).await);
}

#[tokio::test]
async fn without_a_ca_in_the_kubeconfig_the_remote_root_ca_is_used() {
    let case = RemoteSecretCase::new("rs-ca").await;
    let (bed, east, west, kiali_ns) = (case.bed, &case.east, &case.west, &case.kiali_ns);

    // The user's kubeconfig trusts west blindly (insecure-skip-tls-verify, no CA).
    let mut kubeconfig = Kubeconfig::read_from(bed.kubeconfig_path()).expect("bed kubeconfig");
    for named in kubeconfig.clusters.iter_mut().filter(|c| c.name == "west") {
        if let Some(c) = named.cluster.as_mut() {
            c.certificate_authority_data = None;
            c.certificate_authority = None;
            c.insecure_skip_tls_verify = Some(true);
        }
    }
    let (_dir, path) = kubeconfig_file(&kubeconfig);
    let opts = case.opts();
    let (outcome, _) = run_remote_secret(&path, &opts, None).await;
    outcome.expect("run succeeds");

    // The server's kubeconfig verifies west with west's kube-root-ca.crt instead of skipping verification.
    let secret = Api::<Secret>::namespaced(east.clone(), kiali_ns.name())
        .get("kiali-remote-cluster-secret-west")
        .await
        .expect("secret");
    let generated = kubeconfig_in(&secret, "west");
    let cluster = generated.clusters[0].cluster.clone().expect("cluster");
    assert_eq!(cluster.insecure_skip_tls_verify, None);
    let ca = ca_data(&cluster);
    let root =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(west.clone(), "kube-system")
            .get("kube-root-ca.crt")
            .await
            .expect("root CA configmap");
    assert_eq!(ca, root.data.expect("data")["ca.crt"].as_bytes());
    let pods: Api<Pod> = Api::all(client_from_secret(&secret, "west").await);
    pods.list(&ListParams::default())
        .await
        .expect("verified TLS connection lists pods");

    let (deleted, _) =
        run_remote_secret(&path, &[opts, vec!["--delete", "true"]].concat(), None).await;
    deleted.expect("delete succeeds");
}
