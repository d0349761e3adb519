//! mTLS status of a mesh and of its namespaces, from one cluster's PeerAuthentications and
//! DestinationRules, with Kiali's rules and values (`util/mtls/status.go`: `finalStatus`,
//! `MeshMtlsStatus`, `OverallMtlsStatus`; `kubernetes/filters.go`: namespace-wide objects).
//! Pure: the server turns the cached objects into [`PeerAuthn`] and [`DestRule`].

use serde_json::Value;

pub const MTLS_ENABLED: &str = "MTLS_ENABLED";
pub const MTLS_PARTIALLY_ENABLED: &str = "MTLS_PARTIALLY_ENABLED";
pub const MTLS_NOT_ENABLED: &str = "MTLS_NOT_ENABLED";
pub const MTLS_DISABLED: &str = "MTLS_DISABLED";

/// What of a PeerAuthentication the status reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAuthn {
    pub namespace: String,
    /// A `selector`: it applies to some workloads, not the namespace.
    pub has_selector: bool,
    /// `mtls.mode` (`STRICT`, `PERMISSIVE`, `DISABLE`; `UNSET` when `mtls` has no mode, as
    /// Istio's enum reads); `None` without `mtls`.
    pub mode: Option<String>,
}

/// What of a DestinationRule the status reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestRule {
    pub namespace: String,
    pub host: String,
    /// `trafficPolicy.tls.mode` (`ISTIO_MUTUAL`, `MUTUAL`, `SIMPLE`, `DISABLE`; `DISABLE` when
    /// `tls` has no mode, as Istio's enum reads); `None` without `trafficPolicy.tls`.
    pub tls_mode: Option<String>,
}

impl PeerAuthn {
    /// From an object's namespace and `spec`.
    pub fn from_spec(namespace: &str, spec: &Value) -> Self {
        let mode = spec.get("mtls").filter(|m| m.is_object()).map(|m| {
            m.get("mode")
                .and_then(Value::as_str)
                .unwrap_or("UNSET")
                .to_string()
        });
        PeerAuthn {
            namespace: namespace.to_string(),
            has_selector: spec.get("selector").is_some_and(|s| !s.is_null()),
            mode,
        }
    }
}

impl DestRule {
    /// From an object's namespace and `spec`.
    pub fn from_spec(namespace: &str, spec: &Value) -> Self {
        let tls_mode = spec
            .pointer("/trafficPolicy/tls")
            .filter(|t| t.is_object())
            .map(|t| {
                t.get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("DISABLE")
                    .to_string()
            });
        DestRule {
            namespace: namespace.to_string(),
            host: spec
                .get("host")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            tls_mode,
        }
    }
}

/// The settings of one cluster's control plane the status depends on.
#[derive(Debug, Clone)]
pub struct TlsContext {
    /// The root namespace (`istio_namespace`): its PeerAuthentications are mesh-wide.
    pub root_namespace: String,
    /// Istio's `enableAutoMtls` (Istio's default, true, when the mesh config is not read).
    pub auto_mtls: bool,
    /// The identity domain of namespace-wide DestinationRule hosts (`svc.cluster.local`).
    pub identity_domain: String,
}

impl Default for TlsContext {
    fn default() -> Self {
        TlsContext {
            root_namespace: "istio-system".into(),
            auto_mtls: true,
            identity_domain: "svc.cluster.local".into(),
        }
    }
}

/// The DestinationRule and PeerAuthentication modes found, and the status they give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Found {
    dr: String,
    pa: String,
}

/// The mode of the first namespace-wide PeerAuthentication of `pas` (no selector).
fn peer_mode<'a>(pas: impl Iterator<Item = &'a PeerAuthn>) -> String {
    pas.filter(|p| !p.has_selector)
        .find_map(|p| p.mode.clone())
        .unwrap_or_default()
}

/// The TLS mode of the first DestinationRule for exactly `host`.
fn dr_mode(drs: &[DestRule], host: &str) -> String {
    drs.iter()
        .filter(|d| !d.host.is_empty() && d.host == host)
        .find_map(|d| d.tls_mode.clone())
        .unwrap_or_default()
}

