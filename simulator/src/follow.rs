//! Watches the VirtualServices and DestinationRules of every cluster (`networking.istio.io/v1`) and hands them to
//! [`Live`] after every change, so that the simulated traffic follows the mesh's routing. A cluster without
//! Istio's CRDs, or one that does not answer, is retried with backoff and counts as having no routing.

use std::sync::Arc;

use futures::{StreamExt, stream::BoxStream};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};

use crate::live::Live;
use crate::routing::{ClusterRouting, Routing};
use crate::serve::now;

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "networking.istio.io".into(),
        version: "v1".into(),
        api_version: "networking.istio.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

struct Watched {
    cluster: String,
    virtual_services: Store<DynamicObject>,
    destination_rules: Store<DynamicObject>,
}

fn values(store: &Store<DynamicObject>) -> Vec<serde_json::Value> {
    let mut list: Vec<serde_json::Value> = store
        .state()
        .iter()
        .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
        .collect();
    // The store's order is a hash map's: sort, so that "the first VirtualService" is stable.
    list.sort_by_key(|v| {
        (
            v["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    list
}

/// Runs until the task is dropped: every change in any cluster re-derives the routing.
pub async fn follow(live: Arc<Live>, clusters: Vec<(String, kube::Client)>) {
    let mut streams: Vec<BoxStream<'static, ()>> = Vec::new();
    let mut watched = Vec::new();
    for (cluster, client) in clusters {
        let mut stores = Vec::new();
        for (kind, plural) in [
            ("VirtualService", "virtualservices"),
            ("DestinationRule", "destinationrules"),
        ] {
            let ar = resource(kind, plural);
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let writer = Writer::new(ar);
            stores.push(writer.as_reader());
            let events = reflector::reflector(writer, watcher(api, watcher::Config::default()))
                .default_backoff()
                .map(|_| ());
            streams.push(events.boxed());
        }
        let destination_rules = stores.pop().expect("two stores");
        let virtual_services = stores.pop().expect("two stores");
        watched.push(Watched {
            cluster,
            virtual_services,
            destination_rules,
        });
    }
    let mut all = futures::stream::select_all(streams);
    while all.next().await.is_some() {
        let routing: Routing = watched
            .iter()
            .map(|w| {
                (
                    w.cluster.clone(),
                    ClusterRouting {
                        virtual_services: values(&w.virtual_services),
                        destination_rules: values(&w.destination_rules),
                    },
                )
            })
            .collect();
        match live.set_routing(routing, now()) {
            Ok(true) => tracing::info!(
                "routing changed: simulated traffic follows the clusters' VirtualServices"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the clusters' routing gives no valid mesh; traffic unchanged")
            }
        }
    }
}
