//! Test and benchmark fixtures: the bookinfo mesh split across two clusters, and a large
//! synthetic mesh. Public so integration tests, benchmarks and the server's tests share them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::input::{Family, Label, Sample};
use crate::inventory::{
    ClusterInventory, MeshInventory, NamespaceInfo, ServiceInfo, ServicePort, WorkloadInfo,
};

/// Labels of one request series, for building samples tersely.
#[derive(Debug, Clone, Default)]
pub struct Series<'s> {
    /// `reporter`.
    pub reporter: &'s str,
    /// Source (cluster, namespace, workload, app, version).
    pub src: (&'s str, &'s str, &'s str, &'s str, &'s str),
    /// Destination (cluster, service namespace, service name, workload namespace, workload, app, version).
    pub dst: (
        &'s str,
        &'s str,
        &'s str,
        &'s str,
        &'s str,
        &'s str,
        &'s str,
    ),
    /// `request_protocol`.
    pub protocol: &'s str,
    /// `response_code`.
    pub code: &'s str,
    /// `response_flags`.
    pub flags: &'s str,
    /// `connection_security_policy`.
    pub security: &'s str,
}

impl Series<'_> {
    /// A sample of `family` with these labels. `destination_service` is the service FQDN.
    pub fn sample(&self, family: Family, value: f64) -> Sample {
        let (sc, sns, swl, sapp, sver) = self.src;
        let (dc, dsns, dsvc, dwns, dwl, dapp, dver) = self.dst;
        let host = if dsvc == "unknown" || dsvc.is_empty() {
            dsvc.to_string()
        } else {
            format!("{dsvc}.{dsns}.svc.cluster.local")
        };
        let mut pairs: Vec<(&str, String)> = vec![
            ("reporter", self.reporter.to_string()),
            ("source_cluster", sc.to_string()),
            ("source_workload_namespace", sns.to_string()),
            ("source_workload", swl.to_string()),
            ("source_canonical_service", sapp.to_string()),
            ("source_canonical_revision", sver.to_string()),
            ("destination_cluster", dc.to_string()),
            ("destination_service_namespace", dsns.to_string()),
            ("destination_service", host),
            ("destination_service_name", dsvc.to_string()),
            ("destination_workload_namespace", dwns.to_string()),
            ("destination_workload", dwl.to_string()),
            ("destination_canonical_service", dapp.to_string()),
            ("destination_canonical_revision", dver.to_string()),
            ("request_protocol", self.protocol.to_string()),
            ("response_code", self.code.to_string()),
            ("grpc_response_status", String::new()),
            (
                "response_flags",
                if self.flags.is_empty() {
                    "-".to_string()
                } else {
                    self.flags.to_string()
                },
            ),
        ];
        if !self.security.is_empty() {
            pairs.push(("connection_security_policy", self.security.to_string()));
        }
        let mut s = Sample::new(family, pairs, value);
        if self.protocol != "grpc" {
            s.labels.put(Label::GrpcResponseStatus, None);
        }
        s
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn workload(name: &str, app: &str, version: &str, replicas: (i32, i32, i32)) -> WorkloadInfo {
    let mut w = WorkloadInfo {
        name: name.to_string(),
        namespace: "bookinfo".to_string(),
        kind: "Deployment".to_string(),
        group: "apps".to_string(),
        labels: labels(&[("app", app), ("version", version)]),
        desired_replicas: replicas.0,
        current_replicas: replicas.1,
        available_replicas: replicas.2,
        istio_sidecar: true,
        synced_proxies: -1,
        ..WorkloadInfo::default()
    };
    w.resolve_app(&crate::inventory::AppLabels::default());
    w
}

fn service(name: &str) -> ServiceInfo {
    ServiceInfo {
        name: name.to_string(),
        namespace: "bookinfo".to_string(),
        selector: labels(&[("app", name)]),
        ports: vec![ServicePort {
            name: "http".to_string(),
            port: 9080,
            protocol: "TCP".to_string(),
            app_protocol: None,
            target_port: None,
        }],
        ..ServiceInfo::default()
    }
}

/// Bookinfo split across `east` (productpage, details, reviews v1/v2) and `west` (reviews v3,
/// ratings); namespace `bookinfo` exists in both.
pub fn bookinfo_inventory() -> MeshInventory {
    let ns = || {
        vec![NamespaceInfo {
            name: "bookinfo".to_string(),
            ..NamespaceInfo::default()
        }]
    };
    MeshInventory {
        clusters: vec![
            ClusterInventory {
                name: "east".to_string(),
                namespaces: ns(),
                services: vec![
                    service("productpage"),
                    service("details"),
                    service("reviews"),
                ]
                .into_iter()
                .map(Arc::new)
                .collect(),
                workloads: vec![
                    workload("productpage-v1", "productpage", "v1", (1, 1, 1)),
                    workload("details-v1", "details", "v1", (1, 1, 1)),
                    workload("reviews-v1", "reviews", "v1", (1, 1, 1)),
                    workload("reviews-v2", "reviews", "v2", (2, 2, 1)),
                ]
                .into_iter()
                .map(Arc::new)
                .collect(),
                service_entries: Vec::new(),
                routing: Vec::new(),
            },
            ClusterInventory {
                name: "west".to_string(),
                namespaces: ns(),
                services: vec![Arc::new(service("reviews")), Arc::new(service("ratings"))],
                workloads: vec![
                    workload("reviews-v3", "reviews", "v3", (1, 1, 1)),
                    workload("ratings-v1", "ratings", "v1", (1, 1, 1)),
                ]
                .into_iter()
                .map(Arc::new)
                .collect(),
                service_entries: Vec::new(),
                routing: Vec::new(),
            },
        ],
    }
}

/// The bookinfo traffic (`istio_requests_total` rates, requests per second):
/// - unknown → productpage-v1 (east): 10 × 200
/// - productpage-v1 → details-v1 (east): 9 × 200, 1 × 500
/// - productpage-v1 → reviews: v1 (east) 4, v2 (east) 3, v3 (west) 3, all 200
/// - reviews-v2 (east) → ratings-v1 (west): 3 × 200
/// - reviews-v3 (west) → ratings-v1 (west): 2 × 200, 1 × 503
///
/// Every series is destination-reported with mutual TLS; productpage's outgoing series are also
/// source-reported with `connection_security_policy="unknown"`, as Istio's client proxies report them (the
/// engine must not count them twice), and so are the reviews → ratings ones.
pub fn bookinfo_samples() -> Vec<Sample> {
    let f = Family::RequestsTotal;
    let mut out = Vec::new();
    let mut add = |src: (&str, &str, &str, &str, &str),
                   dst: (&str, &str, &str, &str, &str, &str, &str),
                   code: &str,
                   v: f64,
                   both: bool| {
        let s = Series {
            reporter: "destination",
            src,
            dst,
            protocol: "http",
            code,
            flags: "-",
            security: "mutual_tls",
        };
        out.push(s.sample(f, v));
        if both {
            // As Istio's client proxies do: the source reporter cannot know the policy the
            // destination enforced.
            let s = Series {
                reporter: "source",
                security: "unknown",
                ..s
            };
            out.push(s.sample(f, v));
        }
    };
    let unknown = ("unknown", "unknown", "unknown", "unknown", "unknown");
    let pp = ("east", "bookinfo", "productpage-v1", "productpage", "v1");
    let r2 = ("east", "bookinfo", "reviews-v2", "reviews", "v2");
    let r3 = ("west", "bookinfo", "reviews-v3", "reviews", "v3");
    add(
        unknown,
        (
            "east",
            "bookinfo",
            "productpage",
            "bookinfo",
            "productpage-v1",
            "productpage",
            "v1",
        ),
        "200",
        10.0,
        false,
    );
    let details = (
        "east",
        "bookinfo",
        "details",
        "bookinfo",
        "details-v1",
        "details",
        "v1",
    );
    add(pp, details, "200", 9.0, true);
    add(pp, details, "500", 1.0, true);
    add(
        pp,
        (
            "east",
            "bookinfo",
            "reviews",
            "bookinfo",
            "reviews-v1",
            "reviews",
            "v1",
        ),
        "200",
        4.0,
        true,
    );
    add(
        pp,
        (
            "east",
            "bookinfo",
            "reviews",
            "bookinfo",
            "reviews-v2",
            "reviews",
            "v2",
        ),
        "200",
        3.0,
        true,
    );
    add(
        pp,
        (
            "west",
            "bookinfo",
            "reviews",
            "bookinfo",
            "reviews-v3",
            "reviews",
            "v3",
        ),
        "200",
        3.0,
        true,
    );
    let ratings = (
        "west",
        "bookinfo",
        "ratings",
        "bookinfo",
        "ratings-v1",
        "ratings",
        "v1",
    );
    add(r2, ratings, "200", 3.0, true);
    add(r3, ratings, "200", 2.0, true);
    add(r3, ratings, "503", 1.0, true);
    out
}

/// A deterministic synthetic mesh: `clusters` clusters, `namespaces` namespaces (each in every
/// cluster), `workloads` workloads spread over them, and about `samples` request samples (half
/// destination-reported, half source-reported duplicates), mostly cross-namespace and
/// cross-cluster.
pub fn synthetic_mesh(
    clusters: usize,
    namespaces: usize,
    workloads: usize,
    samples: usize,
) -> (Vec<String>, MeshInventory, Vec<Sample>) {
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n.max(1) as u64) as usize
    };
    let ns_names: Vec<String> = (0..namespaces).map(|i| format!("ns-{i:03}")).collect();
    let cluster_names: Vec<String> = (0..clusters).map(|i| format!("cluster-{i}")).collect();
    // Workload w lives in namespace w % namespaces, cluster (w / namespaces) % clusters.
    let wl: Vec<(usize, usize, String, String)> = (0..workloads)
        .map(|w| {
            let ns = w % namespaces;
            let c = (w / namespaces) % clusters;
            let app = format!("app-{}", w / 2);
            (c, ns, format!("{app}-v{}", w % 2 + 1), app)
        })
        .collect();
    let mut inv = MeshInventory {
        clusters: cluster_names
            .iter()
            .map(|c| ClusterInventory {
                name: c.clone(),
                namespaces: ns_names
                    .iter()
                    .map(|n| NamespaceInfo {
                        name: n.clone(),
                        ..NamespaceInfo::default()
                    })
                    .collect(),
                ..ClusterInventory::default()
            })
            .collect(),
    };
    for (c, ns, name, app) in &wl {
        let ver = if name.ends_with("v1") { "v1" } else { "v2" };
        let mut w = workload(name, app, ver, (1, 1, 1));
        w.namespace = ns_names[*ns].clone();
        inv.clusters[*c].workloads.push(Arc::new(w));
        let mut s = service(app);
        s.namespace = ns_names[*ns].clone();
        if !inv.clusters[*c]
            .services
            .iter()
            .any(|x| x.name == s.name && x.namespace == s.namespace)
        {
            inv.clusters[*c].services.push(Arc::new(s));
        }
    }
    let codes = ["200", "200", "201", "404", "503"];
    let mut out = Vec::with_capacity(samples);
    while out.len() < samples {
        let (sc, sns, sname, sapp) = &wl[next(wl.len())];
        let (dc, dns, dname, dapp) = &wl[next(wl.len())];
        let (sver, dver) = (&sname[sname.len() - 2..], &dname[dname.len() - 2..]);
        for code in codes {
            let s = Series {
                reporter: "destination",
                src: (&cluster_names[*sc], &ns_names[*sns], sname, sapp, sver),
                dst: (
                    &cluster_names[*dc],
                    &ns_names[*dns],
                    dapp,
                    &ns_names[*dns],
                    dname,
                    dapp,
                    dver,
                ),
                protocol: "http",
                code,
                flags: "-",
                security: "mutual_tls",
            };
            let v = 0.1 + next(1000) as f64 / 100.0;
            out.push(s.sample(Family::RequestsTotal, v));
            out.push(
                Series {
                    reporter: "source",
                    ..s
                }
                .sample(Family::RequestsTotal, v),
            );
        }
    }
    out.truncate(samples);
    (ns_names, inv, out)
}

