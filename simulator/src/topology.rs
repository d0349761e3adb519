//! The topology file: clusters, workloads, services and the calls between them.
//!
//! A topology is plain YAML a user edits (see `examples/demo-mesh.yaml`). [`Topology::parse`] reads it and
//! [`Topology::resolve`] checks every reference and turns calls into [`Flow`]s: one per (source workload,
//! destination workload) pair, with the rate, response mix and latency that pair carries.

use std::collections::{BTreeMap, BTreeSet};

use meshglass_crds::names::is_dns_label;
use serde::Deserialize;

use crate::{Error, Result};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// SPIFFE trust domain of the mesh's principals.
    #[serde(default = "default_trust_domain")]
    pub trust_domain: String,
    /// Cluster names, as Istio's `source_cluster`/`destination_cluster` labels carry them.
    pub clusters: Vec<String>,
    /// Namespaces the demo creates (in every cluster: namespace sameness). Namespaces used by workloads are added.
    #[serde(default)]
    pub namespaces: Vec<String>,
    pub workloads: Vec<Workload>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub calls: Vec<Call>,
}

/// One Deployment with a sidecar, in one cluster.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub app: String,
    /// `version` label; Istio's canonical revision. Defaults to `latest`, as Istio does.
    #[serde(default)]
    pub version: Option<String>,
    /// ServiceAccount, which names the workload's SPIFFE principal. Defaults to the app name.
    #[serde(default)]
    pub service_account: Option<String>,
    #[serde(default = "one")]
    pub replicas: u32,
}

impl Workload {
    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or("latest")
    }
    pub fn service_account(&self) -> &str {
        self.service_account.as_deref().unwrap_or(&self.app)
    }
}

/// A Kubernetes Service; namespace sameness makes it one service across clusters. It selects the workloads of
/// its namespace whose app is `app` (default: the service name), in every cluster.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub app: Option<String>,
    pub port: u16,
}

impl Service {
    pub fn app(&self) -> &str {
        self.app.as_deref().unwrap_or(&self.name)
    }
}

/// Application protocol of a call, as `request_protocol` reports it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
    Tcp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
        }
    }
}

/// Latency of a call as a log-normal distribution given by its median and 99th percentile, in milliseconds.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            p50: 10.0,
            p99: 100.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRef {
    pub cluster: String,
    pub namespace: String,
    pub workload: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    pub namespace: String,
    pub service: String,
}

/// Traffic from one workload to one service.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub from: WorkloadRef,
    pub to: ServiceRef,
    /// Requests per second (HTTP, gRPC) or connections per second (TCP), over all destinations.
    pub rate: f64,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Response mix: HTTP status code (gRPC status code for `grpc`) → weight. Default: all `200` (gRPC `0`).
    #[serde(default)]
    pub responses: BTreeMap<String, f64>,
    #[serde(default)]
    pub latency_ms: Latency,
    /// Bytes per request (TCP: received by the destination per connection).
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u64,
    /// Bytes per response (TCP: sent by the destination per connection).
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u64,
    /// gRPC messages per call, each way.
    #[serde(default = "one")]
    pub grpc_messages: u32,
    #[serde(default = "yes")]
    pub mtls: bool,
    /// How the calls spread over the service's workloads. Default: evenly over every workload in every cluster.
    #[serde(default)]
    pub split: Vec<Split>,
}

/// One share of a call's traffic: to the workloads matching `cluster`/`workload`/`version` (all when unset).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Split {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    pub weight: f64,
    /// Overrides the call's response mix for this share (a faulty version, say).
    #[serde(default)]
    pub responses: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub latency_ms: Option<Latency>,
}

fn default_trust_domain() -> String {
    "cluster.local".to_owned()
}
fn default_protocol() -> Protocol {
    Protocol::Http
}
fn default_request_bytes() -> u64 {
    200
}
fn default_response_bytes() -> u64 {
    1000
}
fn one<T: From<u8>>() -> T {
    T::from(1)
}
fn yes() -> bool {
    true
}

/// One response code's share of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `response_code` label (HTTP status; `200` for gRPC).
    pub code: String,
    /// `grpc_response_status` label (empty for HTTP).
    pub grpc_status: String,
    /// Fraction of the flow's requests, in (0, 1].
    pub fraction: f64,
}

