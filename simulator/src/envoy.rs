//! A simulated sidecar's Envoy configuration, as its admin endpoint's `/config_dump` shows it: the
//! bootstrap, clusters, listeners and routes istiod would push to the proxy of one pod of the
//! topology, in Envoy's own JSON (`configs` of `BootstrapConfigDump`, `ClustersConfigDump`,
//! `ListenersConfigDump`, `RoutesConfigDump`, each with its `@type`).
//!
//! What istiod pushes with no `Sidecar` scoping, and what this module renders:
//! - clusters: `outbound|<port>||<fqdn>` (EDS) for every service of the mesh (multi-primary or
//!   primary-remote, the control plane sees every cluster's services), `inbound|<port>||`
//!   (STATIC, to the pod's address) for each service that selects the pod's workload, and Istio's
//!   `BlackHoleCluster`, `PassthroughCluster`, `InboundPassthroughCluster`; the bootstrap's
//!   static `prometheus_stats`, `agent`, `sds-grpc`, `xds-grpc`;
//! - listeners: `virtualOutbound` (15001), `virtualInbound` (15006, one filter chain per
//!   inbound port, mTLS and plain text), and `0.0.0.0_<port>` for each port an outbound
//!   service listens on (HTTP and gRPC through RDS route `<port>`, TCP through a TCP proxy to the
//!   service's cluster, as Istio renders a service without a cluster IP: the topology carries
//!   none); the bootstrap's static 15090 (stats) and 15021 (health) listeners;
//! - routes: one route configuration per outbound HTTP port, a virtual host per service with
//!   Istio's domains (`<svc>.<ns>.svc.cluster.local`, `<svc>.<ns>.svc`, `<svc>.<ns>`, and `<svc>`
//!   for the pod's own namespace) routing `/` to the service's cluster, and `allow_any` to
//!   `PassthroughCluster`.
//!
//! No VirtualService or DestinationRule of the clusters is read: subsets and routing rules are
//! not rendered. The output is a pure function of the topology, the proxy and `pushed_at`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::topology::{Mesh, Protocol, Service, Workload};

/// Envoy admin's port, where `/config_dump` is served.
pub const ADMIN_PORT: u16 = 15000;
/// The Istio version the simulated proxies report.
pub const ISTIO_VERSION: &str = "1.28.0";

const ADMIN: &str = "type.googleapis.com/envoy.admin.v3";
const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const ROUTE_CONFIG: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const TCP_PROXY: &str =
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const HCM_NAME: &str = "envoy.filters.network.http_connection_manager";
const TCP_PROXY_NAME: &str = "envoy.filters.network.tcp_proxy";

/// One pod's sidecar.
#[derive(Debug, Clone, PartialEq)]
pub struct Proxy<'a> {
    /// The topology workload the pod belongs to (its cluster, namespace, app, version).
    pub workload: &'a Workload,
    pub pod: String,
    /// The pod's IP, as its status reports it.
    pub ip: String,
}

/// The service's FQDN.
pub fn fqdn(s: &Service) -> String {
    format!("{}.{}.svc.cluster.local", s.name, s.namespace)
}

/// The protocol a service is called with (its port is named after it, as Istio reads it).
fn protocol(mesh: &Mesh, s: &Service) -> Protocol {
    mesh.flows
        .iter()
        .find(|f| f.service == *s)
        .map_or(Protocol::Http, |f| f.protocol)
}

/// Istio's outbound cluster name of a service port.
pub fn outbound_cluster(s: &Service) -> String {
    format!("outbound|{}||{}", s.port, fqdn(s))
}

/// The services that select `w` (their inbound ports).
fn inbound<'m>(mesh: &'m Mesh, w: &Workload) -> Vec<&'m Service> {
    mesh.topology
        .services
        .iter()
        .filter(|s| s.namespace == w.namespace && s.app() == w.app)
        .collect()
}

