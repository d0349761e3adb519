//! Test fixtures of the simulator's unit tests: the demo topology of the examples, and topologies from YAML.

use crate::{Mesh, Result, Topology};

/// The demo topology (`examples/demo-mesh.yaml`), as `make demo` runs it.
pub const DEMO: &str = include_str!("../../examples/demo-mesh.yaml");

/// Parses and resolves a topology.
pub fn mesh(yaml: &str) -> Result<Mesh> {
    Topology::parse(yaml)?.resolve()
}

/// The demo topology, resolved.
pub fn demo() -> Mesh {
    mesh(DEMO).expect("the demo topology resolves")
}
