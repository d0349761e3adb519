//! `meshglass-demo`: the seeds' east/west mesh, end to end, on one machine (`make demo`, `make demo-down`).
//!
//! `up` starts clusters east and west with the test bed (state in `.local/`), labels them as Istio's
//! primary-remote, multi-network setup does, creates the demo apps from the topology file, serves each
//! cluster's sidecar metrics from the simulator, runs one Prometheus per cluster (east federates west), runs
//! the operator against both clusters with the example Kiali CRs, wires west into east with
//! `meshglass-operator remote-secret`, and finally runs the server out of cluster with exactly what the
//! operator produced (its ConfigMap's `config.yaml`, the remote-cluster secrets its Deployment mounts). It
//! then waits for Ctrl-C or SIGTERM (`down`) and stops everything it started, and nothing else.

mod kube_util;
mod procs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::ListParams;
use meshglass_simulator::{Topology, manifests, metrics};
use serde_json::{Value, json};

use kube_util::{Applier, wait_for, yaml_documents};
use procs::Procs;

const NAMESPACE: &str = "istio-system";
const PRIMARY: &str = "east";
const REMOTE: &str = "west";

#[derive(Parser)]
#[command(
    name = "meshglass-demo",
    version,
    about = "The east/west demo mesh with the operator and the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set everything up, print the URL, and run until Ctrl-C or `meshglass-demo down`.
    Up(UpArgs),
    /// Stop a running demo (and whatever a crashed one left behind) in this state directory.
    Down {
        #[arg(long, default_value = ".local")]
        state_dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct UpArgs {
    /// Where clusters, logs, Prometheus data and the server's materialised config live.
    #[arg(long, default_value = ".local")]
    state_dir: PathBuf,
    /// The demo's examples: demo-mesh.yaml, kiali-primary.yaml, kiali-remote.yaml, prometheus/.
    #[arg(long, default_value = "examples")]
    examples: PathBuf,
    /// Use these running clusters (contexts `east` and `west`) instead of starting them.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Directory of meshglass-operator and meshglass-server; default: this program's directory.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Pick free ports instead of the fixed ones of the examples (server 20001 and 9090, Prometheus
    /// 9091/9092, simulated sidecars 15091/15092, operators' admin endpoints 18081/18082).
    #[arg(long)]
    free_ports: bool,
    /// Once ready, write a JSON file with the URLs here.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

/// Ports of what the demo runs; the example files use the fixed defaults.
#[derive(Debug, Clone, Copy)]
struct Ports {
    server: u16,
    server_metrics: u16,
    prometheus_east: u16,
    prometheus_west: u16,
    simulator_east: u16,
    simulator_west: u16,
    operator_east: u16,
    operator_west: u16,
}

impl Ports {
    const FIXED: Ports = Ports {
        server: 20001,
        server_metrics: 9090,
        prometheus_east: 9091,
        prometheus_west: 9092,
        simulator_east: 15091,
        simulator_west: 15092,
        operator_east: 18081,
        operator_west: 18082,
    };

    fn free() -> anyhow::Result<Ports> {
        // Hold every listener until all are picked, so that the ports differ.
        let listeners: Vec<std::net::TcpListener> = (0..8)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()?;
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        Ok(Ports {
            server: p[0],
            server_metrics: p[1],
            prometheus_east: p[2],
            prometheus_west: p[3],
            simulator_east: p[4],
            simulator_west: p[5],
            operator_east: p[6],
            operator_west: p[7],
        })
    }

    fn check_free(&self) -> anyhow::Result<()> {
        for (port, what) in [
            (self.server, "the server"),
            (self.server_metrics, "the server's metrics"),
            (self.prometheus_east, "east's Prometheus"),
            (self.prometheus_west, "west's Prometheus"),
            (self.simulator_east, "east's simulated sidecars"),
            (self.simulator_west, "west's simulated sidecars"),
            (self.operator_east, "east's operator admin endpoint"),
            (self.operator_west, "west's operator admin endpoint"),
        ] {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} (for {what}) is in use: is a demo already running? `make demo-down` stops it"
                );
            }
        }
        Ok(())
    }
}