/// The mesh's services, sorted by FQDN (istiod's order).
fn services(mesh: &Mesh) -> Vec<&Service> {
    let mut all: Vec<&Service> = mesh.topology.services.iter().collect();
    all.sort_by_key(|s| (fqdn(s), s.port));
    all
}

/// `/config_dump` of `proxy`, everything last updated at `pushed_at` (RFC 3339).
pub fn config_dump(mesh: &Mesh, proxy: &Proxy, pushed_at: &str) -> Value {
    json!({"configs": [
        bootstrap(mesh, proxy, pushed_at),
        clusters(mesh, proxy, pushed_at),
        listeners(mesh, proxy, pushed_at),
        routes(mesh, proxy, pushed_at),
    ]})
}

fn socket(address: &str, port: u16) -> Value {
    json!({"socket_address": {"address": address, "port_value": port}})
}

fn static_cluster(name: &str, kind: &str, address: Option<(&str, u16)>) -> Value {
    let mut c = json!({"@type": CLUSTER, "name": name, "type": kind, "connect_timeout": "10s"});
    if let Some((a, p)) = address {
        c["load_assignment"] = json!({
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket(a, p)}}]}],
        });
    }
    c
}

fn bootstrap_clusters() -> Vec<Value> {
    vec![
        static_cluster("prometheus_stats", "STATIC", Some(("127.0.0.1", 15000))),
        static_cluster("agent", "STATIC", Some(("127.0.0.1", 15020))),
        static_cluster("sds-grpc", "STATIC", None),
        static_cluster("xds-grpc", "STATIC", None),
    ]
}

fn bootstrap_listeners() -> Vec<Value> {
    [
        (15090, "/stats/prometheus", "prometheus_stats"),
        (15021, "/healthz/ready", "agent"),
    ]
    .into_iter()
    .map(|(port, path, cluster)| {
        json!({
            "@type": LISTENER,
            "address": socket("0.0.0.0", port),
            "filter_chains": [{"filters": [{
                "name": HCM_NAME,
                "typed_config": {
                    "@type": HCM,
                    "stat_prefix": "stats",
                    "route_config": {"virtual_hosts": [{
                        "name": "backend",
                        "domains": ["*"],
                        "routes": [{"match": {"prefix": path}, "route": {"cluster": cluster}}],
                    }]},
                },
            }]}],
        })
    })
    .collect()
}

fn bootstrap(mesh: &Mesh, p: &Proxy, at: &str) -> Value {
    let w = p.workload;
    json!({
        "@type": format!("{ADMIN}.BootstrapConfigDump"),
        "bootstrap": {
            "node": {
                "id": format!("sidecar~{}~{}.{}~{}.svc.cluster.local", p.ip, p.pod, w.namespace, w.namespace),
                "cluster": format!("{}.{}", w.app, w.namespace),
                "metadata": {
                    "CLUSTER_ID": w.cluster,
                    "NAMESPACE": w.namespace,
                    "NAME": p.pod,
                    "WORKLOAD_NAME": w.name,
                    "SERVICE_ACCOUNT": w.service_account(),
                    "MESH_ID": mesh.topology.trust_domain,
                    "ISTIO_VERSION": ISTIO_VERSION,
                    "INSTANCE_IPS": p.ip,
                    "LABELS": {
                        "app": w.app,
                        "version": w.version(),
                        "service.istio.io/canonical-name": w.app,
                        "service.istio.io/canonical-revision": w.version(),
                    },
                },
                "user_agent_name": "envoy",
            },
            "static_resources": {"listeners": bootstrap_listeners(), "clusters": bootstrap_clusters()},
            "dynamic_resources": {
                "lds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
                "cds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
                "ads_config": {
                    "api_type": "GRPC",
                    "transport_api_version": "V3",
                    "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
                },
            },
            "admin": {"address": socket("127.0.0.1", ADMIN_PORT)},
        },
        "last_updated": at,
    })
}

