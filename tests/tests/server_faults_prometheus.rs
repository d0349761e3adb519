//! End to end, the fault suite's metrics-store rows: the real `meshglass-server` process on the
//! test bed's east cluster, reading a Prometheus that misbehaves — it hangs, answers HTML, sends a
//! 10 MB error body, streams 2 GB. The faulty Prometheus is a loopback HTTP stand-in
//! (`meshglass_testbed::standin`), since the misbehaviour is the fault being injected. For each:
//! the metrics route answers a 503 naming the failure within its bound (no upstream body in it),
//! `/api/status` says the store is not healthy, an unaffected route polled every 50 ms keeps
//! answering, the server's peak RSS stays bounded, and its pid never changes. Each fault prints
//! its `FAULT | …` line (README, "Fault and abuse suite").

use std::time::{Duration, Instant};

use meshglass_testbed::faults::{LatencyProbe, ServerProcess, peak_rss_mib, print_fault_line};
use meshglass_testbed::standin::{Behaviour, StandIn};
use meshglass_testbed::{TestNamespace, wait_until};

/// A route that reads no metrics: it must not notice the fault.
const UNAFFECTED: &str = "/api/namespaces";
/// The server's Prometheus timeout (its default) plus the margin of one request.
const HANG_MAX: Duration = Duration::from_secs(13);
/// Every other fault is seen at once.
const DETECT_MAX: Duration = Duration::from_secs(5);
const RECOVER_MAX: Duration = Duration::from_secs(5);
/// A streamed answer is cut at 64 MiB per query, and at most 8 queries run at once: 512 MiB of
/// bodies at worst, never the 2 GB the store offers.
const RSS_MAX_MIB: u64 = 600;
const READ_MAX: u64 = 8 * (64 << 20) + (64 << 20);
/// An unaffected route stays fast while the metrics store misbehaves.
const UNAFFECTED_MAX_MS: u64 = 2_000;

struct Fault {
    name: &'static str,
    behaviour: Behaviour,
    reason: &'static str,
    detect_max: Duration,
}

#[tokio::test]
async fn prometheus_faults_give_named_503s_and_nothing_else_breaks() {
    let bed = meshglass_testbed::shared(&["east"])
        .await
        .expect("test bed");
    let client = bed.cluster("east").client().await.expect("client");
    let ns = TestNamespace::create(&client, "prom-faults")
        .await
        .expect("namespace");
    let prom = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let dir = tempfile::tempdir().expect("dir");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("secrets dir");
    // Every request must reach the store as it fails: no view cache between them (a cached view
    // keeps its last answer while its refreshes fail, by design), so the caches are off here.
    let mut server = ServerProcess::start(
        bed,
        dir.path(),
        &secrets,
        &format!(
            "auth:\n  strategy: anonymous\nkubernetes_config:\n  cluster_name: east\nkiali_internal:\n  graph_cache: {{enabled: false}}\n  health_cache: {{enabled: false}}\nexternal_services:\n  prometheus:\n    url: {}\n",
            prom.url()
        ),
    )
    .await
    .expect("server");
    let pid = server.pid;
    let metrics = format!(
        "/api/namespaces/graph?namespaces={}&graphType=workload&duration=60s",
        ns.name()
    );
    let (st, body) = server.get(&metrics).await;
    assert_eq!(st, 200, "the graph over a healthy store: {body}");

    let faults = [
        Fault {
            name: "Prometheus hangs (accepts, never answers)",
            behaviour: Behaviour::Hang,
            reason: "timeout",
            detect_max: HANG_MAX,
        },
        Fault {
            name: "Prometheus answers HTML (a login page, 200)",
            behaviour: Behaviour::Html,
            reason: "not_json",
            detect_max: DETECT_MAX,
        },
        Fault {
            name: "Prometheus sends a 10 MB error body (500)",
            behaviour: Behaviour::ErrorBody(10 << 20),
            reason: "server_error",
            detect_max: DETECT_MAX,
        },
        Fault {
            name: "Prometheus streams 2 GB (200, no length)",
            behaviour: Behaviour::Stream(2 << 30),
            reason: "too_large",
            detect_max: DETECT_MAX,
        },
    ];
    for f in &faults {
        let probe = LatencyProbe::start(&server, UNAFFECTED);
        let sent_before = prom.bytes_sent();
        prom.set(f.behaviour);
        let t = Instant::now();
        let (st, body) = server.get(&metrics).await;
        let detect = t.elapsed();
        assert_eq!(
            (st, body["reason"].as_str()),
            (503, Some(f.reason)),
            "{}: {body}",
            f.name
        );
        assert!(
            detect <= f.detect_max,
            "{}: the 503 took {detect:?} (bound {:?})",
            f.name,
            f.detect_max
        );
        let text = body.to_string();
        assert!(
            !text.contains("<html") && !text.contains("EEEE") && !text.contains(prom.url()),
            "{}: the 503 quotes the upstream: {text}",
            f.name
        );
        let (_, status) = server.get("/api/status").await;
        assert_ne!(
            status["status"]["Prometheus health"], "Healthy",
            "{}: {status}",
            f.name
        );
        // The stream is cut at the cap, not read to its end.
        let read = prom.bytes_sent() - sent_before;
        if matches!(f.behaviour, Behaviour::Stream(_)) {
            assert!(
                read < READ_MAX,
                "{}: the server read {} MiB of the stream",
                f.name,
                read >> 20
            );
            println!("{}: the server read {} MiB of 2048", f.name, read >> 20);
        }

        prom.set(Behaviour::Empty);
        let t = Instant::now();
        wait_until("the graph again", RECOVER_MAX, || async {
            let (st, _) = server.get(&metrics).await;
            Ok::<_, String>((st == 200).then_some(()))
        })
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let recover = t.elapsed();
        let (worst, failures, route) = probe.stop().await;
        server.assert_running();
        assert_eq!(server.pid, pid, "the server never restarts");
        let rss = peak_rss_mib(pid);
        print_fault_line(
            f.name,
            Some(detect),
            Some(recover),
            worst,
            &route,
            rss,
            None,
        );
        assert_eq!(failures, 0, "{}: {route} failed {failures} times", f.name);
        assert!(
            worst <= UNAFFECTED_MAX_MS,
            "{}: {route} took {worst} ms",
            f.name
        );
        assert!(
            rss <= RSS_MAX_MIB,
            "{}: peak RSS {rss} MiB (bound {RSS_MAX_MIB})",
            f.name
        );
    }
}
