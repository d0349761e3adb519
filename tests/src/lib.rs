//! The meshglass test bed: real Kubernetes control planes and Prometheus on loopback.
//!
//! * [`shared`] starts (once per test binary) a set of named clusters that every test of the
//!   binary shares; [`TestBed::start`] starts a private set that is stopped on drop.
//! * Each cluster has its own kube-apiserver (RBAC on, its own serving CA, client CA and
//!   service-account signer), kube-controller-manager, kube-scheduler and kwok with simulated
//!   Ready nodes; one etcd serves every cluster of a bed under distinct prefixes. The Istio CRDs
//!   are installed on every cluster.
//! * [`TestNamespace`] gives a test a fresh namespace, [`wait_until`] polls a condition with a
//!   timeout whose error says what was last seen, and [`Prometheus`] runs Debian's Prometheus;
//!   [`ThanosQuery`] puts Thanos sidecars and a query over several, [`TokenGate`] an HTTPS
//!   ServiceAccount-token gate (oauth2-proxy) in front; [`jaeger::Jaeger`] is the tracing store.
//! * Simulated pods have real container logs: [`podlogs::serve_logs`] maps their containers to
//!   files that kwok's kubelet API serves to the API server's `pods/log`; and ports:
//!   [`portforward::forward_port`] has kwok dial a loopback address for the API server's
//!   `pods/portforward` (the simulated sidecars' Envoy admin endpoints).
//! * [`istio`]: Istio's multi-cluster objects (Istio namespace, istiod, east-west gateway,
//!   remote secrets) as the test bed's topologies and the demo's multi-primary lab create them.
//! * Set-up shared by the end-to-end tests: [`named`] objects, [`wait_gone`], ServiceAccounts with token
//!   Secrets ([`create_service_account`], [`wait_for_token`]), CRDs ([`apply_crd`]), and the view
//!   caches of the servers the tests start ([`view_caches`]: on, refreshed every second).
//!
//! Processes never outlive the process that started them (a watchdog kills them when it goes),
//! except for beds started detached by `testbed up`; leftovers of a crashed run are stopped by
//! the next start, and nothing the test bed did not start is ever touched.

mod bed;
mod crd;
mod error;
pub mod failproxy;
pub mod faults;
pub mod graph_json;
pub mod istio;
pub mod jaeger;
pub mod login_proxy;
mod namespace;
mod objects;
pub mod oidc;
pub mod openshift;
mod pki;
pub mod podlogs;
pub mod portforward;
mod process;
mod prometheus;
pub mod session;
pub mod standin;
mod thanos;
mod token;
pub mod tools;
pub mod view_caches;
mod wait;

pub use bed::{
    Cluster, OidcIssuer, SERVICE_CLUSTER_IP_RANGE, StartOptions, TestBed, shared, stop_state_dir,
    validate_cluster_name,
};
pub use crd::apply_crd;
pub use error::Error;
pub use namespace::TestNamespace;
pub use objects::{named, wait_gone};
pub use prometheus::Prometheus;
pub use thanos::{GateOptions, ThanosQuery, TokenGate};
pub use token::{create_service_account, wait_for_token};
pub use wait::{poll, wait_until};
