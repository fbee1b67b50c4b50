//! Bounded polling: every wait in the harness has a limit and says, when it runs out, what it
//! waited for and what it saw last.

use std::future::Future;
use std::time::Duration;

/// How often a condition is checked.
pub const INTERVAL: Duration = Duration::from_millis(50);

/// Checks `check` until it gives `Ok(Ok(value))` or `limit` passes. `Ok(Err(seen))` means "not
/// yet" (what was seen goes into the timeout error); `Err` stops at once.
pub async fn poll<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, String>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut interval = INTERVAL;
    loop {
        match check().await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(seen)) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(format!(
                        "timed out after {}s waiting for {what}; last seen: {seen}",
                        limit.as_secs_f32()
                    ));
                }
            }
            Err(error) => return Err(format!("while waiting for {what}: {error}")),
        }
        tokio::time::sleep(interval).await;
        // Back off a little on slow conditions (a real cluster), up to a quarter of a second.
        interval = (interval * 5 / 4).min(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_returns_the_value_once_the_condition_holds() {
        let mut calls = 0;
        let value = poll(Duration::from_secs(5), "three calls", || {
            calls += 1;
            let now = calls;
            async move {
                Ok(if now >= 3 {
                    Ok(now)
                } else {
                    Err(format!("{now} calls"))
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn poll_times_out_naming_what_it_saw_last() {
        let error = poll::<(), _, _>(Duration::from_millis(120), "never", || async {
            Ok(Err("still no".to_string()))
        })
        .await
        .unwrap_err();
        assert!(
            error.contains("waiting for never; last seen: still no"),
            "{error}"
        );
    }
}
