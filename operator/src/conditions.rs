//! Status conditions (pure): Kiali's Running/Successful/Failure plus Ready, each with
//! observedGeneration; `lastTransitionTime` moves only when a status flips. Successful and Failure are
//! never True together (Argo CD's Kiali health check stops at the first it finds).

use meshglass_crds::status::{
    CONDITION_FAILURE, CONDITION_READY, CONDITION_RUNNING, CONDITION_SUCCESSFUL, Condition,
    REASON_FAILED, REASON_RUNNING, REASON_SUCCESSFUL,
};

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
    let (running, successful, failure, ready) = match phase {
        Phase::Running => (
            ("True", REASON_RUNNING, "Reconciling the new generation"),
            ("False", REASON_RUNNING, "Reconciling the new generation"),
            ("False", REASON_RUNNING, ""),
            ("False", "Reconciling", "Reconciling the new generation"),
        ),
        Phase::Successful => (
            ("True", REASON_SUCCESSFUL, "Awaiting next reconciliation"),
            ("True", REASON_SUCCESSFUL, "Last reconciliation succeeded"),
            ("False", REASON_SUCCESSFUL, ""),
            ("True", REASON_SUCCESSFUL, "Last reconciliation succeeded"),
        ),
        Phase::Failed(msg) => (
            ("False", REASON_FAILED, "Last reconciliation failed"),
            ("False", REASON_FAILED, "Last reconciliation failed"),
            ("True", REASON_FAILED, msg.as_str()),
            ("False", REASON_FAILED, msg.as_str()),
        ),
    };
    [
        (CONDITION_RUNNING, running),
        (CONDITION_SUCCESSFUL, successful),
        (CONDITION_FAILURE, failure),
        (CONDITION_READY, ready),
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
}
