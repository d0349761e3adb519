//! Gateway API checks: a route's parent Gateway not found (KIA1401) and a backend Service not
//! found (KIA1402); Gateways sharing a listener host and port (KIA1501) or an address
//! (KIA1502), one Gateway's listeners repeating a host, port and protocol (KIA1503), a class
//! not configured (KIA1504); a ReferenceGrant from a namespace that does not exist (KIA1601).

use std::collections::BTreeMap;

use serde_json::Value;

use super::hosts::{Host, items, outcome};
use super::{Check, ClusterConfig, Ctx, Found, check};
use crate::istio::{ConfigObject, IstioKind};

const GROUP: &str = "gateway.networking.k8s.io";

/// The checks of one Gateway API object.
pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    match o.kind {
        IstioKind::K8sHTTPRoute
        | IstioKind::K8sGRPCRoute
        | IstioKind::K8sTCPRoute
        | IstioKind::K8sTLSRoute => route(ctx, checks),
        IstioKind::K8sGateway => {
            let class = o.spec["gatewayClassName"].as_str().unwrap_or_default();
            if !ctx.mesh.opts.gateway_classes.iter().any(|c| c == class) {
                checks.push(check("KIA1504", "spec/gatewayClassName"));
            }
            let mut seen: Vec<(String, i64, String)> = Vec::new();
            for (i, l) in items(&o.spec["listeners"]).iter().enumerate() {
                let k = listener(l);
                if seen.contains(&k) {
                    checks.push(check("KIA1503", format!("spec/listeners[{i}]")));
                }
                seen.push(k);
            }
        }
        IstioKind::K8sReferenceGrant => {
            for (i, f) in items(&o.spec["from"]).iter().enumerate() {
                let Some(ns) = f["namespace"].as_str() else {
                    continue;
                };
                let found = ctx.mesh.namespace_clusters(ns);
                let path = format!("spec/from[{i}]/namespace");
                outcome(checks, &found, ctx.own(), "KIA1601", path, "namespace");
            }
        }
        _ => {}
    }
}

fn listener(l: &Value) -> (String, i64, String) {
    (
        l["hostname"].as_str().unwrap_or_default().to_string(),
        l["port"].as_i64().unwrap_or_default(),
        l["protocol"].as_str().unwrap_or_default().to_string(),
    )
}

/// KIA1401 and KIA1402 of a route.
fn route(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    for (i, p) in items(&o.spec["parentRefs"]).iter().enumerate() {
        let kind = p["kind"].as_str().unwrap_or("Gateway");
        let group = p["group"].as_str().unwrap_or(GROUP);
        if kind != "Gateway" || group != GROUP {
            continue;
        }
        let name = p["name"].as_str().unwrap_or_default();
        let ns = p["namespace"].as_str().unwrap_or(&o.namespace);
        let found: Vec<String> = ctx
            .mesh
            .clusters
            .iter()
            .filter(|c| {
                c.of(IstioKind::K8sGateway)
                    .iter()
                    .any(|g| g.namespace == ns && g.name == name)
            })
            .map(|c| c.name().to_string())
            .collect();
        let path = format!("spec/parentRefs[{i}]/name");
        outcome(checks, &found, ctx.own(), "KIA1401", path, "gateway");
    }
    for (i, r) in items(&o.spec["rules"]).iter().enumerate() {
        for (j, b) in items(&r["backendRefs"]).iter().enumerate() {
            let kind = b["kind"].as_str().unwrap_or("Service");
            let group = b["group"].as_str().unwrap_or("");
            if kind != "Service" || !group.is_empty() {
                continue;
            }
            let host = Host::Service {
                name: b["name"].as_str().unwrap_or_default().to_string(),
                namespace: b["namespace"].as_str().unwrap_or(&o.namespace).to_string(),
            };
            let found = ctx.mesh.host_clusters(&host);
            let path = format!("spec/rules[{i}]/backendRefs[{j}]/name");
            outcome(checks, &found, ctx.own(), "KIA1402", path, "service");
        }
    }
}

/// KIA1501 and KIA1502 over the Gateways of one cluster.
pub(super) fn multi_match(c: &ClusterConfig, found: &mut Found) {
    let gws = c.of(IstioKind::K8sGateway);
    let mut listeners: BTreeMap<(String, String), Vec<(&ConfigObject, usize)>> = BTreeMap::new();
    let mut addresses: BTreeMap<(String, String), Vec<(&ConfigObject, usize)>> = BTreeMap::new();
    for g in gws {
        for (i, l) in items(&g.spec["listeners"]).iter().enumerate() {
            let (host, port, _) = listener(l);
            listeners
                .entry((host, port.to_string()))
                .or_default()
                .push((g, i));
        }
        for (i, a) in items(&g.spec["addresses"]).iter().enumerate() {
            let t = a["type"].as_str().unwrap_or("IPAddress").to_string();
            let v = a["value"].as_str().unwrap_or_default().to_string();
            addresses.entry((t, v)).or_default().push((g, i));
        }
    }
    let mut flag = |groups: BTreeMap<_, Vec<(&ConfigObject, usize)>>, code, what: &str| {
        for v in groups.values() {
            let distinct =
                |a: &ConfigObject, b: &ConfigObject| a.namespace != b.namespace || a.name != b.name;
            for (g, i) in v {
                let others: Vec<&&ConfigObject> = v
                    .iter()
                    .map(|(o, _)| o)
                    .filter(|o| distinct(g, o))
                    .collect();
                if others.is_empty() {
                    continue;
                }
                found.add(g, check(code, format!("spec/{what}[{i}]")));
                for o in others {
                    found.refer(g, c.name(), o);
                }
            }
        }
    };
    flag(listeners, "KIA1501", "listeners");
    flag(addresses, "KIA1502", "addresses");
}
