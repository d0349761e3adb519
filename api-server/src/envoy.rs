//! An Envoy proxy's configuration dump (its admin `/config_dump`) and Kiali's summaries of it
//! (Kiali's `EnvoyProxyDump` with one of `clusters`, `listeners`, `routes`, `bootstrap`): what
//! the Envoy tab's tables show. Pure functions of the dump's JSON; a part that is missing or has
//! another shape gives fewer rows, never an error.

use std::collections::BTreeSet;

use serde_json::{Value, json};

const ADMIN: &str = "type.googleapis.com/envoy.admin.v3";
/// The dump types kept: what Kiali reads. The others (`SecretsConfigDump` above all, with the
/// proxy's certificates) are dropped before the dump leaves the server.
pub const KEPT: [&str; 4] = [
    "BootstrapConfigDump",
    "ClustersConfigDump",
    "ListenersConfigDump",
    "RoutesConfigDump",
];
/// Istio's identity domain, the tail of a service FQDN.
const IDENTITY_DOMAIN: &str = "svc.cluster.local";

/// The resources of `/config_dump/{resource}`.
pub const RESOURCES: [&str; 4] = ["clusters", "listeners", "routes", "bootstrap"];

/// The dump with only the [`KEPT`] configurations.
pub fn without_secrets(mut dump: Value) -> Value {
    if let Some(configs) = dump.get_mut("configs").and_then(Value::as_array_mut) {
        configs.retain(|c| {
            c["@type"]
                .as_str()
                .and_then(|t| t.strip_prefix(ADMIN))
                .and_then(|t| t.strip_prefix('.'))
                .is_some_and(|t| KEPT.contains(&t))
        });
    }
    dump
}

/// The configuration of type `kind` (`ClustersConfigDump`, …), or `null`.
fn config<'d>(dump: &'d Value, kind: &str) -> &'d Value {
    let want = format!("{ADMIN}.{kind}");
    dump["configs"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["@type"] == want.as_str()))
        .unwrap_or(&Value::Null)
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

/// Kiali's `Host` of a domain or FQDN: `{service, namespace, cluster}`. A complete FQDN
/// (`<svc>.<ns>.svc.cluster.local`) and a `<svc>.<ns>` whose namespace is one of `namespaces` name
/// both; a bare name names the service only; anything else (a ServiceEntry host) is the service.
pub fn host(name: &str, namespaces: &BTreeSet<String>) -> Value {
    let parts: Vec<&str> = name.split('.').collect();
    let (service, namespace, cluster) = match parts.as_slice() {
        [svc] => (*svc, "", IDENTITY_DOMAIN),
        [svc, ns] if namespaces.contains(*ns) => (*svc, *ns, IDENTITY_DOMAIN),
        [svc, ns, rest @ ..] if rest.join(".") == IDENTITY_DOMAIN => (*svc, *ns, IDENTITY_DOMAIN),
        _ => (name, "", ""),
    };
    json!({"service": service, "namespace": namespace, "cluster": cluster})
}

/// The Istio config a cluster or route came from (`metadata.filter_metadata.istio.config`,
/// `/apis/networking.istio.io/v1/namespaces/<ns>/<kind>/<name>`) as `<name>.<ns>`.
fn istio_config(metadata: &Value) -> String {
    let path = metadata["filter_metadata"]["istio"]["config"]
        .as_str()
        .unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    if path.starts_with("/apis/networking.istio.io/") && parts.len() == 8 {
        format!("{}.{}", parts[7], parts[5])
    } else {
        String::new()
    }
}

