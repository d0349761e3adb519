//! The status stage: what `status` and the Events say after each outcome (pure: previous status,
//! outcome and clock in, the update out), and the one way both are written.

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use meshglass_crds::Kiali;
use meshglass_crds::names;
use meshglass_crds::status::{DeploymentStatus, EnvironmentStatus, KialiStatus, ProgressStatus};
use serde_json::json;
use tracing::warn;

use super::MANAGER;
use crate::build::Desired;
use crate::conditions::{Phase, conditions};

/// The API server refused or failed the status write (the stage's only way to fail: publishing an
/// Event is best effort).
#[derive(Debug, thiserror::Error)]
#[error("Kubernetes API: {0}")]
pub struct Error(#[from] pub kube::Error);

impl Error {
    pub fn category(&self) -> &'static str {
        "kube_api"
    }
}

/// One Event to publish on the CR.
#[derive(Clone, Debug)]
pub struct Note {
    pub type_: EventType,
    pub reason: &'static str,
    pub note: String,
}

/// A status to write, then the Events that go with it.
#[derive(Clone, Debug)]
pub struct Update {
    pub status: KialiStatus,
    pub notes: Vec<Note>,
}

/// The status that opens a new generation (Successful turns False before anything else happens), or
/// `None` when this generation has already started.
pub fn running(
    previous: &KialiStatus,
    generation: Option<i64>,
    environment: &EnvironmentStatus,
    now: &str,
) -> Option<KialiStatus> {
    if previous.observed_generation == generation && !previous.conditions.is_empty() {
        return None;
    }
    let mut status = previous.clone();
    status.conditions = conditions(&previous.conditions, generation, &Phase::Running, now);
    status.observed_generation = generation;
    status.environment = Some(environment.clone());
    status.progress = Some(ProgressStatus {
        message: "Reconciling".into(),
        duration: None,
    });
    Some(status)
}

/// After a successful reconcile; `None` when the status would not change (then no Event either).
pub fn succeeded(
    previous: &KialiStatus,
    generation: Option<i64>,
    desired: &Desired,
    environment: &EnvironmentStatus,
    now: &str,
    elapsed: Duration,
) -> Option<Update> {
    let progress = |duration| {
        Some(ProgressStatus {
            message: format!("{} objects reconciled", desired.objects.len()),
            duration,
        })
    };
    let mut status = KialiStatus {
        conditions: conditions(&previous.conditions, generation, &Phase::Successful, now),
        observed_generation: generation,
        deployment: Some(DeploymentStatus {
            instance_name: desired.instance().to_string(),
            namespace: desired.namespace().to_string(),
            remote_cluster_resources_only: desired.remote_only(),
        }),
        environment: Some(environment.clone()),
        progress: progress(None),
        ignored_fields: desired.ignored_fields.clone(),
        remote_cluster_secrets: desired.remote_secrets.clone(),
        service_account_token_secret: desired
            .remote_only()
            .then(|| names::token_secret(desired.instance())),
    };
    if same_status(previous, &status, generation) {
        return None;
    }
    status.progress = progress(Some(format!("{:.3}s", elapsed.as_secs_f64())));
    let mut notes: Vec<Note> = desired
        .remote_secrets
        .iter()
        .filter(|s| !s.mounted)
        .map(|s| Note {
            type_: EventType::Warning,
            reason: "RemoteSecretRejected",
            note: format!(
                "remote-cluster secret {} left out: {}",
                s.name,
                s.problem.as_deref().unwrap_or("")
            ),
        })
        .collect();
    if !desired.ignored_fields.is_empty() && desired.ignored_fields != previous.ignored_fields {
        notes.push(Note {
            type_: EventType::Normal,
            reason: "FieldsIgnored",
            note: format!(
                "accepted but not acted on: {}",
                desired.ignored_fields.join(", ")
            ),
        });
    }
    notes.push(Note {
        type_: EventType::Normal,
        reason: "Successful",
        note: "Reconciliation succeeded".into(),
    });
    Some(Update { status, notes })
}

/// The status of a generation that failed with `message`.
pub fn failed_status(
    previous: &KialiStatus,
    generation: Option<i64>,
    message: &str,
    environment: &EnvironmentStatus,
    now: &str,
) -> KialiStatus {
    let mut status = previous.clone();
    status.conditions = conditions(
        &previous.conditions,
        generation,
        &Phase::Failed(message.to_string()),
        now,
    );
    status.observed_generation = generation;
    status.environment = Some(environment.clone());
    status.progress = Some(ProgressStatus {
        message: "Reconciliation failed".into(),
        duration: None,
    });
    status
}

