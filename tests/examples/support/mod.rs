//! What the server examples (`server_bench`, `server_compare`) share: their command line, free
//! ports, and a `meshglass-server` process started on the test bed with a `config.yaml` written as
//! the operator writes it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Client;
use kube::api::{Api, PostParams};
use meshglass_testbed::{TestBed, wait_for_token, wait_until};
use serde_json::{Value, json};

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `meshglass-server` process on free ports: the API and the metrics port.
#[allow(dead_code, reason = "each example reads the fields it needs")]
pub struct Server {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:<port>/kiali`.
    pub base: String,
    /// The metrics endpoint.
    pub metrics: String,
}

impl Server {
    /// Starts `bin` against the bed's east cluster (west and others through `secrets`), reading
    /// Prometheus at `prom`, with its `config.yaml` in `dir`; returns once `/readyz` answers 200.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        bed: &TestBed,
        secrets: &Path,
        prom: &str,
    ) -> Server {
        Server::start_as(bin, dir, bed, secrets, prom, "anonymous").await
    }

    /// [`Server::start`] with `auth.strategy` `strategy` (`token`: callers sign in).
    pub async fn start_as(
        bin: &Path,
        dir: &Path,
        bed: &TestBed,
        secrets: &Path,
        prom: &str,
        strategy: &str,
    ) -> Server {
        let (port, mport) = (free_port(), free_port());
        let spec: meshglass_crds::KialiSpec = serde_json::from_value(serde_json::json!({
            "auth": {"strategy": strategy},
            "server": {"address": "127.0.0.1", "port": port,
                       "observability": {"metrics": {"port": mport}}},
            "kubernetes_config": {"cluster_name": "east"},
            "external_services": {"prometheus": {"url": prom}},
        }))
        .expect("spec");
        let cfg = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
        let path = dir.join(format!("config-{port}.yaml"));
        std::fs::write(&path, cfg.to_yaml().expect("yaml")).expect("write config");
        let child = tokio::process::Command::new(bin)
            .args(["--config", &path.to_string_lossy()])
            .args(["--kubeconfig", &bed.kubeconfig_path().to_string_lossy()])
            .args([
                "--context",
                "east",
                "--remote-secrets-dir",
                &secrets.to_string_lossy(),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let pid = child.id().expect("pid");
        let http = reqwest::Client::new();
        wait_until("server ready", Duration::from_secs(300), || async {
            let r = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await?;
            Ok::<_, reqwest::Error>((r.status() == 200).then_some(()))
        })
        .await
        .expect("ready");
        Server {
            child,
            pid,
            http,
            base: format!("http://127.0.0.1:{port}/kiali"),
            metrics: format!("http://127.0.0.1:{mport}/metrics"),
        }
    }
}

/// Creates `v` (an existing object of that name is fine).
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn create<T>(api: &Api<T>, v: Value)
where
    T: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let o: T = serde_json::from_value(v).expect("object");
    match api.create(&PostParams::default(), &o).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("create: {e}"),
    }
}

/// The objects of app `app` in `ns`: a Deployment `<app>-v1` of `replicas` with the pod
/// template `template` (default: one container; its labels must hold app and version v1) and a
/// headless Service `<app>` selecting it.
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn app_objects(
    client: &Client,
    ns: &str,
    app: &str,
    replicas: i32,
    template: Option<Value>,
) {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;
    let labels = json!({"app": app, "version": "v1"});
    let template = template.unwrap_or_else(|| {
        json!({"metadata": {"labels": labels},
               "spec": {"containers": [{"name": app, "image": "example.invalid/x:1"}]}})
    });
    create(
        &Api::<Deployment>::namespaced(client.clone(), ns),
        json!({"metadata": {"name": format!("{app}-v1"), "labels": labels},
               "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}}),
    )
    .await;
    create(
        &Api::<Service>::namespaced(client.clone(), ns),
        json!({"metadata": {"name": app}, "spec": {"clusterIP": "None", "selector": {"app": app},
               "ports": [{"name": "http", "port": 9080}]}}),
    )
    .await;
}

/// Writes west's remote-cluster secret (a kubeconfig with [`reader_token`]) under
/// `dir/secrets`, as the operator mounts it, and returns that secrets directory.
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn west_secret(bed: &TestBed, west: &Client, dir: &Path) -> std::path::PathBuf {
    remote_secret(bed, "west", west, dir).await
}

/// Writes the remote-cluster secret of `cluster` (whose client is `client`: a kubeconfig with
/// [`reader_token`]) under `dir/secrets`, as the operator mounts it; returns that directory.
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn remote_secret(
    bed: &TestBed,
    cluster: &str,
    client: &Client,
    dir: &Path,
) -> std::path::PathBuf {
    let secrets = dir.join("secrets");
    let secret_dir = secrets.join(format!("kiali-remote-cluster-secret-{cluster}"));
    std::fs::create_dir_all(&secret_dir).expect("secrets dir");
    std::fs::write(
        secret_dir.join(cluster),
        crate::common::token_kubeconfig(bed.cluster(cluster), &reader_token(client).await),
    )
    .expect("kubeconfig");
    secrets
}

/// A token of a `kube-system` ServiceAccount that may read what the server caches (the
/// remote-cluster secret of west).
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn reader_token(client: &Client) -> String {
    let ns = "kube-system";
    create(
        &Api::<ServiceAccount>::namespaced(client.clone(), ns),
        json!({"metadata": {"name": "meshglass-server"}}),
    )
    .await;
    create(
        &Api::<ClusterRole>::all(client.clone()),
        json!({"metadata": {"name": "meshglass-server-remote"}, "rules": [
            {"apiGroups": [""], "resources": ["namespaces", "services", "pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io", "gateway.networking.k8s.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]}),
    )
    .await;
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        json!({"metadata": {"name": "meshglass-server-remote"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshglass-server-remote"},
               "subjects": [{"kind": "ServiceAccount", "name": "meshglass-server", "namespace": ns}]}),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    create(
        &secrets,
        json!({"metadata": {"name": "meshglass-server-token", "annotations": {"kubernetes.io/service-account.name": "meshglass-server"}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    wait_for_token(
        client,
        ns,
        "meshglass-server-token",
        Duration::from_secs(600),
    )
    .await
    .expect("token")
}

/// A user of `client`'s cluster who may read everything there (the ServiceAccount
/// `default/bench-reader`, bound to a ClusterRole of get/list/watch on every resource), signed in
/// at `base`: an HTTP client sending that session's cookies.
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn signed_in_reader(client: &Client, base: &str) -> reqwest::Client {
    create(
        &Api::<ClusterRole>::all(client.clone()),
        json!({"metadata": {"name": "bench-reader"}, "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        json!({"metadata": {"name": "bench-reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bench-reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "bench-reader", "namespace": "default"}]}),
    )
    .await;
    meshglass_testbed::create_service_account(
        client,
        "default",
        "bench-reader",
        "bench-reader-token",
    )
    .await
    .expect("service account");
    let token = wait_for_token(
        client,
        "default",
        "bench-reader-token",
        Duration::from_secs(600),
    )
    .await
    .expect("token");
    let jar = meshglass_testbed::session::token_login(&reqwest::Client::new(), base, &token)
        .await
        .expect("login");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        meshglass_testbed::session::cookie_header(&jar)
            .parse()
            .expect("cookie header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("http client")
}

/// The server's `meshglass_server_cached_objects{kind="pods"}` gauges (one per cluster), read
/// from its metrics endpoint `metrics`; empty when it does not answer.
#[allow(dead_code, reason = "each example uses what it needs")]
pub async fn cached_pods(http: &reqwest::Client, metrics: &str) -> Vec<u64> {
    let text = match http.get(metrics).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return vec![],
    };
    text.lines()
        .filter(|l| {
            l.starts_with("meshglass_server_cached_objects{") && l.contains("kind=\"pods\"")
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
        .collect()
}

/// Resident memory (VmRSS) of a process, in KiB; 0 when it is gone.
#[allow(dead_code, reason = "each example uses what it needs")]
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The `p` quantile (0–1) of sorted values.
#[allow(dead_code, reason = "each example uses what it needs")]
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
