//! Per-object retry delays: short, because tests and the performance goal need quick
//! convergence (kube-controller-manager starts at 5 ms and caps at 1000 s; we start at 100 ms
//! and cap at 5 s so a failing object retries often enough to be observed, but not in a loop).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const FIRST: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// The delay before the next attempt for `key`, doubling on each consecutive failure.
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        let delay = FIRST.saturating_mul(1u32 << (*count).min(16)).min(CAP);
        *count = count.saturating_add(1);
        delay
    }

    /// A successful sync starts the next failure from the first delay again.
    pub fn reset(&self, key: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_after_success() {
        let backoff = Backoff::default();
        assert_eq!(backoff.next("a"), Duration::from_millis(100));
        assert_eq!(backoff.next("a"), Duration::from_millis(200));
        assert_eq!(backoff.next("a"), Duration::from_millis(400));
        assert_eq!(backoff.next("b"), Duration::from_millis(100));
        for _ in 0..10 {
            backoff.next("a");
        }
        assert_eq!(backoff.next("a"), CAP);
        backoff.reset("a");
        assert_eq!(backoff.next("a"), Duration::from_millis(100));
    }
}
