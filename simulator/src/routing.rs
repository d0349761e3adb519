//! Traffic that follows the mesh's routing: the weights of the VirtualServices (and the subsets of the
//! DestinationRules they name) that exist in the clusters replace the `split` of the topology's calls, so that
//! once a routing wizard's objects exist, the simulated sidecars report traffic divided as Istio would divide it.
//!
//! What is followed, as Istio's sidecars apply it:
//! - a VirtualService bound to the mesh (no `gateways`, or `mesh` among them) applies to the services its `hosts`
//!   name (a short name is in the object's own namespace; a name with dots is an FQDN, `name.namespace.svc.<domain>`);
//! - the first `http` route without `match` (the catch-all) decides; routes with matches pick requests by content,
//!   which the simulator does not model. TCP calls keep their split.
//! - each destination of that service gets its `weight` (a single destination without weight gets everything);
//!   its `subset` is looked up in a DestinationRule for the same host, and the subset's labels select the
//!   service's workloads (`version` by version, `app` by app; a subset with other labels selects none and its share
//!   is dropped, as Istio answers "no healthy upstream" for it).
//! - a caller follows the VirtualService of its own cluster (multi-primary: each istiod reads its cluster), else
//!   the one of the first other cluster that has one (primary-remote: the config lives on the primary).
//!
//! A share keeps the response mix and latency the topology gives that version, so a faulty version stays faulty.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::topology::{Split, Topology};

/// The routing objects of one cluster: VirtualServices and DestinationRules as the API server returns them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterRouting {
    pub virtual_services: Vec<Value>,
    pub destination_rules: Vec<Value>,
}

/// Per cluster (by name): its routing objects.
pub type Routing = BTreeMap<String, ClusterRouting>;

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for p in path {
        at = at.get(*p)?;
    }
    at.as_str()
}

/// The (namespace, service) a host names, seen from an object in `ns`; `None` for wildcards and external names.
fn service_of(host: &str, ns: &str) -> Option<(String, String)> {
    if host.contains('*') || host.is_empty() {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((ns.to_owned(), (*name).to_owned())),
        [name, namespace, "svc", ..] => Some(((*namespace).to_owned(), (*name).to_owned())),
        _ => None,
    }
}

/// Whether a VirtualService applies to sidecars (mesh traffic).
fn bound_to_mesh(vs: &Value) -> bool {
    match vs.pointer("/spec/gateways").and_then(Value::as_array) {
        None => true,
        Some(g) if g.is_empty() => true,
        Some(g) => g.iter().any(|x| x.as_str() == Some("mesh")),
    }
}

/// The labels of `subset` in a DestinationRule of `cluster_routing` whose host is the service.
fn subset_labels(
    dr_list: &[Value],
    service: &(String, String),
    subset: &str,
) -> Option<BTreeMap<String, String>> {
    dr_list.iter().find_map(|dr| {
        let ns = str_of(dr, &["metadata", "namespace"]).unwrap_or_default();
        let host = str_of(dr, &["spec", "host"])?;
        if service_of(host, ns).as_ref() != Some(service) {
            return None;
        }
        let s = dr
            .pointer("/spec/subsets")?
            .as_array()?
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(subset))?;
        let labels = s
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Some(labels)
    })
}

/// One share of the routed traffic: the workloads it selects and its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// `version` label the subset selects (`None`: every version).
    pub version: Option<String>,
    /// `app` label the subset selects (`None`: the service's).
    pub app: Option<String>,
    pub weight: f64,
}

/// The shares a cluster's VirtualServices give `service`, if one routes it by weight.
pub fn shares(cluster: &ClusterRouting, service: &(String, String)) -> Option<Vec<Share>> {
    for vs in &cluster.virtual_services {
        let ns = str_of(vs, &["metadata", "namespace"]).unwrap_or_default();
        let names_it = vs
            .pointer("/spec/hosts")
            .and_then(Value::as_array)
            .is_some_and(|hs| {
                hs.iter()
                    .filter_map(Value::as_str)
                    .any(|h| service_of(h, ns).as_ref() == Some(service))
            });
        if !names_it || !bound_to_mesh(vs) {
            continue;
        }
        let Some(route) = vs
            .pointer("/spec/http")
            .and_then(Value::as_array)
            .and_then(|rs| {
                rs.iter().find(|r| {
                    r.get("match")
                        .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty))
                })
            })
            .and_then(|r| r.get("route"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        let single = route.len() == 1;
        let mut out = Vec::new();
        for d in route {
            let host = str_of(d, &["destination", "host"]).unwrap_or_default();
            if service_of(host, ns).as_ref() != Some(service) {
                // Traffic sent to another service: not this service's split.
                continue;
            }
            let weight = match d.get("weight").and_then(Value::as_f64) {
                Some(w) => w,
                None if single => 100.0,
                None => 0.0,
            };
            if weight <= 0.0 {
                continue;
            }
            let (version, app) = match str_of(d, &["destination", "subset"]) {
                None => (None, None),
                Some(subset) => {
                    let Some(labels) = subset_labels(&cluster.destination_rules, service, subset)
                    else {
                        continue;
                    };
                    if labels.keys().any(|k| k != "version" && k != "app") {
                        continue;
                    }
                    (labels.get("version").cloned(), labels.get("app").cloned())
                }
            };
            out.push(Share {
                version,
                app,
                weight,
            });
        }
        return Some(out);
    }
    None
}

