//! Reading a request body within its bounds: a `Content-Length` over the limit is refused
//! before a byte of the body is read, a body that grows past the limit as soon as it does, and
//! a body that has not arrived in full within the read timeout (a short or trickled one) gets
//! a 408 instead of holding the request open.
//!
//! Bodies held at once, across requests, share a budget of bytes (`Budget`): a body takes its
//! share before it is read (its `Content-Length`, or chunk by chunk) and keeps it until its
//! decision ends, so that many large requests at once wait, then get a 503, instead of taking
//! all the memory. The wait counts against the read timeout.
//!
//! A refused body is still drained in the background, up to `DRAIN_FACTOR` times the limit
//! and for at most the read timeout: the refusal is sent at once, and a client still sending
//! then reads it instead of a connection reset (closing a socket with unread data resets it).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Why a body was refused, answered as plain text.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.message).into_response()
    }
}

fn refusal(status: StatusCode, message: String) -> Refusal {
    Refusal { status, message }
}

/// The bytes of request bodies held at once, in KiB (a semaphore counts in `u32`).
#[derive(Clone)]
pub struct Budget {
    kib: Arc<Semaphore>,
    total: usize,
}

/// A body's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Held(Option<OwnedSemaphorePermit>);

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        let kib = (kib(bytes) as usize).min(Semaphore::MAX_PERMITS);
        Budget {
            kib: Arc::new(Semaphore::new(kib)),
            total: bytes,
        }
    }

    /// Adds `bytes` to `held`, waiting for them until `deadline`.
    async fn take(&self, held: &mut Held, bytes: usize, deadline: Instant) -> Result<(), Refusal> {
        let wanted = kib(bytes);
        let taken = tokio::time::timeout_at(deadline, self.kib.clone().acquire_many_owned(wanted));
        match taken.await {
            Ok(Ok(permit)) => {
                match &mut held.0 {
                    Some(held) => held.merge(permit),
                    None => held.0 = Some(permit),
                }
                Ok(())
            }
            // Also a body larger than the whole budget, which waiting cannot help.
            Ok(Err(_)) | Err(_) => Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the webhook is already holding its limit of {} bytes of request bodies; try again",
                    self.total
                ),
            )),
        }
    }
}

/// How much of a refused body is read and dropped, in multiples of the limit.
const DRAIN_FACTOR: usize = 4;

/// Reads and drops the rest of a refused body, within bounds (see the module comment).
fn drain(mut stream: BodyDataStream, limit: usize, timeout: Duration) {
    let budget = limit.saturating_mul(DRAIN_FACTOR);
    tokio::spawn(tokio::time::timeout(timeout, async move {
        let mut drained = 0usize;
        while let Some(Ok(chunk)) = futures::StreamExt::next(&mut stream).await {
            drained = drained.saturating_add(chunk.len());
            if drained > budget {
                break;
            }
        }
    }));
}

fn too_large(limit: usize) -> Refusal {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes"),
    )
}

/// The body of `request`, at most `limit` bytes, in full within `timeout`, and its share of
/// `budget` (to keep until the request is answered).
pub async fn read(
    request: Request<Body>,
    limit: usize,
    timeout: Duration,
    budget: &Budget,
) -> Result<(Bytes, Held), Refusal> {
    let deadline = Instant::now() + timeout;
    let mut held = Held(None);
    let mut declared_len = 0;
    if let Some(length) = request.headers().get(header::CONTENT_LENGTH) {
        let declared = length
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        match declared {
            None => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "the Content-Length header is not a number".into(),
                ));
            }
            Some(declared) if usize::try_from(declared).map_or(true, |d| d > limit) => {
                drain(request.into_body().into_data_stream(), limit, timeout);
                return Err(too_large(limit));
            }
            Some(declared) => declared_len = usize::try_from(declared).unwrap_or(limit),
        }
    }
    budget.take(&mut held, declared_len, deadline).await?;
    let budget = budget.clone();
    let mut stream = request.into_body().into_data_stream();
    let collect = async move {
        let mut bytes = Vec::with_capacity(declared_len);
        let mut covered = declared_len;
        loop {
            let Some(chunk) = futures::StreamExt::next(&mut stream).await else {
                return Ok((Bytes::from(bytes), held));
            };
            let chunk = chunk.map_err(|error| {
                refusal(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {error}"),
                )
            })?;
            if bytes.len() + chunk.len() > limit {
                drain(stream, limit, timeout);
                return Err(too_large(limit));
            }
            // Beyond what was declared (a chunked body): more of the budget first.
            if bytes.len() + chunk.len() > covered {
                budget.take(&mut held, chunk.len(), deadline).await?;
                covered += kib(chunk.len()) as usize * 1024;
            }
            bytes.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout_at(deadline, collect)
        .await
        .unwrap_or_else(|_| {
            Err(refusal(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive in full within {timeout:?}"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Body, length: Option<&str>) -> Request<Body> {
        let mut builder = Request::post("/admission-review");
        if let Some(length) = length {
            builder = builder.header(header::CONTENT_LENGTH, length);
        }
        builder.body(body).unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);

    fn budget() -> Budget {
        Budget::new(1 << 20)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read() {
        let body = read(request(Body::from("{}"), Some("2")), 2, SECOND, &budget()).await;
        assert_eq!(body.unwrap().0, "{}");
    }

    #[tokio::test]
    async fn too_large_is_refused_whether_declared_or_sent() {
        // Declared: refused although the body (which never comes) is not read at all.
        let never = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let refused = read(request(never, Some("3")), 2, SECOND, &budget())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        let refused = read(request(Body::from("{}\n"), None), 2, SECOND, &budget())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        let refused = read(request(Body::empty(), Some("lots")), 2, SECOND, &budget())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_a_408() {
        let never = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let refused = read(request(never, None), 2, SECOND, &budget())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn bodies_beyond_the_budget_wait_then_are_refused() {
        let budget = Budget::new(2048);
        let kilobyte = || Body::from(vec![b' '; 1024]);
        let first = read(request(kilobyte(), Some("1024")), 4096, SECOND, &budget).await;
        let (_, held) = first.unwrap();
        // Chunked (no length): taken as it arrives.
        let (_, second) = read(request(kilobyte(), None), 4096, SECOND, &budget)
            .await
            .unwrap();
        let refused = read(request(kilobyte(), Some("1024")), 4096, SECOND, &budget)
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            refused.message.contains("2048 bytes"),
            "{}",
            refused.message
        );
        // Given back once a request is answered.
        drop(held);
        assert!(
            read(request(kilobyte(), Some("1024")), 4096, SECOND, &budget)
                .await
                .is_ok()
        );
        drop(second);
    }
}
