//! Service checks: a port name not of the `<protocol>[-suffix]` form (KIA0601), an
//! `appProtocol` Istio does not know (KIA0602) — both only for services with sidecar-injected
//! workloads, as in Kiali — and a port no selected workload's pods expose (KIA0701).

use super::hosts::Mesh;
use super::{Validation, check, core_validation};
use crate::inventory::{ServiceInfo, WorkloadInfo};

/// Protocols Istio reads from a port's name prefix or `appProtocol`.
const PROTOCOLS: [&str; 12] = [
    "grpc", "grpc-web", "http", "http2", "https", "mongo", "mysql", "redis", "tcp", "tls", "udp",
    "h2c",
];

fn name_ok(name: &str) -> bool {
    PROTOCOLS
        .iter()
        .any(|p| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('-')))
}

/// Whether some pod of `ws` exposes the service port (by `targetPort` number or name, else by
/// the port number).
fn exposed(ws: &[&WorkloadInfo], port: i32, target: Option<&str>) -> bool {
    ws.iter().flat_map(|w| &w.pods).any(|p| {
        p.container_ports.iter().any(|(name, n)| match target {
            Some(t) => t.parse::<i32>().map_or(t == name, |t| t == *n),
            None => *n == port,
        })
    })
}

fn checks_of(svc: &ServiceInfo, ws: &[&WorkloadInfo]) -> Vec<super::Check> {
    let mut checks = Vec::new();
    if ws.iter().any(|w| w.istio_sidecar) {
        for (i, p) in svc.ports.iter().enumerate() {
            match &p.app_protocol {
                Some(ap) if !PROTOCOLS.contains(&ap.as_str()) => {
                    checks.push(check("KIA0602", format!("spec/ports[{i}]")))
                }
                Some(_) => {}
                None if !name_ok(&p.name) => {
                    checks.push(check("KIA0601", format!("spec/ports[{i}]")))
                }
                None => {}
            }
        }
    }
    // Only pods that report their container ports can show a mismatch.
    let known = ws
        .iter()
        .flat_map(|w| &w.pods)
        .any(|p| !p.container_ports.is_empty());
    if known {
        for (i, p) in svc.ports.iter().enumerate() {
            if !exposed(ws, p.port, p.target_port.as_deref()) {
                checks.push(check("KIA0701", format!("spec/ports[{i}]")));
            }
        }
    }
    checks
}

/// The validations of the services of cluster `ci` that have a check.
pub(super) fn validations(mesh: &Mesh<'_>, ci: usize) -> Vec<Validation> {
    let c = &mesh.clusters[ci];
    let idx = &mesh.idx[ci];
    c.inventory
        .services
        .iter()
        .filter(|s| !s.selector.is_empty())
        .filter_map(|s| {
            let ws = idx.service_workloads(&s.namespace, &s.name);
            let checks = checks_of(s, &ws);
            (!checks.is_empty())
                .then(|| core_validation("service", c.name(), &s.namespace, &s.name, checks))
        })
        .collect()
}
