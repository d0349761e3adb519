//! The table of every check code: for each, objects that trigger it and objects that pass, on a
//! two-cluster bookinfo (east: productpage, details, reviews v1/v2 and the ingress gateway;
//! west: reviews v3 and ratings).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::codes::CODES;
use super::*;
use crate::inventory::{NamespaceInfo, PodInfo, ServiceInfo, ServicePort, WorkloadInfo};

#[derive(Default)]
struct Cluster {
    services: Vec<ServiceInfo>,
    workloads: Vec<WorkloadInfo>,
    objects: BTreeMap<IstioKind, Vec<ConfigObject>>,
}

struct Bed {
    east: Cluster,
    west: Cluster,
    opts: Options,
}

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Bed {
    fn new() -> Bed {
        let mut b = Bed {
            east: Cluster::default(),
            west: Cluster::default(),
            opts: Options::default(),
        };
        for (app, v) in [
            ("productpage", "v1"),
            ("details", "v1"),
            ("reviews", "v1"),
            ("reviews", "v2"),
        ] {
            b.workload("east", "bookinfo", app, v, true, 1);
        }
        for (app, v) in [("reviews", "v3"), ("ratings", "v1")] {
            b.workload("west", "bookinfo", app, v, true, 1);
        }
        for app in ["productpage", "details", "reviews"] {
            b.service("east", app, app, "http", None);
        }
        for app in ["reviews", "ratings"] {
            b.service("west", app, app, "http", None);
        }
        let gw = WorkloadInfo {
            name: "istio-ingressgateway".into(),
            namespace: "istio-system".into(),
            labels: labels(&[("istio", "ingressgateway")]),
            istio_sidecar: true,
            available_replicas: 1,
            ..Default::default()
        };
        b.east.workloads.push(gw);
        b
    }

    fn cluster(&mut self, c: &str) -> &mut Cluster {
        if c == "east" {
            &mut self.east
        } else {
            &mut self.west
        }
    }

    fn workload(&mut self, c: &str, ns: &str, app: &str, v: &str, sidecar: bool, ready: i32) {
        let pod = PodInfo {
            name: format!("{app}-{v}-pod"),
            service_account: Some(format!("bookinfo-{app}")),
            container_ports: vec![("http".into(), 9080)],
            istio_sidecar: sidecar,
            ..Default::default()
        };
        self.cluster(c).workloads.push(WorkloadInfo {
            name: format!("{app}-{v}"),
            namespace: ns.into(),
            labels: labels(&[("app", app), ("version", v)]),
            istio_sidecar: sidecar,
            available_replicas: ready,
            pods: vec![pod],
            ..Default::default()
        });
    }

    fn service(
        &mut self,
        c: &str,
        name: &str,
        app: &str,
        port_name: &str,
        app_protocol: Option<&str>,
    ) {
        self.service_port(c, name, app, port_name, app_protocol, 9080);
    }

    fn service_port(
        &mut self,
        c: &str,
        name: &str,
        app: &str,
        port_name: &str,
        app_protocol: Option<&str>,
        port: i32,
    ) {
        self.cluster(c).services.push(ServiceInfo {
            name: name.into(),
            namespace: "bookinfo".into(),
            selector: labels(&[("app", app)]),
            ports: vec![ServicePort {
                name: port_name.into(),
                port,
                protocol: "TCP".into(),
                app_protocol: app_protocol.map(String::from),
                target_port: None,
            }],
            ..Default::default()
        });
    }

    fn obj(&mut self, c: &str, kind: IstioKind, ns: &str, name: &str, spec: Value) {
        self.cluster(c)
            .objects
            .entry(kind)
            .or_default()
            .push(ConfigObject {
                kind,
                name: name.into(),
                namespace: ns.into(),
                version: "v1".into(),
                spec,
            });
    }

    fn run(self) -> Vec<Validation> {
        let opts = self.opts.clone();
        validate_with(&self.configs(), &opts)
    }

    fn configs(self) -> Vec<ClusterConfig> {
        let data = |name: &str, c: Cluster| {
            let inventory = ClusterInventory {
                name: name.into(),
                namespaces: ["bookinfo", "istio-system", "plain"]
                    .map(|n| NamespaceInfo {
                        name: n.into(),
                        ..Default::default()
                    })
                    .into(),
                services: c.services.into_iter().map(std::sync::Arc::new).collect(),
                workloads: c.workloads.into_iter().map(std::sync::Arc::new).collect(),
                ..Default::default()
            };
            ClusterConfig::new(inventory, c.objects)
        };
        vec![data("east", self.east), data("west", self.west)]
    }
}

use IstioKind::{
    AuthorizationPolicy as AP, DestinationRule as DR, Gateway as GW, PeerAuthentication as PA,
    RequestAuthentication as RA, ServiceEntry as SE, Sidecar as SC, VirtualService as VS,
    WorkloadEntry as WE,
};

/// One row: the code, what builds the objects, and `(cluster, kind, name, triggered)` for
/// the objects to look at.
struct Row {
    code: &'static str,
    build: fn(&mut Bed),
    expect: &'static [(&'static str, &'static str, &'static str, bool)],
}

fn ap_from(b: &mut Bed, c: &str, ns: &str, name: &str, source: Value) {
    b.obj(
        c,
        AP,
        ns,
        name,
        json!({"rules": [{"from": [{"source": source}]}]}),
    );
}

