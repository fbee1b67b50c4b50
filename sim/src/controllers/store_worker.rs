//! What the garbage collector and the namespace controller share: a queue of keys fed from the
//! store's change feed (their informers), each key worked on once it is due and retried with
//! exponential backoff while its work fails (a webhook refusing a delete, a conflict), as
//! client-go's rate-limited work queues do.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::api::SharedState;
use crate::store::StoreEvent;

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Keys due for work, each once, with each key's failure count for its backoff.
pub struct RetryQueue<K> {
    due: BTreeMap<K, Instant>,
    failures: HashMap<K, u32>,
}

impl<K: Ord + Clone + std::hash::Hash> Default for RetryQueue<K> {
    fn default() -> Self {
        RetryQueue {
            due: BTreeMap::new(),
            failures: HashMap::new(),
        }
    }
}

impl<K: Ord + Clone + std::hash::Hash> RetryQueue<K> {
    /// Due now (a change to look at); an earlier due time stays.
    pub fn add(&mut self, key: K) {
        self.due.insert(key, Instant::now());
    }

    fn add_after_failure(&mut self, key: K) {
        let failures = self.failures.entry(key.clone()).or_insert(0);
        let delay = FIRST_RETRY
            .saturating_mul(2u32.saturating_pow(*failures))
            .min(LAST_RETRY);
        *failures = failures.saturating_add(1);
        let at = Instant::now() + delay;
        let entry = self.due.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }

    fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    fn take_due(&mut self, now: Instant) -> Vec<K> {
        let due: Vec<K> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &due {
            self.due.remove(key);
        }
        due
    }
}

/// Whether a key's work is done or must be tried again later.
pub enum Outcome {
    Done,
    Retry,
}

/// Runs a worker until the store goes away: `resync` queues everything there is (at start, and
/// after falling behind the feed), `on_event` queues what one change concerns, `work` does one
/// key's work.
pub async fn run<K, E, R, W, Fut>(state: SharedState, mut resync: R, mut on_event: E, work: W)
where
    K: Ord + Clone + std::hash::Hash,
    R: FnMut(&SharedState, &mut RetryQueue<K>),
    E: FnMut(&SharedState, &StoreEvent, &mut RetryQueue<K>),
    W: Fn(K) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut feed = match state.store.subscribe(None) {
        Ok(subscription) => subscription.live,
        Err(error) => {
            tracing::error!(%error, "a controller could not follow the store");
            return;
        }
    };
    let mut queue = RetryQueue::default();
    resync(&state, &mut queue);
    loop {
        let wake = queue
            .next_due()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = feed.recv() => match received {
                Ok(event) => on_event(&state, &event, &mut queue),
                Err(RecvError::Lagged(_)) => resync(&state, &mut queue),
                Err(RecvError::Closed) => return,
            },
            () = tokio::time::sleep_until(wake) => {}
        }
        // Take in every change already waiting before working, so a burst is worked on once.
        while let Ok(event) = feed.try_recv() {
            on_event(&state, &event, &mut queue);
        }
        for key in queue.take_due(Instant::now()) {
            match work(key.clone()).await {
                Outcome::Done => queue.forget(&key),
                Outcome::Retry => queue.add_after_failure(key),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The due time of a key that just failed, measured against `before` (taken before the
    /// failure was recorded, so no clock reading can make it look early).
    fn delay_after_failure(queue: &mut RetryQueue<&'static str>) -> Duration {
        let before = Instant::now();
        queue.add_after_failure("a");
        let due = queue.next_due().expect("queued");
        assert!(queue.take_due(before).is_empty(), "not due at once");
        assert_eq!(queue.take_due(due), ["a"]);
        due - before
    }

    #[test]
    fn failures_back_off_exponentially_until_forgotten_and_a_change_is_due_at_once() {
        let mut queue = RetryQueue::default();
        let first = delay_after_failure(&mut queue);
        let second = delay_after_failure(&mut queue);
        assert!(
            first >= FIRST_RETRY && second >= FIRST_RETRY * 2,
            "{first:?} {second:?}"
        );
        for _ in 0..20 {
            delay_after_failure(&mut queue);
        }
        assert!(delay_after_failure(&mut queue) <= LAST_RETRY + Duration::from_secs(1));
        queue.forget(&"a");
        assert!(
            delay_after_failure(&mut queue) < FIRST_RETRY * 2,
            "forgotten failures start over"
        );
        // A change to look at does not wait for any backoff.
        queue.add_after_failure("a");
        queue.add("a");
        let now = Instant::now();
        assert_eq!(queue.take_due(now), ["a"]);
    }
}
