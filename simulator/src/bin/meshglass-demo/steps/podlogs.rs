//! Container logs of the demo's pods: for every container of every pod of the demo namespaces, a log
//! file under `<state dir>/podlogs/<cluster>/<namespace>/<pod>/<container>.log` in the CRI format,
//! served through the API server's `pods/log` by kwok's `Logs` objects (followed as the file grows,
//! so appending a line to it shows in a followed log). The application's lines and the sidecar's
//! Envoy access lines speak of the same requests.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};
use meshglass_testbed::podlogs::{append_lines, cri_line, serve_logs};

/// Lines each container's file starts with.
const LINES: usize = 24;
/// Seconds between two of them (the last one is "now").
const EVERY_SECS: i64 = 10;

/// The file a container's log is kept in.
pub fn log_file(state_dir: &Path, cluster: &str, ns: &str, pod: &str, container: &str) -> PathBuf {
    state_dir
        .join("podlogs")
        .join(cluster)
        .join(ns)
        .join(pod)
        .join(format!("{container}.log"))
}

/// The messages of container `container` of `app`'s pod: line `i` of [`LINES`]. An application
/// logs its requests (one warning and one error among them); the sidecar logs Envoy access lines.
fn message(app: &str, container: &str, i: usize) -> String {
    let path = format!("/{app}/{}", i % 4);
    if container == "istio-proxy" {
        let code = if i % 11 == 7 { 503 } else { 200 };
        format!(
            "[envoy] \"GET {path} HTTP/1.1\" {code} - via_upstream - \"-\" 0 {} {} {} \"-\" \"curl/8.5\" inbound|9080||",
            180 + i,
            5 + i % 7,
            4 + i % 7
        )
    } else if i % 11 == 7 {
        format!("ERROR {app}: request {path} failed: upstream connect error")
    } else if i % 13 == 5 {
        format!("WARN {app}: slow request {path} took {} ms", 400 + i)
    } else {
        format!("INFO {app}: GET {path} 200 in {} ms", 5 + i % 7)
    }
}

/// The CRI lines of a container, the last one at `now`.
fn lines(app: &str, container: &str, now: jiff::Timestamp) -> Vec<String> {
    (0..LINES)
        .map(|i| {
            let back = EVERY_SECS * (LINES - 1 - i) as i64;
            let t = now - jiff::SignedDuration::from_secs(back);
            cri_line(&t.to_string(), &message(app, container, i))
        })
        .collect()
}

/// Writes the log files of every pod of `namespaces` on `cluster` and has kwok serve them;
/// returns how many containers have logs.
pub async fn serve_pod_logs(
    state_dir: &Path,
    cluster: &str,
    client: &Client,
    namespaces: &[String],
) -> anyhow::Result<usize> {
    let now = jiff::Timestamp::now();
    let mut served = 0;
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        for pod in pods.list(&ListParams::default()).await? {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let app = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .cloned()
                .unwrap_or_else(|| name.clone());
            let containers: Vec<String> = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
                .collect();
            let mut files = Vec::new();
            for c in &containers {
                let file = log_file(state_dir, cluster, ns, &name, c);
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                if !file.exists() {
                    append_lines(&file, &lines(&app, c, now))?;
                }
                files.push((c.as_str(), file));
            }
            let refs: Vec<(&str, &Path)> = files.iter().map(|(c, f)| (*c, f.as_path())).collect();
            match serve_logs(client, ns, &name, &refs).await {
                Ok(()) => {}
                // A demo started again on the same clusters: kwok already serves these files.
                Err(meshglass_testbed::Error::Kube(kube::Error::Api(e))) if e.code == 409 => {}
                Err(e) => return Err(e).with_context(|| format!("kwok Logs of {ns}/{name}")),
            }
            served += containers.len();
        }
    }
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_and_its_sidecar_log_the_same_requests_ending_now() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let app = lines("reviews", "reviews", now);
        let proxy = lines("reviews", "istio-proxy", now);
        assert_eq!(app.len(), LINES);
        assert_eq!(
            app[LINES - 1],
            "2026-12-01T10:00:00Z stdout F INFO reviews: GET /reviews/3 200 in 7 ms\n"
        );
        assert!(app[0].starts_with("2026-12-01T09:56:10Z stdout F "));
        assert!(
            app.iter()
                .any(|l| l.contains(" F ERROR reviews: request /reviews/3 failed"))
        );
        assert!(
            app.iter()
                .any(|l| l.contains(" F WARN reviews: slow request"))
        );
        assert!(proxy[7].contains("\"GET /reviews/3 HTTP/1.1\" 503"));
    }
}
