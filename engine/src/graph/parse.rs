//! A sample's identity: its source/destination labels read and checked with Kiali's
//! bad-telemetry rules, numbered in an interner, and turned into node identities.

use super::ids::{Lbl, NodeKey, NodeType, node_id};
use super::labels::{
    H_DST_APP, H_DST_CLUSTER, H_DST_SVC, H_DST_SVC_NAME, H_DST_SVC_NS, H_DST_VER, H_DST_WL,
    H_DST_WL_NS, H_SRC_APP, H_SRC_CLUSTER, H_SRC_NS, H_SRC_VER, H_SRC_WL, Labels,
};
use crate::diag::Diagnostics;
use crate::input::Sample;
use crate::options::{GraphOptions, GraphType};
use crate::rules::is_ok;

/// `^\d+\.\d+\.\d+\.\d+(:\d+)?$` without a regex.
fn looks_like_ip(s: &str) -> bool {
    let (addr, port) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let parts: Vec<&str> = addr.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The egress gateway's workload, app and service name (Kiali's special case).
const EGRESS_GATEWAY: &str = "istio-egressgateway";

/// `istio-egressgateway.<istio_ns>.svc.cluster.local`, compared without building it.
fn is_egress_host(host: &str, istio_ns: &str) -> bool {
    host.strip_prefix("istio-egressgateway.")
        .and_then(|r| r.strip_prefix(istio_ns))
        == Some(".svc.cluster.local")
}

/// The parsed, validated identity of a sample.
pub(super) struct Parsed<'a> {
    pub(super) src_cluster: Lbl<'a>,
    pub(super) src_ns: Lbl<'a>,
    pub(super) src_wl: Lbl<'a>,
    pub(super) src_app: Lbl<'a>,
    pub(super) src_ver: Lbl<'a>,
    pub(super) dst_cluster: Lbl<'a>,
    pub(super) dst_svc_ns: Lbl<'a>,
    pub(super) dst_svc: Lbl<'a>,
    pub(super) dst_svc_name: Lbl<'a>,
    pub(super) dst_wl_ns: Lbl<'a>,
    pub(super) dst_wl: Lbl<'a>,
    pub(super) dst_app: Lbl<'a>,
    pub(super) dst_ver: Lbl<'a>,
}

impl<'a> Parsed<'a> {
    /// The arguments of [`node_id`] for the sample's node `k`: 0 source, 1 destination,
    /// 2 destination service (injected).
    pub(super) fn node(&self, k: usize) -> [Lbl<'a>; 7] {
        let e = Lbl::EMPTY;
        match k {
            0 => [
                self.src_cluster,
                self.src_ns,
                e,
                self.src_ns,
                self.src_wl,
                self.src_app,
                self.src_ver,
            ],
            1 => [
                self.dst_cluster,
                self.dst_svc_ns,
                self.dst_svc_name,
                self.dst_wl_ns,
                self.dst_wl,
                self.dst_app,
                self.dst_ver,
            ],
            _ => [
                self.dst_cluster,
                self.dst_svc_ns,
                self.dst_svc_name,
                e,
                e,
                e,
                e,
            ],
        }
    }
}

