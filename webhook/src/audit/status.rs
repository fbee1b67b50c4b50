//! A ContainerAdmissionPolicy's `status`, as the audit's lease holder keeps it: the `Ready`
//! condition (`True`/`Valid`, or `False`/`Invalid` with the compile error), the generation it
//! describes, and how many running workloads it would reject.
//!
//! Computed so that an audit that found nothing new gives the status already stored (same
//! `lastTransitionTime`, same `violationsCountedAt`): then nothing is written, and a cluster
//! of many policies is not rewritten every audit.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::policy::ContainerAdmissionPolicyStatus;
use crate::timestamp::format_rfc3339;

pub const READY: &str = "Ready";
pub const REASON_VALID: &str = "Valid";
pub const REASON_INVALID: &str = "Invalid";
pub const VALID_MESSAGE: &str = "the policy compiled and is applied";
/// `metav1.Condition`'s limit on `message`.
const MAX_MESSAGE_CHARS: usize = 32_768;

/// The status a policy should have.
///
/// `error`: why it does not compile (`None`: it does); `violations`: workloads it would reject
/// at this audit; `current`: the status stored now.
pub fn desired_status(
    generation: Option<i64>,
    error: Option<&str>,
    violations: i64,
    now: Timestamp,
    current: Option<&ContainerAdmissionPolicyStatus>,
) -> ContainerAdmissionPolicyStatus {
    let (status, reason, message) = match error {
        None => ("True", REASON_VALID, VALID_MESSAGE.to_string()),
        Some(error) => ("False", REASON_INVALID, truncate(error)),
    };
    let previous = current.and_then(|current| {
        current
            .conditions
            .iter()
            .find(|condition| condition.type_ == READY)
    });
    // The time of the last change of `status`, as Kubernetes conditions keep it.
    let last_transition_time = match previous {
        Some(previous) if previous.status == status => previous.last_transition_time.clone(),
        _ => Time(now),
    };
    let ready = Condition {
        type_: READY.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    };
    let counted_at = match current {
        Some(current) if current.violations == Some(violations) => {
            current.violations_counted_at.clone()
        }
        _ => None,
    };
    ContainerAdmissionPolicyStatus {
        conditions: vec![ready],
        observed_generation: generation,
        violations: Some(violations),
        violations_counted_at: Some(counted_at.unwrap_or_else(|| format_rfc3339(now))),
    }
}

/// Whether `desired` differs from what is stored.
pub fn needs_write(
    current: Option<&ContainerAdmissionPolicyStatus>,
    desired: &ContainerAdmissionPolicyStatus,
) -> bool {
    current != Some(desired)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS - 1) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    #[test]
    fn a_valid_policy_is_ready_with_its_violations() {
        let status = desired_status(Some(3), None, 2, at(0), None);
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.violations, Some(2));
        assert_eq!(
            status.violations_counted_at.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
        let ready = &status.conditions[0];
        assert_eq!(
            (
                ready.type_.as_str(),
                ready.status.as_str(),
                ready.reason.as_str()
            ),
            ("Ready", "True", "Valid")
        );
        assert_eq!(ready.observed_generation, Some(3));
        assert_eq!(ready.last_transition_time, Time(at(0)));
        assert!(needs_write(None, &status));
    }

    #[test]
    fn an_invalid_policy_is_not_ready_and_says_why() {
        let error = "ContainerAdmissionPolicy p: field `spec.selector`: unexpected end of input at position 4";
        let status = desired_status(Some(1), Some(error), 0, at(0), None);
        let ready = &status.conditions[0];
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            ("False", "Invalid", error)
        );
        let long = "x".repeat(40_000);
        let status = desired_status(Some(1), Some(&long), 0, at(0), None);
        assert_eq!(
            status.conditions[0].message.chars().count(),
            MAX_MESSAGE_CHARS
        );
    }

    #[test]
    fn nothing_new_gives_the_stored_status_and_no_write() {
        let stored = desired_status(Some(1), None, 2, at(0), None);
        let again = desired_status(Some(1), None, 2, at(300), Some(&stored));
        assert_eq!(again, stored);
        assert!(!needs_write(Some(&stored), &again));
    }

    #[test]
    fn a_new_count_is_stamped_and_a_transition_moves_its_time() {
        let stored = desired_status(Some(1), None, 2, at(0), None);
        let fewer = desired_status(Some(1), None, 0, at(300), Some(&stored));
        assert_eq!(fewer.violations, Some(0));
        assert_eq!(
            fewer.violations_counted_at.as_deref(),
            Some("2027-01-15T08:05:00Z")
        );
        // Still ready: the transition time stays.
        assert_eq!(fewer.conditions[0].last_transition_time, Time(at(0)));
        assert!(needs_write(Some(&stored), &fewer));
        let broken = desired_status(Some(2), Some("bad"), 0, at(600), Some(&fewer));
        assert_eq!(broken.conditions[0].last_transition_time, Time(at(600)));
        assert_eq!(broken.observed_generation, Some(2));
        // The count did not change, so neither did when it was counted.
        assert_eq!(broken.violations_counted_at, fewer.violations_counted_at);
    }
}
