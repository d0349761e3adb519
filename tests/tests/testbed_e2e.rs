//! End-to-end tests that prove the test bed is real: two clusters with real API servers,
//! controllers, scheduler and simulated nodes; real service-account tokens and RBAC; the Istio
//! CRDs; isolated clusters; a service range wider than a /24; and Debian's Prometheus with
//! backfilled data.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use meshglass_testbed::{
    Error, Prometheus, SERVICE_CLUSTER_IP_RANGE, StartOptions, TestBed, TestNamespace,
    create_service_account, shared, wait_for_token, wait_until,
};
use serde_json::json;

const CLUSTERS: &[&str] = &["east", "west"];
const TIMEOUT: Duration = Duration::from_secs(90);

fn meta(name: &str, ns: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        ..ObjectMeta::default()
    }
}

fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

#[tokio::test]
async fn deployment_on_west_reaches_two_available_replicas() {
    let bed = shared(CLUSTERS).await.unwrap();
    let client = bed.cluster("west").client().await.unwrap();
    let ns = TestNamespace::create(&client, "deploy").await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns.name());
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": ns.name()},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example.invalid/web:1"}]}
            }
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let available = wait_until(
        "deployment west/web has 2 available replicas",
        TIMEOUT,
        || async {
            let d = deployments.get("web").await?;
            let status = d.status.unwrap_or_default();
            Ok::<_, kube::Error>((status.available_replicas == Some(2)).then_some(status))
        },
    )
    .await
    .unwrap();
    assert_eq!(available.ready_replicas, Some(2));

    let pods: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    let pods = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 2);
    for pod in &pods.items {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(
            node.starts_with("west-node-"),
            "pod on a simulated west node: {node:?}"
        );
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        assert_eq!(phase.as_deref(), Some("Running"));
    }
}

/// Creates a ServiceAccount and a token Secret for it; returns the token once the token
/// controller has filled it in.
async fn service_account_token(client: &Client, ns: &str, sa: &str) -> Result<String, Error> {
    let secret = format!("{sa}-token");
    create_service_account(client, ns, sa, &secret).await?;
    wait_for_token(client, ns, &secret, TIMEOUT).await
}

#[tokio::test]
async fn service_account_token_authenticates_on_east_only() {
    let bed = shared(CLUSTERS).await.unwrap();
    let east = bed.cluster("east");
    let west = bed.cluster("west");
    let admin = east.client().await.unwrap();
    let ns = TestNamespace::create(&admin, "token").await.unwrap();
    let token = service_account_token(&admin, ns.name(), "reader")
        .await
        .unwrap();

    let as_sa = east.client_with_token(&token).await.unwrap();
    let review: SelfSubjectReview = Api::all(as_sa)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_default();
    assert_eq!(user, format!("system:serviceaccount:{}:reader", ns.name()));

    let on_west = west.client_with_token(&token).await.unwrap();
    let err = Api::<SelfSubjectReview>::all(on_west)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap_err();
    assert_eq!(
        status_code(&err),
        Some(401),
        "west must reject east's token: {err}"
    );
}

#[tokio::test]
async fn rbac_is_enforced() {
    let bed = shared(CLUSTERS).await.unwrap();
    let east = bed.cluster("east");
    let admin = east.client().await.unwrap();
    let ns = TestNamespace::create(&admin, "rbac").await.unwrap();
    let token = service_account_token(&admin, ns.name(), "viewer")
        .await
        .unwrap();
    let as_sa = east.client_with_token(&token).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(as_sa, ns.name());

    let err = pods.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(
        status_code(&err),
        Some(403),
        "no binding: listing pods is forbidden: {err}"
    );

    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), ns.name());
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: meta("viewer-view", ns.name()),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".to_string(),
                    kind: "ClusterRole".to_string(),
                    name: "view".to_string(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".to_string(),
                    name: "viewer".to_string(),
                    namespace: Some(ns.name().to_string()),
                    ..Subject::default()
                }]),
            },
        )
        .await
        .unwrap();

    wait_until(
        "the view binding lets the service account list pods",
        TIMEOUT,
        || async {
            match pods.list(&ListParams::default()).await {
                Ok(list) => Ok(Some(list.items.len())),
                Err(e) if status_code(&e) == Some(403) => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await
    .unwrap();

    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "not-allowed", "namespace": ns.name()},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/c:1"}]}
    }))
    .unwrap();
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    assert_eq!(
        status_code(&err),
        Some(403),
        "view cannot create pods: {err}"
    );
}

/// More Services than a /24 holds (254) all get a distinct ClusterIP inside the bed's range:
/// the scenario of hundreds of namespaces with several Services each fits.
#[tokio::test]
async fn three_hundred_services_all_get_cluster_ips() {
    const SERVICES: usize = 300;
    let bed = shared(CLUSTERS).await.unwrap();
    let client = bed.cluster("east").client().await.unwrap();
    let ns = TestNamespace::create(&client, "services").await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), ns.name());
    stream::iter(0..SERVICES)
        .map(|i| {
            let services = services.clone();
            let service: Service = serde_json::from_value(json!({
                "metadata": {"name": format!("svc-{i}")},
                "spec": {"selector": {"app": format!("app-{i}")}, "ports": [{"port": 9080}]}
            }))
            .unwrap();
            async move { services.create(&PostParams::default(), &service).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();

    let (base, prefix) = SERVICE_CLUSTER_IP_RANGE.split_once('/').unwrap();
    let base = u32::from(base.parse::<Ipv4Addr>().unwrap());
    let mask = u32::MAX << (32 - prefix.parse::<u32>().unwrap());
    let listed = services.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), SERVICES);
    let mut ips = BTreeSet::new();
    for svc in &listed.items {
        let ip = svc
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.clone())
            .unwrap_or_default();
        let addr: Ipv4Addr = ip
            .parse()
            .unwrap_or_else(|_| panic!("{:?} has no ClusterIP: {ip:?}", svc.metadata.name));
        assert_eq!(
            u32::from(addr) & mask,
            base,
            "{ip} is inside {SERVICE_CLUSTER_IP_RANGE}"
        );
        ips.insert(addr);
    }
    assert_eq!(ips.len(), SERVICES, "every Service has its own ClusterIP");
}

