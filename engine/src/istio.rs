//! Istio config as the engine sees it: the kinds the console reads and one object of a kind,
//! translated from the cluster's objects at the edge; how a host written in an object names a
//! service, and what a VirtualService or DestinationRule does to a service (Kiali's rules behind
//! the graph's istio badges and the service details' references).

use serde_json::Value;

/// A host as written in an Istio object, resolved against the object's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `<svc>.<ns>.svc.cluster.local`-style service reference.
    Service { name: String, namespace: String },
    /// Anything else (external names, wildcards): matched against ServiceEntry hosts.
    Other(String),
}

/// Resolves `host`, written in an object of namespace `obj_ns`.
pub fn parse_host(host: &str, obj_ns: &str) -> Host {
    if host.contains('*') {
        return Host::Other(host.to_string());
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [svc] => Host::Service {
            name: svc.to_string(),
            namespace: obj_ns.to_string(),
        },
        [svc, ns] | [svc, ns, "svc"] | [svc, ns, "svc", "cluster", "local"] => Host::Service {
            name: svc.to_string(),
            namespace: ns.to_string(),
        },
        _ => Host::Other(host.to_string()),
    }
}

/// The host's fully qualified name.
pub fn fqdn(h: &Host) -> String {
    match h {
        Host::Service { name, namespace } => format!("{name}.{namespace}.svc.cluster.local"),
        Host::Other(s) => s.clone(),
    }
}

/// Whether `host`, written in an object of namespace `obj_ns`, names service `name` of
/// namespace `ns` (Kiali's `FilterByHost`).
pub fn names_service(host: &str, obj_ns: &str, name: &str, ns: &str) -> bool {
    matches!(parse_host(host, obj_ns), Host::Service { name: n, namespace: s } if n == name && s == ns)
}

/// The Istio config kinds the console reads (the server caches each in the clusters where its
/// CRD exists): Istio's networking, security, telemetry and extensions kinds and the Gateway
/// API's routes and gateways (`K8s…`, as Kiali names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IstioKind {
    VirtualService,
    DestinationRule,
    Gateway,
    ServiceEntry,
    Sidecar,
    AuthorizationPolicy,
    PeerAuthentication,
    RequestAuthentication,
    WorkloadEntry,
    WorkloadGroup,
    EnvoyFilter,
    Telemetry,
    WasmPlugin,
    K8sGateway,
    K8sHTTPRoute,
    K8sGRPCRoute,
    K8sReferenceGrant,
    K8sTCPRoute,
    K8sTLSRoute,
}

/// `(kind, group, Kind, REST resource, Kiali's objects name)` of every kind.
const KINDS: [(IstioKind, &str, &str, &str, &str); 19] = [
    (
        IstioKind::VirtualService,
        NET,
        "VirtualService",
        "virtualservices",
        "virtualservices",
    ),
    (
        IstioKind::DestinationRule,
        NET,
        "DestinationRule",
        "destinationrules",
        "destinationrules",
    ),
    (IstioKind::Gateway, NET, "Gateway", "gateways", "gateways"),
    (
        IstioKind::ServiceEntry,
        NET,
        "ServiceEntry",
        "serviceentries",
        "serviceentries",
    ),
    (IstioKind::Sidecar, NET, "Sidecar", "sidecars", "sidecars"),
    (
        IstioKind::AuthorizationPolicy,
        SEC,
        "AuthorizationPolicy",
        "authorizationpolicies",
        "authorizationpolicies",
    ),
    (
        IstioKind::PeerAuthentication,
        SEC,
        "PeerAuthentication",
        "peerauthentications",
        "peerauthentications",
    ),
    (
        IstioKind::RequestAuthentication,
        SEC,
        "RequestAuthentication",
        "requestauthentications",
        "requestauthentications",
    ),
    (
        IstioKind::WorkloadEntry,
        NET,
        "WorkloadEntry",
        "workloadentries",
        "workloadentries",
    ),
    (
        IstioKind::WorkloadGroup,
        NET,
        "WorkloadGroup",
        "workloadgroups",
        "workloadgroups",
    ),
    (
        IstioKind::EnvoyFilter,
        NET,
        "EnvoyFilter",
        "envoyfilters",
        "envoyfilters",
    ),
    (
        IstioKind::Telemetry,
        "telemetry.istio.io",
        "Telemetry",
        "telemetries",
        "telemetries",
    ),
    (
        IstioKind::WasmPlugin,
        "extensions.istio.io",
        "WasmPlugin",
        "wasmplugins",
        "wasmplugins",
    ),
    (
        IstioKind::K8sGateway,
        GWAPI,
        "Gateway",
        "gateways",
        "k8sgateways",
    ),
    (
        IstioKind::K8sHTTPRoute,
        GWAPI,
        "HTTPRoute",
        "httproutes",
        "k8shttproutes",
    ),
    (
        IstioKind::K8sGRPCRoute,
        GWAPI,
        "GRPCRoute",
        "grpcroutes",
        "k8sgrpcroutes",
    ),
    (
        IstioKind::K8sReferenceGrant,
        GWAPI,
        "ReferenceGrant",
        "referencegrants",
        "k8sreferencegrants",
    ),
    (
        IstioKind::K8sTCPRoute,
        GWAPI,
        "TCPRoute",
        "tcproutes",
        "k8stcproutes",
    ),
    (
        IstioKind::K8sTLSRoute,
        GWAPI,
        "TLSRoute",
        "tlsroutes",
        "k8stlsroutes",
    ),
];

