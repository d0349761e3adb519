//! Container logs of simulated pods: kwok's `Logs` objects map a pod's containers to files, which
//! kwok's kubelet API serves to the API server's `pods/log` (following them when asked). A file
//! holds lines in the container runtime's (CRI) log format, as a kubelet's log files do.

use std::io::Write;
use std::path::Path;

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};

use crate::Error;

/// kwok's `Logs` resource.
fn logs_resource() -> ApiResource {
    ApiResource {
        group: "kwok.x-k8s.io".into(),
        version: "v1alpha1".into(),
        api_version: "kwok.x-k8s.io/v1alpha1".into(),
        kind: "Logs".into(),
        plural: "logs".into(),
    }
}

/// One log line in the CRI format: `<RFC 3339 time> stdout F <message>`.
pub fn cri_line(rfc3339: &str, message: &str) -> String {
    format!("{rfc3339} stdout F {message}\n")
}

/// Appends `lines` (each already a [`cri_line`]) to `file`, creating it when missing.
pub fn append_lines(file: &Path, lines: &[String]) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
    for l in lines {
        f.write_all(l.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
    }
    Ok(())
}

/// Makes kwok serve `file` as the log of each `(container, file)` of pod `ns/pod` (followed as
/// it grows). The files must be readable by kwok (same machine); they may be written later.
pub async fn serve_logs(
    client: &Client,
    ns: &str,
    pod: &str,
    containers: &[(&str, &Path)],
) -> Result<(), Error> {
    let logs: Vec<serde_json::Value> = containers
        .iter()
        .map(|(c, f)| {
            serde_json::json!({
                "containers": [c],
                "logsFile": f.display().to_string(),
                "follow": true,
            })
        })
        .collect();
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": {"name": pod, "namespace": ns},
        "spec": {"logs": logs},
    }))?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &logs_resource());
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_in_the_cri_format() {
        assert_eq!(
            cri_line("2026-12-01T10:00:00.000000001Z", "GET /productpage 200"),
            "2026-12-01T10:00:00.000000001Z stdout F GET /productpage 200\n"
        );
    }
}