/// Kiali's `Clusters`: one row per cluster, dynamic then static. An Istio name
/// `<direction>|<port>|<subset>|<fqdn>` is split; others are the service name alone.
pub fn clusters(dump: &Value, namespaces: &BTreeSet<String>) -> Vec<Value> {
    let cd = config(dump, "ClustersConfigDump");
    items(&cd["dynamic_active_clusters"])
        .chain(items(&cd["static_clusters"]))
        .map(|w| {
            let c = &w["cluster"];
            let name = c["name"].as_str().unwrap_or_default();
            let kind = c["type"].as_str().unwrap_or_default();
            let parts: Vec<&str> = name.split('|').collect();
            if parts.len() > 3 {
                json!({
                    "service_fqdn": host(parts[3], namespaces),
                    "port": parts[1].trim_end_matches('_').parse::<u32>().unwrap_or(0),
                    "subset": parts[2],
                    "direction": parts[0].trim_end_matches('_'),
                    "type": kind,
                    "destination_rule": istio_config(&c["metadata"]),
                })
            } else {
                json!({
                    "service_fqdn": {"service": name, "namespace": "", "cluster": ""},
                    "port": 0,
                    "subset": "",
                    "direction": "",
                    "type": kind,
                    "destination_rule": "",
                })
            }
        })
        .collect()
}

/// Kiali's summary of a route match: `<prefix>*`, the exact path, `regex <re>`.
fn match_summary(m: &Value) -> String {
    let mut out = Vec::new();
    if let Some(p) = m["prefix"].as_str().filter(|p| !p.is_empty()) {
        out.push(format!("{p}*"));
    }
    if let Some(p) = m["path"].as_str().filter(|p| !p.is_empty()) {
        out.push(p.to_string());
    }
    if let Some(re) = m.get("safe_regex") {
        let re = re["regex"]
            .as_str()
            .map_or_else(|| re.to_string(), String::from);
        out.push(format!("regex {re}"));
    }
    out.join(" ")
}

/// The domain Kiali shows of a virtual host: the shortest that is not an address.
fn best_domain(domains: &[Value], namespaces: &BTreeSet<String>) -> Value {
    let names: Vec<&str> = domains.iter().filter_map(Value::as_str).collect();
    let Some(first) = names.first() else {
        return json!({"service": "", "namespace": "", "cluster": ""});
    };
    let best = names
        .iter()
        .filter(|d| !d.is_empty() && !d.starts_with(|c: char| ('1'..='9').contains(&c)))
        .fold(
            *first,
            |best, d| if best.len() > d.len() { d } else { best },
        );
    host(best, namespaces)
}

/// Kiali's `Routes`: one row per route of each virtual host (a route to `PassthroughCluster`
/// is left out; a virtual host without routes is a `404` row).
pub fn routes(dump: &Value, namespaces: &BTreeSet<String>) -> Vec<Value> {
    let rd = config(dump, "RoutesConfigDump");
    let mut out = Vec::new();
    for rc in items(&rd["dynamic_route_configs"]).chain(items(&rd["static_route_configs"])) {
        let rc = &rc["route_config"];
        let name = rc["name"].as_str().unwrap_or_default();
        for vh in items(&rc["virtual_hosts"]) {
            let domains = vh["domains"].as_array().cloned().unwrap_or_default();
            let routes: Vec<&Value> = items(&vh["routes"]).collect();
            for r in &routes {
                let cluster = r["route"]["cluster"].as_str();
                if r.get("route").is_some() && cluster != Some("PassthroughCluster") {
                    out.push(json!({
                        "name": name,
                        "domains": best_domain(&domains, namespaces),
                        "match": match_summary(&r["match"]),
                        "virtual_service": istio_config(&r["metadata"]),
                    }));
                }
            }
            if routes.is_empty() {
                out.push(json!({
                    "name": name,
                    "domains": best_domain(&domains, namespaces),
                    "match": "/*",
                    "virtual_service": "404",
                }));
            }
        }
    }
    out
}

/// Kiali's label of a filter chain's application protocols.
fn app_descriptor(protocols: &[&str]) -> Option<&'static str> {
    const LABELS: [(&str, &[&str]); 4] = [
        (
            "App: HTTP TLS",
            &[
                "http/1.0",
                "http/1.1",
                "h2c",
                "istio-http/1.0",
                "istio-http/1.1",
                "istio-h2",
            ],
        ),
        (
            "App: Istio HTTP Plain",
            &["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"],
        ),
        ("App: TCP TLS", &["istio-peer-exchange", "istio"]),
        ("App: HTTP", &["http/1.0", "http/1.1", "h2c"]),
    ];
    LABELS
        .iter()
        .find(|(_, list)| *list == protocols)
        .map(|(label, _)| *label)
}

