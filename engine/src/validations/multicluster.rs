//! Checks no single-cluster tool can make (beyond Kiali). Here: under namespace sameness an
//! object of one kind, namespace and name is one intent, so one that differs between clusters
//! (MGL0005) is drift. The others live with the kind they concern: MGL0002 in
//! [`super::destination_rule`], MGL0003 in [`super::virtual_service`], MGL0004 in
//! [`super::mtls`], MGL0006 in [`super::gateway`].

use std::collections::HashMap;

use serde_json::Value;

use super::hosts::Mesh;
use super::{Found, check_in};
use crate::istio::IstioKind;

/// The specs of one cluster's objects by kind, namespace and name.
type Specs<'a> = HashMap<(IstioKind, &'a str, &'a str), &'a Value>;

/// MGL0005 for the objects of cluster `ci`.
pub(super) fn differing(mesh: &Mesh<'_>, ci: usize, found: &mut Found) {
    if mesh.clusters.len() < 2 {
        return;
    }
    let others: Vec<(&str, Specs<'_>)> = mesh
        .clusters
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != ci)
        .map(|(_, c)| {
            let m = c
                .objects
                .iter()
                .flat_map(|(k, objs)| {
                    objs.iter()
                        .map(move |o| ((*k, o.namespace.as_str(), o.name.as_str()), &o.spec))
                })
                .collect();
            (c.name(), m)
        })
        .collect();
    for (k, objs) in &mesh.clusters[ci].objects {
        for o in objs {
            let key = (*k, o.namespace.as_str(), o.name.as_str());
            let differ: Vec<String> = others
                .iter()
                .filter(|(_, m)| m.get(&key).is_some_and(|s| **s != o.spec))
                .map(|(n, _)| n.to_string())
                .collect();
            if !differ.is_empty() {
                found.add(o, check_in("MGL0005", "spec", &differ));
            }
        }
    }
}
