//! The mesh the simulated sidecars report on, as it is now: the topology's, or — once routing objects exist in
//! the clusters — the one [`crate::routing`] derives from them. A change of the flows restarts the counters
//! (a new origin), as restarted sidecars do; Prometheus' `rate()` reads a counter reset as such, so the rates
//! follow the new weights within one rate window.

use std::sync::{Arc, RwLock};

use crate::routing::{self, Routing};
use crate::{Mesh, Result, Topology};

/// What `/metrics` reads on every scrape.
#[derive(Debug)]
pub struct Live {
    base: Topology,
    state: RwLock<State>,
}

#[derive(Debug)]
struct State {
    mesh: Arc<Mesh>,
    origin: f64,
    routing: Routing,
}

impl Live {
    /// The topology's own mesh, counters starting at `origin` (Unix seconds).
    pub fn new(mesh: Arc<Mesh>, origin: f64) -> Arc<Live> {
        Arc::new(Live {
            base: mesh.topology.clone(),
            state: RwLock::new(State {
                mesh,
                origin,
                routing: Routing::new(),
            }),
        })
    }

    /// The mesh now and the origin of its counters.
    pub fn current(&self) -> (Arc<Mesh>, f64) {
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        (s.mesh.clone(), s.origin)
    }

    /// Follows `routing` from `now` on. Returns whether the flows changed (and the counters restarted); a
    /// routing that gives an invalid mesh is an error and changes nothing.
    pub fn set_routing(&self, routing: Routing, now: f64) -> Result<bool> {
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        if s.routing == routing {
            return Ok(false);
        }
        let mesh = routing::apply(&self.base, &routing).resolve()?;
        s.routing = routing;
        if mesh.flows == s.mesh.flows {
            return Ok(false);
        }
        s.mesh = Arc::new(mesh);
        s.origin = now;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::ClusterRouting;
    use serde_json::json;

    const TOPO: &str = "
clusters: [a]
workloads:
  - {cluster: a, namespace: ns, name: client, app: client}
  - {cluster: a, namespace: ns, name: web-v1, app: web, version: v1}
  - {cluster: a, namespace: ns, name: web-v2, app: web, version: v2}
services:
  - {namespace: ns, name: web, port: 80}
calls:
  - {from: {cluster: a, namespace: ns, workload: client}, to: {namespace: ns, service: web}, rate: 10}
";

    fn routing(weights: [u32; 2]) -> Routing {
        let vs = json!({"metadata": {"namespace": "ns", "name": "web"},
            "spec": {"hosts": ["web"], "http": [{"route": [
                {"destination": {"host": "web", "subset": "v1"}, "weight": weights[0]},
                {"destination": {"host": "web", "subset": "v2"}, "weight": weights[1]}]}]}});
        let dr = json!({"metadata": {"namespace": "ns", "name": "web"},
            "spec": {"host": "web", "subsets": [
                {"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}});
        [(
            "a".to_owned(),
            ClusterRouting {
                virtual_services: vec![vs],
                destination_rules: vec![dr],
            },
        )]
        .into()
    }

    #[test]
    fn a_routing_change_swaps_the_mesh_and_restarts_the_counters() {
        let mesh = Arc::new(Topology::parse(TOPO).unwrap().resolve().unwrap());
        let live = Live::new(mesh, 100.0);
        assert!((live.current().0.flows[0].rate - 5.0).abs() < 1e-9);
        assert!(live.set_routing(routing([80, 20]), 200.0).unwrap());
        let (m, origin) = live.current();
        assert_eq!(origin, 200.0);
        let v1 = m
            .flows
            .iter()
            .find(|f| f.destination.name == "web-v1")
            .unwrap();
        assert!((v1.rate - 8.0).abs() < 1e-9);
        // The same routing again, or routing that gives the same flows: nothing restarts.
        assert!(!live.set_routing(routing([80, 20]), 300.0).unwrap());
        assert!(!live.set_routing(routing([800, 200]), 300.0).unwrap());
        assert_eq!(live.current().1, 200.0);
        // Back to none: the topology's even split.
        assert!(live.set_routing(Routing::new(), 400.0).unwrap());
        assert!((live.current().0.flows[0].rate - 5.0).abs() < 1e-9);
    }
}
