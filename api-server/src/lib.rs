//! The meshglass server library: cluster registry, caches, Prometheus client, REST API.