/// Kiali's `finalStatus` (permissive never counts as enabled: `AllowPermissive` is false).
fn final_status(f: &Found, auto: bool) -> &'static str {
    let (dr, pa) = (f.dr.as_str(), f.pa.as_str());
    let enabled = dr == "ISTIO_MUTUAL" || dr == "MUTUAL" || (dr.is_empty() && auto);
    let disabled = dr == "DISABLE" || (dr.is_empty() && auto);
    if pa == "STRICT" && enabled {
        MTLS_ENABLED
    } else if pa == "DISABLE" && disabled {
        MTLS_DISABLED
    } else if pa.is_empty() && dr.is_empty() {
        MTLS_NOT_ENABLED
    } else {
        MTLS_PARTIALLY_ENABLED
    }
}

/// The namespace-wide status of `namespace` (Kiali's `NamespaceWidemTLSStatus`): its own
/// namespace-wide PeerAuthentication (none for the root namespace) and a DestinationRule for
/// `*.<namespace>.<identity domain>` in any namespace.
pub fn namespace_status(
    namespace: &str,
    pas: &[PeerAuthn],
    drs: &[DestRule],
    ctx: &TlsContext,
) -> &'static str {
    let pa = if namespace == ctx.root_namespace {
        String::new()
    } else {
        peer_mode(pas.iter().filter(|p| p.namespace == namespace))
    };
    let host = format!("*.{namespace}.{}", ctx.identity_domain);
    final_status(
        &Found {
            dr: dr_mode(drs, &host),
            pa,
        },
        ctx.auto_mtls,
    )
}

