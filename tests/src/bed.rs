//! Starting, sharing and stopping a set of named clusters.

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{ConfigMap, Node, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use tokio::sync::OnceCell;

use crate::Error;
use crate::pki::ClusterPki;
use crate::process::{self, Proc, Watchdog};
use crate::tools::Tools;
use crate::wait::poll;

/// How long one cluster may take to become ready (2 cores, several API servers at once).
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Simulated nodes per cluster unless told otherwise.
pub const DEFAULT_NODES: usize = 2;
const KWOK_ANNOTATION: &str = "kwok.x-k8s.io/node";
/// Service ClusterIPs of every cluster: a /16 (65,534 Services) as real clusters use, so a
/// scenario of hundreds of namespaces with several Services each fits (a /24 is full at 254).
pub const SERVICE_CLUSTER_IP_RANGE: &str = "10.0.0.0/16";
/// Client rate limits of the controller-manager and scheduler towards their API server. Their
/// defaults (20–50 requests/s) throttle a scenario of thousands of pods for minutes; loopback
/// API servers take far more.
const KUBE_API_QPS: u32 = 500;
const KUBE_API_BURST: u32 = 1000;
const CONTROLLERS: &str = "serviceaccount-token-controller,serviceaccount-controller,deployment-controller,replicaset-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller";

/// Options of [`TestBed::start_with`].
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Cluster names (DNS labels), in order.
    pub clusters: Vec<String>,
    /// Directory for the bed's files (pki, logs, etcd data, pids, kubeconfig). `None`: a fresh
    /// directory under `$TMPDIR/meshglass-testbed/`, removed when the bed stops.
    pub state_dir: Option<PathBuf>,
    /// Leave the processes running when the bed value is dropped (`testbed up`); stop them later
    /// with [`stop_state_dir`]. Needs `state_dir`. An interrupted start still stops everything.
    pub detached: bool,
    /// Port of the first cluster's API server (the next clusters get the following ports);
    /// `None`: free ports picked at start.
    pub first_port: Option<u16>,
    /// Simulated (kwok) nodes per cluster.
    pub nodes: usize,
    /// Each API server also asks a token webhook (`--authentication-token-webhook-config-file`)
    /// at `http://127.0.0.1:<`[`Cluster::token_webhook_port`]`>/tokenreview` about bearer tokens
    /// it does not know: the emulated OpenShift OAuth server answers there ([`crate::openshift`]).
    /// Off by default: until something listens there, unknown tokens wait for the webhook's
    /// retries.
    pub token_webhook: bool,
}

impl StartOptions {
    pub fn new(clusters: &[&str]) -> Self {
        StartOptions {
            clusters: clusters.iter().map(|c| c.to_string()).collect(),
            state_dir: None,
            detached: false,
            first_port: None,
            nodes: DEFAULT_NODES,
            token_webhook: false,
        }
    }
}

/// Checks that `name` is a DNS label (RFC 1123): 1–63 of `a-z 0-9 -`, alphanumeric at both ends.
pub fn validate_cluster_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidClusterName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > 63 {
        return invalid("it is longer than 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return invalid("a cluster name is a DNS label: lowercase letters, digits and '-' only");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return invalid("a cluster name must start and end with a letter or digit");
    }
    Ok(())
}

/// One cluster of a bed: an API server with its controller-manager, scheduler and kwok.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    port: u16,
    server_url: String,
    dir: PathBuf,
    pki: ClusterPki,
    kubeconfig_yaml: String,
    apiserver_args: Vec<String>,
    apiserver_bin: PathBuf,
    run_dir: PathBuf,
    owned: bool,
    watchdog: Option<Arc<Watchdog>>,
    apiserver: Mutex<Option<Proc>>,
    others: Mutex<Vec<Proc>>,
    /// The bed's etcd, shared by its clusters (checked while waiting).
    etcd: Arc<Mutex<Option<Proc>>>,
    /// The OpenID issuer this cluster's API server trusts (started on demand: [`crate::oidc`]).
    oidc: OidcIssuer,
    /// Port of kwok's kubelet API (`127.0.0.1`), which every simulated node of the cluster
    /// advertises: the API server's `pods/log` reaches it.
    kwok_port: u16,
    /// The token webhook's port ([`StartOptions::token_webhook`]).
    token_webhook_port: Option<u16>,
}

/// The OpenID issuer a cluster's API server trusts (structured authentication configuration):
/// `https://127.0.0.1:<port>`, serving with the cluster's own serving certificate, ID tokens for
/// audience `client_id`, the user name being the `sub` claim. Each cluster has its own issuer.
#[derive(Debug, Clone)]
pub struct OidcIssuer {
    pub url: String,
    pub port: u16,
    pub client_id: String,
    /// The cluster's serving certificate and key files, which the provider serves with.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// PEM of the CA that signed them.
    pub ca_pem: String,
}

