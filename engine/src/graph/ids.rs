//! Node identity: Kiali's id rules (`graph.Id`) and its SHA-256 node ids.

use sha2::{Digest, Sha256};

use super::cytoscape::Id;
use crate::options::GraphType;
use crate::rules::is_ok;

/// Kiali's node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeType {
    Aggregate,
    App,
    Service,
    Unknown,
    Workload,
}

impl NodeType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeType::Aggregate => "aggregate",
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
    /// `<cluster>_unknown_source` (the unknown source).
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
    /// `agg_<cluster>_<namespace>_<aggregate>_<value>[_<service>]` (aggregateNode appender;
    /// `a` is the value, `b` the service or empty).
    Agg,
}

/// A label value borrowed from the input with its id in a label interner (the graph's, or a
/// planner's). Ids are exact (one per distinct string), and `""` and `unknown` always have the
/// ids [`Lbl::EMPTY`] and [`Lbl::UNKNOWN`] carry, in every interner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lbl<'a> {
    pub s: &'a str,
    pub id: u32,
}

impl Lbl<'static> {
    pub(crate) const EMPTY: Lbl<'static> = Lbl { s: "", id: 0 };
    pub(crate) const UNKNOWN: Lbl<'static> = Lbl {
        s: "unknown",
        id: 1,
    };
    /// The id of an [`Lbl::unnumbered`] value other than `""` and `unknown`.
    pub(crate) const UNNUMBERED: u32 = u32::MAX - 1;
}

impl<'a> Lbl<'a> {
    /// A value not numbered in any interner (never part of a node key): its id only tells
    /// `""` and `unknown` from the rest.
    pub(crate) fn unnumbered(s: &'a str) -> Self {
        let id = match s {
            "" => Lbl::EMPTY.id,
            "unknown" => Lbl::UNKNOWN.id,
            _ => Lbl::UNNUMBERED,
        };
        Lbl { s, id }
    }

    /// Set and not `unknown` ([`is_ok`]), decided on the id: `""` and `unknown` have fixed ids.
    pub(crate) fn ok(self) -> bool {
        let ok = self.id > Lbl::UNKNOWN.id;
        debug_assert_eq!(ok, is_ok(self.s));
        ok
    }

    fn is_unknown(self) -> bool {
        self.id == Lbl::UNKNOWN.id
    }
}

/// A node's identifying fields, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeKey<'a> {
    pub kind: IdKind,
    pub cluster: Lbl<'a>,
    pub namespace: Lbl<'a>,
    pub a: Lbl<'a>,
    pub b: Lbl<'a>,
}

/// A node key as integers: the node index's key.
pub(crate) type IntKey = (u8, u32, u32, u32, u32);

impl NodeKey<'_> {
    /// The key as integers (the ids of its fields in their interner).
    pub(crate) fn int_key(&self) -> IntKey {
        debug_assert!(
            [self.cluster, self.namespace, self.a, self.b]
                .iter()
                .all(|l| l.id != Lbl::UNNUMBERED)
        );
        (
            self.kind as u8,
            self.cluster.id,
            self.namespace.id,
            self.a.id,
            self.b.id,
        )
    }

    /// Writes Kiali's internal id string (the input of the SHA-256 node id); `aggregate` is
    /// the aggregate label's name (aggregate nodes only).
    pub(crate) fn write_id(&self, buf: &mut String, aggregate: &str) {
        if self.kind == IdKind::Agg {
            for part in ["agg", self.cluster.s, self.namespace.s, aggregate, self.a.s] {
                if part != "agg" {
                    buf.push('_');
                }
                buf.push_str(part);
            }
            if !self.b.s.is_empty() {
                buf.push('_');
                buf.push_str(self.b.s);
            }
            return;
        }
        let prefix = match self.kind {
            IdKind::Agg => "agg_",
            IdKind::Unknown => "",
            IdKind::Svc => "svc_",
            IdKind::Wl => "wl_",
            IdKind::VappWl | IdKind::VappVer => "vapp_",
            IdKind::App => "app_",
        };
        buf.push_str(prefix);
        buf.push_str(self.cluster.s);
        if self.kind == IdKind::Unknown {
            buf.push_str("_unknown_source");
            return;
        }
        buf.push('_');
        buf.push_str(self.namespace.s);
        buf.push('_');
        buf.push_str(self.a.s);
        if self.kind == IdKind::VappVer {
            buf.push('_');
            buf.push_str(self.b.s);
        }
    }
}