/// The mesh-wide status (Kiali's `MeshWidemTLSStatus`): the root namespace's namespace-wide
/// PeerAuthentication and a DestinationRule for `*.local`.
pub fn mesh_status(pas: &[PeerAuthn], drs: &[DestRule], ctx: &TlsContext) -> &'static str {
    let f = Found {
        dr: dr_mode(drs, "*.local"),
        pa: peer_mode(pas.iter().filter(|p| p.namespace == ctx.root_namespace)),
    };
    let status = final_status(&f, ctx.auto_mtls);
    // `OverallMtlsStatus` with no namespace status.
    let (dr, pa) = (f.dr.as_str(), f.pa.as_str());
    if status == MTLS_ENABLED || status == MTLS_DISABLED {
        status
    } else if pa.is_empty() && dr.is_empty() {
        MTLS_NOT_ENABLED
    } else if (pa == "DISABLE" && dr.is_empty()) || (dr == "DISABLE" && pa.is_empty()) {
        MTLS_DISABLED
    } else if ctx.auto_mtls
        && ((pa == "STRICT" && dr.is_empty())
            || ((dr == "ISTIO_MUTUAL" || dr == "MUTUAL") && pa.is_empty()))
    {
        MTLS_ENABLED
    } else {
        MTLS_PARTIALLY_ENABLED
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pa(ns: &str, spec: Value) -> PeerAuthn {
        PeerAuthn::from_spec(ns, &spec)
    }

    fn dr(ns: &str, spec: Value) -> DestRule {
        DestRule::from_spec(ns, &spec)
    }

    #[test]
    fn namespace_status_follows_kialis_table() {
        let ctx = TlsContext::default();
        let strict = pa("bookinfo", json!({"mtls": {"mode": "STRICT"}}));
        let disable = pa("bookinfo", json!({"mtls": {"mode": "DISABLE"}}));
        let permissive = pa("bookinfo", json!({"mtls": {"mode": "PERMISSIVE"}}));
        let selected = pa(
            "bookinfo",
            json!({"selector": {"matchLabels": {"app": "x"}}, "mtls": {"mode": "STRICT"}}),
        );
        let ns_dr = |mode: &str| {
            dr(
                "other",
                json!({"host": "*.bookinfo.svc.cluster.local", "trafficPolicy": {"tls": {"mode": mode}}}),
            )
        };
        let s = |pas: &[PeerAuthn], drs: &[DestRule], ctx: &TlsContext| {
            namespace_status("bookinfo", pas, drs, ctx)
        };
        assert_eq!(s(&[], &[], &ctx), MTLS_NOT_ENABLED);
        // Auto mTLS: a STRICT namespace policy alone is enough.
        assert_eq!(s(std::slice::from_ref(&strict), &[], &ctx), MTLS_ENABLED);
        assert_eq!(s(std::slice::from_ref(&disable), &[], &ctx), MTLS_DISABLED);
        assert_eq!(s(&[permissive], &[], &ctx), MTLS_PARTIALLY_ENABLED);
        // A workload-level policy says nothing of the namespace.
        assert_eq!(s(&[selected], &[], &ctx), MTLS_NOT_ENABLED);
        // STRICT with a DestinationRule disabling TLS: partial.
        assert_eq!(
            s(std::slice::from_ref(&strict), &[ns_dr("DISABLE")], &ctx),
            MTLS_PARTIALLY_ENABLED
        );
        assert_eq!(s(&[disable], &[ns_dr("DISABLE")], &ctx), MTLS_DISABLED);
        assert_eq!(
            s(&[], &[ns_dr("ISTIO_MUTUAL")], &ctx),
            MTLS_PARTIALLY_ENABLED
        );
        // Without auto mTLS, STRICT needs the DestinationRule.
        let manual = TlsContext {
            auto_mtls: false,
            ..TlsContext::default()
        };
        assert_eq!(
            s(std::slice::from_ref(&strict), &[], &manual),
            MTLS_PARTIALLY_ENABLED
        );
        assert_eq!(
            s(
                std::slice::from_ref(&strict),
                &[ns_dr("ISTIO_MUTUAL")],
                &manual
            ),
            MTLS_ENABLED
        );
        // Another namespace's policy does not count; the root namespace has no own policy.
        assert_eq!(
            namespace_status("other", std::slice::from_ref(&strict), &[], &ctx),
            MTLS_NOT_ENABLED
        );
        let root = pa("istio-system", json!({"mtls": {"mode": "STRICT"}}));
        assert_eq!(
            namespace_status("istio-system", &[root], &[], &ctx),
            MTLS_NOT_ENABLED
        );
    }

    #[test]
    fn mesh_status_reads_the_root_namespace_and_star_local() {
        let ctx = TlsContext::default();
        let root = |mode: &str| pa("istio-system", json!({"mtls": {"mode": mode}}));
        let star = |mode: &str| {
            dr(
                "istio-system",
                json!({"host": "*.local", "trafficPolicy": {"tls": {"mode": mode}}}),
            )
        };
        assert_eq!(mesh_status(&[], &[], &ctx), MTLS_NOT_ENABLED);
        assert_eq!(mesh_status(&[root("STRICT")], &[], &ctx), MTLS_ENABLED);
        assert_eq!(mesh_status(&[root("DISABLE")], &[], &ctx), MTLS_DISABLED);
        assert_eq!(mesh_status(&[], &[star("DISABLE")], &ctx), MTLS_DISABLED);
        assert_eq!(
            mesh_status(&[], &[star("ISTIO_MUTUAL")], &ctx),
            MTLS_ENABLED
        );
        assert_eq!(
            mesh_status(&[root("PERMISSIVE")], &[], &ctx),
            MTLS_PARTIALLY_ENABLED
        );
        // A namespace's policy is not mesh-wide.
        let ns_strict = pa("bookinfo", json!({"mtls": {"mode": "STRICT"}}));
        assert_eq!(mesh_status(&[ns_strict], &[], &ctx), MTLS_NOT_ENABLED);
        // `mtls: {}` reads as UNSET, a DestinationRule `tls: {}` as DISABLE.
        assert_eq!(pa("a", json!({"mtls": {}})).mode.as_deref(), Some("UNSET"));
        assert_eq!(
            dr("a", json!({"host": "h", "trafficPolicy": {"tls": {}}}))
                .tls_mode
                .as_deref(),
            Some("DISABLE")
        );
        assert_eq!(pa("a", json!({})).mode, None);
    }
}
