//! The server's end-to-end scenario, shared by `server_mesh.rs` and the `server_compare` example:
//! bookinfo split across east and west, Istio config with one broken DestinationRule, a real
//! Prometheus backfilled with Istio metrics at known rates, and west reached through a
//! kubeconfig built from a real ServiceAccount token in a remote-secrets directory.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::{Client, ResourceExt};
use meshglass_testbed::{Prometheus, TestBed, TestNamespace, wait_for_token, wait_until};
use serde_json::{Value, json};

use crate::common::token_kubeconfig;

pub const TIMEOUT: Duration = Duration::from_secs(120);

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid object")
}

pub async fn create<T>(client: &Client, ns: Option<&str>, v: Value)
where
    T: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let o: T = obj(v);
    let ar = ApiResource::erase::<T>(&());
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let mut d: DynamicObject = obj(serde_json::to_value(&o).expect("serialisable"));
    d.types = Some(kube::api::TypeMeta {
        api_version: ar.api_version.clone(),
        kind: ar.kind.clone(),
    });
    match api.create(&PostParams::default(), &d).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("create {}: {e}", o.name_any()),
    }
}

/// A Deployment `<app>-<version>` and, when `unschedulable`, a node selector nothing matches
/// (its pod stays Pending: no available replica).
async fn deploy(client: &Client, ns: &str, app: &str, version: &str, unschedulable: bool) {
    let mut spec = json!({"containers": [{"name": app, "image": format!("example.invalid/{app}:1")}],
                          "serviceAccountName": "default"});
    if unschedulable {
        spec["nodeSelector"] = json!({"meshglass.test/none": "true"});
    }
    create::<Deployment>(
        client,
        Some(ns),
        json!({
            "metadata": {"name": format!("{app}-{version}"), "labels": {"app": app, "version": version}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": app, "version": version}},
                "template": {"metadata": {"labels": {"app": app, "version": version},
                                          "annotations": {"sidecar.istio.io/status": "{}"}},
                             "spec": spec}
            }
        }),
    )
    .await;
}