const NET: &str = "networking.istio.io";
const SEC: &str = "security.istio.io";
const GWAPI: &str = "gateway.networking.k8s.io";

impl IstioKind {
    /// Every cached kind.
    pub const ALL: [IstioKind; 19] = {
        let mut all = [IstioKind::VirtualService; 19];
        let mut i = 0;
        while i < 19 {
            all[i] = KINDS[i].0;
            i += 1;
        }
        all
    };

    fn row(
        self,
    ) -> &'static (
        IstioKind,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        &KINDS[self as usize]
    }

    /// API group of the kind.
    pub fn group(self) -> &'static str {
        self.row().1
    }

    /// Kind name (`Gateway` for both Istio's and the Gateway API's: tell them by [`Self::group`]).
    pub fn kind(self) -> &'static str {
        self.row().2
    }

    /// REST resource name (what RBAC and the API server call it).
    pub fn resource(self) -> &'static str {
        self.row().3
    }

    /// Kiali's name of the kind (the `objects` parameter of `/api/istio/config`):
    /// the resource, `k8s`-prefixed for the Gateway API.
    pub fn plural(self) -> &'static str {
        self.row().4
    }

    /// Parses Kiali's name of a kind.
    pub fn from_plural(s: &str) -> Option<IstioKind> {
        IstioKind::ALL.into_iter().find(|k| k.plural() == s)
    }

    /// The kind of an API group and kind name.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<IstioKind> {
        IstioKind::ALL
            .into_iter()
            .find(|k| k.group() == group && k.kind() == kind)
    }

    /// A name unique among the kinds, for logs and metrics: the kind name, Kiali's name of
    /// the kind (`k8sgateways`, …) for the Gateway API.
    pub fn label(self) -> &'static str {
        if self.is_gateway_api() {
            self.plural()
        } else {
            self.kind()
        }
    }

    /// Whether the kind is of the Gateway API.
    pub fn is_gateway_api(self) -> bool {
        self.group() == GWAPI
    }
}

/// One Istio config object of one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigObject {
    /// Its kind.
    pub kind: IstioKind,
    /// Object name.
    pub name: String,
    /// Object namespace.
    pub namespace: String,
    /// API version of the stored object (`v1`, `v1beta1`, …).
    pub version: String,
    /// `spec`, as stored.
    pub spec: Value,
}

/// The strings of a JSON array (`spec.hosts`, `spec.exportTo`, …); anything else is empty.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The elements of array `v` (nothing when it is not an array).
fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Whether `v` is set (present and not null).
fn set(v: &Value) -> bool {
    !v.is_null()
}

impl ConfigObject {
    /// A VirtualService's routes of one protocol (`http`, `tcp`, `tls`).
    fn routes(&self, protocol: &str) -> &[Value] {
        items(&self.spec[protocol])
    }

