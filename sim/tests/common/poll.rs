//! Bounded polling, for what the simulator does in the background (controllers, the kubelet,
//! watches): no fixed sleeps.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 20 ms until it gives a value, failing the test with `what` after
/// `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `check` until it holds, failing the test with `what` after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    wait_for(what, timeout, || std::future::ready(check().then_some(()))).await
}

/// Polls the asynchronous `check` until it holds, failing the test with `what` after `limit`.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, limit, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}
