//! mTLS consistency between PeerAuthentications and DestinationRules, as Kiali checks it:
//! on DestinationRules KIA0205–KIA0208, on PeerAuthentications KIA0401, KIA0501, KIA0505 and
//! KIA0506; and beyond Kiali, a STRICT PeerAuthentication while workloads without a sidecar in
//! another cluster share its scope (MGL0004).

use super::{Check, ClusterConfig, Ctx, check, check_in};
use crate::istio::{ConfigObject, IstioKind};

/// A DestinationRule's `trafficPolicy.tls.mode`.
fn dr_mode(dr: &ConfigObject) -> &str {
    dr.spec["trafficPolicy"]["tls"]["mode"]
        .as_str()
        .unwrap_or_default()
}

/// Whether a DestinationRule turns mTLS on (`ISTIO_MUTUAL` or `MUTUAL`).
pub(super) fn enables(dr: &ConfigObject) -> bool {
    matches!(dr_mode(dr), "ISTIO_MUTUAL" | "MUTUAL")
}

/// A PeerAuthentication's `mtls.mode` (`UNSET` when absent).
fn pa_mode(pa: &ConfigObject) -> &str {
    pa.spec["mtls"]["mode"].as_str().unwrap_or("UNSET")
}

fn selectorless(pa: &ConfigObject) -> bool {
    pa.spec["selector"]["matchLabels"]
        .as_object()
        .is_none_or(|m| m.is_empty())
}

fn mesh_host(dr: &ConfigObject) -> bool {
    dr.spec["host"].as_str() == Some("*.local")
}

fn ns_host(dr: &ConfigObject, ns: &str) -> bool {
    dr.spec["host"].as_str() == Some(&format!("*.{ns}.svc.cluster.local"))
}

/// The mesh-wide PeerAuthentications (root namespace, no selector) of a cluster.
fn mesh_pas<'a>(c: &'a ClusterConfig, root: &'a str) -> impl Iterator<Item = &'a ConfigObject> {
    c.of(IstioKind::PeerAuthentication)
        .iter()
        .filter(move |p| p.namespace == root && selectorless(p))
}

/// The namespace-wide PeerAuthentications of `ns`.
fn ns_pas<'a>(c: &'a ClusterConfig, ns: &'a str) -> impl Iterator<Item = &'a ConfigObject> {
    c.of(IstioKind::PeerAuthentication)
        .iter()
        .filter(move |p| p.namespace == ns && selectorless(p))
}

/// The mode PeerAuthentications give namespace `ns` (namespace-wide first, then mesh-wide).
pub(super) fn namespace_mode<'a>(c: &'a ClusterConfig, root: &'a str, ns: &'a str) -> &'a str {
    let ns_mode = ns_pas(c, ns).map(pa_mode).find(|m| *m != "UNSET");
    ns_mode
        .or_else(|| mesh_pas(c, root).map(pa_mode).find(|m| *m != "UNSET"))
        .unwrap_or("PERMISSIVE")
}

/// Whether workload traffic into `ns` is mutual TLS (what AuthorizationPolicy source fields
/// need): with auto mTLS, unless disabled; without, STRICT, or PERMISSIVE with a rule enabling
/// it.
pub(super) fn namespace_mtls(c: &ClusterConfig, root: &str, auto_mtls: bool, ns: &str) -> bool {
    let mode = namespace_mode(c, root, ns);
    if auto_mtls {
        return mode != "DISABLE";
    }
    mode == "STRICT"
        || (mode == "PERMISSIVE"
            && c.of(IstioKind::DestinationRule)
                .iter()
                .any(|dr| enables(dr) && (mesh_host(dr) || ns_host(dr, ns))))
}

