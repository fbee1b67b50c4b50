//! Open-loop load for `webhook_load`: requests start at a fixed rate whatever the answers'
//! latency, as an API server's admission calls arrive, unlike the closed loop whose latency is
//! set by its connection count (Little's law). Each latency is measured from the request's
//! scheduled start, so a server that falls behind is charged for the queue it builds
//! (no coordinated omission). Included by `webhook_load` with `#[path]`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::request::Review;
use super::{BenchResult, Measurement, Sender, Target, connect, review};

/// Connections are opened as needed (when every open one is busy) up to this many.
const MAX_CONNECTIONS: usize = 256;

/// `rate` requests per second for `warmup + duration`; only requests scheduled after the warm-up
/// and answered by its end are timed, and every request must be answered correctly.
pub async fn load(
    target: &Target,
    reviews: &Arc<Review>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
) -> BenchResult<Measurement> {
    let period = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now() + Duration::from_millis(20);
    let measure_from = started + warmup;
    let until = measure_from + duration;
    let pool: Arc<Mutex<Vec<Sender>>> = Arc::default();
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runtime = tokio::runtime::Handle::current();
    let (results, mut received) = tokio::sync::mpsc::unbounded_channel();
    // Tokio's timer ticks by the millisecond; a thread that sleeps to each start time keeps
    // the schedule to tens of microseconds.
    let scheduler = {
        let (target, reviews, pool, opened) = (
            target.clone(),
            reviews.clone(),
            pool.clone(),
            opened.clone(),
        );
        std::thread::spawn(move || {
            let mut sequence = 0u64;
            loop {
                let scheduled = started + period.mul_f64(sequence as f64);
                if scheduled >= until {
                    return sequence;
                }
                if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let (target, reviews, pool, opened, results) = (
                    target.clone(),
                    reviews.clone(),
                    pool.clone(),
                    opened.clone(),
                    results.clone(),
                );
                runtime.spawn(async move {
                    let uid = format!("0a11c0de-0000-4b1e-9c3a-{sequence:012x}");
                    let outcome = one_request(&target, &reviews, &pool, &opened, &uid).await;
                    let _ = results.send((scheduled, Instant::now(), outcome));
                });
                sequence += 1;
            }
        })
    };
    let cpu_source = target.cpu;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = cpu_source.time()?;
        tokio::time::sleep_until(until.into()).await;
        Ok::<_, String>(cpu_source.time()?.saturating_sub(before))
    });
    let scheduled_count = tokio::task::spawn_blocking(move || scheduler.join())
        .await
        .map_err(|error| format!("the scheduler task failed: {error}"))?
        .map_err(|_| "the scheduler thread panicked".to_string())?;
    let mut measurement = Measurement {
        conns: 0,
        window: duration,
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        cpu: Duration::ZERO,
    };
    // Every scheduled request reports once; a stuck one fails the run after a grace period.
    let grace = until + Duration::from_secs(10);
    for _ in 0..scheduled_count {
        let next = tokio::time::timeout_at(grace.into(), received.recv()).await;
        let Ok(Some((scheduled, ended, outcome))) = next else {
            return Err(format!(
                "open loop at {rate} req/s: requests still unanswered 10 s after the run"
            ));
        };
        match outcome {
            Ok(()) if scheduled >= measure_from && ended <= until => {
                measurement.latencies.push(ended - scheduled);
            }
            Ok(()) => {}
            Err(error) => {
                measurement.errors += 1;
                measurement.first_error.get_or_insert(error);
            }
        }
    }
    measurement.latencies.sort_unstable();
    measurement.conns = opened.load(std::sync::atomic::Ordering::Relaxed);
    measurement.cpu = cpu
        .await
        .map_err(|error| format!("the CPU sampler failed: {error}"))??;
    Ok(measurement)
}

/// One review on an idle pooled connection, or a new one while fewer than `MAX_CONNECTIONS`
/// are open (else it waits for one to come back).
async fn one_request(
    target: &Target,
    reviews: &Review,
    pool: &Mutex<Vec<Sender>>,
    opened: &std::sync::atomic::AtomicUsize,
    uid: &str,
) -> BenchResult<()> {
    use std::sync::atomic::Ordering;
    let mut sender = loop {
        let idle = pool.lock().map_err(|_| "pool lock poisoned")?.pop();
        if let Some(sender) = idle {
            break sender;
        }
        if opened.fetch_add(1, Ordering::Relaxed) < MAX_CONNECTIONS {
            break connect(target).await?;
        }
        opened.fetch_sub(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let result = review(&mut sender, reviews, uid).await;
    match &result {
        Ok(()) => pool.lock().map_err(|_| "pool lock poisoned")?.push(sender),
        // A failed connection is dropped, and may be replaced.
        Err(_) => {
            opened.fetch_sub(1, Ordering::Relaxed);
        }
    }
    result
}
