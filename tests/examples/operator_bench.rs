//! Operator figures at scale on the test bed (not part of `make test`; run with
//! `make bench-operator`): the real `meshglass-operator run` process, `--namespaces` (2,000)
//! labelled namespaces `<prefix>-n0000…` and a Kiali CR with `deployment.cluster_wide_access: false`
//! whose discovery selectors match them, so that the operator writes a Role and a RoleBinding in
//! each. Printed: CR created → `Successful` (and the Roles/RoleBindings that exist then), a spec
//! change (`deployment.logger.log_level`) → `Successful` again, CR deleted → gone, the reconciles
//! run, and the operator's peak RSS (VmHWM). The operator is built in this example's profile
//! (`--release` under `make bench-operator`). The scenario is shared with
//! tests/tests/operator_scale.rs (50 namespaces, in `make test`).
//! Usage: `operator_bench [--namespaces 2000] [--timeout-secs 3600]`.

use std::time::{Duration, Instant};

use meshglass_testbed::{TestBed, faults};

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/operator_scale.rs"]
mod operator_scale;
#[allow(
    dead_code,
    reason = "only the command line is read here; the rest starts servers"
)]
mod support;
use support::arg;

#[tokio::main]
async fn main() {
    let n: usize = arg("--namespaces").map_or(2_000, |v| v.parse().expect("--namespaces N"));
    let timeout = Duration::from_secs(
        arg("--timeout-secs").map_or(3_600, |v| v.parse().expect("--timeout-secs S")),
    );
    let release = !cfg!(debug_assertions);
    let started = Instant::now();
    let binary = if release {
        faults::operator_bin_release()
    } else {
        faults::operator_bin()
    }
    .expect("the operator builds");
    eprintln!(
        "operator binary {} ready in {:.1} s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    let bed = TestBed::start(&["east"]).await.expect("test bed");
    let logs = tempfile::tempdir().expect("log dir");
    let figures = operator_scale::run(bed.cluster("east"), &binary, logs.path(), n, timeout).await;
    println!(
        "bench-operator ({} operator, 1 cluster, shared 2-core machine)",
        if release { "release" } else { "debug" }
    );
    for line in figures.lines() {
        println!("  {line}");
    }
    assert_eq!(figures.roles, n, "a Role in every selected namespace");
    assert_eq!(
        figures.bindings, n,
        "a RoleBinding in every selected namespace"
    );
}