/// KIA0205–KIA0208 of one DestinationRule.
pub(super) fn destination_rule(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let (c, dr) = (ctx.c, ctx.o);
    let opts = ctx.mesh.opts;
    let root = opts.root_namespace.as_str();
    let path = "spec/trafficPolicy/tls/mode";
    let mesh_enabled = || mesh_pas(c, root).any(|p| matches!(pa_mode(p), "STRICT" | "PERMISSIVE"));
    let mesh_strict = || mesh_pas(c, root).any(|p| pa_mode(p) == "STRICT");
    if mesh_host(dr) {
        if enables(dr) && !opts.auto_mtls && !mesh_enabled() {
            checks.push(check("KIA0205", path));
        }
        if dr_mode(dr) == "DISABLE" && mesh_strict() {
            checks.push(check("KIA0208", path));
        }
        return;
    }
    let ns = dr.namespace.as_str();
    if !ns_host(dr, ns) {
        return;
    }
    if enables(dr) && !opts.auto_mtls {
        let ns_enabled = ns_pas(c, ns).any(|p| matches!(pa_mode(p), "STRICT" | "PERMISSIVE"));
        if !ns_enabled && !mesh_enabled() {
            checks.push(check("KIA0206", path));
        }
    }
    if dr_mode(dr) == "DISABLE" {
        match ns_pas(c, ns).map(pa_mode).find(|m| *m != "UNSET") {
            Some("STRICT") => checks.push(check("KIA0207", path)),
            Some(_) => {}
            None if mesh_strict() => checks.push(check("KIA0208", path)),
            None => {}
        }
    }
}

/// KIA0401, KIA0501, KIA0505, KIA0506 and MGL0004 of one PeerAuthentication.
pub(super) fn peer_authentication(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let (c, pa) = (ctx.c, ctx.o);
    let opts = ctx.mesh.opts;
    let root = opts.root_namespace.as_str();
    let drs = c.of(IstioKind::DestinationRule);
    let mode = pa_mode(pa);
    let ns = pa.namespace.as_str();
    let mesh_wide = ns == root && selectorless(pa);
    if mesh_wide {
        let mesh_dr_enables = drs.iter().any(|d| mesh_host(d) && enables(d));
        if mode == "STRICT" && !opts.auto_mtls && !mesh_dr_enables {
            checks.push(check("KIA0401", "spec/mtls"));
        }
        let mesh_dr_disables = drs.iter().any(|d| mesh_host(d) && dr_mode(d) == "DISABLE");
        if mode == "DISABLE" && mesh_dr_enables && !mesh_dr_disables {
            checks.push(check("KIA0506", "spec/mtls"));
        }
    } else if selectorless(pa) {
        let ns_dr = drs
            .iter()
            .find(|d| ns_host(d, ns) && !dr_mode(d).is_empty());
        let mesh_dr_enables = drs.iter().any(|d| mesh_host(d) && enables(d));
        if mode == "STRICT" && !opts.auto_mtls && !ns_dr.is_some_and(enables) && !mesh_dr_enables {
            checks.push(check("KIA0501", "spec/mtls"));
        }
        if mode == "DISABLE" {
            let bad = match ns_dr {
                Some(d) => enables(d),
                None => mesh_dr_enables,
            };
            if bad {
                checks.push(check("KIA0505", "spec/mtls"));
            }
        }
    }
    if mode == "STRICT" {
        strict_across_clusters(ctx, mesh_wide, checks);
    }
}

/// MGL0004: clusters other than the policy's own with workloads without a sidecar in the
/// policy's scope (its namespace; every namespace for a mesh-wide policy).
fn strict_across_clusters(ctx: &Ctx<'_>, mesh_wide: bool, checks: &mut Vec<Check>) {
    let pa = ctx.o;
    let root = &ctx.mesh.opts.root_namespace;
    let clusters: Vec<String> = ctx
        .mesh
        .clusters
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != ctx.ci)
        .filter(|(_, c)| {
            c.inventory.workloads.iter().any(|w| {
                !w.istio_sidecar
                    && &w.namespace != root
                    && (mesh_wide || w.namespace == pa.namespace)
            })
        })
        .map(|(_, c)| c.name().to_string())
        .collect();
    if !clusters.is_empty() {
        checks.push(check_in("MGL0004", "spec/mtls/mode", &clusters));
    }
}
