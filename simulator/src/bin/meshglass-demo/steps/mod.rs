//! The steps of `meshglass-demo up`, in the order [`crate::run`] takes them. Each step prints its own
//! `[n/10] …` and `done …` lines and returns what later steps need.
//!
//! * [`clusters`]: the two clusters, Istio's multi-cluster labels, the Kiali CRD and the demo apps;
//! * [`telemetry`]: the simulated sidecars and one Prometheus per cluster, east federating west;
//! * [`jaeger`]: Jaeger and the simulator's live traces, the server's tracing store;
//! * [`thanos`]: with `--metrics thanos`, Thanos sidecars and Query over them behind a token gate;
//! * [`podlogs`]: log files for the demo pods' containers, served through `pods/log`;
//! * [`kiali`]: the operators with the example CRs, the remote secret, and the server;
//! * [`openid`]: with `--openid`, an OpenID provider per cluster and a second server logging users in.

mod clusters;
mod jaeger;
mod kiali;
mod openid;
mod podlogs;
mod telemetry;
mod thanos;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use kube::Client;
use meshglass_simulator::{Mesh, Topology};

use crate::kube_util::{self, Applier};
use crate::ports::Ports;

pub use clusters::{deploy_apps, install_topology_and_crd, start_clusters};
pub use jaeger::start_tracing;
pub use kiali::{
    ServerInputs, materialise_server_inputs, primary_instance, start_operators, start_server,
    wire_remote,
};
pub use openid::{OpenidDemo, start_openid};
pub use telemetry::{serve_sidecars, start_prometheus};
pub use thanos::{Store, server_files, start_store};

pub const NAMESPACE: &str = "istio-system";
pub const PRIMARY: &str = "east";
pub const REMOTE: &str = "west";

/// Where the server reads metrics from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metrics {
    /// One Prometheus per cluster, east federating west (the default).
    Prometheus,
    /// Thanos sidecars beside each cluster's Prometheus and Thanos Query over them, behind an HTTPS gate
    /// admitting only the server's ServiceAccount token (the seeds' OpenShift set-up).
    Thanos,
}

/// What the steps read: where things live and which ports to use, fixed before the first step.
pub struct Setup {
    pub metrics: Metrics,
    pub state_dir: PathBuf,
    pub examples: PathBuf,
    pub bin_dir: PathBuf,
    pub ports: Ports,
    /// Running clusters to use (`--kubeconfig`) instead of starting them.
    pub kubeconfig: Option<PathBuf>,
}

impl Setup {
    /// The operator binary: `run`, `crd` and `remote-secret` come from it.
    pub fn operator(&self) -> PathBuf {
        self.bin_dir.join("meshglass-operator")
    }
}

/// The two clusters once they answer: a client and an applier for each.
pub struct Clusters {
    pub kubeconfig: PathBuf,
    pub east: Client,
    pub west: Client,
    pub apply_east: Applier,
    pub apply_west: Applier,
}

impl Clusters {
    pub async fn connect(kubeconfig: PathBuf) -> anyhow::Result<Self> {
        let east = kube_util::client(&kubeconfig, PRIMARY).await?;
        let west = kube_util::client(&kubeconfig, REMOTE).await?;
        Ok(Clusters {
            apply_east: Applier::new(east.clone()),
            apply_west: Applier::new(west.clone()),
            kubeconfig,
            east,
            west,
        })
    }

    /// The kubeconfig path as the child processes get it.
    pub fn kc(&self) -> String {
        self.kubeconfig.display().to_string()
    }
}

/// The demo mesh of the examples (`demo-mesh.yaml`), which must name both demo clusters.
pub fn load_mesh(setup: &Setup) -> anyhow::Result<Arc<Mesh>> {
    let topology_path = setup.examples.join("demo-mesh.yaml");
    let mesh = Arc::new(Topology::load(&topology_path)?);
    for c in [PRIMARY, REMOTE] {
        if !mesh.topology.clusters.iter().any(|k| k == c) {
            bail!("{} has no cluster {c}", topology_path.display());
        }
    }
    Ok(mesh)
}