/// After a failed reconcile; `None` when the status already says so (the retry stays quiet).
pub fn failed(
    previous: &KialiStatus,
    generation: Option<i64>,
    message: &str,
    environment: &EnvironmentStatus,
    now: &str,
) -> Option<Update> {
    let status = failed_status(previous, generation, message, environment, now);
    (!same_status(previous, &status, generation)).then(|| Update {
        status,
        notes: vec![Note {
            type_: EventType::Warning,
            reason: "Failed",
            note: message.to_string(),
        }],
    })
}

/// Equal apart from the timing details that change on every run.
fn same_status(old: &KialiStatus, new: &KialiStatus, generation: Option<i64>) -> bool {
    let strip = |s: &KialiStatus| {
        let mut s = s.clone();
        if let Some(p) = s.progress.as_mut() {
            p.duration = None;
        }
        s
    };
    old.observed_generation == generation && strip(old) == strip(new)
}

/// Server-side apply of `/status` with the one field manager. Through a dynamic API so that a CR whose
/// spec does not fit the Kiali types can be reported too.
pub async fn write(
    client: &Client,
    ns: &str,
    name: &str,
    status: &KialiStatus,
) -> Result<(), Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<Kiali>(&()));
    let patch = json!({
        "apiVersion": Kiali::api_version(&()),
        "kind": Kiali::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Publishes one Event; a failure is logged, never fails the reconcile.
pub async fn publish(recorder: &Recorder, reference: &ObjectReference, note: &Note) {
    let ev = KubeEvent {
        type_: note.type_,
        reason: note.reason.into(),
        note: Some(note.note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, reference).await {
        warn!(error = %e, "cannot publish event");
    }
}

/// Writes the status, then publishes its Events in order.
pub async fn report(
    client: &Client,
    recorder: &Recorder,
    kiali: &Kiali,
    update: &Update,
) -> Result<(), Error> {
    let ns = kiali.namespace().unwrap_or_default();
    write(client, &ns, &kiali.name_any(), &update.status).await?;
    let reference = kiali.object_ref(&());
    for note in &update.notes {
        publish(recorder, &reference, note).await;
    }
    Ok(())
}

/// The status clock: whole seconds, UTC.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildOptions, build};
    use meshglass_crds::KialiSpec;

    fn desired(spec: serde_json::Value) -> Desired {
        let spec: KialiSpec = serde_json::from_value(spec).unwrap();
        let mut k = Kiali::new("kiali", spec);
        k.metadata.namespace = Some("istio-system".into());
        build(&k, &[], &[], &BuildOptions::default()).unwrap()
    }

    fn env() -> EnvironmentStatus {
        EnvironmentStatus {
            is_kubernetes: true,
            kubernetes_version: "v1.35.4".into(),
            operator_version: "0.1.0".into(),
        }
    }

    fn reasons(u: &Update) -> Vec<&str> {
        u.notes.iter().map(|n| n.reason).collect()
    }

    #[test]
    fn a_generation_opens_once() {
        let fresh = running(&KialiStatus::default(), Some(1), &env(), "t0").expect("new");
        assert_eq!(fresh.observed_generation, Some(1));
        assert_eq!(fresh.progress.as_ref().unwrap().message, "Reconciling");
        assert!(running(&fresh, Some(1), &env(), "t1").is_none());
        assert!(running(&fresh, Some(2), &env(), "t1").is_some());
    }

    #[test]
    fn success_is_written_once_with_its_events() {
        let d = desired(
            serde_json::json!({"clustering": {"clusters": [{"name": "west", "secret_name": "gone"}]}}),
        );
        let opened = running(&KialiStatus::default(), Some(1), &env(), "t0").unwrap();
        let first = succeeded(
            &opened,
            Some(1),
            &d,
            &env(),
            "t1",
            Duration::from_millis(1500),
        )
        .expect("changed");
        assert_eq!(reasons(&first), ["RemoteSecretRejected", "Successful"]);
        assert_eq!(
            first.status.progress.as_ref().unwrap().duration.as_deref(),
            Some("1.500s")
        );
        let deployment = first.status.deployment.as_ref().unwrap();
        assert_eq!(
            (
                deployment.instance_name.as_str(),
                deployment.namespace.as_str()
            ),
            ("kiali", "istio-system")
        );
        // The same outcome again (only the timing differs): nothing to write, no Event.
        assert!(
            succeeded(
                &first.status,
                Some(1),
                &d,
                &env(),
                "t2",
                Duration::from_secs(9)
            )
            .is_none()
        );
    }

    #[test]
    fn failure_is_reported_once() {
        let opened = running(&KialiStatus::default(), Some(1), &env(), "t0").unwrap();
        let first = failed(&opened, Some(1), "boom", &env(), "t1").expect("changed");
        assert_eq!(reasons(&first), ["Failed"]);
        assert_eq!(first.notes[0].note, "boom");
        assert!(failed(&first.status, Some(1), "boom", &env(), "t2").is_none());
        assert!(failed(&first.status, Some(1), "other", &env(), "t2").is_some());
    }
}
