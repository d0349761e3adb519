//! Status conditions (pure): Kiali's Running/Successful/Failure plus Ready, Reconciling and Stalled,
//! each with observedGeneration; `lastTransitionTime` moves only when a status flips. Successful and
//! Failure are never True together (Argo CD's Kiali health check stops at the first it finds).
//! Reconciling and Stalled are kstatus' (Flux) standard conditions: status.observedGeneration is
//! written as soon as a generation starts, so without them kstatus would call a CR still being
//! reconciled, or one that failed, Current.

use meshglass_crds::status::{
    CONDITION_FAILURE, CONDITION_READY, CONDITION_RUNNING, CONDITION_SUCCESSFUL, Condition,
    REASON_FAILED, REASON_RUNNING, REASON_SUCCESSFUL,
};

/// kstatus: the spec is not realised yet (True while a generation is being reconciled).
pub const CONDITION_RECONCILING: &str = "Reconciling";
/// kstatus: the last reconciliation failed; the operator retries with backoff.
pub const CONDITION_STALLED: &str = "Stalled";

/// Where a reconcile of one generation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A generation started reconciling (Successful turns False).
    Running,
    Successful,
    Failed(String),
}

/// The conditions for `phase`, reusing `previous` transition times where the status did not change.
pub fn conditions(
    previous: &[Condition],
    generation: Option<i64>,
    phase: &Phase,
    now: &str,
) -> Vec<Condition> {
    let (running, successful, failure, ready, reconciling) = match phase {
        Phase::Running => (
            ("True", REASON_RUNNING, "Reconciling the new generation"),
            ("False", REASON_RUNNING, "Reconciling the new generation"),
            ("False", REASON_RUNNING, ""),
            ("False", "Reconciling", "Reconciling the new generation"),
            ("True", REASON_RUNNING, "Reconciling the new generation"),
        ),
        Phase::Successful => (
            ("True", REASON_SUCCESSFUL, "Awaiting next reconciliation"),
            ("True", REASON_SUCCESSFUL, "Last reconciliation succeeded"),
            ("False", REASON_SUCCESSFUL, ""),
            ("True", REASON_SUCCESSFUL, "Last reconciliation succeeded"),
            ("False", REASON_SUCCESSFUL, ""),
        ),
        Phase::Failed(msg) => (
            ("False", REASON_FAILED, "Last reconciliation failed"),
            ("False", REASON_FAILED, "Last reconciliation failed"),
            ("True", REASON_FAILED, msg.as_str()),
            ("False", REASON_FAILED, msg.as_str()),
            ("False", REASON_FAILED, ""),
        ),
    };
    [
        (CONDITION_RUNNING, running),
        (CONDITION_SUCCESSFUL, successful),
        (CONDITION_FAILURE, failure),
        (CONDITION_READY, ready),
        (CONDITION_RECONCILING, reconciling),
        // Stalled says what Failure says, in kstatus' terms.
        (CONDITION_STALLED, failure),
    ]
    .into_iter()
    .map(|(type_, (status, reason, message))| {
        let last = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.to_string());
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            last_transition_time: Some(last),
            observed_generation: generation,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(c: &'a [Condition], t: &str) -> &'a Condition {
        c.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn never_successful_and_failed_together() {
        for phase in [Phase::Running, Phase::Successful, Phase::Failed("x".into())] {
            let c = conditions(&[], Some(1), &phase, "t0");
            assert!(
                !(get(&c, CONDITION_SUCCESSFUL).status == "True"
                    && get(&c, CONDITION_FAILURE).status == "True")
            );
            assert!(c.iter().all(|c| c.observed_generation == Some(1)));
        }
    }

    #[test]
    fn new_generation_turns_successful_false_and_times_move_on_flip_only() {
        let ok = conditions(&[], Some(1), &Phase::Successful, "t0");
        let again = conditions(&ok, Some(1), &Phase::Successful, "t1");
        assert_eq!(
            get(&again, CONDITION_SUCCESSFUL)
                .last_transition_time
                .as_deref(),
            Some("t0")
        );
        let running = conditions(&again, Some(2), &Phase::Running, "t2");
        let s = get(&running, CONDITION_SUCCESSFUL);
        assert_eq!(
            (s.status.as_str(), s.observed_generation),
            ("False", Some(2))
        );
        assert_eq!(s.last_transition_time.as_deref(), Some("t2"));
        assert_eq!(get(&running, CONDITION_RUNNING).reason, REASON_RUNNING);
        let failed = conditions(&running, Some(2), &Phase::Failed("boom".into()), "t3");
        assert_eq!(get(&failed, CONDITION_FAILURE).message, "boom");
        assert_eq!(get(&failed, CONDITION_READY).status, "False");
    }

    /// kstatus: InProgress while Reconciling=True, Failed when Stalled=True, Current otherwise.
    #[test]
    fn kstatus_conditions_follow_the_phase() {
        let status = |phase: &Phase| {
            let c = conditions(&[], Some(3), phase, "t0");
            (
                get(&c, CONDITION_RECONCILING).status.clone(),
                get(&c, CONDITION_STALLED).status.clone(),
            )
        };
        assert_eq!(status(&Phase::Running), ("True".into(), "False".into()));
        assert_eq!(status(&Phase::Successful), ("False".into(), "False".into()));
        assert_eq!(
            status(&Phase::Failed("x".into())),
            ("False".into(), "True".into())
        );
        let failed = conditions(&[], Some(3), &Phase::Failed("boom".into()), "t0");
        assert_eq!(get(&failed, CONDITION_STALLED).message, "boom");
    }
}
