//! VirtualService checks: route host not found (KIA1101) or without endpoints in any cluster
//! (MGL0003), subset not found (KIA1107), gateway not found (KIA1102) or named the old way
//! (KIA1108), a lone destination weighted under 100 (KIA1104), one host and subset twice in a
//! route (KIA1105), and several VirtualServices for one host (KIA1106).

use std::collections::BTreeMap;

use super::hosts::{fqdn, items, outcome, parse_host};
use super::{Check, ClusterConfig, Ctx, Found, check};
use crate::istio::{ConfigObject, IstioKind, strings};

/// The checks of one VirtualService.
pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    let spec = &o.spec;
    for proto in ["http", "tcp", "tls"] {
        for (i, r) in items(&spec[proto]).iter().enumerate() {
            let dests = items(&r["route"]);
            let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (j, d) in dests.iter().enumerate() {
                let dest = &d["destination"];
                let Some(hs) = dest["host"].as_str() else {
                    continue;
                };
                let host = parse_host(hs, &o.namespace);
                seen.entry(format!(
                    "{}{}",
                    fqdn(&host),
                    dest["subset"].as_str().unwrap_or_default()
                ))
                .or_default()
                .push(j);
                let found = ctx.mesh.host_clusters(&host);
                let path = format!("spec/{proto}[{i}]/route[{j}]/destination");
                outcome(
                    checks,
                    &found,
                    ctx.own(),
                    "KIA1101",
                    format!("{path}/host"),
                    "host",
                );
                if !found.is_empty() && !ctx.mesh.has_endpoints(&host) {
                    checks.push(check("MGL0003", format!("{path}/host")));
                }
                if let Some(subset) = dest["subset"].as_str()
                    && !found.is_empty()
                {
                    let sd = ctx.mesh.subset_defined(&host, subset);
                    outcome(checks, &sd, ctx.own(), "KIA1107", path, "subset");
                }
            }
            if let [only] = dests
                && only["weight"].as_i64().is_some_and(|w| w > 0 && w < 100)
            {
                checks.push(check(
                    "KIA1104",
                    format!("spec/{proto}[{i}]/route[0]/weight"),
                ));
            }
            for dups in seen.values().filter(|v| v.len() > 1) {
                for j in dups {
                    checks.push(check(
                        "KIA1105",
                        format!("spec/{proto}[{i}]/route[{j}]/host"),
                    ));
                }
            }
        }
    }
    gateways(ctx, &strings(&spec["gateways"]), "spec", checks);
    for (i, r) in items(&spec["http"]).iter().enumerate() {
        for m in items(&r["match"]) {
            let gws = strings(&m["gateways"]);
            gateways(ctx, &gws, &format!("spec/http[{i}]/match"), checks);
        }
    }
}

/// KIA1102 and KIA1108 of a list of gateway references at `location`.
fn gateways(ctx: &Ctx<'_>, gws: &[String], location: &str, checks: &mut Vec<Check>) {
    for (i, g) in gws.iter().enumerate() {
        if g == "mesh" {
            continue;
        }
        let (ns, name) = match g.split_once('/') {
            Some((ns, name)) => (ns.to_string(), name.to_string()),
            None => {
                if g.contains('.') {
                    checks.push(check("KIA1108", format!("spec/gateways[{i}]")));
                }
                let mut parts = g.splitn(3, '.');
                let name = parts.next().unwrap_or_default().to_string();
                let ns = parts.next().unwrap_or(&ctx.o.namespace).to_string();
                (ns, name)
            }
        };
        let found = ctx.mesh.gateway_clusters(&ns, &name);
        outcome(
            checks,
            &found,
            ctx.own(),
            "KIA1102",
            format!("{location}/gateways[{i}]"),
            "gateway",
        );
    }
}

/// KIA1106: VirtualServices of one cluster claiming one host for the same gateways.
pub(super) fn single_host(c: &ClusterConfig, found: &mut Found) {
    let mut claims: BTreeMap<(String, String), Vec<&ConfigObject>> = BTreeMap::new();
    for vs in c.of(IstioKind::VirtualService) {
        let mut gws = strings(&vs.spec["gateways"]);
        gws.sort();
        let gws = gws.join(",");
        for h in strings(&vs.spec["hosts"]) {
            let e = claims
                .entry((fqdn(&parse_host(&h, &vs.namespace)), gws.clone()))
                .or_default();
            if !e
                .iter()
                .any(|x| x.namespace == vs.namespace && x.name == vs.name)
            {
                e.push(vs);
            }
        }
    }
    let mut flagged: Vec<(&str, &str)> = Vec::new();
    for vss in claims.values().filter(|v| v.len() > 1) {
        for vs in vss {
            if !flagged.contains(&(vs.namespace.as_str(), vs.name.as_str())) {
                found.add(vs, check("KIA1106", "spec/hosts"));
                flagged.push((&vs.namespace, &vs.name));
            }
            for other in vss
                .iter()
                .filter(|x| x.name != vs.name || x.namespace != vs.namespace)
            {
                found.refer(vs, c.name(), other);
            }
        }
    }
}
