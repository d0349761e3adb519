//! The meshglass operator library: reconciles `kiali.io/v1alpha1` `Kiali`.

pub mod remote_secret;