    /// Whether a VirtualService routes to service `name` of namespace `ns`: some http, tcp or
    /// tls route destination names it (Kiali's `FilterVirtualServiceByRoute`).
    pub fn routes_to(&self, name: &str, ns: &str) -> bool {
        !name.is_empty()
            && ["http", "tcp", "tls"].iter().any(|p| {
                self.routes(p).iter().any(|r| {
                    items(&r["route"]).iter().any(|d| {
                        d["destination"]["host"]
                            .as_str()
                            .is_some_and(|h| names_service(h, &self.namespace, name, ns))
                    })
                })
            })
    }

    /// A VirtualService with some route with destinations (Kiali's `HasVSRequestRouting`).
    pub fn has_request_routing(&self) -> bool {
        ["http", "tcp", "tls"].iter().any(|p| {
            self.routes(p)
                .iter()
                .any(|r| !items(&r["route"]).is_empty())
        })
    }

    /// A VirtualService with an http route `timeout`.
    pub fn has_request_timeout(&self) -> bool {
        self.routes("http").iter().any(|r| set(&r["timeout"]))
    }

    /// A VirtualService with an http route `fault`.
    pub fn has_fault_injection(&self) -> bool {
        self.routes("http").iter().any(|r| set(&r["fault"]))
    }

    /// A VirtualService with an http route of several destinations, whatever their weights.
    pub fn has_traffic_shifting(&self) -> bool {
        self.routes("http")
            .iter()
            .any(|r| items(&r["route"]).len() > 1)
    }

    /// A VirtualService with a tcp route of several destinations, whatever their weights.
    pub fn has_tcp_traffic_shifting(&self) -> bool {
        self.routes("tcp")
            .iter()
            .any(|r| items(&r["route"]).len() > 1)
    }

    /// A VirtualService with an http route `mirror`.
    pub fn has_mirroring(&self) -> bool {
        self.routes("http").iter().any(|r| set(&r["mirror"]))
    }

    /// Whether a DestinationRule for service `name` of `ns` sets a circuit breaker (a
    /// `connectionPool` or `outlierDetection`): in its top-level traffic policy, or in a subset's
    /// — any subset when `version` is `None`, else a subset whose labels give that version under
    /// one of `version_labels` (Kiali's `HasDRCircuitBreaker`).
    pub fn has_circuit_breaker(
        &self,
        name: &str,
        ns: &str,
        version: Option<&str>,
        version_labels: &[String],
    ) -> bool {
        let host = self.spec["host"].as_str().unwrap_or_default();
        if !names_service(host, &self.namespace, name, ns) {
            return false;
        }
        let cb = |p: &Value| set(&p["connectionPool"]) || set(&p["outlierDetection"]);
        cb(&self.spec["trafficPolicy"])
            || items(&self.spec["subsets"]).iter().any(|s| {
                cb(&s["trafficPolicy"])
                    && version.is_none_or(|v| {
                        version_labels
                            .iter()
                            .find_map(|k| s["labels"][k].as_str())
                            .is_some_and(|sv| sv == v)
                    })
            })
    }