/// Reads and checks a sample's identity (Kiali's bad-telemetry rules), numbering its labels in
/// `labels`; `hs` are its [`label_hashes`](super::labels::label_hashes).
pub(super) fn parse<'a>(
    labels: &mut Labels<'a>,
    diags: &mut Diagnostics,
    s: &'a Sample,
    hs: &[u64; 18],
    opts: &'a GraphOptions,
) -> Option<Parsed<'a>> {
    let gt = identity_graph_type(opts);
    let l = &s.labels;
    let (
        Some(src_ns),
        Some(src_wl),
        Some(src_app),
        Some(src_ver),
        Some(dst_svc_ns),
        Some(dst_svc),
        Some(dst_svc_name),
        Some(dst_wl_ns),
        Some(dst_wl),
        Some(dst_app),
        Some(dst_ver),
    ) = (
        l.source_workload_namespace(),
        l.source_workload(),
        l.source_canonical_service(),
        l.source_canonical_revision(),
        l.destination_service_namespace(),
        l.destination_service(),
        l.destination_service_name(),
        l.destination_workload_namespace(),
        l.destination_workload(),
        l.destination_canonical_service(),
        l.destination_canonical_revision(),
    )
    else {
        diags.push("missing_label", || {
            format!(
                "{} sample without an expected source_/destination_ label: {:?}",
                s.family, l
            )
        });
        return None;
    };
    let src_cluster_ok = l.source_cluster().is_some();
    let dst_cluster_ok = l.destination_cluster().is_some();
    let src_cluster = l.source_cluster().unwrap_or("unknown");
    let mut dst_cluster = l.destination_cluster().unwrap_or("unknown");

    // Known-bad source telemetry (Kiali's IsBadSourceTelemetry).
    if (is_ok(src_ns) && !is_ok(src_wl) && !is_ok(src_app))
        || (is_ok(src_ns) && src_cluster_ok && !is_ok(src_cluster))
    {
        diags.push("bad_source_telemetry", || {
            format!(
                "{} source {src_cluster}/{src_ns}/{src_wl}/{src_app}",
                s.family
            )
        });
        return None;
    }
    // Requests to the egress gateway's host (kiali#2999): the istio-egressgateway app in the
    // control plane's namespace, in the source's cluster.
    let egress = is_egress_host(dst_svc, &opts.istio_namespace) && dst_svc == dst_svc_name;
    let (mut dst_svc_ns, mut dst_svc_name, mut dst_wl_ns, mut dst_wl) =
        (dst_svc_ns, dst_svc_name, dst_wl_ns, dst_wl);
    let (mut dst_app, mut dst_ver) = (dst_app, dst_ver);
    // Istio#29373: destination_cluster missing or unknown — assume the source cluster.
    let mut dst_from_src = false;
    if egress {
        let ns = opts.istio_namespace.as_str();
        (dst_svc_ns, dst_svc_name, dst_wl_ns, dst_wl) = (ns, EGRESS_GATEWAY, ns, EGRESS_GATEWAY);
        (dst_app, dst_ver) = (EGRESS_GATEWAY, "latest");
        dst_cluster = src_cluster;
        dst_from_src = true;
    } else if !is_ok(dst_cluster) && is_ok(src_cluster) && is_ok(dst_svc_ns) {
        dst_cluster = src_cluster;
        dst_from_src = true;
    }
    // Known-bad destination telemetry (Kiali's IsBadDestTelemetry).
    if (!is_ok(dst_wl)
        && is_ok(dst_svc)
        && is_ok(dst_svc_name)
        && dst_svc == dst_svc_name
        && looks_like_ip(dst_svc_name))
        || (is_ok(dst_svc_ns) && dst_cluster_ok && !is_ok(dst_cluster))
    {
        diags.push("bad_dest_telemetry", || {
            format!(
                "{} destination {dst_cluster}/{dst_svc_ns}/{dst_svc_name}/{dst_wl}",
                s.family
            )
        });
        return None;
    }
    // Rewritten destination values (egress) are not what the label hashes were taken of.
    let mut lbl = |v: &'a str, h: usize| {
        if egress
            && matches!(
                h,
                H_DST_SVC_NS | H_DST_SVC_NAME | H_DST_WL_NS | H_DST_WL | H_DST_APP | H_DST_VER
            )
        {
            labels.lbl(v)
        } else {
            labels.lbl_hashed(v, hs[h])
        }
    };
    // Apps and versions are parts of node keys in app graphs only.
    let app_keys = matches!(gt, GraphType::App | GraphType::VersionedApp);
    let src_cluster_l = if src_cluster_ok {
        lbl(src_cluster, H_SRC_CLUSTER)
    } else {
        Lbl::UNKNOWN
    };
    // A value equal to one numbered just before (same hash, same bytes: both are in the
    // sample's buffer, in cache) takes its id without a lookup.
    let again = |prev: Lbl<'a>, hp: usize, v: &'a str, hv: usize| {
        (hs[hp] == hs[hv] && prev.s == v).then_some(Lbl { s: v, id: prev.id })
    };
    let dst_cluster_l = if dst_from_src {
        src_cluster_l
    } else if dst_cluster_ok {
        match again(src_cluster_l, H_SRC_CLUSTER, dst_cluster, H_DST_CLUSTER) {
            Some(l) if src_cluster_ok => l,
            _ => lbl(dst_cluster, H_DST_CLUSTER),
        }
    } else {
        Lbl::UNKNOWN
    };
    let src_ns_l = lbl(src_ns, H_SRC_NS);
    let (dst_svc_ns_l, dst_wl_ns_l) = if egress {
        let ns = lbl(dst_svc_ns, H_DST_SVC_NS);
        (ns, ns)
    } else {
        let svc_ns = again(src_ns_l, H_SRC_NS, dst_svc_ns, H_DST_SVC_NS)
            .unwrap_or_else(|| lbl(dst_svc_ns, H_DST_SVC_NS));
        let wl_ns = again(svc_ns, H_DST_SVC_NS, dst_wl_ns, H_DST_WL_NS)
            .unwrap_or_else(|| lbl(dst_wl_ns, H_DST_WL_NS));
        (svc_ns, wl_ns)
    };
    Some(Parsed {
        src_cluster: src_cluster_l,
        src_ns: src_ns_l,
        src_wl: lbl(src_wl, H_SRC_WL),
        src_app: if app_keys {
            lbl(src_app, H_SRC_APP)
        } else {
            Lbl::unnumbered(src_app)
        },
        src_ver: if app_keys {
            lbl(src_ver, H_SRC_VER)
        } else {
            Lbl::unnumbered(src_ver)
        },
        dst_cluster: dst_cluster_l,
        dst_svc_ns: dst_svc_ns_l,
        dst_svc: lbl(dst_svc, H_DST_SVC),
        dst_svc_name: lbl(dst_svc_name, H_DST_SVC_NAME),
        dst_wl_ns: dst_wl_ns_l,
        dst_wl: lbl(dst_wl, H_DST_WL),
        dst_app: if app_keys {
            lbl(dst_app, H_DST_APP)
        } else {
            Lbl::unnumbered(dst_app)
        },
        dst_ver: if app_keys {
            lbl(dst_ver, H_DST_VER)
        } else {
            Lbl::unnumbered(dst_ver)
        },
    })
}

/// The graph type node identity follows (a service graph is built from a workload graph).
pub(super) fn identity_graph_type(opts: &GraphOptions) -> GraphType {
    match opts.graph_type {
        GraphType::Service => GraphType::Workload,
        g => g,
    }
}

/// [`node_id`] of `n` ([`Parsed::node`]'s order), reporting a bad one.
// Inlined into the planner, as when both were one module (the hot path per sample).
#[inline]
pub(super) fn find_node_id<'a>(
    diags: &mut Diagnostics,
    gt: GraphType,
    n: [Lbl<'a>; 7],
) -> Option<(NodeKey<'a>, NodeType, Lbl<'a>)> {
    let [cluster, svc_ns, svc, wl_ns, wl, app, ver] = n;
    match node_id(cluster, svc_ns, svc, wl_ns, wl, app, ver, gt) {
        Ok(v) => Some(v),
        Err(why) => {
            diags.push("bad_node", || {
                format!(
                    "{why}: cluster={} namespace={}/{} workload={} app={} version={} service={}",
                    cluster.s, wl_ns.s, svc_ns.s, wl.s, app.s, ver.s, svc.s
                )
            });
            None
        }
    }
}