fn ap_to(b: &mut Bed, name: &str, op: Value) {
    b.obj(
        "east",
        AP,
        "bookinfo",
        name,
        json!({"rules": [{"to": [{"operation": op}]}]}),
    );
}

fn dr_tls(b: &mut Bed, c: &str, ns: &str, name: &str, host: &str, mode: &str) {
    b.obj(
        c,
        DR,
        ns,
        name,
        json!({"host": host, "trafficPolicy": {"tls": {"mode": mode}}}),
    );
}

fn pa(b: &mut Bed, c: &str, ns: &str, name: &str, mode: &str) {
    b.obj(c, PA, ns, name, json!({"mtls": {"mode": mode}}));
}

fn vs_route(b: &mut Bed, name: &str, host: &str, route: Value) {
    b.obj(
        "east",
        VS,
        "bookinfo",
        name,
        json!({"hosts": [host], "http": [{"route": route}]}),
    );
}

fn k8s_gateway(b: &mut Bed, name: &str, spec: Value) {
    b.obj("east", IstioKind::K8sGateway, "bookinfo", name, spec);
}

fn route(b: &mut Bed, name: &str, spec: Value) {
    b.obj("east", IstioKind::K8sHTTPRoute, "bookinfo", name, spec);
}

const NS_WIDE: &str = "*.bookinfo.svc.cluster.local";