    /// The workload selector of a Sidecar (`workloadSelector.labels`), an AuthorizationPolicy,
    /// PeerAuthentication or RequestAuthentication (`selector.matchLabels`), or a Gateway
    /// (`selector`); empty when the object selects no workloads by label.
    pub fn workload_selector(&self) -> std::collections::BTreeMap<String, String> {
        let sel = match self.kind {
            IstioKind::Sidecar | IstioKind::EnvoyFilter => &self.spec["workloadSelector"]["labels"],
            IstioKind::AuthorizationPolicy
            | IstioKind::PeerAuthentication
            | IstioKind::RequestAuthentication
            | IstioKind::Telemetry
            | IstioKind::WasmPlugin => &self.spec["selector"]["matchLabels"],
            IstioKind::Gateway => &self.spec["selector"],
            _ => &Value::Null,
        };
        sel.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the object, in namespace `ns`, selects a workload with these labels.
    pub fn selects(&self, ns: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.namespace == ns
            && crate::inventory::selector_matches(&self.workload_selector(), labels)
    }

    /// Whether a VirtualService (by its hosts or its routes) or a DestinationRule (by its host)
    /// concerns service `name` of `ns` — the references of Kiali's service details.
    pub fn refers_to_service(&self, name: &str, ns: &str) -> bool {
        match self.kind {
            IstioKind::VirtualService => {
                strings(&self.spec["hosts"])
                    .iter()
                    .any(|h| names_service(h, &self.namespace, name, ns))
                    || self.routes_to(name, ns)
            }
            IstioKind::DestinationRule => self.spec["host"]
                .as_str()
                .is_some_and(|h| names_service(h, &self.namespace, name, ns)),
            _ => false,
        }
    }

    /// The inventory's view of a ServiceEntry: its hosts, location and `exportTo`.
    pub fn service_entry(&self) -> crate::inventory::ServiceEntryInfo {
        crate::inventory::ServiceEntryInfo {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            hosts: strings(&self.spec["hosts"]),
            location: self.spec["location"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            export_to: strings(&self.spec["exportTo"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: IstioKind, ns: &str, spec: Value) -> ConfigObject {
        ConfigObject {
            kind,
            name: "x".into(),
            namespace: ns.into(),
            version: "v1".into(),
            spec,
        }
    }

    #[test]
    fn kinds_are_listed_in_order_with_unique_names() {
        for (i, k) in IstioKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(IstioKind::from_plural(k.plural()), Some(*k));
            assert_eq!(IstioKind::from_group_kind(k.group(), k.kind()), Some(*k));
        }
        assert_eq!(IstioKind::K8sGateway.resource(), "gateways");
        assert!(IstioKind::K8sHTTPRoute.is_gateway_api() && !IstioKind::Gateway.is_gateway_api());
    }

    #[test]
    fn hosts_name_services_relative_to_the_object_namespace() {
        assert!(names_service("reviews", "bookinfo", "reviews", "bookinfo"));
        assert!(names_service(
            "reviews.bookinfo.svc.cluster.local",
            "other",
            "reviews",
            "bookinfo"
        ));
        assert!(!names_service("reviews", "other", "reviews", "bookinfo"));
        assert!(!names_service(
            "*.bookinfo.svc.cluster.local",
            "bookinfo",
            "reviews",
            "bookinfo"
        ));
    }

    #[test]
    fn virtual_service_badges_follow_kiali_rules() {
        let vs = obj(
            IstioKind::VirtualService,
            "bookinfo",
            json!({"hosts": ["reviews"], "http": [
                {"timeout": "1s", "fault": {"delay": {"fixedDelay": "1s"}},
                 "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 100},
                           {"destination": {"host": "reviews", "subset": "v2"}, "weight": 0}]}],
                  "tcp": [{"route": [{"destination": {"host": "ratings"}}]}]}),
        );
        assert!(vs.routes_to("reviews", "bookinfo") && vs.routes_to("ratings", "bookinfo"));
        assert!(!vs.routes_to("details", "bookinfo"));
        assert!(vs.has_request_routing() && vs.has_request_timeout() && vs.has_fault_injection());
        assert!(vs.has_traffic_shifting() && !vs.has_tcp_traffic_shifting() && !vs.has_mirroring());
        let plain = obj(
            IstioKind::VirtualService,
            "bookinfo",
            json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}),
        );
        assert!(!plain.has_traffic_shifting() && !plain.has_request_timeout());
    }

    #[test]
    fn circuit_breakers_of_the_service_or_of_a_version() {
        let v = vec!["version".to_string()];
        let top = obj(
            IstioKind::DestinationRule,
            "bookinfo",
            json!({"host": "reviews", "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 1}}}}),
        );
        assert!(top.has_circuit_breaker("reviews", "bookinfo", None, &v));
        assert!(top.has_circuit_breaker("reviews", "bookinfo", Some("v9"), &v));
        assert!(!top.has_circuit_breaker("ratings", "bookinfo", None, &v));
        let subset = obj(
            IstioKind::DestinationRule,
            "bookinfo",
            json!({"host": "reviews", "subsets": [
                {"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": {"outlierDetection": {}}},
                {"name": "v2", "labels": {"version": "v2"}}]}),
        );
        assert!(subset.has_circuit_breaker("reviews", "bookinfo", None, &v));
        assert!(subset.has_circuit_breaker("reviews", "bookinfo", Some("v1"), &v));
        assert!(!subset.has_circuit_breaker("reviews", "bookinfo", Some("v2"), &v));
        let none = obj(
            IstioKind::DestinationRule,
            "bookinfo",
            json!({"host": "reviews"}),
        );
        assert!(!none.has_circuit_breaker("reviews", "bookinfo", None, &v));
    }
}
