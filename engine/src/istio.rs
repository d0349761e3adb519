//! Istio config as the engine sees it: the kinds the console reads and one object of a kind,
//! translated from the cluster's objects at the edge.

use serde_json::Value;

/// The Istio config kinds the console reads (the server caches them where their CRDs exist).
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
}

impl IstioKind {
    /// Every cached Istio kind.
    pub const ALL: [IstioKind; 8] = [
        IstioKind::VirtualService,
        IstioKind::DestinationRule,
        IstioKind::Gateway,
        IstioKind::ServiceEntry,
        IstioKind::Sidecar,
        IstioKind::AuthorizationPolicy,
        IstioKind::PeerAuthentication,
        IstioKind::RequestAuthentication,
    ];

    /// API group of the kind.
    pub fn group(self) -> &'static str {
        match self {
            IstioKind::AuthorizationPolicy
            | IstioKind::PeerAuthentication
            | IstioKind::RequestAuthentication => "security.istio.io",
            _ => "networking.istio.io",
        }
    }

    /// Kind name.
    pub fn kind(self) -> &'static str {
        match self {
            IstioKind::VirtualService => "VirtualService",
            IstioKind::DestinationRule => "DestinationRule",
            IstioKind::Gateway => "Gateway",
            IstioKind::ServiceEntry => "ServiceEntry",
            IstioKind::Sidecar => "Sidecar",
            IstioKind::AuthorizationPolicy => "AuthorizationPolicy",
            IstioKind::PeerAuthentication => "PeerAuthentication",
            IstioKind::RequestAuthentication => "RequestAuthentication",
        }
    }

    /// Plural resource name (the `objects` parameter of `/api/istio/config`).
    pub fn plural(self) -> &'static str {
        match self {
            IstioKind::VirtualService => "virtualservices",
            IstioKind::DestinationRule => "destinationrules",
            IstioKind::Gateway => "gateways",
            IstioKind::ServiceEntry => "serviceentries",
            IstioKind::Sidecar => "sidecars",
            IstioKind::AuthorizationPolicy => "authorizationpolicies",
            IstioKind::PeerAuthentication => "peerauthentications",
            IstioKind::RequestAuthentication => "requestauthentications",
        }
    }

    /// Parses a plural resource name.
    pub fn from_plural(s: &str) -> Option<IstioKind> {
        IstioKind::ALL.into_iter().find(|k| k.plural() == s)
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

impl ConfigObject {
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
