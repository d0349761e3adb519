//! Kiali's JSON of health — an entity's `AppHealth` / `WorkloadHealth` / `ServiceHealth` with
//! its computed `status`, and the `/api/clusters/health` body — written straight into bytes.
//! The bytes are those `serde_json` writes for the same answer built as a `Value` tree (object
//! keys sorted, non-finite numbers as `null`), without building the tree: a graph of a big mesh
//! writes one entry per node, and the trees were a tenth of its CPU. `tests/health_json.rs`
//! compares both on varied reports.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{EntityHealth, HealthKind, HealthReport, RequestHealth, WorkloadStatus};

impl EntityHealth {
    /// Appends Kiali's JSON of this entity (`AppHealth`, `WorkloadHealth` or `ServiceHealth`,
    /// plus the computed `status`) to `out`.
    pub fn write_kiali_json(&self, out: &mut Vec<u8>) {
        // Keys in sorted order: requests < status < workloadStatus(es).
        out.extend_from_slice(b"{\"requests\":");
        requests(out, &self.requests);
        out.extend_from_slice(b",\"status\":{\"errorRatio\":");
        value(out, &self.error_ratio);
        out.extend_from_slice(b",\"status\":");
        value(out, self.status.as_str());
        out.push(b'}');
        match self.kind {
            HealthKind::App => {
                out.extend_from_slice(b",\"workloadStatuses\":[");
                for (i, w) in self.workload_statuses.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    workload_status(out, w);
                }
                out.push(b']');
            }
            HealthKind::Workload => {
                out.extend_from_slice(b",\"workloadStatus\":");
                match self.workload_statuses.first() {
                    Some(w) => workload_status(out, w),
                    None => out.extend_from_slice(b"null"),
                }
            }
            HealthKind::Service => {}
        }
        out.push(b'}');
    }

    /// [`EntityHealth::write_kiali_json`] into a buffer of its own.
    pub fn kiali_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_kiali_json(&mut out);
        out
    }
}

impl HealthReport {
    /// Kiali's `/api/clusters/health` body for one kind, as [`HealthReport::to_kiali_json`]
    /// answers it, written straight into bytes.
    pub fn write_kiali_json(&self, kind: HealthKind, cluster: Option<&str>) -> Vec<u8> {
        let merged = self.merged(kind, cluster);
        let key = match kind {
            HealthKind::App => "namespaceAppHealth",
            HealthKind::Service => "namespaceServiceHealth",
            HealthKind::Workload => "namespaceWorkloadHealth",
        };
        let entries: usize = merged.values().map(BTreeMap::len).sum();
        let mut out = Vec::with_capacity(64 + entries * 320);
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":{");
        for (i, (ns, items)) in merged.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            value(&mut out, ns);
            out.extend_from_slice(b":{");
            for (j, (name, e)) in items.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                value(&mut out, name);
                out.push(b':');
                e.write_kiali_json(&mut out);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}}");
        out
    }
}

/// Appends `v` as serde_json writes it (strings escaped, non-finite numbers as `null`). The
/// values written here are strings, numbers and maps of them: writing them cannot fail.
fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `RequestHealth` with its keys sorted: healthAnnotations < inbound < outbound.
fn requests(out: &mut Vec<u8>, r: &RequestHealth) {
    out.extend_from_slice(b"{\"healthAnnotations\":");
    value(out, &r.health_annotations);
    out.extend_from_slice(b",\"inbound\":");
    value(out, &r.inbound);
    out.extend_from_slice(b",\"outbound\":");
    value(out, &r.outbound);
    out.push(b'}');
}

/// `WorkloadStatus` with its keys sorted.
fn workload_status(out: &mut Vec<u8>, w: &WorkloadStatus) {
    out.extend_from_slice(b"{\"availableReplicas\":");
    value(out, &w.available_replicas);
    out.extend_from_slice(b",\"currentReplicas\":");
    value(out, &w.current_replicas);
    out.extend_from_slice(b",\"desiredReplicas\":");
    value(out, &w.desired_replicas);
    out.extend_from_slice(b",\"name\":");
    value(out, &w.name);
    out.extend_from_slice(b",\"syncedProxies\":");
    value(out, &w.synced_proxies);
    out.push(b'}');
}