#[tokio::test]
async fn virtual_service_can_be_created_and_read_back() {
    let bed = shared(CLUSTERS).await.unwrap();
    let client = bed.cluster("east").client().await.unwrap();
    let ns = TestNamespace::create(&client, "istio").await.unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns.name(), &resource);
    let mut vs = DynamicObject::new("reviews", &resource).within(ns.name());
    vs.data = json!({
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 100}]}]
        }
    });
    api.create(&PostParams::default(), &vs).await.unwrap();
    let back = api.get("reviews").await.unwrap();
    assert_eq!(back.data["spec"]["hosts"], json!(["reviews"]));
    assert_eq!(
        back.data["spec"]["http"][0]["route"][0]["destination"]["subset"],
        json!("v1")
    );
}

#[tokio::test]
async fn object_created_on_east_is_absent_on_west() {
    let bed = shared(CLUSTERS).await.unwrap();
    let east = bed.cluster("east").client().await.unwrap();
    let west = bed.cluster("west").client().await.unwrap();
    let ns = TestNamespace::create(&east, "isolation").await.unwrap();
    let cm = ConfigMap {
        metadata: meta("only-on-east", ns.name()),
        data: Some([("cluster".to_string(), "east".to_string())].into()),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(east.clone(), ns.name())
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let on_east = Api::<ConfigMap>::namespaced(east, ns.name())
        .get_opt("only-on-east")
        .await
        .unwrap();
    assert!(on_east.is_some());

    let west_ns = Api::<Namespace>::all(west.clone())
        .get_opt(ns.name())
        .await
        .unwrap();
    assert!(
        west_ns.is_none(),
        "namespace {} must not exist on west",
        ns.name()
    );
    let west_cm = Api::<ConfigMap>::namespaced(west, ns.name())
        .get_opt("only-on-east")
        .await
        .unwrap();
    assert!(west_cm.is_none());
}

#[tokio::test]
async fn prometheus_answers_with_backfilled_value() {
    let openmetrics = "\
# HELP meshglass_testbed_value A backfilled test value.
# TYPE meshglass_testbed_value gauge
meshglass_testbed_value{cluster=\"east\"} 41 1700000000
meshglass_testbed_value{cluster=\"east\"} 42 1700000030
meshglass_testbed_value{cluster=\"east\"} 43 1700000060
# EOF
";
    let prom = Prometheus::start_with_openmetrics(openmetrics)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/query?query=meshglass_testbed_value&time=1700000060",
        prom.url()
    );
    let body: serde_json::Value =
        wait_until("instant query of the backfilled value", TIMEOUT, || async {
            let resp: serde_json::Value = http.get(&url).send().await?.json().await?;
            let has_result = resp["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty());
            Ok::<_, reqwest::Error>(has_result.then_some(resp))
        })
        .await
        .unwrap();
    assert_eq!(body["status"], json!("success"));
    let result = &body["data"]["result"][0];
    assert_eq!(result["metric"]["cluster"], json!("east"));
    assert_eq!(result["value"][1], json!("43"));
}

#[tokio::test]
async fn invalid_cluster_names_are_rejected_before_anything_starts() {
    for bad in ["East", "we_st", "-east", "", "a.b"] {
        let err = TestBed::start(&[bad]).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidClusterName { .. }),
            "{bad:?}: {err}"
        );
    }
    let err = TestBed::start(&["east", "east"]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidClusterName { .. }), "{err}");
}

#[tokio::test]
async fn a_port_in_use_is_reported_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut options = StartOptions::new(&["portcheck"]);
    options.first_port = Some(port);
    let err = TestBed::start_with(options).await.unwrap_err();
    assert!(
        matches!(err, Error::PortInUse { port: p, .. } if p == port),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn owned_bed_restarts_its_api_server_and_stops_everything_on_drop() {
    let bed = TestBed::start(&["solo"]).await.unwrap();
    let solo = bed.cluster("solo");
    let namespaces = || async {
        Api::<Namespace>::all(solo.client().await?)
            .get("default")
            .await
            .map_err(Error::from)
    };
    namespaces().await.unwrap();

    solo.stop_apiserver().unwrap();
    let err = namespaces().await.unwrap_err();
    assert_eq!(err.category(), "kube", "{err}");
    solo.start_apiserver().await.unwrap();
    namespaces().await.unwrap();

    let port = solo.port();
    let dir = bed.run_dir().to_path_buf();
    let pids = bed.pids();
    assert_eq!(
        pids.len(),
        5,
        "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok: {pids:?}"
    );
    drop(bed);
    for (what, pid) in &pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{what} (pid {pid}) still runs after the bed was dropped"
        );
    }
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the API server port is free again");
    assert!(!dir.exists(), "{} was removed", dir.display());
}