/// The API server's `--authentication-config` for `issuer`.
fn authentication_config(issuer: &OidcIssuer) -> Result<String, Error> {
    let doc = serde_json::json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [{
            "issuer": {
                "url": issuer.url,
                "audiences": [issuer.client_id],
                "certificateAuthority": issuer.ca_pem,
            },
            "claimMappings": {"username": {"claim": "sub", "prefix": ""}},
        }],
    });
    Ok(serde_yaml_ng::to_string(&doc)?)
}

/// The kubeconfig of the API server's token webhook: plain HTTP on loopback.
fn token_webhook_kubeconfig(port: u16) -> Result<String, Error> {
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "webhook", "cluster": {"server": format!("http://127.0.0.1:{port}/tokenreview")}}],
        "users": [{"name": "apiserver", "user": {}}],
        "contexts": [{"name": "webhook", "context": {"cluster": "webhook", "user": "apiserver"}}],
        "current-context": "webhook",
    });
    Ok(serde_yaml_ng::to_string(&doc)?)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn kubeconfig_yaml(clusters: &[(&str, &str, &ClusterPki)]) -> Result<String, Error> {
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters.iter().map(|(name, url, pki)| serde_json::json!({
            "name": name,
            "cluster": {"server": url, "certificate-authority-data": b64(&pki.serving_ca)},
        })).collect::<Vec<_>>(),
        "users": clusters.iter().map(|(name, _, pki)| serde_json::json!({
            "name": format!("{name}-admin"),
            "user": {
                "client-certificate-data": b64(&pki.admin_cert),
                "client-key-data": b64(&pki.admin_key),
            },
        })).collect::<Vec<_>>(),
        "contexts": clusters.iter().map(|(name, _, _)| serde_json::json!({
            "name": name,
            "context": {"cluster": name, "user": format!("{name}-admin")},
        })).collect::<Vec<_>>(),
        "current-context": clusters.first().map(|c| c.0).unwrap_or_default(),
        "preferences": {},
    });
    Ok(serde_yaml_ng::to_string(&doc)?)
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

impl Cluster {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `https://127.0.0.1:<port>`
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The OpenID issuer this cluster trusts.
    pub fn oidc(&self) -> &OidcIssuer {
        &self.oidc
    }

    /// Where this cluster's API server sends TokenReviews of tokens it does not know
    /// ([`StartOptions::token_webhook`]), if it does.
    pub fn token_webhook_port(&self) -> Option<u16> {
        self.token_webhook_port
    }

    /// PEM of the API server's serving CA.
    pub fn ca_pem(&self) -> &[u8] {
        self.pki.serving_ca.as_bytes()
    }

    /// Admin kubeconfig of this cluster (context named after the cluster).
    pub fn kubeconfig(&self) -> Kubeconfig {
        // The YAML was produced by this crate and parsed once at start; it cannot fail here.
        Kubeconfig::from_yaml(&self.kubeconfig_yaml).unwrap_or_default()
    }