async fn service(client: &Client, ns: &str, app: &str) {
    create::<Service>(
        client,
        Some(ns),
        json!({"metadata": {"name": app, "labels": {"app": app}},
               "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 9080}]}}),
    )
    .await;
}

pub async fn istio_obj(
    client: &Client,
    ns: &str,
    kind: &str,
    plural: &str,
    group: &str,
    name: &str,
    spec: Value,
) {
    let ar = ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let mut o = DynamicObject::new(name, &ar).within(ns);
    o.data = json!({ "spec": spec });
    api.create(&PostParams::default(), &o)
        .await
        .expect("create Istio object");
}

/// A read-only ServiceAccount for the server on a remote cluster (the kinds it caches, and
/// `create subjectaccessreviews`), and its long-lived token.
pub async fn remote_reader_token(client: &Client) -> String {
    let ns = "kube-system";
    create::<ServiceAccount>(
        client,
        Some(ns),
        json!({"metadata": {"name": "meshglass-server"}}),
    )
    .await;
    create::<ClusterRole>(
        client,
        None,
        json!({"metadata": {"name": "meshglass-server-remote"},
               "rules": [
                 {"apiGroups": [""], "resources": ["namespaces", "services", "pods"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
                  "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io", "gateway.networking.k8s.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}
               ]}),
    )
    .await;
    create::<ClusterRoleBinding>(
        client,
        None,
        json!({"metadata": {"name": "meshglass-server-remote"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshglass-server-remote"},
               "subjects": [{"kind": "ServiceAccount", "name": "meshglass-server", "namespace": ns}]}),
    )
    .await;
    token_of(client, ns, "meshglass-server").await
}

/// A `kubernetes.io/service-account-token` Secret for `sa`; its token once filled in.
pub async fn token_of(client: &Client, ns: &str, sa: &str) -> String {
    let name = format!("{sa}-token");
    create::<Secret>(
        client,
        Some(ns),
        json!({"metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": sa}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    wait_for_token(client, ns, &name, TIMEOUT)
        .await
        .expect("token")
}

pub fn drop_kubeconfig(dir: &Path, cluster: &str, text: &str) {
    let d = dir.join(format!("kiali-remote-cluster-secret-{cluster}"));
    std::fs::create_dir_all(&d).expect("secret dir");
    // Write then rename, as the kubelet's atomic writer does: the server never reads half a file.
    let tmp = d.join(format!(".{cluster}.tmp"));
    std::fs::write(&tmp, text).expect("write kubeconfig");
    std::fs::rename(&tmp, d.join(cluster)).expect("rename kubeconfig");
}

/// One traffic flow of the backfill: `rps` requests per second per response code.
struct Flow<'a> {
    src: (&'a str, &'a str, &'a str), // cluster, app, version
    dst: (&'a str, &'a str, &'a str),
    codes: &'a [(&'a str, f64)],
}

/// The scenario's traffic: productpage(east) → reviews-v1(east) and → reviews-v3(west) with 20 %
/// 5xx, reviews-v3(west) → ratings-v1(west).
const FLOWS: [Flow<'static>; 3] = [
    Flow {
        src: ("east", "productpage", "v1"),
        dst: ("east", "reviews", "v1"),
        codes: &[("200", 1.0)],
    },
    Flow {
        src: ("east", "productpage", "v1"),
        dst: ("west", "reviews", "v3"),
        codes: &[("200", 1.6), ("500", 0.4)],
    },
    Flow {
        src: ("west", "reviews", "v3"),
        dst: ("west", "ratings", "v1"),
        codes: &[("200", 0.5)],
    },
];

/// One `istio_requests_total` series of the scenario: its labels, requests per second, and the
/// cluster whose proxy reports it.
pub struct RequestSeries {
    pub labels: String,
    pub rps: f64,
    pub reported_in: &'static str,
}

/// Every series of the scenario's traffic in namespace `ns` (both reporters). As Istio does, the
/// source reporter says `connection_security_policy="unknown"`.
pub fn request_series(ns: &str) -> Vec<RequestSeries> {
    let mut out = Vec::new();
    for f in &FLOWS {
        for reporter in ["source", "destination"] {
            let reported_in = if reporter == "source" {
                f.src.0
            } else {
                f.dst.0
            };
            for (code, rps) in f.codes {
                let (sc, sa, sv) = f.src;
                let (dc, da, dv) = f.dst;
                let labels = format!(
                    "reporter=\"{reporter}\",source_cluster=\"{sc}\",source_workload=\"{sa}-{sv}\",source_workload_namespace=\"{ns}\",\
                     source_app=\"{sa}\",source_version=\"{sv}\",source_canonical_service=\"{sa}\",source_canonical_revision=\"{sv}\",\
                     source_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",destination_cluster=\"{dc}\",\
                     destination_workload=\"{da}-{dv}\",destination_workload_namespace=\"{ns}\",destination_app=\"{da}\",\
                     destination_version=\"{dv}\",destination_canonical_service=\"{da}\",destination_canonical_revision=\"{dv}\",\
                     destination_service=\"{da}.{ns}.svc.cluster.local\",destination_service_name=\"{da}\",\
                     destination_service_namespace=\"{ns}\",destination_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",\
                     request_protocol=\"http\",response_code=\"{code}\",grpc_response_status=\"\",response_flags=\"-\",\
                     connection_security_policy=\"{}\"",
                    if reporter == "destination" {
                        "mutual_tls"
                    } else {
                        "unknown"
                    }
                );
                out.push(RequestSeries {
                    labels,
                    rps: *rps,
                    reported_in,
                });
            }
        }
    }
    out
}

/// OpenMetrics for the scenario's series, counters growing linearly from `start` to `end` every
/// 15 s, so that `rate()` over any window inside is exactly `rps`.
/// `stored_in`: only the samples a proxy of that cluster reports (source-reported in the source's
/// cluster, destination-reported in the destination's), as a per-cluster Prometheus holds them.
fn openmetrics(ns: &str, start: i64, end: i64, stored_in: Option<&str>) -> String {
    let mut out =
        String::from("# HELP istio_requests Total requests.\n# TYPE istio_requests counter\n");
    for s in request_series(ns) {
        if stored_in.is_some_and(|c| c != s.reported_in) {
            continue;
        }
        let mut t = start;
        while t <= end {
            let v = s.rps * (t - start) as f64;
            let _ = writeln!(out, "istio_requests_total{{{}}} {v} {t}", s.labels);
            t += 15;
        }
    }
    out.push_str("# EOF\n");
    out
}

/// What [`bookinfo_split`] set up.
pub struct Scenario {
    /// The test namespace in east (its name is also used in west).
    pub ns_east: TestNamespace,
    pub ns: String,
    pub prom: Prometheus,
    /// The remote-secrets directory holding west's kubeconfig.
    pub secrets_dir: tempfile::TempDir,
    /// The end of the backfilled data: the `queryTime` of exact answers.
    pub end: i64,
    /// The same samples split by the cluster whose proxies report them (east, west): what a
    /// Prometheus per cluster holds, for Thanos and remote_write set-ups.
    #[allow(dead_code)] // read by the metrics-store tests only
    pub per_cluster: [(String, String); 2],
}

/// Sets up the scenario on `bed` (clusters east and west).
pub async fn bookinfo_split(bed: &TestBed, east: &Client, west: &Client) -> Scenario {
    // Bookinfo split: productpage, reviews-v1 and an unschedulable details-v1 in east;
    // reviews-v3 and ratings-v1 in west. Namespace sameness: the same name in both.
    let ns_east = TestNamespace::create(east, "bookinfo")
        .await
        .expect("namespace");
    let ns = ns_east.name().to_string();
    create::<k8s_openapi::api::core::v1::Namespace>(west, None, json!({"metadata": {"name": ns}}))
        .await;
    deploy(east, &ns, "productpage", "v1", false).await;
    deploy(east, &ns, "reviews", "v1", false).await;
    deploy(east, &ns, "details", "v1", true).await;
    service(east, &ns, "productpage").await;
    service(east, &ns, "reviews").await;
    service(east, &ns, "details").await;
    deploy(west, &ns, "reviews", "v3", false).await;
    deploy(west, &ns, "ratings", "v1", false).await;
    service(west, &ns, "reviews").await;
    service(west, &ns, "ratings").await;
    let (net, sec) = ("networking.istio.io", "security.istio.io");
    istio_obj(
        east,
        &ns,
        "DestinationRule",
        "destinationrules",
        net,
        "reviews",
        json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                              {"name": "v3", "labels": {"version": "v3"}}]}),
    )
    .await;
    istio_obj(
        east,
        &ns,
        "DestinationRule",
        "destinationrules",
        net,
        "broken",
        json!({"host": "no-such-service"}),
    )
    .await;
    istio_obj(
        east,
        &ns,
        "DestinationRule",
        "destinationrules",
        net,
        "ratings",
        json!({"host": "ratings"}),
    )
    .await;
    istio_obj(
        east,
        &ns,
        "VirtualService",
        "virtualservices",
        net,
        "reviews",
        json!({"hosts": ["reviews"], "http": [{"route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
            {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50}]}]}),
    )
    .await;
    istio_obj(
        east,
        &ns,
        "AuthorizationPolicy",
        "authorizationpolicies",
        sec,
        "nobody",
        json!({"selector": {"matchLabels": {"app": "nothing-here"}}}),
    )
    .await;

    for (client, cluster, want) in [(east, "east", 2), (west, "west", 2)] {
        let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        wait_until(
            &format!("{want} available deployments in {cluster}/{ns}"),
            TIMEOUT,
            || async {
                let l = deps.list(&Default::default()).await?;
                let n = l
                    .items
                    .iter()
                    .filter(|d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1))
                    .count();
                Ok::<_, kube::Error>((n == want).then_some(()))
            },
        )
        .await
        .expect("deployments available");
    }

    // Prometheus backfilled with known rates; the query time is the end of the data.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let end = now - now % 60 - 120;
    let start = end - 1800;
    let per_cluster =
        ["east", "west"].map(|c| (c.to_string(), openmetrics(&ns, start, end, Some(c))));
    let prom = Prometheus::start_with_openmetrics(&openmetrics(&ns, start, end, None))
        .await
        .expect("prometheus");

    // West's kubeconfig from a real ServiceAccount token, in the secrets directory.
    let secrets_dir = tempfile::tempdir().expect("tempdir");
    let west_token = remote_reader_token(west).await;
    drop_kubeconfig(
        secrets_dir.path(),
        "west",
        &token_kubeconfig(bed.cluster("west"), &west_token),
    );

    Scenario {
        ns_east,
        ns,
        prom,
        secrets_dir,
        end,
        per_cluster,
    }
}
