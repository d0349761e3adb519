//! The server's own metrics (served on the metrics port).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::registry::Registry as Clusters;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

/// An error response: its route and the error's fixed category ([`crate::error::Error::category`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub route: String,
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub cluster: String,
    pub kind: String,
}

/// Request counters, latency histograms and cluster reachability.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub errors: Family<ErrorLabels, Counter>,
    pub cluster_accessible: Family<ClusterLabels, Gauge>,
    pub cached_objects: Family<KindLabels, Gauge>,
    /// Bytes of list items kept written per cluster ([`crate::namespace_memo`]).
    pub list_items_bytes: Family<ClusterLabels, Gauge>,
    /// Workloads kept built per cluster ([`crate::namespace_memo`]).
    pub kept_workloads: Family<ClusterLabels, Gauge>,
    /// The view caches' counters (`view_cache_*`, [`crate::view_cache`]).
    pub view_cache: crate::view_cache::CacheMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("meshglass_server");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let errors = Family::<ErrorLabels, Counter>::default();
        let cluster_accessible = Family::<ClusterLabels, Gauge>::default();
        let cached_objects = Family::<KindLabels, Gauge>::default();
        let list_items_bytes = Family::<ClusterLabels, Gauge>::default();
        let kept_workloads = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "kept_workloads",
            "Workloads kept built per cluster for the graph, health, validations, lists and details (rebuilt per namespace when it changes)",
            kept_workloads.clone(),
        );
        registry.register(
            "list_items_bytes",
            "Bytes of the list pages' items kept written, per cluster (rewritten per namespace when it changes)",
            list_items_bytes.clone(),
        );
        registry.register(
            "cached_objects",
            "Objects held in the watch caches",
            cached_objects.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "http_errors",
            "Error responses by route and error category (upstream_timeout, kubernetes, ...)",
            errors.clone(),
        );
        registry.register(
            "cluster_accessible",
            "1 when the cluster's API server answered the last probe",
            cluster_accessible.clone(),
        );
        let view_cache = crate::view_cache::CacheMetrics::default();
        view_cache.register(&mut registry);
        Metrics {
            registry,
            requests,
            latency,
            errors,
            cluster_accessible,
            cached_objects,
            list_items_bytes,
            kept_workloads,
            view_cache,
        }
    }
}

impl Metrics {
    /// Adds the authentication's review counters.
    pub fn register_reviews(&mut self, c: &crate::auth::ReviewCounts) {
        self.registry.register(
            "token_reviews",
            "TokenReviews sent to the home cluster",
            c.token_reviews.clone(),
        );
        self.registry.register(
            "token_reviews_refused",
            "Requests refused because the TokenReview rate limit was reached",
            c.token_reviews_refused.clone(),
        );
        self.registry.register(
            "access_reviews",
            "SubjectAccessReviews sent, all clusters",
            c.access_reviews.clone(),
        );
    }

    /// Text exposition, refreshing the per-cluster gauges first.
    pub fn render(&self, clusters: &Arc<Clusters>) -> String {
        self.cluster_accessible.clear();
        self.cached_objects.clear();
        self.list_items_bytes.clear();
        self.kept_workloads.clear();
        for c in clusters.snapshot() {
            let k = &c.cache;
            let counts = [
                ("namespaces", k.namespaces.state().len()),
                ("services", k.services.state().len()),
                ("deployments", k.deployments.state().len()),
                ("statefulsets", k.statefulsets.state().len()),
                ("daemonsets", k.daemonsets.state().len()),
                ("replicasets", k.replicasets.state().len()),
                ("pods", k.pods.state().len()),
            ];
            for (kind, n) in counts {
                let labels = KindLabels {
                    cluster: c.name.clone(),
                    kind: kind.to_string(),
                };
                self.cached_objects.get_or_create(&labels).set(n as i64);
            }
            let cluster = ClusterLabels {
                cluster: c.name.clone(),
            };
            self.list_items_bytes
                .get_or_create(&cluster)
                .set(k.lists.weigh(|w| w.len()) as i64);
            self.kept_workloads
                .get_or_create(&cluster)
                .set(k.workloads.weigh(|w| w.len()) as i64);
            self.cluster_accessible
                .get_or_create(&cluster)
                .set(i64::from(c.state.accessible()));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