/// Kiali's summary of a filter chain's match: SNI, transport, application protocols, address.
fn chain_match(m: &Value) -> String {
    let mut out = Vec::new();
    let names: Vec<&str> = items(&m["server_names"])
        .filter_map(Value::as_str)
        .collect();
    if !names.is_empty() {
        out.push(format!("SNI: {}", names.join(", ")));
    }
    if let Some(t) = m["transport_protocol"].as_str().filter(|t| !t.is_empty()) {
        out.push(format!("Trans: {t}"));
    }
    let protocols: Vec<&str> = items(&m["application_protocols"])
        .filter_map(Value::as_str)
        .collect();
    if let Some(label) = app_descriptor(&protocols) {
        out.push(label.to_string());
    }
    let port = m["destination_port"]
        .as_u64()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let prefixes: Vec<String> = items(&m["prefix_ranges"])
        .map(|p| {
            format!(
                "{}/{}",
                p["address_prefix"].as_str().unwrap_or_default(),
                p["prefix_len"].as_u64().unwrap_or(0)
            )
        })
        .collect();
    if !prefixes.is_empty() {
        out.push(format!("Addr: {}{port}", prefixes.join(", ")));
    } else if !port.is_empty() {
        out.push(format!("Addr: *{port}"));
    }
    if out.is_empty() {
        "ALL".into()
    } else {
        out.join("; ")
    }
}

/// The cluster a route configuration sends everything to, when it has one virtual host `*`
/// with one route (`/`).
fn match_all_cluster(rc: &Value) -> Option<String> {
    let vhs = rc["virtual_hosts"].as_array()?;
    let [vh] = vhs.as_slice() else { return None };
    if vh["domains"] != json!(["*"]) {
        return None;
    }
    let routes = vh["routes"].as_array()?;
    let [r] = routes.as_slice() else { return None };
    if r["match"]["prefix"].as_str().is_some_and(|p| p != "/") {
        return None;
    }
    let cluster = r["route"]["cluster"].as_str().filter(|c| !c.is_empty())?;
    Some(if cluster.contains("Cluster") {
        cluster.to_string()
    } else {
        format!("Cluster: {cluster}")
    })
}

/// Where a filter chain sends its traffic, as Kiali describes it.
fn chain_destination(filters: &Value) -> String {
    let filters: Vec<&Value> = items(filters).collect();
    if filters.is_empty() {
        return String::new();
    }
    for f in filters {
        let tc = &f["typed_config"];
        match f["name"].as_str() {
            Some("envoy.filters.network.http_connection_manager") => {
                if tc.get("route_config").is_some() {
                    if let Some(c) = match_all_cluster(&tc["route_config"]) {
                        return c;
                    }
                    let hosts: Vec<String> = items(&tc["route_config"]["virtual_hosts"])
                        .map(|vh| {
                            let domains: Vec<&str> =
                                items(&vh["domains"]).filter_map(Value::as_str).collect();
                            let routes: Vec<String> = items(&vh["routes"])
                                .map(|r| match_summary(&r["match"]))
                                .collect();
                            if domains == ["*"] {
                                routes.join(", ")
                            } else {
                                format!("{} {}", domains.join("/"), routes.join(", "))
                            }
                        })
                        .collect();
                    return format!("Inline Route: {}", hosts.join("; "));
                }
                if let Some(r) = tc["rds"]["route_config_name"]
                    .as_str()
                    .filter(|r| !r.is_empty())
                {
                    return format!("Route: {r}");
                }
                return "HTTP".into();
            }
            Some("envoy.filters.network.tcp_proxy") => {
                let c = tc["cluster"].as_str().unwrap_or_default();
                return if c.contains("Cluster") {
                    c.to_string()
                } else {
                    format!("Cluster: {c}")
                };
            }
            _ => {}
        }
    }
    "Non-HTTP/Non-TCP".into()
}