/// Kiali's `graph.Id`: the node identity for a label set, its type and its namespace.
#[allow(clippy::too_many_arguments)]
pub(crate) fn node_id<'a>(
    cluster: Lbl<'a>,
    svc_ns: Lbl<'a>,
    svc: Lbl<'a>,
    wl_ns: Lbl<'a>,
    wl: Lbl<'a>,
    app: Lbl<'a>,
    ver: Lbl<'a>,
    graph_type: GraphType,
) -> Result<(NodeKey<'a>, NodeType, Lbl<'a>), &'static str> {
    let namespace = if wl_ns.ok() { wl_ns } else { svc_ns };
    let key = |kind, a, b| NodeKey {
        kind,
        cluster,
        namespace,
        a,
        b,
    };

    // The unknown source.
    if namespace.is_unknown() && wl.is_unknown() && app.is_unknown() && svc.s.is_empty() {
        return Ok((
            key(IdKind::Unknown, Lbl::EMPTY, Lbl::EMPTY),
            NodeType::Unknown,
            namespace,
        ));
    }
    // A request to an unknown destination: one unknown service per namespace.
    if wl.is_unknown() && app.is_unknown() && svc.is_unknown() {
        return Ok((
            key(IdKind::Svc, Lbl::UNKNOWN, Lbl::EMPTY),
            NodeType::Service,
            namespace,
        ));
    }
    let (wl_ok, app_ok, svc_ok) = (wl.ok(), app.ok(), svc.ok());
    if !wl_ok && !app_ok && !svc_ok {
        return Err("no workload, app or service");
    }
    let svc_node = (
        key(IdKind::Svc, svc, Lbl::EMPTY),
        NodeType::Service,
        namespace,
    );
    match graph_type {
        GraphType::Workload | GraphType::Service => {
            if !wl_ok && !svc_ok {
                // An app label without workload or service (kiali#5696): Kiali keeps the
                // namespace's unknown service node.
                return Ok((
                    key(IdKind::Svc, Lbl::UNKNOWN, Lbl::EMPTY),
                    NodeType::Service,
                    namespace,
                ));
            }
            if !wl_ok {
                return Ok(svc_node);
            }
            Ok((
                key(IdKind::Wl, wl, Lbl::EMPTY),
                NodeType::Workload,
                namespace,
            ))
        }
        GraphType::App | GraphType::VersionedApp => {
            if app_ok {
                if graph_type == GraphType::VersionedApp {
                    if wl_ok {
                        return Ok((
                            key(IdKind::VappWl, wl, Lbl::EMPTY),
                            NodeType::App,
                            namespace,
                        ));
                    }
                    if ver.ok() {
                        return Ok((key(IdKind::VappVer, app, ver), NodeType::App, namespace));
                    }
                }
                return Ok((key(IdKind::App, app, Lbl::EMPTY), NodeType::App, namespace));
            }
            if wl_ok {
                return Ok((
                    key(IdKind::Wl, wl, Lbl::EMPTY),
                    NodeType::Workload,
                    namespace,
                ));
            }
            Ok(svc_node)
        }
    }
}

/// Lower-case hex SHA-256 as an inline [`Id`].
pub(crate) fn sha256_id(bytes: &[u8]) -> Id {
    Id::from_digest(&Sha256::digest(bytes).into())
}
