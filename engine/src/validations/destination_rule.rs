//! DestinationRule checks: host not found (KIA0202), subset labels matching nothing (KIA0203)
//! or nothing in this cluster (MGL0002), subset without labels (KIA0209), two rules for one
//! host and subset (KIA0201), and mTLS overridden by a non-local rule (KIA0204); the mTLS mode
//! checks (KIA0205–KIA0208) are in [`super::mtls`].

use std::collections::BTreeMap;

use super::hosts::{Host, Mesh, fqdn, items, label_map, outcome, parse_host};
use super::{Check, ClusterConfig, Ctx, Found, check, check_in, mtls};
use crate::istio::{ConfigObject, IstioKind};

/// The checks of one DestinationRule.
pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    let spec = &o.spec;
    let host_s = spec["host"].as_str().unwrap_or_default();
    let host = parse_host(host_s, &o.namespace);
    let found = ctx.mesh.host_clusters(&host);
    outcome(
        checks,
        &found,
        ctx.own(),
        "KIA0202",
        "spec/host".into(),
        "host",
    );
    for (i, s) in items(&spec["subsets"]).iter().enumerate() {
        let labels = label_map(&s["labels"]);
        if labels.is_empty() {
            checks.push(check("KIA0209", format!("spec/subsets[{i}]")));
            continue;
        }
        if found.is_empty() || matches!(host, Host::Other(_)) {
            continue;
        }
        let sc = ctx.mesh.subset_clusters(&host, &labels);
        let path = format!("spec/subsets[{i}]");
        if sc.is_empty() {
            checks.push(check("KIA0203", path));
        } else if !sc.iter().any(|c| c == ctx.own()) {
            checks.push(check_in("MGL0002", path, &sc));
        }
    }
    overridden_mtls(ctx.c, o, checks);
    mtls::destination_rule(ctx, checks);
}

/// Whether the rule sets TLS at the top level or on some port.
fn has_tls(o: &ConfigObject) -> bool {
    let tp = &o.spec["trafficPolicy"];
    !tp["tls"].is_null()
        || items(&tp["portLevelSettings"])
            .iter()
            .any(|p| !p["tls"].is_null())
}

/// KIA0204: a mesh- or namespace-wide rule enables mTLS for this rule's host, and this rule's
/// traffic policy sets no TLS, so it overrides that mTLS.
fn overridden_mtls(c: &ClusterConfig, o: &ConfigObject, checks: &mut Vec<Check>) {
    let host = parse_host(o.spec["host"].as_str().unwrap_or_default(), &o.namespace);
    let Host::Service { namespace, .. } = &host else {
        return;
    };
    if has_tls(o) {
        return;
    }
    let ns_wide = format!("*.{namespace}.svc.cluster.local");
    let enabling = c.of(IstioKind::DestinationRule).iter().any(|dr| {
        dr.name != o.name
            && mtls::enables(dr)
            && matches!(dr.spec["host"].as_str(), Some(h) if h == "*.local" || h == ns_wide)
    });
    if enabling {
        checks.push(check("KIA0204", "spec/trafficPolicy"));
    }
}

/// KIA0201: rules of one namespace for one host whose subsets overlap (two without subsets, or
/// two defining a subset of the same name).
pub(super) fn multi_match(_mesh: &Mesh<'_>, c: &ClusterConfig, found: &mut Found) {
    let mut by_host: BTreeMap<(String, &str), Vec<&ConfigObject>> = BTreeMap::new();
    for dr in c.of(IstioKind::DestinationRule) {
        let h = dr.spec["host"].as_str().unwrap_or_default();
        if h.contains('*') {
            continue;
        }
        by_host
            .entry((fqdn(&parse_host(h, &dr.namespace)), dr.namespace.as_str()))
            .or_default()
            .push(dr);
    }
    let subsets = |dr: &ConfigObject| -> Vec<String> {
        let v: Vec<String> = items(&dr.spec["subsets"])
            .iter()
            .filter_map(|s| s["name"].as_str().map(String::from))
            .collect();
        if v.is_empty() { vec!["~".into()] } else { v }
    };
    for drs in by_host.values().filter(|v| v.len() > 1) {
        for (i, a) in drs.iter().enumerate() {
            let sa = subsets(a);
            for b in drs.iter().skip(i + 1) {
                if subsets(b).iter().any(|s| sa.contains(s)) {
                    for (x, y) in [(a, b), (b, a)] {
                        found.add(x, check("KIA0201", "spec/host"));
                        found.refer(x, c.name(), y);
                    }
                }
            }
        }
    }
    // One finding per rule, however many rules it overlaps.
    for v in found.checks.values_mut() {
        let mut seen = false;
        v.retain(|c| {
            if c.code != "KIA0201" {
                return true;
            }
            let keep = !seen;
            seen = true;
            keep
        });
    }
}