fn clusters(mesh: &Mesh, p: &Proxy, at: &str) -> Value {
    let dynamic = |c: Value| json!({"version_info": at, "cluster": c, "last_updated": at});
    let mut out = vec![
        dynamic(static_cluster("BlackHoleCluster", "STATIC", None)),
        dynamic(
            json!({"@type": CLUSTER, "name": "InboundPassthroughCluster", "type": "ORIGINAL_DST",
                       "connect_timeout": "10s", "lb_policy": "CLUSTER_PROVIDED"}),
        ),
        dynamic(
            json!({"@type": CLUSTER, "name": "PassthroughCluster", "type": "ORIGINAL_DST",
                       "connect_timeout": "10s", "lb_policy": "CLUSTER_PROVIDED"}),
        ),
    ];
    for s in inbound(mesh, p.workload) {
        let name = format!("inbound|{}||", s.port);
        out.push(dynamic(static_cluster(
            &name,
            "STATIC",
            Some((&p.ip, s.port)),
        )));
    }
    for s in services(mesh) {
        let name = outbound_cluster(s);
        out.push(dynamic(json!({
            "@type": CLUSTER,
            "name": name,
            "type": "EDS",
            "eds_cluster_config": {"eds_config": {"ads": {}, "resource_api_version": "V3"}, "service_name": name},
            "connect_timeout": "10s",
            "metadata": {"filter_metadata": {"istio": {
                "services": [{"host": fqdn(s), "name": s.name, "namespace": s.namespace}],
            }}},
        })));
    }
    json!({
        "@type": format!("{ADMIN}.ClustersConfigDump"),
        "version_info": at,
        "static_clusters": bootstrap_clusters()
            .into_iter()
            .map(|c| json!({"cluster": c, "last_updated": at}))
            .collect::<Vec<_>>(),
        "dynamic_active_clusters": out,
    })
}

fn tcp_proxy(cluster: &str) -> Value {
    json!({"name": TCP_PROXY_NAME, "typed_config": {"@type": TCP_PROXY, "stat_prefix": cluster, "cluster": cluster}})
}

fn rds(route: &str) -> Value {
    json!({"name": HCM_NAME, "typed_config": {
        "@type": HCM,
        "stat_prefix": format!("outbound_0.0.0.0_{route}"),
        "rds": {"config_source": {"ads": {}, "resource_api_version": "V3"}, "route_config_name": route},
    }})
}

/// Traffic to the pod's own address goes nowhere (Istio's loop guard).
fn own_address(ip: &str) -> Value {
    json!({
        "filter_chain_match": {"prefix_ranges": [{"address_prefix": ip, "prefix_len": 32}]},
        "filters": [tcp_proxy("BlackHoleCluster")],
        "name": "virtualOutbound-blackhole",
    })
}

fn dynamic_listener(name: &str, at: &str, listener: Value) -> Value {
    json!({"name": name, "active_state": {"version_info": at, "listener": listener, "last_updated": at}})
}