/// Traffic from one source workload to one destination workload through one service: what one pair of
/// sidecars (source and destination reporter) counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub source: Workload,
    pub destination: Workload,
    pub service: Service,
    pub protocol: Protocol,
    /// Requests (connections for TCP) per second.
    pub rate: f64,
    pub responses: Vec<Response>,
    pub latency_ms: Latency,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub grpc_messages: u32,
    pub mtls: bool,
}

/// A checked topology: the file plus its flows.
#[derive(Debug, Clone)]
pub struct Mesh {
    pub topology: Topology,
    pub flows: Vec<Flow>,
}

impl Topology {
    pub fn parse(yaml: &str) -> Result<Topology> {
        serde_yaml_ng::from_str(yaml).map_err(|e| Error::Parse(e.to_string()))
    }

    pub fn load(path: &std::path::Path) -> Result<Mesh> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Topology::parse(&text)?.resolve()
    }

    /// Every namespace of the mesh: the declared ones plus those of workloads and services, sorted.
    pub fn all_namespaces(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = self.namespaces.iter().cloned().collect();
        set.extend(self.workloads.iter().map(|w| w.namespace.clone()));
        set.extend(self.services.iter().map(|s| s.namespace.clone()));
        set.into_iter().collect()
    }

    /// The workloads a service selects, in every cluster.
    pub fn backends<'a>(&'a self, service: &'a Service) -> impl Iterator<Item = &'a Workload> + 'a {
        self.workloads
            .iter()
            .filter(move |w| w.namespace == service.namespace && w.app == service.app())
    }

    /// Checks every reference and expands calls into flows.
    pub fn resolve(self) -> Result<Mesh> {
        let invalid = |what: String| Err(Error::Invalid(what));
        if self.clusters.is_empty() {
            return invalid("no clusters".into());
        }
        let clusters: BTreeSet<&str> = self.clusters.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        for w in &self.workloads {
            if !clusters.contains(w.cluster.as_str()) {
                return invalid(format!(
                    "workload {}/{}: unknown cluster {:?}",
                    w.namespace, w.name, w.cluster
                ));
            }
            if !seen.insert((w.cluster.as_str(), w.namespace.as_str(), w.name.as_str())) {
                return invalid(format!(
                    "workload {}/{} in {} is declared twice",
                    w.namespace, w.name, w.cluster
                ));
            }
            for (field, value) in [
                ("name", &w.name),
                ("namespace", &w.namespace),
                ("app", &w.app),
            ] {
                if !is_dns_label(value) {
                    return invalid(format!(
                        "workload {}/{}: {field} {value:?} is not a DNS label",
                        w.namespace, w.name
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for s in &self.services {
            if !seen.insert((s.namespace.as_str(), s.name.as_str())) {
                return invalid(format!(
                    "service {}/{} is declared twice",
                    s.namespace, s.name
                ));
            }
            if !is_dns_label(&s.name) || !is_dns_label(&s.namespace) {
                return invalid(format!(
                    "service {}/{}: not a DNS label",
                    s.namespace, s.name
                ));
            }
        }
        let mut flows = Vec::new();
        for (index, call) in self.calls.iter().enumerate() {
            let here = format!(
                "call #{} ({}/{} in {} -> {}/{})",
                index + 1,
                call.from.namespace,
                call.from.workload,
                call.from.cluster,
                call.to.namespace,
                call.to.service
            );
            let source = self
                .workloads
                .iter()
                .find(|w| {
                    w.cluster == call.from.cluster
                        && w.namespace == call.from.namespace
                        && w.name == call.from.workload
                })
                .ok_or_else(|| Error::Invalid(format!("{here}: unknown source workload")))?;
            let service = self
                .services
                .iter()
                .find(|s| s.namespace == call.to.namespace && s.name == call.to.service)
                .ok_or_else(|| Error::Invalid(format!("{here}: unknown service")))?;
            if !(call.rate.is_finite() && call.rate >= 0.0) {
                return invalid(format!("{here}: rate must be a non-negative number"));
            }
            check_latency(&here, &call.latency_ms)?;
            let backends: Vec<&Workload> = self.backends(service).collect();
            if backends.is_empty() {
                return invalid(format!(
                    "{here}: service selects no workload (app {:?})",
                    service.app()
                ));
            }
            // Each backend's share of the call: split entries divide the traffic by weight, each entry evenly
            // over the backends it matches.
            let default_split = [Split {
                cluster: None,
                workload: None,
                version: None,
                weight: 1.0,
                responses: None,
                latency_ms: None,
            }];
            let split: &[Split] = if call.split.is_empty() {
                &default_split
            } else {
                &call.split
            };
            let total_weight: f64 = split.iter().map(|s| s.weight).sum();
            if split
                .iter()
                .any(|s| !(s.weight.is_finite() && s.weight >= 0.0))
                || total_weight <= 0.0
            {
                return invalid(format!(
                    "{here}: split weights must be non-negative and not all zero"
                ));
            }
            for entry in split {
                let matching: Vec<&&Workload> = backends
                    .iter()
                    .filter(|w| {
                        entry.cluster.as_ref().is_none_or(|c| &w.cluster == c)
                            && entry.workload.as_ref().is_none_or(|n| &w.name == n)
                            && entry.version.as_ref().is_none_or(|v| w.version() == v)
                    })
                    .collect();
                if matching.is_empty() {
                    return invalid(format!(
                        "{here}: a split entry matches no workload of the service"
                    ));
                }
                let responses = response_mix(
                    &here,
                    call.protocol,
                    entry.responses.as_ref().unwrap_or(&call.responses),
                )?;
                let latency = entry.latency_ms.unwrap_or(call.latency_ms);
                check_latency(&here, &latency)?;
                let share = call.rate * entry.weight / total_weight / matching.len() as f64;
                for destination in matching {
                    flows.push(Flow {
                        source: source.clone(),
                        destination: (*destination).clone(),
                        service: service.clone(),
                        protocol: call.protocol,
                        rate: share,
                        responses: responses.clone(),
                        latency_ms: latency,
                        request_bytes: call.request_bytes,
                        response_bytes: call.response_bytes,
                        grpc_messages: call.grpc_messages,
                        mtls: call.mtls,
                    });
                }
            }
        }
        Ok(Mesh {
            topology: self,
            flows,
        })
    }
}

fn check_latency(here: &str, l: &Latency) -> Result<()> {
    if !(l.p50.is_finite() && l.p99.is_finite() && l.p50 > 0.0 && l.p99 >= l.p50) {
        return Err(Error::Invalid(format!(
            "{here}: latency_ms needs 0 < p50 <= p99"
        )));
    }
    Ok(())
}

fn response_mix(
    here: &str,
    protocol: Protocol,
    mix: &BTreeMap<String, f64>,
) -> Result<Vec<Response>> {
    if protocol == Protocol::Tcp {
        // TCP metrics carry no response code.
        return Ok(vec![Response {
            code: String::new(),
            grpc_status: String::new(),
            fraction: 1.0,
        }]);
    }
    let default: BTreeMap<String, f64> = match protocol {
        Protocol::Grpc => [("0".to_owned(), 1.0)].into(),
        _ => [("200".to_owned(), 1.0)].into(),
    };
    let mix = if mix.is_empty() { &default } else { mix };
    let total: f64 = mix.values().sum();
    if mix.values().any(|w| !(w.is_finite() && *w >= 0.0)) || total <= 0.0 {
        return Err(Error::Invalid(format!(
            "{here}: response weights must be non-negative and not all zero"
        )));
    }
    let mut out = Vec::new();
    for (code, weight) in mix {
        let valid = match protocol {
            Protocol::Grpc => code.parse::<u8>().is_ok_and(|c| c <= 16),
            _ => code.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c)),
        };
        if !valid {
            return Err(Error::Invalid(format!(
                "{here}: {code:?} is not a valid {} status",
                protocol.as_str()
            )));
        }
        if *weight == 0.0 {
            continue;
        }
        let (code, grpc_status) = match protocol {
            Protocol::Grpc => ("200".to_owned(), code.clone()),
            _ => (code.clone(), String::new()),
        };
        out.push(Response {
            code,
            grpc_status,
            fraction: weight / total,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DEMO, mesh};

    const BASE: &str = "
clusters: [a, b]
workloads:
  - {cluster: a, namespace: ns, name: client, app: client}
  - {cluster: a, namespace: ns, name: web-v1, app: web, version: v1}
  - {cluster: b, namespace: ns, name: web-v2, app: web, version: v2}
services:
  - {namespace: ns, name: web, port: 80}
";

    #[test]
    fn demo_topology_resolves_with_cross_cluster_flows() {
        let m = mesh(DEMO).unwrap();
        assert_eq!(m.topology.clusters, ["east", "west"]);
        assert_eq!(
            m.topology.all_namespaces(),
            ["bookinfo", "helloworld", "sample"]
        );
        let cross: Vec<_> = m
            .flows
            .iter()
            .filter(|f| f.source.cluster != f.destination.cluster)
            .collect();
        assert!(
            cross
                .iter()
                .any(|f| f.source.name == "reviews-v2" && f.destination.name == "ratings-v1")
        );
        assert!(
            cross
                .iter()
                .any(|f| f.source.name == "productpage-v1" && f.destination.name == "reviews-v3")
        );
        // Health has something to say: some 5xx.
        assert!(
            m.flows
                .iter()
                .any(|f| f.responses.iter().any(|r| r.code.starts_with('5')))
        );
    }

    #[test]
    fn default_split_is_even_over_every_cluster() {
        let yaml = format!(
            "{BASE}calls:\n  - {{from: {{cluster: a, namespace: ns, workload: client}}, to: {{namespace: ns, service: web}}, rate: 10}}\n"
        );
        let m = mesh(&yaml).unwrap();
        assert_eq!(m.flows.len(), 2);
        assert!(m.flows.iter().all(|f| (f.rate - 5.0).abs() < 1e-12));
        assert_eq!(
            m.flows[0].responses,
            [Response {
                code: "200".into(),
                grpc_status: "".into(),
                fraction: 1.0
            }]
        );
    }

    #[test]
    fn split_weights_and_overrides() {
        let yaml = format!(
            "{BASE}calls:
  - from: {{cluster: a, namespace: ns, workload: client}}
    to: {{namespace: ns, service: web}}
    rate: 10
    protocol: grpc
    split:
      - {{version: v1, weight: 3}}
      - {{cluster: b, weight: 1, responses: {{'0': 1, '14': 1}}}}
"
        );
        let m = mesh(&yaml).unwrap();
        let v2 = m
            .flows
            .iter()
            .find(|f| f.destination.name == "web-v2")
            .unwrap();
        assert!((v2.rate - 2.5).abs() < 1e-12);
        assert_eq!(v2.responses.len(), 2);
        assert!(
            v2.responses
                .iter()
                .all(|r| r.code == "200" && (r.fraction - 0.5).abs() < 1e-12)
        );
        assert_eq!(v2.responses[1].grpc_status, "14");
        let v1 = m
            .flows
            .iter()
            .find(|f| f.destination.name == "web-v1")
            .unwrap();
        assert!((v1.rate - 7.5).abs() < 1e-12);
        assert_eq!(v1.responses[0].grpc_status, "0");
    }

    #[test]
    fn invalid_topologies_are_errors_not_panics() {
        let call = |body: &str| format!("{BASE}calls:\n  - {body}\n");
        let cases = [
            "clusters: []\nworkloads: []".to_owned(),
            BASE.replace("cluster: b, namespace", "cluster: c, namespace"),
            BASE.replace("name: web-v2", "name: Web_v2"),
            call(
                "{from: {cluster: a, namespace: ns, workload: nobody}, to: {namespace: ns, service: web}, rate: 1}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: nope}, rate: 1}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: -1}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 1, responses: {'999': 1}}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 1, responses: {'200': 0}}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 1, split: [{version: v9, weight: 1}]}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 1, latency_ms: {p50: 10, p99: 5}}",
            ),
            call(
                "{from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 1, protocol: udp}",
            ),
            "clusters: [a]\nworkloads: []\nextra: 1".to_owned(),
            "not: [valid".to_owned(),
        ];
        for case in cases {
            let err = mesh(&case).expect_err(&case);
            assert!(
                ["parse", "invalid"].contains(&err.category()),
                "{case}: {err}"
            );
        }
    }
}