    /// Path of this cluster's admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// A new admin client (system:masters), bound to the caller's tokio runtime.
    pub async fn client(&self) -> Result<Client, Error> {
        let options = KubeConfigOptions {
            context: Some(self.name.clone()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(self.kubeconfig(), &options).await?;
        Ok(Client::try_from(config)?)
    }

    /// A client that authenticates with a bearer token (for example a service-account token).
    pub async fn client_with_token(&self, token: &str) -> Result<Client, Error> {
        let options = KubeConfigOptions {
            context: Some(self.name.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(self.kubeconfig(), &options).await?;
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.to_string().into()),
            ..kube::config::AuthInfo::default()
        };
        Ok(Client::try_from(config)?)
    }

    /// Stops this cluster's API server (owned beds only); the other components keep running.
    pub fn stop_apiserver(&self) -> Result<(), Error> {
        if !self.owned {
            return Err(Error::Unsupported(
                "stop_apiserver needs an owned TestBed (TestBed::start), not the shared one",
            ));
        }
        let proc = self.apiserver.lock().ok().and_then(|mut p| p.take());
        if let Some(mut p) = proc {
            p.stop(self.watchdog.as_deref());
        }
        Ok(())
    }

    /// Starts the API server again on the same port, with the same certificates and data, and
    /// waits until it is ready (owned beds only).
    pub async fn start_apiserver(&self) -> Result<(), Error> {
        if !self.owned {
            return Err(Error::Unsupported(
                "start_apiserver needs an owned TestBed (TestBed::start), not the shared one",
            ));
        }
        let running = self.apiserver.lock().map(|p| p.is_some()).unwrap_or(false);
        if !running {
            let proc = self.spawn_apiserver()?;
            if let Ok(mut slot) = self.apiserver.lock() {
                *slot = Some(proc);
            }
        }
        let client = self.client().await?;
        self.wait_apiserver_ready(&client).await
    }

    fn spawn_apiserver(&self) -> Result<Proc, Error> {
        Proc::spawn(
            &self.run_dir,
            &format!("{}-kube-apiserver", self.name),
            &format!("kube-apiserver of cluster {}", self.name),
            &self.apiserver_bin,
            &self.apiserver_args,
            self.watchdog.as_deref(),
        )
    }

    /// Fails when a process of this cluster has exited.
    fn check_processes(&self) -> Result<(), Error> {
        if let Ok(mut etcd) = self.etcd.lock()
            && let Some(p) = etcd.as_mut()
        {
            p.check_running()?;
        }
        if let Ok(mut api) = self.apiserver.lock()
            && let Some(p) = api.as_mut()
        {
            p.check_running()?;
        }
        if let Ok(mut others) = self.others.lock() {
            for p in others.iter_mut() {
                p.check_running()?;
            }
        }
        Ok(())
    }

    /// Polls `check`, failing early (with the log) when a process of the cluster exits.
    async fn wait<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let died: Mutex<Option<Error>> = Mutex::new(None);
        let label = format!("{what} (cluster {})", self.name);
        let result = poll(&label, READY_TIMEOUT, || {
            let alive = self.check_processes();
            let fut = check();
            let died = &died;
            async move {
                if let Err(e) = alive {
                    let msg = e.to_string();
                    if let Ok(mut d) = died.lock() {
                        *d = Some(e);
                    }
                    // Ends the wait at once: the error below replaces the timeout.
                    return Err(msg);
                }
                fut.await
            }
        });
        // Stop polling as soon as a process died.
        let result = tokio::select! {
            r = result => r,
            e = async {
                loop {
                    if let Ok(mut d) = died.lock() && let Some(e) = d.take() {
                        return e;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            } => Err(e),
        };
        result
    }

    async fn wait_apiserver_ready(&self, client: &Client) -> Result<(), Error> {
        self.wait("kube-apiserver /readyz", || async {
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            match client.request_text(req).await {
                Ok(body) if body.trim() == "ok" => Ok(()),
                Ok(body) => Err(body),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    fn spawn_others(&self, tools: &Tools) -> Result<(), Error> {
        let kubeconfig = self.kubeconfig_path().display().to_string();
        let dir = &self.dir;
        let kcm_args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!(
                "--service-account-private-key-file={}",
                dir.join("sa.key").display()
            ),
            format!("--root-ca-file={}", dir.join("serving-ca.crt").display()),
            "--leader-elect=false".to_string(),
            "--secure-port=0".to_string(),
            "--use-service-account-credentials=false".to_string(),
            format!("--controllers={CONTROLLERS}"),
            "--concurrent-deployment-syncs=10".to_string(),
            "--concurrent-replicaset-syncs=10".to_string(),
            "--concurrent-namespace-syncs=10".to_string(),
            "--concurrent-gc-syncs=20".to_string(),
            format!("--kube-api-qps={KUBE_API_QPS}"),
            format!("--kube-api-burst={KUBE_API_BURST}"),
        ];
        let scheduler_args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--leader-elect=false".to_string(),
            "--secure-port=0".to_string(),
            format!("--kube-api-qps={KUBE_API_QPS}"),
            format!("--kube-api-burst={KUBE_API_BURST}"),
        ];
        let kwok_args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--config={}", tools.kwok_stages.display()),
            "--manage-all-nodes=false".to_string(),
            format!("--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake"),
            // kwok's kubelet API, advertised by every node (InternalIP 127.0.0.1 and this port):
            // the API server's pods/log, with kwok's `Logs` objects naming each container's file,
            // and pods/portforward, with its `PortForward` objects naming the address a port dials.
            "--node-ip=127.0.0.1".to_string(),
            format!("--node-port={}", self.kwok_port),
            format!("--server-address=127.0.0.1:{}", self.kwok_port),
            format!("--tls-cert-file={}", dir.join("serving.crt").display()),
            format!(
                "--tls-private-key-file={}",
                dir.join("serving.key").display()
            ),
            "--enable-crds=Logs,PortForward".to_string(),
            "--cidr=10.244.0.1/16".to_string(),
        ];
        let specs = [
            (
                "kube-controller-manager",
                &tools.kube_controller_manager,
                kcm_args,
            ),
            ("kube-scheduler", &tools.kube_scheduler, scheduler_args),
            ("kwok", &tools.kwok, kwok_args),
        ];
        for (component, bin, args) in specs {
            let proc = Proc::spawn(
                &self.run_dir,
                &format!("{}-{component}", self.name),
                &format!("{component} of cluster {}", self.name),
                bin,
                &args,
                self.watchdog.as_deref(),
            )?;
            if let Ok(mut others) = self.others.lock() {
                others.push(proc);
            }
        }
        Ok(())
    }

    /// Everything after the API server answers: the other components, nodes, Istio CRDs, and
    /// the waits for the service-account and root-CA machinery.
    async fn finish_start(
        &self,
        tools: &Tools,
        nodes: usize,
        crds: &[DynamicObject],
    ) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let client = self.client().await?;
        self.wait_apiserver_ready(&client).await?;
        tracing::info!(cluster = %self.name, seconds = started.elapsed().as_secs_f64(), "kube-apiserver ready");
        // kwok watches its Logs and PortForward objects from the start: their CRDs first.
        let mut kwok_crds = load_crds(&tools.kwok_logs_crd)?;
        kwok_crds.extend(load_crds(&tools.kwok_portforward_crd)?);
        self.install_crds(&client, &kwok_crds, "kwok Logs and PortForward CRDs")
            .await?;
        self.spawn_others(tools)?;

        // Simulated nodes, managed by kwok (it marks them Ready).
        let node_api: Api<Node> = Api::all(client.clone());
        for i in 0..nodes {
            let name = format!("{}-node-{i}", self.name);
            let node = Node {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    annotations: Some(
                        [
                            (KWOK_ANNOTATION.to_string(), "fake".to_string()),
                            ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
                        ]
                        .into(),
                    ),
                    labels: Some(
                        [
                            ("kubernetes.io/hostname".to_string(), name.clone()),
                            ("kubernetes.io/os".to_string(), "linux".to_string()),
                            ("kubernetes.io/arch".to_string(), "amd64".to_string()),
                            ("type".to_string(), "kwok".to_string()),
                            (
                                "topology.kubernetes.io/region".to_string(),
                                self.name.clone(),
                            ),
                            (
                                "topology.kubernetes.io/zone".to_string(),
                                format!("{}-{}", self.name, char::from(b'a' + (i % 26) as u8)),
                            ),
                        ]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                ..Node::default()
            };
            create_or_exists(node_api.create(&PostParams::default(), &node).await)?;
        }

        self.install_crds(&client, crds, "Istio CRDs").await?;
        tracing::info!(cluster = %self.name, seconds = started.elapsed().as_secs_f64(), "Istio CRDs established");
        // Service-account and root-CA machinery, and Ready nodes.
        let sa_api: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        self.wait("ServiceAccount default/default", || async {
            sa_api
                .get_opt("default")
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .ok_or_else(|| "not created yet".to_string())
        })
        .await?;
        let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        self.wait("ConfigMap default/kube-root-ca.crt", || async {
            cm_api
                .get_opt("kube-root-ca.crt")
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .ok_or_else(|| "not published yet".to_string())
        })
        .await?;
        self.wait(&format!("{nodes} Ready nodes"), || async {
            let list = node_api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let ready = list
                .items
                .iter()
                .filter(|n| {
                    n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        })
                })
                .count();
            if ready >= nodes {
                Ok(())
            } else {
                Err(format!("{ready} of {nodes} nodes Ready"))
            }
        })
        .await?;
        tracing::info!(cluster = %self.name, seconds = started.elapsed().as_secs_f64(), "cluster ready");
        Ok(())
    }

    /// Creates `crds` (existing ones are kept) and waits until all are Established.
    async fn install_crds(
        &self,
        client: &Client,
        crds: &[DynamicObject],
        what: &str,
    ) -> Result<(), Error> {
        let crd_resource = ApiResource::erase::<CustomResourceDefinition>(&());
        let crd_api: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource);
        let creates = crds.iter().map(|crd| {
            let api = crd_api.clone();
            async move { create_or_exists(api.create(&PostParams::default(), crd).await) }
        });
        futures::future::try_join_all(creates).await?;
        let names: BTreeSet<String> = crds
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        let typed_crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        self.wait(&format!("{what} Established"), || async {
            let list = typed_crds
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let established: BTreeSet<String> = list
                .items
                .iter()
                .filter(|c| {
                    c.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c.type_ == "Established" && c.status == "True")
                        })
                })
                .filter_map(|c| c.metadata.name.clone())
                .collect();
            let missing: Vec<&String> = names.difference(&established).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not Established yet: {missing:?}"))
            }
        })
        .await?;

        Ok(())
    }

    fn stop_all(&self) {
        let watchdog = self.watchdog.as_deref();
        if let Ok(mut others) = self.others.lock() {
            for p in others.iter_mut() {
                p.stop(watchdog);
            }
            others.clear();
        }
        if let Ok(mut api) = self.apiserver.lock()
            && let Some(mut p) = api.take()
        {
            p.stop(watchdog);
        }
    }

    fn pids(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        if let Ok(api) = self.apiserver.lock()
            && let Some(p) = api.as_ref()
        {
            out.push((p.what().to_string(), p.pid()));
        }
        if let Ok(others) = self.others.lock() {
            out.extend(others.iter().map(|p| (p.what().to_string(), p.pid())));
        }
        out
    }
}