fn listeners(mesh: &Mesh, p: &Proxy, at: &str) -> Value {
    let mut out = Vec::new();
    // One listener per outbound port: HTTP ports route through RDS, TCP ports proxy to their
    // services (the first by FQDN when several share a port, as a listener holds one).
    let mut by_port: BTreeMap<u16, Vec<&Service>> = BTreeMap::new();
    for s in services(mesh) {
        by_port.entry(s.port).or_default().push(s);
    }
    for (port, svcs) in &by_port {
        let name = format!("0.0.0.0_{port}");
        let http = svcs.iter().any(|s| protocol(mesh, s) != Protocol::Tcp);
        let chain = if http {
            json!({"filters": [rds(&port.to_string())], "name": format!("0.0.0.0_{port}")})
        } else {
            json!({"filters": [tcp_proxy(&outbound_cluster(svcs[0]))], "name": format!("0.0.0.0_{port}")})
        };
        out.push(dynamic_listener(&name, at, json!({
            "@type": LISTENER,
            "name": name,
            "address": socket("0.0.0.0", *port),
            "filter_chains": [own_address(&p.ip), chain],
            "default_filter_chain": {"filters": [tcp_proxy("PassthroughCluster")], "name": "PassthroughFilterChain"},
            "traffic_direction": "OUTBOUND",
            "bind_to_port": false,
        })));
    }
    out.push(dynamic_listener("virtualOutbound", at, json!({
        "@type": LISTENER,
        "name": "virtualOutbound",
        "address": socket("0.0.0.0", 15001),
        "filter_chains": [own_address(&p.ip)],
        "default_filter_chain": {"filters": [tcp_proxy("PassthroughCluster")], "name": "PassthroughFilterChain"},
        "use_original_dst": true,
        "traffic_direction": "OUTBOUND",
    })));
    let mut chains = Vec::new();
    for s in inbound(mesh, p.workload) {
        let cluster = format!("inbound|{}||", s.port);
        let http = protocol(mesh, s) != Protocol::Tcp;
        for (transport, protocols) in [
            ("tls", ["istio-http/1.0", "istio-http/1.1", "istio-h2"]),
            ("raw_buffer", ["http/1.0", "http/1.1", "h2c"]),
        ] {
            let mut m = json!({"destination_port": s.port, "transport_protocol": transport});
            let filter = if http {
                m["application_protocols"] = json!(protocols);
                json!({"name": HCM_NAME, "typed_config": {
                    "@type": HCM,
                    "stat_prefix": format!("inbound_0.0.0.0_{}", s.port),
                    "route_config": {"name": cluster, "virtual_hosts": [{
                        "name": format!("inbound|http|{}", s.port),
                        "domains": ["*"],
                        "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": cluster}}],
                    }]},
                }})
            } else {
                tcp_proxy(&cluster)
            };
            chains.push(json!({
                "filter_chain_match": m,
                "filters": [filter],
                "name": format!("0.0.0.0_{}", s.port),
            }));
        }
    }
    out.push(dynamic_listener("virtualInbound", at, json!({
        "@type": LISTENER,
        "name": "virtualInbound",
        "address": socket("0.0.0.0", 15006),
        "filter_chains": chains,
        "default_filter_chain": {"filters": [tcp_proxy("InboundPassthroughCluster")], "name": "PassthroughFilterChain"},
        "use_original_dst": true,
        "traffic_direction": "INBOUND",
    })));
    json!({
        "@type": format!("{ADMIN}.ListenersConfigDump"),
        "version_info": at,
        "static_listeners": bootstrap_listeners()
            .into_iter()
            .map(|l| json!({"listener": l, "last_updated": at}))
            .collect::<Vec<_>>(),
        "dynamic_listeners": out,
    })
}

/// Istio's domains of a service as seen from a proxy in `from_ns`.
pub fn domains(s: &Service, from_ns: &str) -> Vec<String> {
    let mut d = vec![
        fqdn(s),
        format!("{}.{}.svc", s.name, s.namespace),
        format!("{}.{}", s.name, s.namespace),
    ];
    if s.namespace == from_ns {
        d.push(s.name.clone());
    }
    d
}

fn routes(mesh: &Mesh, p: &Proxy, at: &str) -> Value {
    let mut by_port: BTreeMap<u16, Vec<&Service>> = BTreeMap::new();
    for s in services(mesh)
        .into_iter()
        .filter(|s| protocol(mesh, s) != Protocol::Tcp)
    {
        by_port.entry(s.port).or_default().push(s);
    }
    let configs: Vec<Value> = by_port
        .iter()
        .map(|(port, svcs)| {
            let mut hosts: Vec<Value> = svcs
                .iter()
                .map(|s| {
                    json!({
                        "name": format!("{}:{port}", fqdn(s)),
                        "domains": domains(s, &p.workload.namespace),
                        "routes": [{
                            "name": "default",
                            "match": {"prefix": "/"},
                            "route": {"cluster": outbound_cluster(s), "timeout": "0s"},
                        }],
                        "include_request_attempt_count": true,
                    })
                })
                .collect();
            hosts.push(json!({
                "name": "allow_any",
                "domains": ["*"],
                "routes": [{"name": "allow_any", "match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster", "timeout": "0s"}}],
                "include_request_attempt_count": true,
            }));
            json!({
                "version_info": at,
                "route_config": {"@type": ROUTE_CONFIG, "name": port.to_string(), "virtual_hosts": hosts, "validate_clusters": false},
                "last_updated": at,
            })
        })
        .collect();
    json!({
        "@type": format!("{ADMIN}.RoutesConfigDump"),
        "static_route_configs": [],
        "dynamic_route_configs": configs,
    })
}

