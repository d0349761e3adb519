//! Conformance with Kiali's REST model types: every route the server serves, answered on the real
//! test bed (east/west, the server scenario of `scenario/mod.rs`), decoded into Kiali's shapes as
//! written in `kiali/mod.rs` (required fields non-`Option`, closed models deny unknown fields).
//! A missing, misspelled or mistyped field fails the decode, naming it.
//!
//! Issue 22's points, each failing before and passing after: (1) `ports` of service overviews is
//! a name → number map; (2) `health=true`/`validate=true` on details; (3) an unknown appender is
//! a 400; (4) health lists a namespace that exists nowhere as an empty entry; (7) the istio
//! appender's badges on graph nodes; and (5) a WorkloadGroup listed as a workload, its
//! WorkloadEntries as its replicas.

use std::collections::BTreeMap;

mod common;
mod kiali;
mod scenario;
use meshglass_testbed::wait_until;
use scenario::{TIMEOUT, istio_obj};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("server answers");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// GETs `path` (200 expected) and decodes it as Kiali's `T`, failing on the first field
    /// that does not fit.
    async fn decode<T: DeserializeOwned>(&self, path: &str) -> (T, Value) {
        let (st, body) = self.get(path).await;
        assert_eq!(st, 200, "GET {path}: {body}");
        let t = serde_json::from_value::<T>(body.clone()).unwrap_or_else(|e| {
            panic!(
                "GET {path} is not Kiali's {}: {e}\n{body:#}",
                std::any::type_name::<T>()
            )
        });
        (t, body)
    }
}

fn config(prom: &str) -> meshglass_server::Config {
    meshglass_server::Config::from_yaml(&format!(
        "auth:\n  strategy: anonymous\nserver:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: {prom}\n"
    ))
    .expect("config")
}

fn node<'a>(g: &'a kiali::GraphConfig, cluster: &str, service: &str) -> &'a kiali::NodeData {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .find(|d| {
            d.node_type == "service"
                && d.cluster == cluster
                && d.service.as_deref() == Some(service)
        })
        .unwrap_or_else(|| panic!("no service node {cluster}/{service}"))
}