fn create_or_exists<T>(result: Result<T, kube::Error>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Loads the CRDs of a multi-document YAML file as dynamic objects.
fn load_crds(path: &Path) -> Result<Vec<DynamicObject>, Error> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = <serde_json::Value as serde::Deserialize>::deserialize(doc)?;
        if value.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
            continue;
        }
        out.push(serde_json::from_value(value)?);
    }
    Ok(out)
}

/// Picks `n` distinct free loopback ports (all held open while picking).
fn free_ports(n: usize) -> Result<Vec<u16>, Error> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io("picking a free port on 127.0.0.1", e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io("picking a free port on 127.0.0.1", e))
}

fn check_port_free(port: u16, purpose: &str) -> Result<(), Error> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::PortInUse {
            port,
            purpose: purpose.to_string(),
        }),
        Err(e) => Err(Error::io(format!("checking port {port} ({purpose})"), e)),
    }
}

/// A set of clusters and their shared etcd.
#[derive(Debug)]
pub struct TestBed {
    run_dir: PathBuf,
    kubeconfig_path: PathBuf,
    clusters: Vec<Cluster>,
    etcd: Arc<Mutex<Option<Proc>>>,
    /// etcd's program and arguments, to start it again ([`TestBed::restart_etcd`]).
    etcd_command: (PathBuf, Vec<String>),
    watchdog: Option<Arc<Watchdog>>,
    /// Processes are left running when the value is dropped (set once a detached start succeeded).
    keep_running: bool,
    /// The run directory is ours to delete on stop.
    remove_dir: bool,
}

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The base directory of run directories of non-detached beds (and Prometheus instances).
pub(crate) fn runs_base() -> PathBuf {
    std::env::temp_dir().join("meshglass-testbed")
}