/// The cluster names of a dump (static and dynamic), for tests and checks.
pub fn cluster_names(dump: &Value) -> BTreeSet<String> {
    dump["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["@type"] == format!("{ADMIN}.ClustersConfigDump"))
        .flat_map(|c| {
            ["static_clusters", "dynamic_active_clusters"]
                .into_iter()
                .flat_map(move |k| c[k].as_array().cloned().unwrap_or_default())
        })
        .filter_map(|c| c["cluster"]["name"].as_str().map(String::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{demo, mesh};

    fn proxy<'a>(m: &'a Mesh, cluster: &str, name: &str) -> Proxy<'a> {
        let workload = m
            .topology
            .workloads
            .iter()
            .find(|w| w.cluster == cluster && w.name == name)
            .expect("workload");
        Proxy {
            workload,
            pod: format!("{name}-abc12"),
            ip: "10.244.0.7".into(),
        }
    }

    fn config<'v>(dump: &'v Value, kind: &str) -> &'v Value {
        dump["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["@type"] == format!("{ADMIN}.{kind}"))
            .unwrap_or_else(|| panic!("no {kind}"))
    }

    #[test]
    fn a_reviews_proxy_has_every_service_outbound_and_its_own_inbound() {
        let m = demo();
        let p = proxy(&m, "west", "reviews-v3");
        let dump = config_dump(&m, &p, "2026-12-02T10:00:00Z");
        let types: Vec<&str> = dump["configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["@type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
                "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
                "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
            ]
        );
        let names: Vec<String> = cluster_names(&dump).into_iter().collect();
        assert_eq!(
            names,
            [
                "BlackHoleCluster",
                "InboundPassthroughCluster",
                "PassthroughCluster",
                "agent",
                "inbound|9080||",
                "outbound|5000||helloworld.helloworld.svc.cluster.local",
                "outbound|9080||details.bookinfo.svc.cluster.local",
                "outbound|9080||productpage.bookinfo.svc.cluster.local",
                "outbound|9080||ratings.bookinfo.svc.cluster.local",
                "outbound|9080||reviews.bookinfo.svc.cluster.local",
                "prometheus_stats",
                "sds-grpc",
                "xds-grpc",
            ]
        );
        let boot = &config(&dump, "BootstrapConfigDump")["bootstrap"]["node"];
        assert_eq!(boot["metadata"]["CLUSTER_ID"], "west");
        assert_eq!(boot["metadata"]["NAME"], "reviews-v3-abc12");
        assert_eq!(
            boot["id"],
            "sidecar~10.244.0.7~reviews-v3-abc12.bookinfo~bookinfo.svc.cluster.local"
        );
        let inbound = config(&dump, "ClustersConfigDump")["dynamic_active_clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cluster"]["name"] == "inbound|9080||")
            .unwrap();
        assert_eq!(
            inbound["cluster"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"],
            json!({"socket_address": {"address": "10.244.0.7", "port_value": 9080}})
        );
    }

    #[test]
    fn listeners_per_port_and_routes_per_http_port_with_istios_domains() {
        let m = demo();
        let p = proxy(&m, "east", "sleep");
        let dump = config_dump(&m, &p, "2026-12-02T10:00:00Z");
        let l = config(&dump, "ListenersConfigDump");
        let names: Vec<&str> = l["dynamic_listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "0.0.0.0_5000",
                "0.0.0.0_9080",
                "virtualOutbound",
                "virtualInbound"
            ]
        );
        let l9080 = &l["dynamic_listeners"][1]["active_state"]["listener"];
        assert_eq!(
            l9080["filter_chains"][1]["filters"][0]["typed_config"]["rds"]["route_config_name"],
            "9080"
        );
        // sleep has no service: its virtualInbound has no port chain, only the passthrough.
        let inbound = &l["dynamic_listeners"][3]["active_state"]["listener"];
        assert_eq!(inbound["filter_chains"], json!([]));
        assert_eq!(
            inbound["default_filter_chain"]["filters"][0]["typed_config"]["cluster"],
            "InboundPassthroughCluster"
        );
        assert_eq!(l["static_listeners"].as_array().unwrap().len(), 2);

        let r = &config(&dump, "RoutesConfigDump")["dynamic_route_configs"];
        let r9080 = &r[1]["route_config"];
        assert_eq!(r9080["name"], "9080");
        let hosts: Vec<&str> = r9080["virtual_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            hosts,
            [
                "details.bookinfo.svc.cluster.local:9080",
                "productpage.bookinfo.svc.cluster.local:9080",
                "ratings.bookinfo.svc.cluster.local:9080",
                "reviews.bookinfo.svc.cluster.local:9080",
                "allow_any",
            ]
        );
        // From sample, bookinfo's short names are not domains; from bookinfo they are.
        assert_eq!(
            r9080["virtual_hosts"][3]["domains"],
            json!([
                "reviews.bookinfo.svc.cluster.local",
                "reviews.bookinfo.svc",
                "reviews.bookinfo"
            ])
        );
        let s = &m.topology.services[2];
        assert_eq!(domains(s, "bookinfo").last().unwrap(), "reviews");
        assert_eq!(
            r9080["virtual_hosts"][3]["routes"][0]["route"]["cluster"],
            "outbound|9080||reviews.bookinfo.svc.cluster.local"
        );
    }

    #[test]
    fn inbound_chains_and_tcp_ports_follow_the_calls_protocol() {
        let m = mesh(
            r#"
clusters: [east]
workloads:
  - {cluster: east, namespace: db, name: mysql, app: mysql}
  - {cluster: east, namespace: web, name: api, app: api}
services:
  - {namespace: db, name: mysql, port: 3306}
  - {namespace: web, name: api, port: 8080}
calls:
  - {from: {cluster: east, namespace: web, workload: api}, to: {namespace: db, service: mysql}, rate: 1, protocol: tcp}
"#,
        )
        .unwrap();
        let db = proxy(&m, "east", "mysql");
        let dump = config_dump(&m, &db, "2026-12-02T10:00:00Z");
        let l = config(&dump, "ListenersConfigDump");
        let tcp = &l["dynamic_listeners"][0]["active_state"]["listener"];
        assert_eq!(tcp["name"], "0.0.0.0_3306");
        assert_eq!(
            tcp["filter_chains"][1]["filters"][0]["typed_config"]["cluster"],
            "outbound|3306||mysql.db.svc.cluster.local"
        );
        let inbound = &l["dynamic_listeners"][3]["active_state"]["listener"]["filter_chains"];
        assert_eq!(inbound.as_array().unwrap().len(), 2);
        assert_eq!(
            inbound[0]["filter_chain_match"],
            json!({"destination_port": 3306, "transport_protocol": "tls"})
        );
        assert_eq!(
            inbound[1]["filters"][0]["typed_config"]["cluster"],
            "inbound|3306||"
        );
        // Only the HTTP port has a route configuration.
        let r = &config(&dump, "RoutesConfigDump")["dynamic_route_configs"];
        assert_eq!(r.as_array().unwrap().len(), 1);
        assert_eq!(r[0]["route_config"]["name"], "8080");
        // Deterministic.
        assert_eq!(dump, config_dump(&m, &db, "2026-12-02T10:00:00Z"));
    }
}