/// Istio config at scale, for the validation benchmark: `clusters` clusters × `namespaces`
/// namespaces, each namespace holding reviews (v1, v2), ratings and productpage with their
/// services, and 5 objects — a VirtualService splitting reviews, its DestinationRule, an
/// AuthorizationPolicy, a namespace-wide PeerAuthentication and a Sidecar. Every tenth
/// namespace routes to a subset no rule defines, so some checks fire.
pub fn synthetic_config(
    clusters: usize,
    namespaces: usize,
) -> Vec<crate::validations::ClusterConfig> {
    use crate::istio::{ConfigObject, IstioKind};
    use serde_json::json;
    (0..clusters)
        .map(|c| {
            let mut inv = crate::inventory::ClusterInventory {
                name: format!("cluster-{c}"),
                ..Default::default()
            };
            let mut objects: BTreeMap<IstioKind, Vec<ConfigObject>> = BTreeMap::new();
            for n in 0..namespaces {
                let ns = format!("ns-{n}");
                inv.namespaces.push(crate::inventory::NamespaceInfo {
                    name: ns.clone(),
                    ..Default::default()
                });
                for (app, v) in [("reviews", "v1"), ("reviews", "v2"), ("ratings", "v1"), ("productpage", "v1")] {
                    let mut w = workload(&format!("{app}-{v}"), app, v, (1, 1, 1));
                    w.namespace = ns.clone();
                    w.istio_sidecar = true;
                    w.pods = vec![crate::inventory::PodInfo {
                        name: format!("{app}-{v}-0"),
                        service_account: Some(format!("bookinfo-{app}")),
                        container_ports: vec![("http".into(), 9080)],
                        ..Default::default()
                    }];
                    inv.workloads.push(Arc::new(w));
                }
                for app in ["reviews", "ratings", "productpage"] {
                    let mut s = service(app);
                    s.namespace = ns.clone();
                    inv.services.push(Arc::new(s));
                }
                let subset = if n % 10 == 0 { "v9" } else { "v2" };
                let specs = [
                    (IstioKind::VirtualService, json!({"hosts": ["reviews"], "http": [{"route": [
                        {"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
                        {"destination": {"host": "reviews", "subset": subset}, "weight": 20}]}]})),
                    (IstioKind::DestinationRule, json!({"host": "reviews", "subsets": [
                        {"name": "v1", "labels": {"version": "v1"}},
                        {"name": "v2", "labels": {"version": "v2"}}]})),
                    (IstioKind::AuthorizationPolicy, json!({"selector": {"matchLabels": {"app": "ratings"}},
                        "rules": [{"from": [{"source": {"principals": [format!("cluster.local/ns/{ns}/sa/bookinfo-reviews")]}}],
                                   "to": [{"operation": {"methods": ["GET"]}}]}]})),
                    (IstioKind::PeerAuthentication, json!({"mtls": {"mode": "STRICT"}})),
                    (IstioKind::Sidecar, json!({"egress": [{"hosts": ["./*", "istio-system/*"]}]})),
                ];
                for (kind, spec) in specs {
                    objects.entry(kind).or_default().push(ConfigObject {
                        kind,
                        name: format!("{}-{n}", kind.plural()),
                        namespace: ns.clone(),
                        version: "v1".into(),
                        spec,
                    });
                }
            }
            crate::validations::ClusterConfig::new(inv, objects)
        })
        .collect()
}
