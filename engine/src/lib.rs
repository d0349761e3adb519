//! The meshglass engine: mesh model keyed by cluster, traffic graph and health.