/// Step-by-step progress with timings.
struct Progress {
    start: Instant,
    step: Instant,
    n: usize,
    total: usize,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            start: Instant::now(),
            step: Instant::now(),
            n: 0,
            total,
        }
    }
    fn begin(&mut self, what: &str) {
        self.n += 1;
        self.step = Instant::now();
        println!("[{}/{}] {what} ...", self.n, self.total);
    }
    fn done(&self, detail: &str) {
        println!(
            "      done in {:.1} s{}{detail}",
            self.step.elapsed().as_secs_f64(),
            if detail.is_empty() { "" } else { ": " }
        );
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The client logs every refused connection while an API server starts; the demo reports
            // failures itself.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,kube_client=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Up(args) => up(args).await,
        Command::Down { state_dir } => down(&state_dir).await,
    };
    if let Err(e) = result {
        eprintln!("meshglass-demo: {e:#}");
        std::process::exit(1);
    }
}

async fn down(state_dir: &Path) -> anyhow::Result<()> {
    let demo_dir = state_dir.join("demo");
    let stopped = procs::stop_running_demo(&demo_dir).await?;
    let leftovers = procs::kill_recorded(&demo_dir);
    // Clusters the demo started (a crashed demo's watchdog normally stopped them already).
    let mut clusters = 0;
    if demo_dir.join("owns-clusters").exists() {
        clusters = meshglass_testbed::stop_state_dir(&state_dir.join("clusters"))
            .map_err(|e| anyhow!("{e}"))?;
        let _ = std::fs::remove_file(state_dir.join("kubeconfig"));
    }
    let _ = std::fs::remove_dir_all(&demo_dir);
    match (stopped, leftovers + clusters) {
        (false, 0) => println!("no demo running in {}", state_dir.display()),
        (true, _) => println!("demo stopped"),
        (false, n) => println!("stopped {n} processes left by an earlier demo"),
    }
    Ok(())
}

/// Everything `up` started; dropped in reverse order on exit.
struct Running {
    procs: Procs,
    bed: Option<meshglass_testbed::TestBed>,
    /// The kubeconfig written for the bed's clusters, removed with them.
    kubeconfig: Option<PathBuf>,
    simulators: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn stop(mut self) {
        for s in &self.simulators {
            s.abort();
        }
        self.procs.stop_all().await;
        if let Some(bed) = self.bed.take() {
            bed.stop();
        }
        if let Some(k) = self.kubeconfig.take() {
            let _ = std::fs::remove_file(k);
        }
    }
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let state_dir = absolute(&args.state_dir)?;
    let examples = absolute(&args.examples)?;
    let demo_dir = state_dir.join("demo");
    std::fs::create_dir_all(&demo_dir)?;
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("no exe dir"))?,
    };
    for tool in ["meshglass-operator", "meshglass-server"] {
        if !bin_dir.join(tool).exists() {
            bail!(
                "{} not found: build it first (`cargo build -p meshglass-operator -p meshglass-server`)",
                bin_dir.join(tool).display()
            );
        }
    }
    if procs::demo_alive(&demo_dir) {
        bail!(
            "a demo is already running from {} (`make demo-down` stops it)",
            state_dir.display()
        );
    }
    procs::kill_recorded(&demo_dir);
    let ports = if args.free_ports {
        Ports::free()?
    } else {
        Ports::FIXED
    };
    ports.check_free()?;
    procs::write_demo_pid(&demo_dir)?;

    let mut running = Running {
        procs: Procs::new(demo_dir.clone()),
        bed: None,
        kubeconfig: None,
        simulators: Vec::new(),
    };
    let result = tokio::select! {
        r = run(&args, &state_dir, &examples, &bin_dir, ports, &mut running) => r,
        _ = shutdown_signal() => { println!("interrupted; stopping what the demo started"); Ok(()) }
    };
    if result.is_err() {
        eprintln!("the demo failed; logs: {}", demo_dir.join("logs").display());
    }
    running.stop().await;
    let _ = std::fs::remove_file(demo_dir.join("demo.pid"));
    let _ = std::fs::remove_file(demo_dir.join("owns-clusters"));
    if let Some(f) = &args.ready_file {
        let _ = std::fs::remove_file(f);
    }
    println!("demo stopped");
    result
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

