//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it,
//! so that only one webhook replica audits and writes reports and statuses at a time, and
//! `kubectl get lease` reads the same as for any controller:
//!
//! - no Lease: create it, held by us (`acquireTime` = `renewTime` = now, `leaseTransitions` 0);
//! - held by us: renew (`renewTime` = now);
//! - held by another whose record has not changed for `leaseDurationSeconds` *of our own clock*
//!   (client-go's "observed time", so clock skew between nodes cannot steal a live lease), or
//!   held by nobody: take it over (`acquireTime` = now, `leaseTransitions` + 1);
//! - otherwise wait.
//!
//! Writes are updates with the `resourceVersion` read, so two replicas racing for the same
//! lease cannot both win: the loser gets a conflict and tries again later. The holder stops
//! acting as leader once it has not renewed for `renew_deadline`, before anyone else may take
//! over (`lease_duration` > `renew_deadline`).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

/// client-go's defaults.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// What to write to the lease.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// No lease exists: create it with this spec.
    Create(LeaseSpec),
    /// Write this spec over the lease read.
    Update(LeaseSpec),
    /// Another live holder has it.
    Wait { holder: String },
}

/// One replica's view of the election.
#[derive(Clone, Debug)]
pub struct Elector {
    identity: String,
    lease_duration: Duration,
    renew_deadline: Duration,
    /// The last lease record seen, and when (our clock) it was first seen so.
    observed: Option<(LeaseSpec, Timestamp)>,
    /// When we last acquired or renewed.
    renewed_at: Option<Timestamp>,
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

impl Elector {
    pub fn new(identity: impl Into<String>) -> Self {
        Elector::with_durations(identity, LEASE_DURATION, RENEW_DEADLINE)
    }

