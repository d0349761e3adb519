//! Node identity: Kiali's id rules (`graph.Id`) and its SHA-256 node ids.

use sha2::{Digest, Sha256};

use super::cytoscape::Id;
use crate::options::GraphType;

/// Kiali's node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeType {
    App,
    Service,
    Unknown,
    Workload,
}

impl NodeType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeType::App => "app",
            NodeType::Service => "service",
            NodeType::Unknown => "unknown",
            NodeType::Workload => "workload",
        }
    }
}

/// Which of Kiali's id templates a node uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdKind {
    /// `<cluster>_<namespace>` (the unknown source).
    Unknown,
    /// `svc_<cluster>_<namespace>_<service>`.
    Svc,
    /// `wl_<cluster>_<namespace>_<workload>`.
    Wl,
    /// `vapp_<cluster>_<namespace>_<workload>`.
    VappWl,
    /// `vapp_<cluster>_<namespace>_<app>_<version>`.
    VappVer,
    /// `app_<cluster>_<namespace>_<app>`.
    App,
}

/// A node's identifying fields, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NodeKey<'a> {
    pub kind: IdKind,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub a: &'a str,
    pub b: &'a str,
}

impl NodeKey<'_> {
    /// An unambiguous byte encoding of the key (kind, then each field length-prefixed), for
    /// hashing and comparing a key as one slice.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        buf.clear();
        buf.push(self.kind as u8);
        for f in [self.cluster, self.namespace, self.a, self.b] {
            buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
            buf.extend_from_slice(f.as_bytes());
        }
    }

    /// Writes Kiali's internal id string (the input of the SHA-256 node id).
    pub(crate) fn write_id(&self, buf: &mut String) {
        let prefix = match self.kind {
            IdKind::Unknown => "",
            IdKind::Svc => "svc_",
            IdKind::Wl => "wl_",
            IdKind::VappWl | IdKind::VappVer => "vapp_",
            IdKind::App => "app_",
        };
        buf.push_str(prefix);
        buf.push_str(self.cluster);
        buf.push('_');
        buf.push_str(self.namespace);
        if self.kind != IdKind::Unknown {
            buf.push('_');
            buf.push_str(self.a);
        }
        if self.kind == IdKind::VappVer {
            buf.push('_');
            buf.push_str(self.b);
        }
    }
}

/// Set and not `unknown`.
pub(crate) fn is_ok(s: &str) -> bool {
    !s.is_empty() && s != "unknown"
}

/// Kiali's `graph.Id`: the node identity for a label set, its type and its namespace.
#[allow(clippy::too_many_arguments)]
pub(crate) fn node_id<'a>(
    cluster: &'a str,
    svc_ns: &'a str,
    svc: &'a str,
    wl_ns: &'a str,
    wl: &'a str,
    app: &'a str,
    ver: &'a str,
    graph_type: GraphType,
) -> Result<(NodeKey<'a>, NodeType, &'a str), &'static str> {
    let namespace = if is_ok(wl_ns) { wl_ns } else { svc_ns };
    let key = |kind, a, b| NodeKey {
        kind,
        cluster,
        namespace,
        a,
        b,
    };

    // The unknown source.
    if namespace == "unknown" && wl == "unknown" && app == "unknown" && svc.is_empty() {
        return Ok((key(IdKind::Unknown, "", ""), NodeType::Unknown, namespace));
    }
    // A request to an unknown destination: one unknown service per namespace.
    if wl == "unknown" && app == "unknown" && svc == "unknown" {
        return Ok((
            key(IdKind::Svc, "unknown", ""),
            NodeType::Service,
            namespace,
        ));
    }
    let (wl_ok, app_ok, svc_ok) = (is_ok(wl), is_ok(app), is_ok(svc));
    if !wl_ok && !app_ok && !svc_ok {
        return Err("no workload, app or service");
    }
    let svc_node = (key(IdKind::Svc, svc, ""), NodeType::Service, namespace);
    match graph_type {
        GraphType::Workload | GraphType::Service => {
            if !wl_ok && !svc_ok {
                return Err("no workload or service");
            }
            if !wl_ok {
                return Ok(svc_node);
            }
            Ok((key(IdKind::Wl, wl, ""), NodeType::Workload, namespace))
        }
        GraphType::App | GraphType::VersionedApp => {
            if app_ok {
                if graph_type == GraphType::VersionedApp {
                    if wl_ok {
                        return Ok((key(IdKind::VappWl, wl, ""), NodeType::App, namespace));
                    }
                    if is_ok(ver) {
                        return Ok((key(IdKind::VappVer, app, ver), NodeType::App, namespace));
                    }
                }
                return Ok((key(IdKind::App, app, ""), NodeType::App, namespace));
            }
            if wl_ok {
                return Ok((key(IdKind::Wl, wl, ""), NodeType::Workload, namespace));
            }
            Ok(svc_node)
        }
    }
}

/// Lower-case hex SHA-256 as an inline [`Id`].
pub(crate) fn sha256_id(bytes: &[u8]) -> Id {
    Id::from_digest(&Sha256::digest(bytes).into())
}