async fn run(
    args: &UpArgs,
    state_dir: &Path,
    examples: &Path,
    bin_dir: &Path,
    ports: Ports,
    running: &mut Running,
) -> anyhow::Result<()> {
    let mut progress = Progress::new(9);
    let topology_path = examples.join("demo-mesh.yaml");
    let mesh = Arc::new(Topology::load(&topology_path)?);
    for c in [PRIMARY, REMOTE] {
        if !mesh.topology.clusters.iter().any(|k| k == c) {
            bail!("{} has no cluster {c}", topology_path.display());
        }
    }

    // 1. Clusters.
    progress.begin(
        "clusters east and west (kube-apiserver, controller-manager, scheduler, etcd, kwok nodes)",
    );
    let kubeconfig = match &args.kubeconfig {
        Some(k) => {
            progress.done(&format!("using {}", k.display()));
            absolute(k)?
        }
        None if clusters_running(&state_dir.join("kubeconfig")).await => {
            // `make clusters-up` started them: use them, and leave them running afterwards.
            progress.done(
                "reusing the clusters of .local/kubeconfig (`make clusters-down` stops them)",
            );
            state_dir.join("kubeconfig")
        }
        None => {
            // The bed gets a directory of its own: its watchdog removes that directory when the bed
            // stops, and the demo's logs must outlive it.
            let mut options = meshglass_testbed::StartOptions::new(&[PRIMARY, REMOTE]);
            options.state_dir = Some(state_dir.join("clusters"));
            let bed = meshglass_testbed::TestBed::start_with(options)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            std::fs::write(state_dir.join("demo/owns-clusters"), "")?;
            let urls: Vec<String> = bed
                .clusters()
                .iter()
                .map(|c| format!("{} {}", c.name(), c.server_url()))
                .collect();
            // One kubeconfig, one context per cluster, where `make clusters-up` puts it.
            let path = state_dir.join("kubeconfig");
            std::fs::copy(bed.kubeconfig_path(), &path)?;
            running.kubeconfig = Some(path.clone());
            running.bed = Some(bed);
            progress.done(&urls.join(", "));
            path
        }
    };
    let east = kube_util::client(&kubeconfig, PRIMARY).await?;
    let west = kube_util::client(&kubeconfig, REMOTE).await?;
    let mut apply_east = Applier::new(east.clone());
    let mut apply_west = Applier::new(west.clone());

    // 2. Istio's multi-cluster topology labels and the Kiali CRD.
    progress.begin("istio-system as primary-remote on two networks; Kiali CRD");
    apply_east
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"topology.istio.io/network": "network1"}}}))
        .await?;
    apply_west
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"topology.istio.io/network": "network2"},
                         "annotations": {"topology.istio.io/controlPlaneClusters": PRIMARY}}}))
        .await?;
    let crd = procs::output(&bin_dir.join("meshglass-operator"), &["crd"], &[]).await?;
    let crds = yaml_documents(&crd)?;
    for a in [&mut apply_east, &mut apply_west] {
        for c in &crds {
            a.apply(c).await?;
        }
        a.forget();
    }
    for a in [&mut apply_east, &mut apply_west] {
        wait_for(
            "the Kiali CRD to be served",
            Duration::from_secs(30),
            || {
                let client = a.client().clone();
                async move {
                    let gvk = kube::core::GroupVersionKind::gvk("kiali.io", "v1alpha1", "Kiali");
                    Ok(kube::discovery::pinned_kind(&client, &gvk)
                        .await
                        .ok()
                        .map(|_| ()))
                }
            },
        )
        .await?;
    }
    let extra = examples.join("demo-istio-config.yaml");
    let mut istio_objects = 0;
    if extra.exists() {
        // Istio configuration lives on the primary, whose control plane reads it. Its namespaces come with
        // the demo apps; create them first.
        for ns in mesh.topology.all_namespaces() {
            apply_east
                .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .await?;
        }
        for obj in yaml_documents(&read(&extra)?)? {
            apply_east.apply(&obj).await?;
            istio_objects += 1;
        }
    }
    progress.done(&format!(
        "network1/network2, west controlled by east, {istio_objects} Istio objects on east"
    ));

    // 3. Demo apps.
    progress.begin("demo apps (bookinfo, helloworld, sleep) as Deployments and Services");
    let mut deployments = 0;
    for (cluster, applier) in [(PRIMARY, &mut apply_east), (REMOTE, &mut apply_west)] {
        for obj in manifests::for_cluster(&mesh, cluster) {
            applier.apply(&obj).await?;
            deployments += usize::from(obj["kind"] == "Deployment");
        }
    }
    for (cluster, client) in [(PRIMARY, &east), (REMOTE, &west)] {
        let namespaces = mesh.topology.all_namespaces();
        wait_for(
            &format!("the demo Deployments of {cluster} to be available"),
            Duration::from_secs(120),
            || {
                let client = client.clone();
                let namespaces = namespaces.clone();
                async move {
                    let mut pending = Vec::new();
                    for ns in &namespaces {
                        for d in Api::<Deployment>::namespaced(client.clone(), ns)
                            .list(&ListParams::default())
                            .await?
                        {
                            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                            let have = d
                                .status
                                .as_ref()
                                .and_then(|s| s.available_replicas)
                                .unwrap_or(0);
                            if have < want {
                                pending
                                    .push(format!("{ns}/{}", d.metadata.name.unwrap_or_default()));
                            }
                        }
                    }
                    if pending.is_empty() {
                        Ok(Some(()))
                    } else {
                        Err(anyhow!("not available: {}", pending.join(", ")))
                    }
                }
            },
        )
        .await?;
    }
    progress.done(&format!(
        "{deployments} Deployments available, pods Running on simulated nodes"
    ));

    // 4. Simulated sidecars.
    progress.begin("mesh-traffic simulator: one /metrics endpoint per cluster");
    for (cluster, port) in [
        (PRIMARY, ports.simulator_east),
        (REMOTE, ports.simulator_west),
    ] {
        running.simulators.push(
            serve_metrics(
                mesh.clone(),
                cluster,
                SocketAddr::from(([127, 0, 0, 1], port)),
            )
            .await?,
        );
    }
    progress.done(&format!(
        "east http://127.0.0.1:{}/metrics, west http://127.0.0.1:{}/metrics ({} flows)",
        ports.simulator_east,
        ports.simulator_west,
        mesh.flows.len()
    ));

    // 5. Prometheus: west scrapes its sidecars; east scrapes its own and federates west.
    progress.begin("Prometheus per cluster, east federating west");
    let prometheus = procs::which("prometheus").ok_or_else(|| {
        anyhow!("prometheus not found: run `make prereqs` (installs Debian's prometheus)")
    })?;
    for (cluster, port) in [
        (REMOTE, ports.prometheus_west),
        (PRIMARY, ports.prometheus_east),
    ] {
        let config = read(&examples.join(format!("prometheus/{cluster}.yml")))?
            .replace(
                "127.0.0.1:15091",
                &format!("127.0.0.1:{}", ports.simulator_east),
            )
            .replace(
                "127.0.0.1:15092",
                &format!("127.0.0.1:{}", ports.simulator_west),
            )
            .replace(
                "127.0.0.1:9092",
                &format!("127.0.0.1:{}", ports.prometheus_west),
            );
        let dir = state_dir.join(format!("prometheus-{cluster}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::write(dir.join("prometheus.yml"), config)?;
        running.procs.spawn(
            &format!("prometheus-{cluster}"),
            &prometheus,
            &[
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn".to_owned(),
            ],
            &[],
        )?;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let east_prom = format!("http://127.0.0.1:{}", ports.prometheus_east);
    wait_for("east's Prometheus to hold west's federated series", Duration::from_secs(90), || {
        let http = http.clone();
        let url = format!("{east_prom}/api/v1/query");
        async move {
            let q = r#"count by (reporter) (istio_requests_total{source_cluster="east",destination_cluster="west"})"#;
            let url = reqwest::Url::parse_with_params(&url, &[("query", q)])?;
            let v: Value = http.get(url).send().await?.json().await?;
            let reporters = v["data"]["result"].as_array().map_or(0, Vec::len);
            Ok((reporters == 2).then_some(()))
        }
    })
    .await?;
    progress.done(&format!(
        "east {east_prom}, west http://127.0.0.1:{}",
        ports.prometheus_west
    ));

    // 6. The operator on both clusters, with the example CRs.
    progress.begin("meshglass-operator on east (primary CR) and west (remote CR)");
    let kc = kubeconfig.display().to_string();
    for (cluster, admin_port) in [
        (PRIMARY, ports.operator_east),
        (REMOTE, ports.operator_west),
    ] {
        running.procs.spawn(
            &format!("operator-{cluster}"),
            &bin_dir.join("meshglass-operator"),
            &[
                "run".into(),
                "--kubeconfig".into(),
                kc.clone(),
                "--context".into(),
                cluster.into(),
                // Two operators on one machine: each its own /healthz, /readyz, /metrics port.
                "--admin-addr".into(),
                format!("127.0.0.1:{admin_port}"),
            ],
            &[],
        )?;
    }
    let mut primary = one_document(&examples.join("kiali-primary.yaml"))?;
    primary["spec"]["external_services"]["prometheus"]["url"] = json!(east_prom);
    primary["spec"]["server"]["port"] = json!(ports.server);
    primary["spec"]["server"]["observability"]["metrics"]["port"] = json!(ports.server_metrics);
    let remote = one_document(&examples.join("kiali-remote.yaml"))?;
    apply_east.apply(&primary).await?;
    apply_west.apply(&remote).await?;
    let instance = primary["spec"]["deployment"]["instance_name"]
        .as_str()
        .unwrap_or("kiali")
        .to_owned();
    for (cluster, applier, cr) in [
        (PRIMARY, &mut apply_east, &primary),
        (REMOTE, &mut apply_west, &remote),
    ] {
        let name = cr["metadata"]["name"]
            .as_str()
            .unwrap_or("kiali")
            .to_owned();
        let ns = cr["metadata"]["namespace"]
            .as_str()
            .unwrap_or(NAMESPACE)
            .to_owned();
        let api = applier
            .api_for("kiali.io/v1alpha1", "Kiali", Some(&ns))
            .await?;
        wait_for(
            &format!("Kiali {ns}/{name} on {cluster} to be Successful"),
            Duration::from_secs(90),
            || {
                let api = api.clone();
                let name = name.clone();
                async move {
                    let cr = api.get(&name).await?;
                    let conditions = cr.data["status"]["conditions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let ok = conditions
                        .iter()
                        .any(|c| c["type"] == "Successful" && c["status"] == "True");
                    if ok {
                        Ok(Some(()))
                    } else {
                        Err(anyhow!("conditions {}", Value::Array(conditions)))
                    }
                }
            },
        )
        .await?;
    }
    progress.done("both Kiali CRs Successful");

    // 7. West's credentials into east.
    progress.begin("meshglass-operator remote-secret: wire west into east");
    let out = procs::output(
        &bin_dir.join("meshglass-operator"),
        &[
            "remote-secret",
            "--kiali-cluster-context",
            PRIMARY,
            "--remote-cluster-context",
            REMOTE,
            "--kiali-cluster-namespace",
            NAMESPACE,
            "--remote-cluster-namespace",
            NAMESPACE,
            "--kiali-resource-name",
            &format!("{instance}-service-account"),
            "--process-remote-resources",
            "false",
            "--remote-cluster-name",
            REMOTE,
        ],
        &[("KUBECONFIG", &kc)],
    )
    .await?;
    let secret_name = format!("kiali-remote-cluster-secret-{REMOTE}");
    let deployments: Api<Deployment> = Api::namespaced(east.clone(), NAMESPACE);
    let mounted = wait_for(
        &format!("Deployment {NAMESPACE}/{instance} to mount {secret_name}"),
        Duration::from_secs(60),
        || {
            let deployments = deployments.clone();
            let instance = instance.clone();
            let secret_name = secret_name.clone();
            async move {
                let d = deployments.get(&instance).await?;
                let secrets = mounted_secrets(&d);
                if secrets.iter().any(|(s, _)| *s == secret_name) {
                    Ok(Some(secrets))
                } else {
                    Err(anyhow!("mounted secrets: {secrets:?}"))
                }
            }
        },
    )
    .await?;
    progress.done(&format!(
        "{} ({} secret(s) mounted by the server's Deployment)",
        out.trim().lines().last().unwrap_or(""),
        mounted.len()
    ));

    // 8. What the operator produced, materialised for an out-of-cluster server.
    progress.begin(
        "materialise the operator's ConfigMap and mounted remote secrets into the state directory",
    );
    let config_map = Api::<ConfigMap>::namespaced(east.clone(), NAMESPACE)
        .get(&instance)
        .await?;
    let config_yaml = config_map
        .data
        .as_ref()
        .and_then(|d| d.get("config.yaml"))
        .ok_or_else(|| anyhow!("ConfigMap {NAMESPACE}/{instance} has no config.yaml"))?;
    let kiali_dir = state_dir.join("kiali");
    std::fs::create_dir_all(&kiali_dir)?;
    std::fs::write(kiali_dir.join("config.yaml"), config_yaml)?;
    let secrets_dir = state_dir.join("kiali-remote-cluster-secrets");
    let _ = std::fs::remove_dir_all(&secrets_dir);
    let secrets: Api<Secret> = Api::namespaced(east.clone(), NAMESPACE);
    let mut files = 0;
    for (name, optional) in &mounted {
        let secret = match secrets.get_opt(name).await? {
            Some(s) => s,
            None if *optional => continue,
            None => bail!("the Deployment mounts Secret {NAMESPACE}/{name}, which does not exist"),
        };
        let dir = secrets_dir.join(name);
        std::fs::create_dir_all(&dir)?;
        for (key, value) in secret.data.unwrap_or_default() {
            write_private(&dir.join(&key), &value.0)?;
            files += 1;
        }
    }
    progress.done(&format!(
        "{} and {files} kubeconfig(s) in {}",
        kiali_dir.join("config.yaml").display(),
        secrets_dir.display()
    ));

    // 9. The server.
    progress.begin("meshglass-server out of cluster, with that configuration");
    running.procs.spawn(
        "server",
        &bin_dir.join("meshglass-server"),
        &[
            "--config".into(),
            kiali_dir.join("config.yaml").display().to_string(),
            "--kubeconfig".into(),
            kc.clone(),
            "--context".into(),
            PRIMARY.into(),
            "--remote-secrets-dir".into(),
            secrets_dir.display().to_string(),
        ],
        &[],
    )?;
    let base = format!("http://127.0.0.1:{}/kiali", ports.server);
    let namespaces = mesh.topology.all_namespaces().join(",");
    let edges = wait_for(
        "the graph to show edges between east and west",
        Duration::from_secs(120),
        || {
            let http = http.clone();
            let url = format!("{base}/api/namespaces/graph");
            let namespaces = namespaces.clone();
            let alive = running.procs.check_alive("server");
            async move {
                if let Err(e) = alive {
                    return Ok(Some(Err(e)));
                }
                let url = reqwest::Url::parse_with_params(
                    &url,
                    &[
                        ("namespaces", namespaces.as_str()),
                        ("graphType", "versionedApp"),
                        ("duration", "60s"),
                    ],
                )?;
                let graph: Value = http
                    .get(url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let cross = cross_cluster_edges(&graph);
                Ok((cross > 0).then_some(Ok(cross)))
            }
        },
    )
    .await??;
    progress.done(&format!("{edges} cross-cluster edges in the graph"));

    let url = base.clone();
    println!();
    println!(
        "meshglass is ready in {:.0} s: {url}",
        progress.start.elapsed().as_secs_f64()
    );
    println!("  kubeconfig  {kc} (contexts east, west)");
    println!("  Prometheus  {east_prom} (east, federating west)");
    println!("  logs        {}", state_dir.join("demo/logs").display());
    println!("Ctrl-C (or `make demo-down`) stops everything the demo started.");
    if let Some(f) = &args.ready_file {
        let info = json!({"url": url, "prometheus": east_prom, "kubeconfig": kc,
                          "seconds": progress.start.elapsed().as_secs_f64()});
        std::fs::write(f, serde_json::to_vec_pretty(&info)?)?;
    }
    running.procs.wait_any_exit().await
}

/// Whether both demo clusters of this kubeconfig answer (clusters started by `make clusters-up`).
async fn clusters_running(kubeconfig: &Path) -> bool {
    if !kubeconfig.exists() {
        return false;
    }
    for cluster in [PRIMARY, REMOTE] {
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            let client = kube_util::client(kubeconfig, cluster).await?;
            client.apiserver_version().await?;
            anyhow::Ok(())
        })
        .await;
        if !matches!(answered, Ok(Ok(()))) {
            return false;
        }
    }
    true
}

/// Secrets mounted under /kiali-remote-cluster-secrets by a Deployment: (secret name, optional).
fn mounted_secrets(d: &Deployment) -> Vec<(String, bool)> {
    let Some(pod) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Vec::new();
    };
    let mounts: Vec<&str> = pod
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .filter(|m| m.mount_path.starts_with("/kiali-remote-cluster-secrets"))
        .map(|m| m.name.as_str())
        .collect();
    pod.volumes
        .iter()
        .flatten()
        .filter(|v| mounts.contains(&v.name.as_str()))
        .filter_map(|v| v.secret.as_ref())
        .filter_map(|s| {
            s.secret_name
                .clone()
                .map(|n| (n, s.optional.unwrap_or(false)))
        })
        .collect()
}

/// Edges whose two ends are in different clusters.
fn cross_cluster_edges(graph: &Value) -> usize {
    let empty = Vec::new();
    let nodes = graph["elements"]["nodes"].as_array().unwrap_or(&empty);
    let cluster_of = |id: &Value| {
        nodes
            .iter()
            .find(|n| n["data"]["id"] == *id)
            .and_then(|n| n["data"]["cluster"].as_str())
            .unwrap_or("")
    };
    graph["elements"]["edges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|e| {
            let (s, t) = (
                cluster_of(&e["data"]["source"]),
                cluster_of(&e["data"]["target"]),
            );
            !s.is_empty() && !t.is_empty() && s != "unknown" && t != "unknown" && s != t
        })
        .count()
}

fn one_document(path: &Path) -> anyhow::Result<Value> {
    let mut docs = yaml_documents(&read(path)?)?;
    if docs.len() != 1 {
        bail!("{} should hold exactly one object", path.display());
    }
    Ok(docs.remove(0))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

/// Serves one cluster's sidecar metrics in this process; counters start now.
async fn serve_metrics(
    mesh: Arc<meshglass_simulator::Mesh>,
    cluster: &str,
    addr: SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use axum::{Router, http::header, routing::get};
    let origin = now();
    let cluster = cluster.to_owned();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let mesh = mesh.clone();
            let cluster = cluster.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics::exposition(&mesh, Some(&cluster), origin, now()),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
