//! The node decorations of Kiali's Cytoscape model: ServiceEntry, VirtualService, gateway and
//! WorkloadEntry details, and the istio appender's badges (re-exported by `cytoscape`).

use serde::Serialize;

fn is_false(b: &bool) -> bool {
    !*b
}

/// ServiceEntry details of a node (`isServiceEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeInfo {
    /// The ServiceEntry's hosts.
    pub hosts: Vec<String>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
    pub location: String,
    /// The ServiceEntry's namespace.
    pub namespace: String,
}

/// An Istio gateway node (`isGateway`, Kiali's `GWInfo`): the hosts of the Gateways selecting
/// its workload. Kiali writes all three members, the unused ones as `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GwInfo {
    /// An ingress gateway's hosts.
    #[serde(rename = "ingressInfo")]
    pub ingress_info: VsInfo,
    /// An egress gateway's hosts.
    #[serde(rename = "egressInfo")]
    pub egress_info: VsInfo,
    /// A Gateway API gateway's hosts (never set: no Gateway API support).
    #[serde(rename = "gatewayAPIInfo")]
    pub gateway_api_info: VsInfo,
}

/// A WorkloadEntry a node stands for (`hasWorkloadEntry`, Kiali's `WEInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeInfo {
    /// The WorkloadEntry's name.
    pub name: String,
}

/// The VirtualServices routing to a node's service (`hasVS`): their hosts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VsInfo {
    /// The hosts of the VirtualServices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
}

/// Kiali's istio appender badges of a node, from the VirtualServices and DestinationRules of its
/// cluster; each is absent when false.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct IstioBadges {
    /// A DestinationRule sets a circuit breaker for the node's service (or its version).
    #[serde(rename = "hasCB", skip_serializing_if = "is_false")]
    pub has_cb: bool,
    /// A VirtualService has an http route `fault`.
    #[serde(rename = "hasFaultInjection", skip_serializing_if = "is_false")]
    pub has_fault_injection: bool,
    /// A VirtualService has an http route `mirror`.
    #[serde(rename = "hasMirroring", skip_serializing_if = "is_false")]
    pub has_mirroring: bool,
    /// A VirtualService has routes with destinations.
    #[serde(rename = "hasRequestRouting", skip_serializing_if = "is_false")]
    pub has_request_routing: bool,
    /// A VirtualService has an http route `timeout`.
    #[serde(rename = "hasRequestTimeout", skip_serializing_if = "is_false")]
    pub has_request_timeout: bool,
    /// A VirtualService has a tcp route with several destinations.
    #[serde(rename = "hasTCPTrafficShifting", skip_serializing_if = "is_false")]
    pub has_tcp_traffic_shifting: bool,
    /// A VirtualService has an http route with several destinations.
    #[serde(rename = "hasTrafficShifting", skip_serializing_if = "is_false")]
    pub has_traffic_shifting: bool,
    /// A VirtualService routes to the node's service.
    #[serde(rename = "hasVS", skip_serializing_if = "Option::is_none")]
    pub has_vs: Option<VsInfo>,
}