/// The topology with every HTTP/gRPC call's split replaced by the weights its caller's cluster routes with.
pub fn apply(topology: &Topology, routing: &Routing) -> Topology {
    let mut t = topology.clone();
    for call in &mut t.calls {
        if call.protocol == crate::Protocol::Tcp {
            continue;
        }
        let service = (call.to.namespace.clone(), call.to.service.clone());
        let own = routing
            .get(&call.from.cluster)
            .and_then(|c| shares(c, &service));
        let Some(list) = own.or_else(|| routing.values().find_map(|c| shares(c, &service))) else {
            continue;
        };
        let Some(svc) = topology
            .services
            .iter()
            .find(|s| s.namespace == service.0 && s.name == service.1)
        else {
            continue;
        };
        let app = svc.app().to_owned();
        let original = std::mem::take(&mut call.split);
        call.split = list
            .into_iter()
            .filter(|s| s.app.as_deref().is_none_or(|a| a == app))
            .filter(|s| {
                // A subset selecting no workload of the service gets nothing (Istio: no healthy upstream).
                topology
                    .backends(svc)
                    .any(|w| s.version.as_deref().is_none_or(|v| w.version() == v))
            })
            .map(|s| {
                let like = original
                    .iter()
                    .find(|o| o.version.is_some() && o.version == s.version);
                Split {
                    cluster: None,
                    workload: None,
                    version: s.version.clone(),
                    weight: s.weight,
                    responses: like.and_then(|o| o.responses.clone()),
                    latency_ms: like.and_then(|o| o.latency_ms),
                }
            })
            .collect();
        if call.split.is_empty() {
            // Nothing routable: keep what the topology says rather than a call without destinations.
            call.split = original;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPO: &str = "
clusters: [east, west]
workloads:
  - {cluster: east, namespace: bookinfo, name: productpage-v1, app: productpage, version: v1}
  - {cluster: east, namespace: bookinfo, name: reviews-v1, app: reviews, version: v1}
  - {cluster: east, namespace: bookinfo, name: reviews-v2, app: reviews, version: v2}
  - {cluster: west, namespace: bookinfo, name: reviews-v3, app: reviews, version: v3}
  - {cluster: west, namespace: bookinfo, name: productpage-v2, app: productpage, version: v2}
services:
  - {namespace: bookinfo, name: reviews, port: 9080}
calls:
  - from: {cluster: east, namespace: bookinfo, workload: productpage-v1}
    to: {namespace: bookinfo, service: reviews}
    rate: 10
    split:
      - {version: v2, weight: 1, responses: {'200': 9, '500': 1}}
      - {version: v1, weight: 1}
      - {version: v3, weight: 1}
  - from: {cluster: west, namespace: bookinfo, workload: productpage-v2}
    to: {namespace: bookinfo, service: reviews}
    rate: 10
";

    /// The golden objects of the UI's wizard test (what Kiali's wizard creates for 50/30/20).
    fn golden() -> (Value, Value) {
        let text = include_str!("../../api-server/ui/tests/unit/golden/reviews-50-30-20.json");
        let g: Value = serde_json::from_str(text).unwrap();
        (g["destinationRule"].clone(), g["virtualService"].clone())
    }

    fn rates(t: &Topology, from: &str) -> BTreeMap<String, f64> {
        let mesh = t.clone().resolve().unwrap();
        let mut out = BTreeMap::new();
        for f in mesh.flows.iter().filter(|f| f.source.name == from) {
            *out.entry(f.destination.name.clone()).or_insert(0.0) += f.rate;
        }
        out
    }

    #[test]
    fn the_wizards_objects_split_calls_by_their_weights() {
        let topo = Topology::parse(TOPO).unwrap();
        let (dr, vs) = golden();
        let routing: Routing = [(
            "east".to_owned(),
            ClusterRouting {
                virtual_services: vec![vs],
                destination_rules: vec![dr],
            },
        )]
        .into();
        let t = apply(&topo, &routing);
        let r = rates(&t, "productpage-v1");
        assert!((r["reviews-v1"] - 5.0).abs() < 1e-9, "{r:?}");
        assert!((r["reviews-v2"] - 3.0).abs() < 1e-9, "{r:?}");
        assert!((r["reviews-v3"] - 2.0).abs() < 1e-9, "{r:?}");
        // v2 keeps its 10 % of 500s.
        let mesh = t.clone().resolve().unwrap();
        let v2 = mesh
            .flows
            .iter()
            .find(|f| f.destination.name == "reviews-v2")
            .unwrap();
        assert_eq!(v2.responses.len(), 2);
        // West's caller: west has no VirtualService, so east's (the primary's) applies.
        let w = rates(&t, "productpage-v2");
        assert!((w["reviews-v1"] - 5.0).abs() < 1e-9, "{w:?}");
        // Without routing objects, the topology's split stays.
        let base = rates(&apply(&topo, &Routing::new()), "productpage-v1");
        assert!((base["reviews-v3"] - 10.0 / 3.0).abs() < 1e-9, "{base:?}");
    }

    #[test]
    fn own_cluster_first_and_what_is_not_followed() {
        let topo = Topology::parse(TOPO).unwrap();
        let (dr, vs) = golden();
        let mut west_vs = vs.clone();
        west_vs["spec"]["http"][0]["route"] = json!([
            {"destination": {"host": "reviews", "subset": "v3"}}
        ]);
        let routing: Routing = [
            (
                "east".to_owned(),
                ClusterRouting {
                    virtual_services: vec![vs.clone()],
                    destination_rules: vec![dr.clone()],
                },
            ),
            (
                "west".to_owned(),
                ClusterRouting {
                    virtual_services: vec![west_vs],
                    destination_rules: vec![dr.clone()],
                },
            ),
        ]
        .into();
        let t = apply(&topo, &routing);
        assert_eq!(
            rates(&t, "productpage-v2").keys().collect::<Vec<_>>(),
            ["reviews-v3"]
        );
        // A gateway-only VirtualService, or one whose only route has a match, does not apply.
        for edit in [
            json!({"gateways": ["bookinfo-gateway"]}),
            json!({"http": [{"match": [{"uri": {"prefix": "/x"}}], "route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}),
        ] {
            let mut v = vs.clone();
            for (k, val) in edit.as_object().unwrap() {
                v["spec"][k] = val.clone();
            }
            let r: Routing = [(
                "east".to_owned(),
                ClusterRouting {
                    virtual_services: vec![v],
                    destination_rules: vec![dr.clone()],
                },
            )]
            .into();
            let got = rates(&apply(&topo, &r), "productpage-v1");
            assert_eq!(got.len(), 3, "{got:?}");
            assert!((got["reviews-v1"] - 10.0 / 3.0).abs() < 1e-9, "{got:?}");
        }
        // A subset missing from the DestinationRule drops its share; the rest is renormalised.
        let mut v = vs.clone();
        v["spec"]["http"][0]["route"][2]["destination"]["subset"] = json!("v9");
        let r: Routing = [(
            "east".to_owned(),
            ClusterRouting {
                virtual_services: vec![v],
                destination_rules: vec![dr],
            },
        )]
        .into();
        let got = rates(&apply(&topo, &r), "productpage-v1");
        assert!((got["reviews-v1"] - 6.25).abs() < 1e-9, "{got:?}");
        assert!(!got.contains_key("reviews-v3"), "{got:?}");
    }

    #[test]
    fn hosts() {
        assert_eq!(
            service_of("reviews", "bookinfo"),
            Some(("bookinfo".into(), "reviews".into()))
        );
        // Istio does not expand `name.namespace`: a name with dots is an FQDN.
        assert_eq!(service_of("reviews.other", "bookinfo"), None);
        assert_eq!(
            service_of("reviews.bookinfo.svc.cluster.local", "x"),
            Some(("bookinfo".into(), "reviews".into()))
        );
        assert_eq!(service_of("*.bookinfo.svc.cluster.local", "x"), None);
        assert_eq!(service_of("example.com", "x"), None);
    }
}