/// A fresh run directory under [`runs_base`], after stopping leftovers of dead owners.
pub(crate) fn new_run_dir(kind: &str) -> Result<PathBuf, Error> {
    let base = runs_base();
    process::clean_leftovers(&base);
    let dir = base.join(format!(
        "{kind}-{}-{}",
        std::process::id(),
        RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if dir.exists() {
        let _ = fs::remove_dir_all(&dir);
    }
    fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    process::write_owner(&dir)?;
    Ok(dir)
}

impl TestBed {
    /// Starts a private set of clusters; dropping the value stops every process.
    pub async fn start(clusters: &[&str]) -> Result<TestBed, Error> {
        Self::start_with(StartOptions::new(clusters)).await
    }

    /// Starts clusters with explicit options. On any error everything already started is stopped.
    /// When free ports were picked and another process took one before our server bound it, the
    /// start is retried with fresh ports (up to three attempts).
    pub async fn start_with(options: StartOptions) -> Result<TestBed, Error> {
        let mut attempt = 1;
        loop {
            match Self::start_once(options.clone()).await {
                Err(Error::ProcessExited { tail, .. })
                    if attempt < 3
                        && options.first_port.is_none()
                        && tail.contains("address already in use") =>
                {
                    tracing::warn!(attempt, "a picked port was taken meanwhile; starting again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(options: StartOptions) -> Result<TestBed, Error> {
        if options.detached && options.state_dir.is_none() {
            return Err(Error::Unsupported(
                "a detached test bed needs a state directory",
            ));
        }
        let mut seen = BTreeSet::new();
        if options.clusters.is_empty() {
            return Err(Error::InvalidClusterName {
                name: String::new(),
                reason: "no cluster names given",
            });
        }
        for name in &options.clusters {
            validate_cluster_name(name)?;
            if !seen.insert(name.as_str()) {
                return Err(Error::InvalidClusterName {
                    name: name.clone(),
                    reason: "the name is given twice",
                });
            }
        }
        let api_ports: Vec<u16> = match options.first_port {
            Some(first) => {
                let mut ports = Vec::new();
                for (i, name) in options.clusters.iter().enumerate() {
                    let port =
                        u16::try_from(usize::from(first) + i).map_err(|_| Error::PortInUse {
                            port: first,
                            purpose: "port range exceeds 65535".to_string(),
                        })?;
                    check_port_free(port, &format!("API server of cluster {name}"))?;
                    ports.push(port);
                }
                ports
            }
            None => Vec::new(),
        };

        let tools = Tools::locate()?;
        let crds = load_crds(&tools.istio_crds)?;

        // Run directory.
        let (run_dir, remove_dir) = match &options.state_dir {
            Some(dir) => {
                process::clean_leftovers(&runs_base());
                fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                let dir = fs::canonicalize(dir)
                    .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
                let alive = process::recorded_alive(&dir);
                if !alive.is_empty() {
                    return Err(Error::AlreadyRunning {
                        dir,
                        pids: alive
                            .iter()
                            .map(|(p, _)| p.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    });
                }
                // Stale files of a previous (stopped or crashed) bed.
                for sub in ["pids", "logs", "etcd", "kubeconfig", "owner"] {
                    let p = dir.join(sub);
                    let _ = if p.is_dir() {
                        fs::remove_dir_all(&p)
                    } else {
                        fs::remove_file(&p)
                    };
                }
                for name in &options.clusters {
                    let _ = fs::remove_dir_all(dir.join(name));
                }
                process::write_owner(&dir)?;
                (dir, false)
            }
            None => (new_run_dir("bed")?, true),
        };
        // Also for detached beds: until the start succeeded, an interrupted start leaves nothing.
        let watchdog = Some(Arc::new(Watchdog::start(&run_dir)?));

        let mut bed = TestBed {
            kubeconfig_path: run_dir.join("kubeconfig"),
            run_dir: run_dir.clone(),
            clusters: Vec::new(),
            etcd: Arc::new(Mutex::new(None)),
            etcd_command: (PathBuf::new(), Vec::new()),
            watchdog: watchdog.clone(),
            keep_running: false,
            remove_dir,
        };
        // From here on, an error drops `bed`, which stops everything started so far.

        let webhooks = if options.token_webhook {
            options.clusters.len()
        } else {
            0
        };
        let free = free_ports(
            2 + 2 * options.clusters.len()
                + webhooks
                + if api_ports.is_empty() {
                    options.clusters.len()
                } else {
                    0
                },
        )?;
        let (etcd_client, etcd_peer) = (free[0], free[1]);
        let n = options.clusters.len();
        let oidc_ports = free[2..2 + n].to_vec();
        let kwok_ports = free[2 + n..2 + 2 * n].to_vec();
        let webhook_ports: Vec<Option<u16>> = if options.token_webhook {
            free[2 + 2 * n..2 + 3 * n]
                .iter()
                .copied()
                .map(Some)
                .collect()
        } else {
            vec![None; n]
        };
        let api_ports = if api_ports.is_empty() {
            free[2 + 2 * n + webhooks..].to_vec()
        } else {
            api_ports
        };

        let etcd_dir = run_dir.join("etcd");
        let etcd_args = vec![
            "--name=testbed".to_string(),
            format!("--data-dir={}", etcd_dir.display()),
            format!("--listen-client-urls=http://127.0.0.1:{etcd_client}"),
            format!("--advertise-client-urls=http://127.0.0.1:{etcd_client}"),
            format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-cluster=testbed=http://127.0.0.1:{etcd_peer}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
            "--quota-backend-bytes=4294967296".to_string(),
        ];
        let etcd = Proc::spawn(
            &run_dir,
            "etcd",
            "etcd",
            &tools.etcd,
            &etcd_args,
            watchdog.as_deref(),
        )?;
        if let Ok(mut slot) = bed.etcd.lock() {
            *slot = Some(etcd);
        }
        bed.etcd_command = (tools.etcd.clone(), etcd_args);

        let mut kubeconfig_entries = Vec::new();
        for ((((name, port), oidc_port), kwok_port), webhook_port) in options
            .clusters
            .iter()
            .zip(&api_ports)
            .zip(&oidc_ports)
            .zip(&kwok_ports)
            .zip(&webhook_ports)
        {
            let dir = run_dir.join(name);
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            let pki = ClusterPki::generate(name)?;
            write(&dir.join("serving-ca.crt"), &pki.serving_ca)?;
            write(&dir.join("serving.crt"), &pki.serving_cert)?;
            write(&dir.join("serving.key"), &pki.serving_key)?;
            write(&dir.join("client-ca.crt"), &pki.client_ca)?;
            write(&dir.join("sa.key"), &pki.sa_key)?;
            write(&dir.join("sa.pub"), &pki.sa_pub)?;
            let server_url = format!("https://127.0.0.1:{port}");
            let yaml = kubeconfig_yaml(&[(name, &server_url, &pki)])?;
            // Validate once, so Cluster::kubeconfig cannot fail later.
            Kubeconfig::from_yaml(&yaml)?;
            write(&dir.join("admin.kubeconfig"), &yaml)?;
            let oidc = OidcIssuer {
                url: format!("https://127.0.0.1:{oidc_port}"),
                port: *oidc_port,
                client_id: format!("meshglass-{name}"),
                cert_file: dir.join("serving.crt"),
                key_file: dir.join("serving.key"),
                ca_pem: pki.serving_ca.clone(),
            };
            write(
                &dir.join("authentication.yaml"),
                &authentication_config(&oidc)?,
            )?;
            let mut apiserver_args = vec![
                format!(
                    "--authentication-config={}",
                    dir.join("authentication.yaml").display()
                ),
                format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
                format!("--etcd-prefix=/{name}/registry"),
                format!("--cert-dir={}", dir.join("certs").display()),
                format!("--tls-cert-file={}", dir.join("serving.crt").display()),
                format!(
                    "--tls-private-key-file={}",
                    dir.join("serving.key").display()
                ),
                format!("--client-ca-file={}", dir.join("client-ca.crt").display()),
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".to_string(),
                "--advertise-address=127.0.0.1".to_string(),
                format!("--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"),
                "--allow-privileged=true".to_string(),
                "--authorization-mode=Node,RBAC".to_string(),
                format!("--service-account-issuer={server_url}"),
                format!(
                    "--service-account-key-file={}",
                    dir.join("sa.pub").display()
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    dir.join("sa.key").display()
                ),
                "--endpoint-reconciler-type=none".to_string(),
                // pods/log goes to kwok's kubelet API on the node's InternalIP (127.0.0.1), which
                // serves with this cluster's serving certificate.
                "--kubelet-preferred-address-types=InternalIP".to_string(),
                format!(
                    "--kubelet-certificate-authority={}",
                    dir.join("serving-ca.crt").display()
                ),
                // Without a node-lifecycle controller nothing would lift the not-ready taint that
                // this plugin puts on new nodes; kwok reports the nodes Ready instead.
                "--disable-admission-plugins=TaintNodesByCondition".to_string(),
                "--enable-priority-and-fairness=false".to_string(),
                "--profiling=false".to_string(),
            ];
            if let Some(p) = webhook_port {
                let hook = dir.join("token-webhook.kubeconfig");
                write(&hook, &token_webhook_kubeconfig(*p)?)?;
                apiserver_args.extend([
                    format!(
                        "--authentication-token-webhook-config-file={}",
                        hook.display()
                    ),
                    "--authentication-token-webhook-version=v1".to_string(),
                    // A revoked token stops working within seconds, not the default two minutes.
                    "--authentication-token-webhook-cache-ttl=5s".to_string(),
                ]);
            }
            let cluster = Cluster {
                name: name.clone(),
                port: *port,
                server_url: server_url.clone(),
                dir: dir.clone(),
                pki: pki.clone(),
                kubeconfig_yaml: yaml,
                apiserver_args,
                apiserver_bin: tools.kube_apiserver.clone(),
                run_dir: run_dir.clone(),
                owned: options.state_dir.is_none(),
                watchdog: watchdog.clone(),
                apiserver: Mutex::new(None),
                others: Mutex::new(Vec::new()),
                etcd: bed.etcd.clone(),
                oidc,
                kwok_port: *kwok_port,
                token_webhook_port: *webhook_port,
            };
            let proc = cluster.spawn_apiserver()?;
            if let Ok(mut slot) = cluster.apiserver.lock() {
                *slot = Some(proc);
            }
            kubeconfig_entries.push((name.clone(), server_url, pki));
            bed.clusters.push(cluster);
        }

        let entries: Vec<(&str, &str, &ClusterPki)> = kubeconfig_entries
            .iter()
            .map(|(n, u, p)| (n.as_str(), u.as_str(), p))
            .collect();
        write(&bed.kubeconfig_path, &kubeconfig_yaml(&entries)?)?;

        let nodes = options.nodes;
        futures::future::try_join_all(
            bed.clusters
                .iter()
                .map(|c| c.finish_start(&tools, nodes, &crds)),
        )
        .await?;
        if options.detached {
            if let Some(w) = &bed.watchdog {
                w.release();
            }
            let _ = fs::remove_file(run_dir.join("owner"));
            bed.keep_running = true;
        }
        Ok(bed)
    }

    /// The cluster named `name`. Panics on a name the bed was not started with (a bug in the test).
    pub fn cluster(&self, name: &str) -> &Cluster {
        match self.try_cluster(name) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn try_cluster(&self, name: &str) -> Result<&Cluster, Error> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::NoSuchCluster(name.to_string()))
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// One kubeconfig file, one context per cluster, named after it.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// (description, pid) of every running process of the bed.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        if let Ok(e) = self.etcd.lock()
            && let Some(p) = e.as_ref()
        {
            out.push((p.what().to_string(), p.pid()));
        }
        for c in &self.clusters {
            out.extend(c.pids());
        }
        out
    }

    /// Stops the bed's etcd and starts it again on the same ports and data (owned beds only);
    /// returns once every API server reports ready again.
    pub async fn restart_etcd(&self) -> Result<(), Error> {
        if self.clusters.iter().any(|c| !c.owned) {
            return Err(Error::Unsupported(
                "restart_etcd needs an owned TestBed (TestBed::start), not the shared one",
            ));
        }
        let old = self.etcd.lock().ok().and_then(|mut e| e.take());
        if let Some(mut p) = old {
            p.stop(self.watchdog.as_deref());
        }
        let (bin, args) = &self.etcd_command;
        let etcd = Proc::spawn(
            &self.run_dir,
            "etcd",
            "etcd",
            bin,
            args,
            self.watchdog.as_deref(),
        )?;
        if let Ok(mut slot) = self.etcd.lock() {
            *slot = Some(etcd);
        }
        for c in &self.clusters {
            let client = c.client().await?;
            c.wait_apiserver_ready(&client).await?;
        }
        Ok(())
    }

    /// Stops every process and removes the bed's files (unless a state dir was given).
    pub fn stop(mut self) {
        self.keep_running = false;
        drop(self);
    }

    fn stop_now(&mut self) {
        for c in &self.clusters {
            c.stop_all();
        }
        if let Ok(mut e) = self.etcd.lock()
            && let Some(mut p) = e.take()
        {
            p.stop(self.watchdog.as_deref());
        }
        if let Some(w) = &self.watchdog {
            w.finish();
        }
        if self.remove_dir {
            let _ = fs::remove_dir_all(&self.run_dir);
        } else {
            let _ = fs::remove_dir_all(self.run_dir.join("pids"));
            let _ = fs::remove_file(self.run_dir.join("owner"));
        }
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        // A detached bed leaves its processes running: dropping a Child does not kill it.
        if !self.keep_running {
            self.stop_now();
        }
    }
}

/// Stops a bed started with a state directory (detached or crashed): kills the processes recorded
/// there that still run our programs with that directory on their command line, and removes the
/// bed's files. Returns how many processes were stopped.
pub fn stop_state_dir(dir: &Path) -> Result<usize, Error> {
    if !dir.exists() {
        return Ok(0);
    }
    let dir =
        fs::canonicalize(dir).map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
    let killed = process::kill_recorded(&dir);
    let _ = fs::remove_dir_all(&dir);
    Ok(killed)
}

type SharedResult = Result<TestBed, String>;
static SHARED: OnceCell<(Vec<String>, SharedResult)> = OnceCell::const_new();

/// The clusters shared by every test of this test binary: started on first use (from whichever
/// test's runtime gets there first), stopped when the test process exits. Every call must name
/// the same clusters.
pub async fn shared(clusters: &[&str]) -> Result<&'static TestBed, Error> {
    let (names, result) = SHARED
        .get_or_init(|| async {
            let names: Vec<String> = clusters.iter().map(|c| c.to_string()).collect();
            let result = start_shared(clusters).await;
            (names, result)
        })
        .await;
    let bed = result.as_ref().map_err(|e| Error::Shared(e.clone()))?;
    for c in clusters {
        if !names.iter().any(|n| n == c) {
            return Err(Error::NoSuchCluster(format!(
                "{c} (the shared bed of this test binary was started with {names:?})"
            )));
        }
    }
    Ok(bed)
}

async fn start_shared(clusters: &[&str]) -> SharedResult {
    // The first test's runtime may end before the others: start on a runtime of our own, on a
    // thread that outlives no one (the processes belong to the watchdog, not to a runtime).
    let clusters: Vec<String> = clusters.iter().map(|c| c.to_string()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build();
        let result = match runtime {
            Ok(rt) => {
                let names: Vec<&str> = clusters.iter().map(String::as_str).collect();
                let r = rt.block_on(TestBed::start(&names));
                r.map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("starting a tokio runtime: {e}")),
        };
        let _ = tx.send(result);
    });
    rx.await
        .unwrap_or_else(
            |_| Err("the thread starting the shared bed ended unexpectedly".to_string()),
        )
        .map(|mut bed| {
            // The shared bed lives in a static and is never dropped; the watchdog stops it when
            // the process exits. Its API servers are not to be stopped by tests.
            for c in &mut bed.clusters {
                c.owned = false;
            }
            bed
        })
}
