//! Decisions run off the async runtime. Decoding and deciding a request is CPU work, seconds of
//! it for a hostile one (100,000 containers); on the runtime's few worker threads it would stall
//! every other request, `/healthz` included (and the kubelet would then restart a healthy
//! webhook), and no timer could fire to answer at the deadline.
//!
//! Here a decision runs on a thread of the blocking pool, and its caller waits for it no longer
//! than the deadline, then answers without it. At most `Limits::max_decisions` are in flight,
//! and of those at most `Limits::max_computing` compute at once: a decision awaiting the API
//! server (a namespace, an owner) gives its core to another meanwhile. The second bound keeps
//! their CPU to what the runtime's workers had; the first bounds the threads, and the work that
//! decisions past their deadline leave behind. (Small requests do not come here: see
//! `Limits::inline_body_bytes`.)

use std::cell::Cell;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a decision has no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overrun {
    /// As many decisions as allowed were in flight until the deadline.
    Busy { in_flight: usize },
    /// It did not finish by the deadline. It is dropped if it has not started computing, else
    /// it finishes in the background and its result is dropped.
    Late,
    /// It failed (a panic: a bug).
    Failed(String),
}

impl Overrun {
    /// The denial's message: what did not happen in time, and that the request was denied.
    pub fn message(&self, deadline: Duration) -> String {
        let why = match self {
            Overrun::Busy { in_flight } => {
                format!(" ({in_flight} decisions were already in flight)")
            }
            Overrun::Late => String::new(),
            Overrun::Failed(error) => {
                return format!(
                    "the image-assurance decision failed ({error}); denied (fail closed)"
                );
            }
        };
        format!(
            "the image-assurance decision did not complete within {deadline:?}{why}; denied (fail closed)"
        )
    }
}

pub struct Decisions {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    cores: Arc<Cores>,
}

impl Decisions {
    pub fn new(max_in_flight: usize, max_computing: usize) -> Self {
        let max_in_flight = max_in_flight.max(1);
        Decisions {
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            cores: Arc::new(Cores::new(max_computing.max(1))),
        }
    }

    /// Runs the future `job` makes to completion on a blocking thread, holding a core while it
    /// computes (see `Compute`), and returns its output if it is ready by `deadline`.
    pub async fn run<T, F>(
        &self,
        deadline: Instant,
        job: impl FnOnce() -> F + Send + 'static,
    ) -> Result<T, Overrun>
    where
        T: Send + 'static,
        F: Future<Output = T>,
    {
        let admitted =
            match tokio::time::timeout_at(deadline, self.in_flight.clone().acquire_owned()).await {
                Ok(Ok(admitted)) => admitted,
                // The semaphore is never closed; treated as busy all the same.
                Ok(Err(_)) | Err(_) => {
                    return Err(Overrun::Busy {
                        in_flight: self.max_in_flight,
                    });
                }
            };
        let cores = self.cores.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _admitted = admitted;
            let compute = Compute {
                cores,
                holding: Cell::new(false),
            };
            compute.hold();
            // Waited for a core past the deadline: already answered, so not worth computing.
            (Instant::now() < deadline).then(|| compute.block_on(job()))
        });
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Some(value))) => Ok(value),
            Ok(Ok(None)) | Err(_) => Err(Overrun::Late),
            Ok(Err(error)) => Err(Overrun::Failed(error.to_string())),
        }
    }
}

fn lock(free: &Mutex<usize>) -> MutexGuard<'_, usize> {
    // A counter is consistent whatever panicked while holding it.
    free.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A counting semaphore for threads: a decision waiting for a core blocks its own thread of
/// the blocking pool, never a runtime worker.
struct Cores {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Cores {
    fn new(count: usize) -> Self {
        Cores {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn give(&self) {
        *lock(&self.free) += 1;
        self.freed.notify_one();
    }
}

/// A running decision's hold on a core: taken when it starts, given back while it awaits
/// something (see `block_on`) and when it ends.
struct Compute {
    cores: Arc<Cores>,
    holding: Cell<bool>,
}

impl Compute {
    fn hold(&self) {
        if !self.holding.get() {
            self.cores.take();
            self.holding.set(true);
        }
    }

    fn release(&self) {
        if self.holding.replace(false) {
            self.cores.give();
        }
    }

    /// Runs `future` to completion on this thread, holding the core only while it computes.
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        // The runtime drives the I/O and timers the future waits on meanwhile.
        tokio::runtime::Handle::current().block_on(std::future::poll_fn(|context| {
            self.hold();
            let poll = future.as_mut().poll(context);
            if poll.is_pending() {
                self.release();
            }
            poll
        }))
    }
}

impl Drop for Compute {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(200)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn a_job_that_finishes_in_time_gives_its_result() {
        let decisions = Decisions::new(1, 1);
        assert_eq!(decisions.run(later(), || async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_job_past_the_deadline_is_answered_without_at_the_deadline() {
        let decisions = Decisions::new(2, 1);
        let (release, released) = mpsc::channel::<()>();
        // Blocks its thread (as CPU work would) until released.
        let overrun = decisions
            .run(soon(), move || async move {
                let _ = released.recv();
            })
            .await;
        assert_eq!(overrun, Err(Overrun::Late));
        // It still holds the only core: the next job waits for it, past its own deadline.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let waiting = decisions.run(soon(), move || async move {
            flag.store(true, std::sync::atomic::Ordering::SeqCst)
        });
        assert_eq!(waiting.await, Err(Overrun::Late));
        release.send(()).unwrap();
        assert_eq!(decisions.run(later(), || async { 1 }).await, Ok(1));
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "a job that got its core after its deadline was still run"
        );
    }

    #[tokio::test]
    async fn beyond_the_decisions_in_flight_a_job_is_refused_as_busy() {
        let decisions = Decisions::new(1, 1);
        let (release, released) = mpsc::channel::<()>();
        let _ = decisions
            .run(soon(), move || async move {
                let _ = released.recv();
            })
            .await;
        assert_eq!(
            decisions.run(soon(), || async {}).await,
            Err(Overrun::Busy { in_flight: 1 })
        );
        release.send(()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_awaiting_gives_its_core_to_another() {
        let decisions = Arc::new(Decisions::new(2, 1));
        let (answer, answered) = tokio::sync::oneshot::channel::<u8>();
        let waiting = {
            let decisions = decisions.clone();
            tokio::spawn(async move { decisions.run(later(), move || answered).await })
        };
        // The only core is free while the first job awaits: the second computes and finishes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(decisions.run(later(), || async { 2 }).await, Ok(2));
        answer.send(1).unwrap();
        assert_eq!(waiting.await.unwrap(), Ok(Ok(1)));
    }

    fn bug() -> u8 {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_job_is_a_failure_not_a_crash() {
        let decisions = Decisions::new(1, 1);
        // A deadline far off: on a busy machine a near one could pass first and make this Late.
        let failed = decisions.run(later(), || async { bug() }).await;
        assert!(matches!(failed, Err(Overrun::Failed(_))), "{failed:?}");
        // Its core was given back.
        assert_eq!(decisions.run(later(), || async { 3 }).await, Ok(3));
        assert!(
            Overrun::Late
                .message(Duration::from_secs(3))
                .contains("did not complete within 3s; denied (fail closed)")
        );
    }
}
