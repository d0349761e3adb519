//! The meshglass test bed: real Kubernetes control planes and Prometheus on loopback.