/// Kiali's `Listeners`: one row per filter chain (and default chain) of each listener, dynamic
/// then static.
pub fn listeners(dump: &Value) -> Vec<Value> {
    let ld = config(dump, "ListenersConfigDump");
    let all = items(&ld["dynamic_listeners"])
        .map(|d| &d["active_state"]["listener"])
        .chain(items(&ld["static_listeners"]).map(|s| &s["listener"]));
    let mut out = Vec::new();
    for l in all {
        let sa = &l["address"]["socket_address"];
        let chains = items(&l["filter_chains"]).chain(l.get("default_filter_chain"));
        for chain in chains {
            out.push(json!({
                "address": sa["address"].as_str().unwrap_or_default(),
                "port": sa["port_value"].as_u64().unwrap_or(0),
                "match": chain_match(&chain["filter_chain_match"]),
                "destination": chain_destination(&chain["filters"]),
            }));
        }
    }
    out
}

/// Kiali's `EnvoyProxyDump` of one resource: `{"clusters": […]}`, `{"listeners": […]}`,
/// `{"routes": […]}` or `{"bootstrap": {"bootstrap": <BootstrapConfigDump>}}`; `None` for another
/// resource name.
pub fn resource(dump: &Value, resource: &str, namespaces: &BTreeSet<String>) -> Option<Value> {
    Some(match resource {
        "clusters" => json!({"clusters": clusters(dump, namespaces)}),
        "listeners" => json!({"listeners": listeners(dump)}),
        "routes" => json!({"routes": routes(dump, namespaces)}),
        "bootstrap" => json!({"bootstrap": {"bootstrap": config(dump, "BootstrapConfigDump")}}),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nss() -> BTreeSet<String> {
        ["bookinfo".to_string(), "sample".to_string()].into()
    }

    /// A dump shaped as Istio's proxies' are (what `istioctl proxy-config` reads).
    fn dump() -> Value {
        json!({"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {"node": {"id": "sidecar~10.0.0.1~p.bookinfo~bookinfo.svc.cluster.local"}}},
            {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
             "static_clusters": [{"cluster": {"name": "prometheus_stats", "type": "STATIC"}}],
             "dynamic_active_clusters": [
                {"cluster": {"name": "outbound|9080|v1|reviews.bookinfo.svc.cluster.local", "type": "EDS",
                             "metadata": {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/bookinfo/destination-rule/reviews"}}}}},
                {"cluster": {"name": "inbound|9080||", "type": "STATIC"}},
                {"cluster": {"name": "BlackHoleCluster", "type": "STATIC"}}]},
            {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
             "static_listeners": [{"listener": {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 15090}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                    "route_config": {"virtual_hosts": [{"domains": ["*"], "routes": [{"match": {"prefix": "/stats/prometheus"}, "route": {"cluster": "prometheus_stats"}}]}]}}}]}]}}],
             "dynamic_listeners": [
                {"name": "0.0.0.0_9080", "active_state": {"listener": {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}},
                    "filter_chains": [
                        {"filter_chain_match": {"prefix_ranges": [{"address_prefix": "10.0.0.1", "prefix_len": 32}]},
                         "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"cluster": "BlackHoleCluster"}}]},
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {"rds": {"route_config_name": "9080"}}}]}],
                    "default_filter_chain": {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"cluster": "PassthroughCluster"}}]}}}},
                {"name": "virtualInbound", "active_state": {"listener": {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 15006}},
                    "filter_chains": [
                        {"filter_chain_match": {"destination_port": 9080, "transport_protocol": "raw_buffer", "application_protocols": ["http/1.0", "http/1.1", "h2c"]},
                         "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                            "route_config": {"virtual_hosts": [{"domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "inbound|9080||"}}]}]}}}]},
                        {"filter_chain_match": {"destination_port": 3306, "transport_protocol": "tls"},
                         "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"cluster": "inbound|3306||"}}]}]}}}]},
            {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [
                {"route_config": {"name": "9080", "virtual_hosts": [
                    {"domains": ["reviews.bookinfo.svc.cluster.local", "reviews.bookinfo", "reviews", "10.0.0.9"],
                     "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "outbound|9080||reviews.bookinfo.svc.cluster.local"},
                                 "metadata": {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/bookinfo/virtual-service/reviews"}}}},
                                {"match": {"path": "/health"}, "direct_response": {"status": 200}}]},
                    {"domains": ["ratings.bookinfo.svc.cluster.local", "ratings.bookinfo"], "routes": []},
                    {"domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]}]}}]},
            {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [{"name": "default"}]},
        ]})
    }

    #[test]
    fn secrets_and_unknown_configurations_are_dropped() {
        let kept = without_secrets(dump());
        let types: Vec<&str> = kept["configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["@type"].as_str().unwrap())
            .collect();
        assert_eq!(types.len(), 4, "{types:?}");
        assert!(!kept.to_string().contains("Secrets"));
    }

    #[test]
    fn clusters_are_split_as_kiali_splits_them() {
        let rows = clusters(&dump(), &nss());
        assert_eq!(
            rows[0],
            json!({"service_fqdn": {"service": "reviews", "namespace": "bookinfo", "cluster": "svc.cluster.local"},
                   "port": 9080, "subset": "v1", "direction": "outbound", "type": "EDS", "destination_rule": "reviews.bookinfo"})
        );
        assert_eq!(rows[1]["direction"], "inbound");
        assert_eq!(rows[1]["service_fqdn"]["service"], "", "{}", rows[1]);
        assert_eq!(
            rows[2]["service_fqdn"],
            json!({"service": "BlackHoleCluster", "namespace": "", "cluster": ""})
        );
        // Static last.
        assert_eq!(rows[3]["service_fqdn"]["service"], "prometheus_stats");
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn listeners_have_a_row_per_filter_chain() {
        let rows = listeners(&dump());
        let got: Vec<(u64, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r["port"].as_u64().unwrap(),
                    r["match"].as_str().unwrap(),
                    r["destination"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (9080, "Addr: 10.0.0.1/32", "BlackHoleCluster"),
                (9080, "ALL", "Route: 9080"),
                (9080, "ALL", "PassthroughCluster"),
                (
                    15006,
                    "Trans: raw_buffer; App: HTTP; Addr: *:9080",
                    "Cluster: inbound|9080||"
                ),
                (15006, "Trans: tls; Addr: *:3306", "Cluster: inbound|3306||"),
                (15090, "ALL", "Inline Route: /stats/prometheus*"),
            ]
        );
        assert_eq!(rows[0]["address"], "0.0.0.0");
    }

    #[test]
    fn routes_skip_the_passthrough_and_name_the_best_domain() {
        let rows = routes(&dump(), &nss());
        assert_eq!(
            rows,
            [
                json!({"name": "9080", "domains": {"service": "reviews", "namespace": "", "cluster": "svc.cluster.local"},
                       "match": "/*", "virtual_service": "reviews.bookinfo"}),
                json!({"name": "9080", "domains": {"service": "ratings", "namespace": "bookinfo", "cluster": "svc.cluster.local"},
                       "match": "/*", "virtual_service": "404"}),
            ]
        );
        assert_eq!(
            host("api.example.com", &nss())["service"],
            "api.example.com"
        );
    }

    #[test]
    fn a_resource_is_one_of_kialis_four() {
        let d = dump();
        assert!(resource(&d, "clusters", &nss()).unwrap()["clusters"].is_array());
        assert_eq!(
            resource(&d, "bootstrap", &nss()).unwrap()["bootstrap"]["bootstrap"]["bootstrap"]["node"]
                ["id"],
            "sidecar~10.0.0.1~p.bookinfo~bookinfo.svc.cluster.local"
        );
        assert!(resource(&d, "secrets", &nss()).is_none());
        // Nothing of a shape it does not know: no rows, no panic.
        assert_eq!(
            listeners(&json!({"configs": [{"@type": "x"}, 3]})),
            Vec::<Value>::new()
        );
        assert_eq!(clusters(&json!("junk"), &nss()), Vec::<Value>::new());
    }
}