#[tokio::test]
async fn every_route_decodes_as_kiali_models() {
    let bed = common::east_west_bed().await;
    let (east, west) = common::east_west(bed).await;
    let sc = scenario::bookinfo_split(bed, &east, &west).await;
    let ns = sc.ns.clone();
    // Istio config the badges come from: in west, a circuit breaker and a timeout with a fault for
    // reviews, and a tcp split for ratings (east's VirtualService splits reviews over v1/v3).
    let net = "networking.istio.io";
    istio_obj(&west, &ns, "DestinationRule", "destinationrules", net, "reviews-cb",
        json!({"host": "reviews", "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5}}})).await;
    istio_obj(&west, &ns, "VirtualService", "virtualservices", net, "reviews-west",
        json!({"hosts": ["reviews"], "http": [{"timeout": "3s", "fault": {"abort": {"httpStatus": 503, "percentage": {"value": 1}}},
                                               "route": [{"destination": {"host": "reviews"}}]}]})).await;
    istio_obj(&west, &ns, "VirtualService", "virtualservices", net, "ratings",
        json!({"hosts": ["ratings"], "tcp": [{"route": [{"destination": {"host": "ratings", "port": {"number": 9080}}, "weight": 90},
                                                        {"destination": {"host": "ratings.other.svc.cluster.local"}, "weight": 10}]}]})).await;

    // (5) A WorkloadGroup with the WorkloadEntry it created (a VM that registered itself).
    istio_obj(&east, &ns, "WorkloadGroup", "workloadgroups", net, "vm",
        json!({"metadata": {"labels": {"app": "vm", "version": "v1"}}, "template": {"serviceAccount": "default"}})).await;
    let we = kube::api::ApiResource {
        group: net.into(),
        version: "v1".into(),
        api_version: format!("{net}/v1"),
        kind: "WorkloadEntry".into(),
        plural: "workloadentries".into(),
    };
    let mut entry = kube::api::DynamicObject::new("vm-10.1.0.7", &we).within(&ns);
    entry.metadata.labels = Some(
        [
            ("app".to_string(), "vm".to_string()),
            ("version".to_string(), "v1".to_string()),
        ]
        .into(),
    );
    entry.data = json!({"spec": {"address": "10.1.0.7", "labels": {"app": "vm", "version": "v1"}}});
    kube::Api::<kube::api::DynamicObject>::namespaced_with(east.clone(), &ns, &we)
        .create(&Default::default(), &entry)
        .await
        .expect("WorkloadEntry");

    let server =
        common::start_ready_server(bed, config(sc.prom.url()), "east", sc.secrets_dir.path()).await;
    let api = Client {
        http: reqwest::Client::new(),
        base: server.base_url(),
    };
    wait_until(
        "workloads and Istio config of both clusters cached",
        TIMEOUT,
        || async {
            let (_, w) = api
                .get(&format!("/api/clusters/workloads?namespaces={ns}"))
                .await;
            let (_, c) = api
                .get(&format!(
                    "/api/istio/config?clusterName=west&namespaces={ns}"
                ))
                .await;
            let n = w["workloads"].as_array().map_or(0, Vec::len);
            let vs = c["resources"]["networking.istio.io/v1, Kind=VirtualService"]
                .as_array()
                .map_or(0, Vec::len);
            Ok::<_, String>((n == 6 && vs == 2).then_some(()))
        },
    )
    .await
    .expect("caches");
    let end = sc.end;

    // Status, auth, config, namespaces.
    for path in ["/api", "/api/status"] {
        let (s, _) = api.decode::<kiali::StatusInfo>(path).await;
        assert_eq!(s.status["Kiali state"], "running");
    }
    let (auth, _) = api.decode::<kiali::AuthInfo>("/api/auth/info").await;
    assert_eq!(auth.strategy, "anonymous");
    let (cfg, _) = api.decode::<kiali::PublicConfig>("/api/config").await;
    let clusters = cfg.clusters.expect("clusters");
    assert!(clusters["east"].is_kiali_home && clusters["west"].accessible);
    let (nss, _) = api.decode::<Vec<kiali::Namespace>>("/api/namespaces").await;
    assert!(nss.iter().any(|n| n.name == ns && n.cluster == "west"));

    // Lists.
    let (apps, _) = api
        .decode::<kiali::ClusterApps>(&format!("/api/clusters/apps?namespaces={ns}"))
        .await;
    assert_eq!(
        apps.applications
            .iter()
            .filter(|a| a.name == "reviews")
            .count(),
        2
    );
    let (wls, _) = api
        .decode::<kiali::ClusterWorkloads>(&format!("/api/clusters/workloads?namespaces={ns}"))
        .await;
    assert!(wls.workloads.iter().all(|w| w.created_at.contains('T')));
    let vm = wls
        .workloads
        .iter()
        .find(|w| w.name == "vm")
        .expect("the WorkloadGroup is a workload");
    assert_eq!(
        (vm.gvk.group.as_str(), vm.gvk.kind.as_str()),
        ("networking.istio.io", "WorkloadGroup")
    );
    assert!(vm.istio_sidecar && vm.app_label && vm.pod_count == 0);
    let (vmd, _) = api
        .decode::<kiali::Workload>(&format!("/api/namespaces/{ns}/workloads/vm"))
        .await;
    assert_eq!((vmd.desired_replicas, vmd.available_replicas), (1, 1));
    assert!(apps.applications.iter().any(|a| a.name == "vm"));
    // (1) ports: name → number.
    let (svcs, _) = api
        .decode::<kiali::ClusterServices>(&format!("/api/clusters/services?namespaces={ns}"))
        .await;
    let reviews = svcs
        .services
        .iter()
        .find(|s| s.name == "reviews")
        .expect("reviews");
    assert_eq!(reviews.ports, BTreeMap::from([("http".to_string(), 9080)]));

    // Details, with (2) health and validations.
    let q = format!("health=true&validate=true&rateInterval=600s&queryTime={end}");
    let (app, _) = api
        .decode::<kiali::App>(&format!("/api/namespaces/{ns}/apps/reviews?{q}"))
        .await;
    assert_eq!(app.clusters, vec!["east", "west"]);
    let h = app.health.expect("app health");
    assert_eq!(h.workload_statuses.len(), 2);
    assert!(h.requests.inbound["http"]["500"] > 0.0, "{:?}", h.requests);
    let (w, _) = api
        .decode::<kiali::Workload>(&format!("/api/namespaces/{ns}/workloads/reviews-v3?{q}"))
        .await;
    assert_eq!(w.cluster, "west");
    assert_eq!(
        w.services[0].ports,
        BTreeMap::from([("http".to_string(), 9080)])
    );
    let wh = w.health.expect("workload health");
    assert_eq!(wh.workload_status.expect("status").available_replicas, 1);
    assert!(
        (wh.requests.inbound["http"]["500"] - 0.4).abs() < 1e-9,
        "{:?}",
        wh.requests
    );
    assert!(
        w.pods[0]
            .istio_containers
            .iter()
            .any(|c| c.name == "istio-proxy")
    );
    let (svc, _) = api
        .decode::<kiali::ServiceDetails>(&format!("/api/namespaces/{ns}/services/reviews?{q}"))
        .await;
    let instances = svc.instances.expect("instances");
    let west_svc = instances
        .iter()
        .find(|i| i.cluster == "west")
        .expect("west instance");
    assert_eq!(west_svc.service.ports[0].port, 9080);
    let mut vs: Vec<&str> = west_svc
        .virtual_services
        .iter()
        .map(|o| o.metadata.name.as_str())
        .collect();
    vs.sort();
    assert_eq!(vs, ["reviews-west"]);
    assert_eq!(west_svc.destination_rules[0].metadata.name, "reviews-cb");
    assert!(
        west_svc.validations["networking.istio.io/v1, Kind=DestinationRule"]
            [format!("reviews-cb.{ns}")]
        .is_object(),
        "{}",
        west_svc.validations
    );
    let east_svc = instances
        .iter()
        .find(|i| i.cluster == "east")
        .expect("east instance");
    // Endpoints are the running pods with an IP (kwok may not give one).
    assert!(
        east_svc.endpoints.iter().all(|e| e.ports[0].port == 9080),
        "{:?}",
        east_svc.endpoints
    );
    assert!(svc.health.expect("service health").requests.inbound["http"]["200"] > 0.0);

    // Istio config and validations.
    let (icl, _) = api
        .decode::<kiali::IstioConfigList>(&format!(
            "/api/istio/config?namespaces={ns}&validate=true"
        ))
        .await;
    assert_eq!(icl.cluster, "east");
    let dr = &icl.validations.expect("validations")["networking.istio.io/v1, Kind=DestinationRule"];
    assert!(!dr[&format!("broken.{ns}")].valid);
    let (sums, _) = api
        .decode::<BTreeMap<String, BTreeMap<String, kiali::IstioValidationSummary>>>(&format!(
            "/api/istio/validations?namespaces={ns}"
        ))
        .await;
    let east_sum = &sums["east"];
    assert!(east_sum[&ns].errors >= 1);

    // Istio config details: the object, its validation, references (across clusters), help.
    let (det, _) = api
        .decode::<kiali::IstioConfigDetails>(&format!(
            "/api/namespaces/{ns}/istio/networking.istio.io/v1/DestinationRule/broken?validate=true&help=true"
        ))
        .await;
    assert_eq!(
        (det.cluster.as_str(), det.gvk.kind.as_str()),
        ("east", "DestinationRule")
    );
    assert_eq!(det.resource.metadata.name, "broken");
    let v = det.validation.expect("validation");
    assert!(!v.valid && v.checks.iter().any(|c| c.code == "KIA0202"));
    assert!(
        det.help
            .expect("help")
            .iter()
            .any(|h| h.object_field == "spec.host")
    );
    let (det, _) = api
        .decode::<kiali::IstioConfigDetails>(&format!(
            "/api/namespaces/{ns}/istio/networking.istio.io/v1/VirtualService/reviews-west?clusterName=west"
        ))
        .await;
    assert!(det.validation.is_none() && det.help.is_none());
    let refs = det.references.expect("references");
    assert!(
        refs.object_references
            .iter()
            .any(|r| r.name == "reviews-cb" && r.cluster == "west"),
        "{refs:?}"
    );
    assert!(
        refs.service_references
            .iter()
            .any(|r| r.name == "reviews" && r.cluster == "east")
    );

    // Health, with (4) a namespace that exists nowhere.
    for kind in ["app", "service", "workload"] {
        let (h, _) = api
            .decode::<kiali::ClustersNamespaceHealth>(&format!(
                "/api/clusters/health?namespaces={ns},no-such-ns&type={kind}&rateInterval=600s&queryTime={end}"
            ))
            .await;
        let (by_ns_len, missing_ns_empty) = match kind {
            "app" => {
                let m = h.namespace_app_health.expect(kind);
                (m[&ns].len(), m["no-such-ns"].is_empty())
            }
            "service" => {
                let m = h.namespace_service_health.expect(kind);
                (m[&ns].len(), m["no-such-ns"].is_empty())
            }
            _ => {
                let m = h.namespace_workload_health.expect(kind);
                (m[&ns].len(), m["no-such-ns"].is_empty())
            }
        };
        assert!(by_ns_len > 0 && missing_ns_empty, "{kind}");
    }

    // Graphs, with (7) the istio appender's badges; (3) an unknown appender is a 400.
    let gq = format!("duration=600s&queryTime={end}");
    let (g, _) = api
        .decode::<kiali::GraphConfig>(&format!("/api/namespaces/graph?namespaces={ns}&graphType=versionedApp&injectServiceNodes=true&{gq}"))
        .await;
    let east_reviews = node(&g, "east", "reviews");
    assert_eq!(east_reviews.has_traffic_shifting, Some(true));
    assert_eq!(
        east_reviews
            .has_vs
            .as_ref()
            .and_then(|v| v.hostnames.clone()),
        Some(vec!["reviews".to_string()])
    );
    assert_eq!(east_reviews.has_cb, None, "no circuit breaker in east");
    let west_reviews = node(&g, "west", "reviews");
    assert_eq!(west_reviews.has_cb, Some(true));
    assert_eq!(west_reviews.has_request_timeout, Some(true));
    assert_eq!(west_reviews.has_fault_injection, Some(true));
    assert_eq!(west_reviews.has_traffic_shifting, None);
    assert_eq!(
        node(&g, "west", "ratings").has_tcp_traffic_shifting,
        Some(true)
    );
    for path in [
        format!("/api/namespaces/{ns}/workloads/reviews-v3/graph?graphType=workload&{gq}"),
        format!("/api/namespaces/{ns}/apps/reviews/graph?graphType=app&{gq}"),
        format!("/api/namespaces/{ns}/applications/reviews/graph?graphType=versionedApp&{gq}"),
        format!(
            "/api/namespaces/{ns}/applications/reviews/versions/v3/graph?graphType=versionedApp&{gq}"
        ),
        format!("/api/namespaces/{ns}/services/reviews/graph?graphType=workload&{gq}"),
    ] {
        let (g, _) = api.decode::<kiali::GraphConfig>(&path).await;
        assert!(!g.elements.nodes.is_empty(), "{path}");
    }
    let (st, b) = api
        .get(&format!(
            "/api/namespaces/graph?namespaces={ns}&appenders=deadNode,nosuch&{gq}"
        ))
        .await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["parameter"], "appenders");
    assert!(
        b["error"].as_str().unwrap_or_default().contains("nosuch"),
        "{b}"
    );

    // Metrics (4 routes) and dashboards (3), from the real Prometheus.
    let mq = format!(
        "direction=inbound&reporter=destination&byLabels[]=destination_cluster&quantiles[]=0.5\
         &duration=600&step=15&rateInterval=60s&queryTime={end}"
    );
    for target in [
        "",
        "/workloads/reviews-v3",
        "/apps/reviews",
        "/services/reviews",
    ] {
        let (m, _) = api
            .decode::<kiali::MetricsMap>(&format!("/api/namespaces/{ns}{target}/metrics?{mq}"))
            .await;
        let counts = m.get("request_count").map_or(0, Vec::len);
        assert!(counts > 0, "{target}: request_count in {:?}", m.keys());
    }
    for target in ["workloads/reviews-v3", "apps/reviews", "services/reviews"] {
        let (d, _) = api
            .decode::<kiali::MonitoringDashboard>(&format!(
                "/api/namespaces/{ns}/{target}/dashboard?{mq}"
            ))
            .await;
        assert_eq!((d.title.as_str(), d.charts.len()), ("Inbound Metrics", 12));
        assert!(!d.charts[0].metrics.is_empty(), "{target}: request volume");
    }

    // mTLS status (3 routes): no PeerAuthentication or DestinationRule for mTLS in the scenario.
    let (m, _) = api.decode::<kiali::MtlsStatus>("/api/mesh/tls").await;
    assert_eq!(
        (m.status.as_str(), m.auto_mtls_enabled),
        ("MTLS_NOT_ENABLED", true)
    );
    let (n, _) = api
        .decode::<kiali::MtlsStatus>(&format!("/api/namespaces/{ns}/tls?clusterName=west"))
        .await;
    assert_eq!(
        (n.cluster.as_deref(), n.namespace.as_deref()),
        (Some("west"), Some(ns.as_str()))
    );
    let (l, _) = api
        .decode::<Vec<kiali::MtlsStatus>>(&format!("/api/clusters/tls?namespaces={ns}"))
        .await;
    assert_eq!(l.len(), 1);

    // A pod (Kiali's `Pod`, plus its `namespace` and `missingClusters`); its logs' `PodLogs` are
    // decoded by pod_logs.rs, where kwok serves them.
    let pod_name = w.pods[0].name.clone();
    let (st, mut pod) = api
        .get(&format!("/api/namespaces/{ns}/pods/{pod_name}"))
        .await;
    assert_eq!(st, 200, "{pod}");
    let obj = pod.as_object_mut().expect("an object");
    assert_eq!(obj.remove("namespace"), Some(json!(ns)));
    assert!(obj.remove("missingClusters").is_some_and(|m| m.is_array()));
    let pod: kiali::Pod = serde_json::from_value(pod).expect("Kiali's Pod");
    assert_eq!(pod.cluster, "west");
    drop(sc.ns_east);
}