    pub fn with_durations(
        identity: impl Into<String>,
        lease_duration: Duration,
        renew_deadline: Duration,
    ) -> Self {
        Elector {
            identity: identity.into(),
            lease_duration,
            renew_deadline,
            observed: None,
            renewed_at: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Decides what to write, given the lease as read (`None`: there is none) at `now`.
    pub fn step(&mut self, current: Option<&LeaseSpec>, now: Timestamp) -> Step {
        let Some(current) = current else {
            return Step::Create(self.spec(now, now, 0));
        };
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|(observed, _)| observed != current);
        if changed {
            self.observed = Some((current.clone(), now));
        }
        let holder = current.holder_identity.clone().unwrap_or_default();
        let transitions = current.lease_transitions.unwrap_or(0);
        if holder == self.identity {
            let acquired = current.acquire_time.as_ref().map_or(now, |time| time.0);
            return Step::Update(self.spec(acquired, now, transitions));
        }
        if !holder.is_empty() {
            let duration = current
                .lease_duration_seconds
                .and_then(|seconds| u64::try_from(seconds).ok())
                .map_or(self.lease_duration, Duration::from_secs);
            let observed_at = self.observed.as_ref().map_or(now, |(_, at)| *at);
            if observed_at
                .saturating_add(signed(duration))
                .unwrap_or(Timestamp::MAX)
                > now
            {
                return Step::Wait { holder };
            }
        }
        Step::Update(self.spec(now, now, transitions.saturating_add(1)))
    }

    /// Records that `written` was stored at `now`: we hold the lease.
    pub fn written(&mut self, written: LeaseSpec, now: Timestamp) {
        self.observed = Some((written, now));
        self.renewed_at = Some(now);
    }

    /// Records that we could not renew (lost a race, or the API server did not answer).
    pub fn lost(&mut self) {
        self.renewed_at = None;
    }

    /// Whether we may act as the leader at `now`: we renewed within the renew deadline.
    pub fn is_leader(&self, now: Timestamp) -> bool {
        self.renewed_at.is_some_and(|renewed| {
            renewed
                .saturating_add(signed(self.renew_deadline))
                .unwrap_or(Timestamp::MAX)
                > now
        })
    }

    fn spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}

/// One round of the election against the lease `name` of `api`: reads it, writes what
/// [`Elector::step`] says. Returns whether we hold the lease afterwards. A lost race (conflict,
/// already exists) is not an error: someone else wrote first.
pub async fn try_acquire_or_renew(
    api: &Api<Lease>,
    name: &str,
    elector: &mut Elector,
) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let current = match api.get_opt(name).await {
        Ok(current) => current,
        Err(error) => {
            elector.lost();
            return Err(error);
        }
    };
    let step = elector.step(current.as_ref().and_then(|lease| lease.spec.as_ref()), now);
    let result = match (&step, current) {
        (Step::Wait { .. }, _) => {
            elector.lost();
            return Ok(false);
        }
        (Step::Create(spec), _) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec.clone()),
            };
            api.create(&PostParams::default(), &lease).await
        }
        (Step::Update(spec), Some(mut lease)) => {
            lease.spec = Some(spec.clone());
            api.replace(name, &PostParams::default(), &lease).await
        }
        // `step` only updates a lease it was given.
        (Step::Update(_), None) => return Ok(false),
    };
    match result {
        Ok(stored) => {
            elector.written(stored.spec.unwrap_or_default(), now);
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            elector.lost();
            Ok(false)
        }
        Err(error) => {
            elector.lost();
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn held_by(holder: &str, renewed: i64, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(at(0))),
            renew_time: Some(MicroTime(at(renewed))),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    fn written(step: Step) -> LeaseSpec {
        match step {
            Step::Create(spec) | Step::Update(spec) => spec,
            Step::Wait { holder } => panic!("waited for {holder}"),
        }
    }

    #[test]
    fn a_missing_lease_is_created_held_by_us() {
        let mut elector = Elector::new("pod-a");
        let Step::Create(spec) = elector.step(None, at(5)) else {
            panic!("expected a create");
        };
        assert_eq!(spec.holder_identity.as_deref(), Some("pod-a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(5))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(5))));
        assert_eq!(spec.lease_transitions, Some(0));
        assert!(!elector.is_leader(at(5)), "not before the write succeeded");
        elector.written(spec, at(5));
        assert!(elector.is_leader(at(14)));
        assert!(!elector.is_leader(at(15)), "the renew deadline passed");
    }

    #[test]
    fn our_own_lease_is_renewed_keeping_its_acquire_time() {
        let mut elector = Elector::new("pod-a");
        let spec = written(elector.step(Some(&held_by("pod-a", 2, 3)), at(4)));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(4))));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn a_live_foreign_lease_is_not_taken() {
        let mut elector = Elector::new("pod-b");
        let lease = held_by("pod-a", 0, 0);
        assert_eq!(
            elector.step(Some(&lease), at(1)),
            Step::Wait {
                holder: "pod-a".into()
            }
        );
        // Still within 15 s of when we first saw this record.
        assert!(matches!(
            elector.step(Some(&lease), at(15)),
            Step::Wait { .. }
        ));
        // The holder renewed: the record changed, so the clock starts again.
        let renewed = held_by("pod-a", 14, 0);
        assert!(matches!(
            elector.step(Some(&renewed), at(16)),
            Step::Wait { .. }
        ));
        assert!(matches!(
            elector.step(Some(&renewed), at(30)),
            Step::Wait { .. }
        ));
        assert!(!elector.is_leader(at(30)));
    }

    #[test]
    fn an_expired_foreign_lease_is_taken_over() {
        let mut elector = Elector::new("pod-b");
        let lease = held_by("pod-a", 0, 4);
        assert!(matches!(
            elector.step(Some(&lease), at(100)),
            Step::Wait { .. }
        ));
        // Unchanged for the lease duration by our own clock, whatever its renewTime says.
        let spec = written(elector.step(Some(&lease), at(116)));
        assert_eq!(spec.holder_identity.as_deref(), Some("pod-b"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(116))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(116))));
        assert_eq!(spec.lease_transitions, Some(5));
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let mut elector = Elector::new("pod-b");
        let mut lease = held_by("pod-a", 0, 1);
        lease.holder_identity = None;
        let spec = written(elector.step(Some(&lease), at(1)));
        assert_eq!(spec.holder_identity.as_deref(), Some("pod-b"));
        assert_eq!(spec.lease_transitions, Some(2));
    }

    #[test]
    fn losing_a_race_ends_leadership() {
        let mut elector = Elector::new("pod-a");
        let spec = written(elector.step(None, at(0)));
        elector.written(spec, at(0));
        assert!(elector.is_leader(at(1)));
        elector.lost();
        assert!(!elector.is_leader(at(1)));
    }
}
