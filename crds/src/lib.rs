//! The `kiali.io/v1alpha1` `Kiali` custom resource shared by the operator and the server.