const ROWS: &[Row] = &[
    Row {
        code: "KIA0002",
        build: |b| {
            pa(b, "east", "bookinfo", "a", "STRICT");
            pa(b, "east", "bookinfo", "b", "STRICT");
            b.obj("east", RA, "bookinfo", "alone", json!({}));
        },
        expect: &[
            ("east", "PeerAuthentication", "a", true),
            ("east", "PeerAuthentication", "b", true),
            ("east", "RequestAuthentication", "alone", false),
        ],
    },
    Row {
        code: "KIA0003",
        build: |b| {
            for n in ["r1", "r2"] {
                b.obj(
                    "east",
                    SC,
                    "bookinfo",
                    n,
                    json!({"workloadSelector": {"labels": {"app": "reviews"}}}),
                );
            }
            b.obj(
                "east",
                SC,
                "bookinfo",
                "d",
                json!({"workloadSelector": {"labels": {"app": "details"}}}),
            );
        },
        expect: &[
            ("east", "Sidecar", "r1", true),
            ("east", "Sidecar", "r2", true),
            ("east", "Sidecar", "d", false),
        ],
    },
    Row {
        code: "KIA0004",
        build: |b| {
            b.obj(
                "east",
                AP,
                "bookinfo",
                "none",
                json!({"selector": {"matchLabels": {"app": "nope"}}}),
            );
            b.obj(
                "east",
                AP,
                "bookinfo",
                "pp",
                json!({"selector": {"matchLabels": {"app": "productpage"}}}),
            );
        },
        expect: &[
            ("east", "AuthorizationPolicy", "none", true),
            ("east", "AuthorizationPolicy", "pp", false),
        ],
    },
    Row {
        code: "KIA0005",
        build: |b| {
            b.obj(
                "east",
                VS,
                "bookinfo",
                "bad",
                json!({"hosts": ["reviews"], "exportTo": ["nosuch"]}),
            );
            b.obj(
                "east",
                DR,
                "bookinfo",
                "good",
                json!({"host": "reviews", "exportTo": [".", "plain"]}),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "DestinationRule", "good", false),
        ],
    },
    Row {
        code: "KIA0101",
        build: |b| {
            ap_from(
                b,
                "east",
                "bookinfo",
                "bad",
                json!({"namespaces": ["ghost"]}),
            );
            ap_from(
                b,
                "east",
                "bookinfo",
                "good",
                json!({"namespaces": ["plain"]}),
            );
        },
        expect: &[
            ("east", "AuthorizationPolicy", "bad", true),
            ("east", "AuthorizationPolicy", "good", false),
        ],
    },
    Row {
        code: "KIA0102",
        build: |b| {
            ap_to(b, "bad", json!({"methods": ["FETCH"]}));
            ap_to(
                b,
                "good",
                json!({"methods": ["GET", "/bookinfo.Reviews/List"]}),
            );
        },
        expect: &[
            ("east", "AuthorizationPolicy", "bad", true),
            ("east", "AuthorizationPolicy", "good", false),
        ],
    },
    Row {
        code: "KIA0104",
        build: |b| {
            ap_to(b, "bad", json!({"hosts": ["nosuch.example.com"]}));
            ap_to(b, "good", json!({"hosts": ["reviews:9080"]}));
        },
        expect: &[
            ("east", "AuthorizationPolicy", "bad", true),
            ("east", "AuthorizationPolicy", "good", false),
        ],
    },
    Row {
        code: "KIA0105",
        build: |b| {
            b.opts.auto_mtls = false;
            pa(b, "east", "bookinfo", "strict", "STRICT");
            let src = json!({"principals": ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]});
            ap_from(b, "east", "bookinfo", "good", src.clone());
            ap_from(b, "east", "plain", "bad", src);
        },
        expect: &[
            ("east", "AuthorizationPolicy", "bad", true),
            ("east", "AuthorizationPolicy", "good", false),
        ],
    },
    Row {
        code: "KIA0106",
        build: |b| {
            ap_from(
                b,
                "east",
                "bookinfo",
                "bad",
                json!({"principals": ["cluster.local/ns/bookinfo/sa/ghost"]}),
            );
            ap_from(
                b,
                "east",
                "bookinfo",
                "good",
                json!({"principals": ["cluster.local/ns/bookinfo/sa/bookinfo-reviews", "*"]}),
            );
        },
        expect: &[
            ("east", "AuthorizationPolicy", "bad", true),
            ("east", "AuthorizationPolicy", "good", false),
        ],
    },
    Row {
        code: "KIA0107",
        build: |b| {
            let src = json!({"principals": ["cluster.local/ns/bookinfo/sa/bookinfo-ratings"]});
            ap_from(b, "east", "bookinfo", "remote", src.clone());
            ap_from(b, "west", "bookinfo", "local", src);
        },
        expect: &[
            ("east", "AuthorizationPolicy", "remote", true),
            ("west", "AuthorizationPolicy", "local", false),
        ],
    },
    Row {
        code: "KIA0201",
        build: |b| {
            b.obj("east", DR, "bookinfo", "x", json!({"host": "reviews"}));
            b.obj(
                "east",
                DR,
                "bookinfo",
                "y",
                json!({"host": "reviews.bookinfo.svc.cluster.local"}),
            );
            b.obj("east", DR, "bookinfo", "z", json!({"host": "details"}));
        },
        expect: &[
            ("east", "DestinationRule", "x", true),
            ("east", "DestinationRule", "y", true),
            ("east", "DestinationRule", "z", false),
        ],
    },
    Row {
        code: "KIA0202",
        build: |b| {
            b.obj("east", DR, "bookinfo", "bad", json!({"host": "nosuch"}));
            b.obj("east", DR, "bookinfo", "good", json!({"host": "reviews"}));
        },
        expect: &[
            ("east", "DestinationRule", "bad", true),
            ("east", "DestinationRule", "good", false),
        ],
    },
    Row {
        code: "KIA0203",
        build: |b| {
            b.obj("east", DR, "bookinfo", "bad", json!({"host": "reviews", "subsets": [{"name": "v9", "labels": {"version": "v9"}}]}));
            b.obj("east", DR, "bookinfo", "good", json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}));
        },
        expect: &[
            ("east", "DestinationRule", "bad", true),
            ("east", "DestinationRule", "good", false),
        ],
    },
    Row {
        code: "KIA0204",
        build: |b| {
            dr_tls(b, "east", "istio-system", "mesh", "*.local", "ISTIO_MUTUAL");
            b.obj(
                "east",
                DR,
                "bookinfo",
                "bad",
                json!({"host": "reviews", "trafficPolicy": {"connectionPool": {}}}),
            );
            dr_tls(b, "east", "bookinfo", "good", "details", "ISTIO_MUTUAL");
        },
        expect: &[
            ("east", "DestinationRule", "bad", true),
            ("east", "DestinationRule", "good", false),
            ("east", "DestinationRule", "mesh", false),
        ],
    },
    Row {
        code: "KIA0205",
        build: |b| {
            b.opts.auto_mtls = false;
            dr_tls(b, "east", "istio-system", "mesh", "*.local", "ISTIO_MUTUAL");
            dr_tls(b, "west", "istio-system", "mesh", "*.local", "ISTIO_MUTUAL");
            pa(b, "west", "istio-system", "default", "STRICT");
        },
        expect: &[
            ("east", "DestinationRule", "mesh", true),
            ("west", "DestinationRule", "mesh", false),
        ],
    },
    Row {
        code: "KIA0206",
        build: |b| {
            b.opts.auto_mtls = false;
            dr_tls(b, "east", "bookinfo", "ns", NS_WIDE, "ISTIO_MUTUAL");
            dr_tls(b, "west", "bookinfo", "ns", NS_WIDE, "ISTIO_MUTUAL");
            pa(b, "west", "bookinfo", "default", "PERMISSIVE");
        },
        expect: &[
            ("east", "DestinationRule", "ns", true),
            ("west", "DestinationRule", "ns", false),
        ],
    },
    Row {
        code: "KIA0207",
        build: |b| {
            dr_tls(b, "east", "bookinfo", "ns", NS_WIDE, "DISABLE");
            pa(b, "east", "bookinfo", "default", "STRICT");
            dr_tls(b, "west", "bookinfo", "ns", NS_WIDE, "DISABLE");
            pa(b, "west", "bookinfo", "default", "PERMISSIVE");
        },
        expect: &[
            ("east", "DestinationRule", "ns", true),
            ("west", "DestinationRule", "ns", false),
        ],
    },
    Row {
        code: "KIA0208",
        build: |b| {
            dr_tls(b, "east", "bookinfo", "ns", NS_WIDE, "DISABLE");
            pa(b, "east", "istio-system", "default", "STRICT");
            dr_tls(b, "west", "bookinfo", "ns", NS_WIDE, "DISABLE");
        },
        expect: &[
            ("east", "DestinationRule", "ns", true),
            ("west", "DestinationRule", "ns", false),
        ],
    },
    Row {
        code: "KIA0209",
        build: |b| {
            b.obj(
                "east",
                DR,
                "bookinfo",
                "bad",
                json!({"host": "reviews", "subsets": [{"name": "v1"}]}),
            );
            b.obj("east", DR, "bookinfo", "good", json!({"host": "details", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}));
        },
        expect: &[
            ("east", "DestinationRule", "bad", true),
            ("east", "DestinationRule", "good", false),
        ],
    },
    Row {
        code: "KIA0301",
        build: |b| {
            let gw = |port: i64, host: &str| json!({"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": port, "protocol": "HTTP"}, "hosts": [host]}]});
            b.obj("east", GW, "bookinfo", "a", gw(80, "*"));
            b.obj(
                "east",
                GW,
                "bookinfo",
                "b",
                gw(80, "bookinfo/shop.example.com"),
            );
            b.obj("east", GW, "bookinfo", "c", gw(443, "other.example.com"));
        },
        expect: &[
            ("east", "Gateway", "a", true),
            ("east", "Gateway", "b", true),
            ("east", "Gateway", "c", false),
        ],
    },
    Row {
        code: "KIA0302",
        build: |b| {
            b.obj(
                "east",
                GW,
                "bookinfo",
                "bad",
                json!({"selector": {"istio": "nope"}}),
            );
            b.obj(
                "east",
                GW,
                "bookinfo",
                "good",
                json!({"selector": {"istio": "ingressgateway"}}),
            );
        },
        expect: &[
            ("east", "Gateway", "bad", true),
            ("east", "Gateway", "good", false),
        ],
    },
    Row {
        code: "KIA0401",
        build: |b| {
            b.opts.auto_mtls = false;
            pa(b, "east", "istio-system", "default", "STRICT");
            pa(b, "west", "istio-system", "default", "STRICT");
            dr_tls(b, "west", "istio-system", "mesh", "*.local", "ISTIO_MUTUAL");
        },
        expect: &[
            ("east", "PeerAuthentication", "default", true),
            ("west", "PeerAuthentication", "default", false),
        ],
    },
    Row {
        code: "KIA0501",
        build: |b| {
            b.opts.auto_mtls = false;
            pa(b, "east", "bookinfo", "default", "STRICT");
            pa(b, "west", "bookinfo", "default", "STRICT");
            dr_tls(b, "west", "bookinfo", "ns", NS_WIDE, "ISTIO_MUTUAL");
        },
        expect: &[
            ("east", "PeerAuthentication", "default", true),
            ("west", "PeerAuthentication", "default", false),
        ],
    },
    Row {
        code: "KIA0505",
        build: |b| {
            pa(b, "east", "bookinfo", "default", "DISABLE");
            dr_tls(b, "east", "bookinfo", "ns", NS_WIDE, "ISTIO_MUTUAL");
            pa(b, "west", "bookinfo", "default", "DISABLE");
            dr_tls(b, "west", "bookinfo", "ns", NS_WIDE, "DISABLE");
        },
        expect: &[
            ("east", "PeerAuthentication", "default", true),
            ("west", "PeerAuthentication", "default", false),
        ],
    },
    Row {
        code: "KIA0506",
        build: |b| {
            pa(b, "east", "istio-system", "default", "DISABLE");
            dr_tls(b, "east", "istio-system", "mesh", "*.local", "ISTIO_MUTUAL");
            pa(b, "west", "istio-system", "default", "DISABLE");
        },
        expect: &[
            ("east", "PeerAuthentication", "default", true),
            ("west", "PeerAuthentication", "default", false),
        ],
    },
    Row {
        code: "KIA0601",
        build: |b| {
            b.service("east", "web-bad", "productpage", "web", None);
            b.service("east", "web-good", "productpage", "http-web", None);
        },
        expect: &[
            ("east", "service", "web-bad", true),
            ("east", "service", "web-good", false),
        ],
    },
    Row {
        code: "KIA0602",
        build: |b| {
            b.service("east", "ap-bad", "productpage", "web", Some("soap"));
            b.service("east", "ap-good", "productpage", "web", Some("http"));
        },
        expect: &[
            ("east", "service", "ap-bad", true),
            ("east", "service", "ap-good", false),
        ],
    },
    Row {
        code: "KIA0701",
        build: |b| {
            b.service_port("east", "port-bad", "productpage", "http", None, 9999);
            b.service_port("east", "port-good", "productpage", "http", None, 9080);
        },
        expect: &[
            ("east", "service", "port-bad", true),
            ("east", "service", "port-good", false),
        ],
    },
    Row {
        code: "KIA1004",
        build: |b| {
            let sc = |h: &str| json!({"workloadSelector": {"labels": {"app": "productpage"}}, "egress": [{"hosts": [h, "istio-system/*"]}]});
            b.obj(
                "east",
                SC,
                "bookinfo",
                "bad",
                sc("bookinfo/nosuch.bookinfo.svc.cluster.local"),
            );
            b.obj(
                "east",
                SC,
                "plain",
                "good",
                sc("./reviews.plain.svc.cluster.local"),
            );
            b.obj(
                "east",
                SC,
                "bookinfo",
                "good2",
                sc("bookinfo/reviews.bookinfo.svc.cluster.local"),
            );
        },
        expect: &[
            ("east", "Sidecar", "bad", true),
            ("east", "Sidecar", "good2", false),
        ],
    },
    Row {
        code: "KIA1006",
        build: |b| {
            b.obj(
                "east",
                SC,
                "istio-system",
                "bad",
                json!({"workloadSelector": {"labels": {"istio": "ingressgateway"}}}),
            );
            b.obj(
                "west",
                SC,
                "istio-system",
                "default",
                json!({"egress": [{"hosts": ["./*"]}]}),
            );
        },
        expect: &[
            ("east", "Sidecar", "bad", true),
            ("west", "Sidecar", "default", false),
        ],
    },
    Row {
        code: "KIA1007",
        build: |b| {
            b.obj(
                "east",
                SC,
                "bookinfo",
                "bad",
                json!({"outboundTrafficPolicy": {}}),
            );
            b.obj(
                "west",
                SC,
                "bookinfo",
                "good",
                json!({"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
            );
        },
        expect: &[
            ("east", "Sidecar", "bad", true),
            ("west", "Sidecar", "good", false),
        ],
    },
    Row {
        code: "KIA1101",
        build: |b| {
            vs_route(
                b,
                "bad",
                "ghost",
                json!([{"destination": {"host": "ghost"}}]),
            );
            vs_route(
                b,
                "good",
                "reviews",
                json!([{"destination": {"host": "reviews"}}]),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1102",
        build: |b| {
            b.obj(
                "east",
                GW,
                "bookinfo",
                "bookinfo-gateway",
                json!({"selector": {"istio": "ingressgateway"}}),
            );
            b.obj(
                "east",
                VS,
                "bookinfo",
                "bad",
                json!({"hosts": ["a.example.com"], "gateways": ["bookinfo/nogw"]}),
            );
            b.obj("east", VS, "bookinfo", "good", json!({"hosts": ["b.example.com"], "gateways": ["bookinfo/bookinfo-gateway", "mesh"]}));
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1104",
        build: |b| {
            vs_route(
                b,
                "bad",
                "reviews",
                json!([{"destination": {"host": "reviews"}, "weight": 50}]),
            );
            vs_route(
                b,
                "good",
                "details",
                json!([{"destination": {"host": "details"}, "weight": 100}]),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1105",
        build: |b| {
            let d =
                |s: &str| json!({"destination": {"host": "reviews", "subset": s}, "weight": 50});
            vs_route(b, "bad", "reviews", json!([d("v1"), d("v1")]));
            vs_route(b, "good", "details", json!([d("v1"), d("v2")]));
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1106",
        build: |b| {
            b.obj("east", VS, "bookinfo", "one", json!({"hosts": ["reviews"]}));
            b.obj(
                "east",
                VS,
                "bookinfo",
                "two",
                json!({"hosts": ["reviews.bookinfo.svc.cluster.local"]}),
            );
            b.obj(
                "east",
                VS,
                "bookinfo",
                "three",
                json!({"hosts": ["details"]}),
            );
        },
        expect: &[
            ("east", "VirtualService", "one", true),
            ("east", "VirtualService", "two", true),
            ("east", "VirtualService", "three", false),
        ],
    },
    Row {
        code: "KIA1107",
        build: |b| {
            b.obj("east", DR, "bookinfo", "reviews", json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}));
            vs_route(
                b,
                "bad",
                "reviews",
                json!([{"destination": {"host": "reviews", "subset": "v7"}}]),
            );
            vs_route(
                b,
                "good",
                "details",
                json!([{"destination": {"host": "reviews", "subset": "v1"}}]),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1108",
        build: |b| {
            b.obj(
                "east",
                GW,
                "bookinfo",
                "bookinfo-gateway",
                json!({"selector": {"istio": "ingressgateway"}}),
            );
            b.obj("east", VS, "bookinfo", "bad", json!({"hosts": ["a.example.com"], "gateways": ["bookinfo-gateway.bookinfo.svc.cluster.local"]}));
            b.obj(
                "east",
                VS,
                "bookinfo",
                "good",
                json!({"hosts": ["b.example.com"], "gateways": ["bookinfo/bookinfo-gateway"]}),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "KIA1201",
        build: |b| {
            b.obj(
                "east",
                WE,
                "bookinfo",
                "vm1",
                json!({"address": "10.0.0.2", "labels": {"app": "vm"}}),
            );
            b.obj(
                "east",
                WE,
                "bookinfo",
                "vm2",
                json!({"address": "10.0.0.3", "labels": {"app": "vm2"}}),
            );
            b.obj("east", SE, "bookinfo", "bad", json!({"hosts": ["vm.example.com"], "addresses": ["10.0.0.1"], "workloadSelector": {"labels": {"app": "vm"}}}));
            b.obj("east", SE, "bookinfo", "good", json!({"hosts": ["vm2.example.com"], "addresses": ["10.0.0.3"], "workloadSelector": {"labels": {"app": "vm2"}}}));
        },
        expect: &[
            ("east", "ServiceEntry", "bad", true),
            ("east", "ServiceEntry", "good", false),
        ],
    },
    Row {
        code: "KIA1301",
        build: |b| {
            b.opts.registry_only = true;
            b.obj(
                "east",
                AP,
                "bookinfo",
                "pp",
                json!({"selector": {"matchLabels": {"app": "productpage"}}}),
            );
        },
        expect: &[
            ("east", "workload", "reviews-v1", true),
            ("east", "workload", "productpage-v1", false),
        ],
    },
    Row {
        code: "KIA1401",
        build: |b| {
            k8s_gateway(b, "gw", json!({"gatewayClassName": "istio"}));
            route(b, "bad", json!({"parentRefs": [{"name": "nogw"}]}));
            route(
                b,
                "good",
                json!({"parentRefs": [{"name": "gw", "namespace": "bookinfo"}]}),
            );
        },
        expect: &[
            ("east", "HTTPRoute", "bad", true),
            ("east", "HTTPRoute", "good", false),
        ],
    },
    Row {
        code: "KIA1402",
        build: |b| {
            route(
                b,
                "bad",
                json!({"rules": [{"backendRefs": [{"name": "ghost", "port": 9080}]}]}),
            );
            route(
                b,
                "good",
                json!({"rules": [{"backendRefs": [{"name": "reviews", "port": 9080}]}]}),
            );
        },
        expect: &[
            ("east", "HTTPRoute", "bad", true),
            ("east", "HTTPRoute", "good", false),
        ],
    },
    Row {
        code: "KIA1501",
        build: |b| {
            let gw = |host: &str, port: i64| json!({"gatewayClassName": "istio", "listeners": [{"name": "l", "hostname": host, "port": port, "protocol": "HTTP"}]});
            k8s_gateway(b, "a", gw("shop.example.com", 80));
            k8s_gateway(b, "b", gw("shop.example.com", 80));
            k8s_gateway(b, "c", gw("other.example.com", 443));
        },
        expect: &[
            ("east", "Gateway", "a", true),
            ("east", "Gateway", "b", true),
            ("east", "Gateway", "c", false),
        ],
    },
    Row {
        code: "KIA1502",
        build: |b| {
            let gw = |ip: &str| json!({"gatewayClassName": "istio", "addresses": [{"type": "IPAddress", "value": ip}]});
            k8s_gateway(b, "a", gw("10.0.0.9"));
            k8s_gateway(b, "b", gw("10.0.0.9"));
            k8s_gateway(b, "c", gw("10.0.0.10"));
        },
        expect: &[
            ("east", "Gateway", "a", true),
            ("east", "Gateway", "b", true),
            ("east", "Gateway", "c", false),
        ],
    },
    Row {
        code: "KIA1503",
        build: |b| {
            let l = |port: i64| json!({"name": format!("l{port}"), "hostname": "shop.example.com", "port": port, "protocol": "HTTP"});
            k8s_gateway(
                b,
                "bad",
                json!({"gatewayClassName": "istio", "listeners": [l(80), l(80)]}),
            );
            k8s_gateway(
                b,
                "good",
                json!({"gatewayClassName": "istio", "listeners": [l(81), l(82)]}),
            );
        },
        expect: &[
            ("east", "Gateway", "bad", true),
            ("east", "Gateway", "good", false),
        ],
    },
    Row {
        code: "KIA1504",
        build: |b| {
            k8s_gateway(b, "bad", json!({"gatewayClassName": "nginx"}));
            k8s_gateway(b, "good", json!({"gatewayClassName": "istio"}));
        },
        expect: &[
            ("east", "Gateway", "bad", true),
            ("east", "Gateway", "good", false),
        ],
    },
    Row {
        code: "KIA1601",
        build: |b| {
            let rg = |ns: &str| json!({"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": ns}], "to": [{"group": "", "kind": "Service"}]});
            b.obj(
                "east",
                IstioKind::K8sReferenceGrant,
                "bookinfo",
                "bad",
                rg("ghost"),
            );
            b.obj(
                "east",
                IstioKind::K8sReferenceGrant,
                "bookinfo",
                "good",
                rg("plain"),
            );
        },
        expect: &[
            ("east", "ReferenceGrant", "bad", true),
            ("east", "ReferenceGrant", "good", false),
        ],
    },
    Row {
        code: "MGL0001",
        build: |b| {
            b.obj(
                "east",
                DR,
                "bookinfo",
                "ratings",
                json!({"host": "ratings"}),
            );
            b.obj(
                "east",
                DR,
                "bookinfo",
                "reviews",
                json!({"host": "reviews"}),
            );
        },
        expect: &[
            ("east", "DestinationRule", "ratings", true),
            ("east", "DestinationRule", "reviews", false),
        ],
    },
    Row {
        code: "MGL0002",
        build: |b| {
            b.obj("east", DR, "bookinfo", "v3", json!({"host": "reviews", "subsets": [{"name": "v3", "labels": {"version": "v3"}}]}));
            b.obj("east", DR, "bookinfo", "v1", json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}));
        },
        expect: &[
            ("east", "DestinationRule", "v3", true),
            ("east", "DestinationRule", "v1", false),
        ],
    },
    Row {
        code: "MGL0003",
        build: |b| {
            b.workload("east", "bookinfo", "idle", "v1", true, 0);
            b.service("east", "idle", "idle", "http", None);
            vs_route(b, "bad", "idle", json!([{"destination": {"host": "idle"}}]));
            vs_route(
                b,
                "good",
                "ratings",
                json!([{"destination": {"host": "ratings"}}]),
            );
        },
        expect: &[
            ("east", "VirtualService", "bad", true),
            ("east", "VirtualService", "good", false),
        ],
    },
    Row {
        code: "MGL0004",
        build: |b| {
            b.workload("west", "bookinfo", "legacy", "v1", false, 1);
            pa(b, "east", "bookinfo", "default", "STRICT");
            pa(b, "west", "bookinfo", "default", "STRICT");
        },
        expect: &[
            ("east", "PeerAuthentication", "default", true),
            ("west", "PeerAuthentication", "default", false),
        ],
    },
    Row {
        code: "MGL0005",
        build: |b| {
            for (c, lb) in [("east", "ROUND_ROBIN"), ("west", "LEAST_REQUEST")] {
                b.obj(
                    c,
                    DR,
                    "bookinfo",
                    "drift",
                    json!({"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": lb}}}),
                );
                b.obj(c, DR, "bookinfo", "same", json!({"host": "reviews.bookinfo.svc.cluster.local", "subsets": [{"name": "a", "labels": {"version": "v1"}}]}));
            }
        },
        expect: &[
            ("east", "DestinationRule", "drift", true),
            ("west", "DestinationRule", "drift", true),
            ("east", "DestinationRule", "same", false),
        ],
    },
    Row {
        code: "MGL0006",
        build: |b| {
            let gw = json!({"selector": {"istio": "ingressgateway"}});
            b.obj("west", GW, "bookinfo", "gw", gw.clone());
            b.obj("east", GW, "bookinfo", "gw", gw);
        },
        expect: &[
            ("west", "Gateway", "gw", true),
            ("east", "Gateway", "gw", false),
        ],
    },
];

fn find<'a>(vs: &'a [Validation], cluster: &str, kind: &str, name: &str) -> Option<&'a Validation> {
    vs.iter()
        .find(|v| v.cluster == cluster && v.object_gvk.kind == kind && v.name == name)
}

#[test]
fn every_code_triggers_and_passes() {
    for row in ROWS {
        let mut bed = Bed::new();
        (row.build)(&mut bed);
        let vs = bed.run();
        for (cluster, kind, name, triggered) in row.expect {
            let checks: Vec<&Check> = find(&vs, cluster, kind, name)
                .map(|v| v.checks.iter().collect())
                .unwrap_or_default();
            let hit = checks.iter().find(|c| c.code == row.code);
            assert_eq!(
                hit.is_some(),
                *triggered,
                "{}: {cluster}/{kind}/{name} has {:?}",
                row.code,
                checks
            );
            if let Some(c) = hit {
                let (message, severity) = codes::describe(row.code);
                assert!(
                    c.message.starts_with(message.trim_end_matches('.')) || c.code == "MGL0001"
                );
                assert_eq!(c.severity, severity, "{}", row.code);
                assert!(
                    c.path == "workload" || c.path.starts_with("spec"),
                    "{}: {}",
                    row.code,
                    c.path
                );
            }
        }
        assert!(
            row.expect.iter().any(|e| e.3) && row.expect.iter().any(|e| !e.3),
            "{}",
            row.code
        );
    }
}

#[test]
fn the_table_covers_every_code() {
    let tested: Vec<&str> = ROWS.iter().map(|r| r.code).collect();
    for (code, _, _) in CODES {
        assert!(tested.contains(code), "{code} has no row");
    }
    for code in &tested {
        assert!(
            CODES.iter().any(|(c, _, _)| c == code),
            "row {code} is not in the catalogue"
        );
    }
}

/// Kiali's checker catalogue (`checkDescriptors` of its models/istio_validation.go): every code
/// it emits is in ours, with its severity. KIA1103 and KIA0001 are gone from Kiali.
#[test]
fn the_catalogue_has_every_kiali_code() {
    const KIALI: &[(&str, &str)] = &[
        ("KIA0002", "error"),
        ("KIA0003", "error"),
        ("KIA0004", "warning"),
        ("KIA0005", "error"),
        ("KIA0101", "warning"),
        ("KIA0102", "warning"),
        ("KIA0104", "error"),
        ("KIA0105", "error"),
        ("KIA0106", "error"),
        ("KIA0107", "warning"),
        ("KIA0201", "warning"),
        ("KIA0202", "error"),
        ("KIA0203", "error"),
        ("KIA0204", "warning"),
        ("KIA0205", "error"),
        ("KIA0206", "error"),
        ("KIA0207", "error"),
        ("KIA0208", "error"),
        ("KIA0209", "warning"),
        ("KIA0301", "warning"),
        ("KIA0302", "warning"),
        ("KIA0401", "error"),
        ("KIA0501", "error"),
        ("KIA0505", "error"),
        ("KIA0506", "error"),
        ("KIA0601", "error"),
        ("KIA0602", "error"),
        ("KIA0701", "warning"),
        ("KIA1004", "warning"),
        ("KIA1006", "warning"),
        ("KIA1007", "unknown"),
        ("KIA1101", "error"),
        ("KIA1102", "error"),
        ("KIA1104", "warning"),
        ("KIA1105", "warning"),
        ("KIA1106", "warning"),
        ("KIA1107", "warning"),
        ("KIA1108", "unknown"),
        ("KIA1201", "warning"),
        ("KIA1301", "warning"),
        ("KIA1401", "error"),
        ("KIA1402", "error"),
        ("KIA1501", "warning"),
        ("KIA1502", "warning"),
        ("KIA1503", "error"),
        ("KIA1504", "error"),
        ("KIA1601", "error"),
    ];
    for (code, severity) in KIALI {
        let (message, ours) = codes::describe(code);
        assert!(!message.is_empty(), "{code} is missing");
        assert_eq!(ours, *severity, "{code}");
    }
    let kia = CODES
        .iter()
        .filter(|(c, _, _)| c.starts_with("KIA"))
        .count();
    assert_eq!(kia, KIALI.len(), "a KIA code that Kiali does not have");
}

/// `kiali_feature_flags.validations.ignore`: the codes named are in no validation, a service
/// or workload left without a check has no validation, and validity follows what is left.
#[test]
fn ignored_codes_are_dropped_everywhere() {
    let build = |b: &mut Bed| {
        // KIA1101 (error) and KIA1104 (warning) on one VirtualService.
        vs_route(
            b,
            "w",
            "reviews",
            json!([{"destination": {"host": "ghost"}, "weight": 50}]),
        );
        // KIA0601 on a service (its only check).
        b.service("east", "badport", "productpage", "web", None);
    };
    let mut bed = Bed::new();
    build(&mut bed);
    let all = bed.run();
    let w = find(&all, "east", "VirtualService", "w").unwrap();
    assert!(!w.valid);
    assert!(w.checks.iter().any(|c| c.code == "KIA1101"));
    assert!(find(&all, "east", "service", "badport").is_some());

    let mut bed = Bed::new();
    build(&mut bed);
    bed.opts.ignore = vec!["KIA1101".into(), "KIA0601".into()];
    let some = bed.run();
    let w = find(&some, "east", "VirtualService", "w").unwrap();
    assert!(w.valid, "no error left: {:?}", w.checks);
    assert!(
        w.checks.iter().all(|c| c.code != "KIA1101"),
        "{:?}",
        w.checks
    );
    assert!(
        w.checks.iter().any(|c| c.code == "KIA1104"),
        "{:?}",
        w.checks
    );
    assert!(find(&some, "east", "service", "badport").is_none());
    assert!(
        some.iter()
            .flat_map(|v| &v.checks)
            .all(|c| c.code != "KIA1101" && c.code != "KIA0601")
    );
}

/// `kiali_feature_flags.validations.skip_wildcard_gateway_hosts`: a `*` host collides with no
/// other Gateway's host (KIA0301), while `*.example.com` still does.
#[test]
fn wildcard_gateway_hosts_can_be_skipped() {
    let build = |b: &mut Bed| {
        let gw = |host: &str| json!({"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 80, "protocol": "HTTP"}, "hosts": [host]}]});
        b.obj("east", GW, "bookinfo", "star", gw("*"));
        b.obj("east", GW, "bookinfo", "shop", gw("shop.example.com"));
        b.obj("east", GW, "bookinfo", "suffix", gw("*.example.com"));
    };
    let kia0301 = |vs: &[Validation], name: &str| {
        find(vs, "east", "Gateway", name)
            .unwrap()
            .checks
            .iter()
            .any(|c| c.code == "KIA0301")
    };
    let mut bed = Bed::new();
    build(&mut bed);
    let vs = bed.run();
    assert!(kia0301(&vs, "star") && kia0301(&vs, "shop") && kia0301(&vs, "suffix"));

    let mut bed = Bed::new();
    build(&mut bed);
    bed.opts.skip_wildcard_gateway_hosts = true;
    let vs = bed.run();
    assert!(!kia0301(&vs, "star"), "a * host is skipped");
    assert!(kia0301(&vs, "shop") && kia0301(&vs, "suffix"));
}

#[test]
fn paths_references_and_validity_follow_kiali() {
    let mut bed = Bed::new();
    vs_route(
        &mut bed,
        "w",
        "reviews",
        json!([{"destination": {"host": "reviews"}, "weight": 50}, {"destination": {"host": "ghost"}}]),
    );
    b_dup(&mut bed);
    let vs = bed.run();
    let w = find(&vs, "east", "VirtualService", "w").unwrap();
    assert!(!w.valid, "KIA1101 is an error");
    let paths: Vec<(&str, &str)> = w.checks.iter().map(|c| (c.code, c.path.as_str())).collect();
    assert!(
        paths.contains(&("KIA1101", "spec/http[0]/route[1]/destination/host")),
        "{paths:?}"
    );
    let one = find(&vs, "east", "VirtualService", "one").unwrap();
    assert!(one.valid, "KIA1106 is a warning");
    assert_eq!(one.references.len(), 1);
    assert_eq!(one.references[0]["name"], "two");
    assert_eq!(one.references[0]["objectGVK"]["Kind"], "VirtualService");
    assert_eq!(one.gvk_key(), "networking.istio.io/v1, Kind=VirtualService");
}

fn b_dup(b: &mut Bed) {
    b.obj("east", VS, "bookinfo", "one", json!({"hosts": ["details"]}));
    b.obj("east", VS, "bookinfo", "two", json!({"hosts": ["details"]}));
}

#[test]
fn references_go_both_ways_and_across_clusters() {
    let mut b = Bed::new();
    b.obj(
        "east",
        GW,
        "bookinfo",
        "gw",
        json!({"selector": {"istio": "ingressgateway"}}),
    );
    b.obj(
        "east",
        VS,
        "bookinfo",
        "reviews",
        json!({"hosts": ["reviews"], "gateways": ["bookinfo/gw"],
        "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}),
    );
    b.obj(
        "west",
        DR,
        "bookinfo",
        "reviews",
        json!({"host": "reviews.bookinfo.svc.cluster.local"}),
    );
    let clusters = b.configs();
    let vs = references::references(&clusters, "east", VS, "bookinfo", "reviews").unwrap();
    let objs: Vec<(&str, &str, &str)> = vs
        .object_references
        .iter()
        .map(|r| (r.cluster.as_str(), r.object_gvk.kind, r.name.as_str()))
        .collect();
    assert_eq!(
        objs,
        vec![
            ("west", "DestinationRule", "reviews"),
            ("east", "Gateway", "gw")
        ]
    );
    let svcs: Vec<&str> = vs
        .service_references
        .iter()
        .map(|r| r.cluster.as_str())
        .collect();
    assert_eq!(svcs, vec!["east", "west"], "reviews runs in both clusters");
    let gw = references::references(&clusters, "east", GW, "bookinfo", "gw").unwrap();
    assert_eq!(
        gw.object_references.len(),
        1,
        "the VirtualService binding it"
    );
    assert_eq!(gw.workload_references[0].name, "istio-ingressgateway");
    assert!(references::references(&clusters, "west", GW, "bookinfo", "gw").is_none());
}
