//! The steps of `meshglass-demo up`, in the order [`crate::run`] takes them. Each step prints its own
//! `[n/10] …` and `done …` lines and returns what later steps need.
//!
//! * [`clusters`]: the clusters, Istio's multi-cluster objects of the topology (primary-remote east/west,
//!   or the multi-primary lab), the Kiali CRD and the demo apps;
//! * [`telemetry`]: the simulated sidecars and one Prometheus per cluster, the home's federating the others;
//! * [`jaeger`]: Jaeger and the simulator's live traces, the server's tracing store;
//! * [`thanos`]: with `--metrics thanos`, Thanos sidecars and Query over them behind a token gate;
//! * [`podlogs`]: log files for the demo pods' containers, served through `pods/log`;
//! * [`kiali`]: the operators with the example CRs, the remote secrets, and the server;
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
use meshglass_simulator::Mesh;

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
/// The primary-remote demo's clusters (`--topology primary-remote`, the default).
pub const PRIMARY: &str = "east";
pub const REMOTE: &str = "west";
/// The multi-primary lab's clusters (`--topology multi-primary`), cluster1 the console's home.
pub const LAB: [&str; 3] = ["cluster1", "cluster2", "cluster3"];

/// Which Istio mesh the demo sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topology {
    /// Kiali's multi-cluster walkthrough: east the primary, west a remote, two networks (the default).
    PrimaryRemote,
    /// The seeds' three-cluster lab: cluster1, cluster2 and cluster3 each with its own istiod, on three
    /// networks joined by east-west gateways, `istio-remote-secret-<peer>` Secrets in each istio-system.
    MultiPrimary,
}

impl Topology {
    /// Its clusters, the console's home (the primary) first.
    pub fn clusters(self) -> &'static [&'static str] {
        match self {
            Topology::PrimaryRemote => &[PRIMARY, REMOTE],
            Topology::MultiPrimary => &LAB,
        }
    }

    /// The cluster the console runs on.
    pub fn home(self) -> &'static str {
        self.clusters()[0]
    }

    /// The simulator's topology file of the examples.
    pub fn mesh_file(self) -> &'static str {
        match self {
            Topology::PrimaryRemote => "demo-mesh.yaml",
            Topology::MultiPrimary => "demo-multi-primary-mesh.yaml",
        }
    }

    /// The home cluster's Kiali CR of the examples.
    pub fn primary_cr(self) -> &'static str {
        match self {
            Topology::PrimaryRemote => "kiali-primary.yaml",
            Topology::MultiPrimary => "kiali-multi-primary.yaml",
        }
    }
}

/// Where the server reads metrics from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metrics {
    /// One Prometheus per cluster, the home's federating the others (the default).
    Prometheus,
    /// Thanos sidecars beside each cluster's Prometheus and Thanos Query over them, behind an HTTPS gate
    /// admitting only the server's ServiceAccount token (the seeds' OpenShift set-up).
    Thanos,
}

/// What the steps read: where things live and which ports to use, fixed before the first step.
pub struct Setup {
    pub topology: Topology,
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

/// One cluster once it answers: its name, a client and an applier.
pub struct Member {
    pub name: &'static str,
    pub client: Client,
    pub apply: Applier,
}

/// The topology's clusters once they answer, the home first.
pub struct Clusters {
    pub kubeconfig: PathBuf,
    pub members: Vec<Member>,
}

impl Clusters {
    pub async fn connect(kubeconfig: PathBuf, names: &[&'static str]) -> anyhow::Result<Self> {
        let mut members = Vec::new();
        for name in names {
            let client = kube_util::client(&kubeconfig, name).await?;
            members.push(Member {
                name,
                apply: Applier::new(client.clone()),
                client,
            });
        }
        Ok(Clusters {
            kubeconfig,
            members,
        })
    }

    /// The home cluster (the primary), where the console runs.
    pub fn home(&self) -> &Member {
        &self.members[0]
    }

    pub fn home_mut(&mut self) -> &mut Member {
        &mut self.members[0]
    }

    /// The kubeconfig path as the child processes get it.
    pub fn kc(&self) -> String {
        self.kubeconfig.display().to_string()
    }
}

/// The demo mesh of the examples (the topology's file), which must name every cluster of the topology.
pub fn load_mesh(setup: &Setup) -> anyhow::Result<Arc<Mesh>> {
    let topology_path = setup.examples.join(setup.topology.mesh_file());
    let mesh = Arc::new(meshglass_simulator::Topology::load(&topology_path)?);
    for c in setup.topology.clusters() {
        if !mesh.topology.clusters.iter().any(|k| k == c) {
            bail!("{} has no cluster {c}", topology_path.display());
        }
    }
    Ok(mesh)
}
