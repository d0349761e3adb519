//! The catalogue of check codes: Kiali's (same code, message and severity as Kiali's
//! `models/istio_validation.go`) and meshglass's own multi-cluster checks (`MGLxxxx`).

/// `(code, message, severity)` of every check the engine emits.
pub const CODES: &[(&str, &str, &str)] = &[
    (
        "KIA0002",
        "More than one selector-less object in the same namespace",
        "error",
    ),
    (
        "KIA0003",
        "More than one object applied to the same workload",
        "error",
    ),
    (
        "KIA0004",
        "No matching workload found for the selector in this namespace",
        "warning",
    ),
    (
        "KIA0005",
        "No matching namespace found or namespace is not accessible",
        "error",
    ),
    ("KIA0101", "Namespace not found for this rule", "warning"),
    (
        "KIA0102",
        "Only HTTP methods and fully-qualified gRPC names are allowed",
        "warning",
    ),
    (
        "KIA0104",
        "This host has no matching entry in the service registry",
        "error",
    ),
    ("KIA0105", "This field requires mTLS to be enabled", "error"),
    (
        "KIA0106",
        "Service Account not found for this principal",
        "error",
    ),
    (
        "KIA0107",
        "Service Account for this principal is on remote cluster",
        "warning",
    ),
    (
        "KIA0201",
        "More than one DestinationRules for the same host subset combination",
        "warning",
    ),
    (
        "KIA0202",
        "This host has no matching entry in the service registry (service, workload or service entries)",
        "error",
    ),
    (
        "KIA0203",
        "This subset's labels are not found in any matching host",
        "error",
    ),
    (
        "KIA0204",
        "mTLS settings of a non-local Destination Rule are overridden",
        "warning",
    ),
    (
        "KIA0205",
        "PeerAuthentication enabling mTLS at mesh level is missing",
        "error",
    ),
    (
        "KIA0206",
        "PeerAuthentication enabling namespace-wide mTLS is missing",
        "error",
    ),
    (
        "KIA0207",
        "PeerAuthentication with TLS strict mode found, it should be permissive",
        "error",
    ),
    (
        "KIA0208",
        "PeerAuthentication enabling mTLS found, permissive mode needed",
        "error",
    ),
    ("KIA0209", "This subset has not labels", "warning"),
    (
        "KIA0301",
        "More than one Gateway for the same host port combination",
        "warning",
    ),
    (
        "KIA0302",
        "No matching workload found for gateway selector in this namespace",
        "warning",
    ),
    (
        "KIA0401",
        "Mesh-wide Destination Rule enabling mTLS is missing",
        "error",
    ),
    (
        "KIA0501",
        "Destination Rule enabling namespace-wide mTLS is missing",
        "error",
    ),
    (
        "KIA0505",
        "Destination Rule disabling namespace-wide mTLS is missing",
        "error",
    ),
    (
        "KIA0506",
        "Destination Rule disabling mesh-wide mTLS is missing",
        "error",
    ),
    (
        "KIA0601",
        "Port name must follow <protocol>[-suffix] form",
        "error",
    ),
    (
        "KIA0602",
        "Port appProtocol must follow <protocol> form",
        "error",
    ),
    (
        "KIA0701",
        "Deployment exposing same port as Service not found",
        "warning",
    ),
    (
        "KIA1004",
        "This host has no matching entry in the service registry",
        "warning",
    ),
    (
        "KIA1006",
        "Global default sidecar should not have workloadSelector",
        "warning",
    ),
    (
        "KIA1007",
        "OutboundTrafficPolicy with empty mode value is ambiguous due to an Istio limitation. This may indicate ALLOW_ANY or REGISTRY_ONLY. Inspect the value using other means.",
        "unknown",
    ),
    (
        "KIA1101",
        "DestinationWeight on route doesn't have a valid service (host not found)",
        "error",
    ),
    (
        "KIA1102",
        "VirtualService is pointing to a non-existent gateway",
        "error",
    ),
    (
        "KIA1104",
        "The weight is assumed to be 100 because there is only one route destination",
        "warning",
    ),
    (
        "KIA1105",
        "This host subset combination is already referenced in another route destination",
        "warning",
    ),
    (
        "KIA1106",
        "More than one Virtual Service for same host",
        "warning",
    ),
    ("KIA1107", "Subset not found", "warning"),
    (
        "KIA1108",
        "Preferred nomenclature: <gateway namespace>/<gateway name>",
        "unknown",
    ),
    (
        "KIA1201",
        "Missing one or more addresses from matching WorkloadEntries",
        "warning",
    ),
    (
        "KIA1301",
        "This workload is not covered by any authorization policy",
        "warning",
    ),
    (
        "KIA1401",
        "Route is pointing to a non-existent or inaccessible K8s gateway",
        "error",
    ),
    (
        "KIA1402",
        "Reference doesn't have a valid service (Service name not found)",
        "error",
    ),
    (
        "KIA1501",
        "More than one K8s Gateway for the same host port combination",
        "warning",
    ),
    (
        "KIA1502",
        "More than one K8s Gateway for the same address and type combination",
        "warning",
    ),
    (
        "KIA1503",
        "Each listener must have a unique combination of Hostname, Port, and Protocol",
        "error",
    ),
    (
        "KIA1504",
        "Gateway API Class not found in Kiali configuration",
        "error",
    ),
    (
        "KIA1601",
        "Namespace is not found or is not accessible",
        "error",
    ),
    // Beyond Kiali: what only a view of every cluster shows.
    ("MGL0001", "Found only in another cluster", "info"),
    (
        "MGL0002",
        "This subset's labels match workloads only in another cluster",
        "warning",
    ),
    (
        "MGL0003",
        "This host has no endpoints in any cluster",
        "warning",
    ),
    (
        "MGL0004",
        "STRICT mTLS here, while workloads without a sidecar in another cluster may call these workloads",
        "warning",
    ),
    (
        "MGL0005",
        "An object of the same kind, namespace and name differs in another cluster",
        "warning",
    ),
    (
        "MGL0006",
        "No matching gateway workload for this selector in this cluster",
        "warning",
    ),
];

/// The message and severity of `code` (`unknown` severity for a code not in [`CODES`]).
pub fn describe(code: &str) -> (&'static str, &'static str) {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, m, s)| (*m, *s))
        .unwrap_or(("", "unknown"))
}
