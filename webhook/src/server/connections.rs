//! The listeners (HTTPS for admission, plain HTTP for metrics): at most
//! `Limits::max_connections` connections at once, each with a TLS handshake deadline (for
//! HTTPS), HTTP/1.1 or HTTP/2 (hyper) with bounded streams and header reads, and closed once
//! idle; on shutdown, requests in flight finish within a grace period.
//!
//! Idle means no request in flight for `idle_timeout`, whatever bytes arrive: a connection
//! that completes its handshake and sends nothing, an HTTP/2 connection that sends only its
//! preface or pings, or one trickling a request head, is closed like a quiet keep-alive one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::limits::Limits;
use super::tls::TlsConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Shutting down: no new requests, those in flight finish.
    Draining,
    /// The grace period is over: every connection is dropped.
    Closed,
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop` completes, then lets
/// requests in flight finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsConfig>,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (phase, phases) = watch::channel(Phase::Serving);
    let builder = Arc::new(http_builder(&limits));
    let mut stop = std::pin::pin!(stop);
    loop {
        // A free slot first: beyond the limit, connections wait in the kernel's backlog.
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let tcp = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // Mostly out of file descriptors: wait for some to free up, not spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            slot,
            tls.clone(),
            builder.clone(),
            app.clone(),
            limits.clone(),
            phases.clone(),
        ));
    }
    // New connections are refused from here on.
    drop(listener);
    let _ = phase.send(Phase::Draining);
    // Every slot back means every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open after the shutdown grace period: closed"
        );
    }
    let _ = phase.send(Phase::Closed);
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        // hyper's minimum (it panics below it).
        .max_buf_size(limits.max_read_buffer.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams);
    builder
}

async fn connection(
    tcp: TcpStream,
    slot: OwnedSemaphorePermit,
    tls: Option<TlsConfig>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    limits: Arc<Limits>,
    phases: watch::Receiver<Phase>,
) {
    let Some(tls) = tls else {
        return serve_stream(tcp, slot, builder, app, limits, phases).await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
    let stream = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    serve_stream(stream, slot, builder, app, limits, phases).await;
}

/// HTTP on an established stream until it ends, goes idle or the server shuts down.
async fn serve_stream<S>(
    stream: S,
    _slot: OwnedSemaphorePermit,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    limits: Arc<Limits>,
    mut phases: watch::Receiver<Phase>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        let app = TowerToHyperService::new(app);
        service_fn(move |request: Request<Incoming>| {
            let busy = activity.begin();
            let response = hyper::service::Service::call(&app, request);
            async move {
                let response = response.await;
                drop(busy);
                response
            }
        })
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let shutting_down = loop {
        let check = activity.next_check(limits.idle_timeout);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep_until(check) => {
                if activity.is_idle(limits.idle_timeout) {
                    break false;
                }
            }
            _ = phases.wait_for(|phase| *phase != Phase::Serving) => break true,
        }
    };
    // HTTP/2: GOAWAY, then the streams in flight finish; HTTP/1: closed once the response in
    // flight, if any, is written.
    connection.as_mut().graceful_shutdown();
    if shutting_down {
        tokio::select! {
            _ = connection.as_mut() => {}
            _ = phases.wait_for(|phase| *phase == Phase::Closed) => {}
        }
    } else if tokio::time::timeout(limits.close_grace, connection)
        .await
        .is_err()
    {
        // A client that ignores the GOAWAY (or never reads): dropped.
        tracing::debug!("an idle connection did not close in time: dropped");
    }
}

/// Requests in flight on one connection, and when the last one started or ended.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `start`.
    last_change: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_change: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_change.store(elapsed, Ordering::Release);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        Busy(self.clone())
    }

    fn idle_since(&self) -> Instant {
        self.start + Duration::from_millis(self.last_change.load(Ordering::Acquire))
    }

    fn is_idle(&self, idle_timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && Instant::now() >= self.idle_since() + idle_timeout
    }

    /// When to look again: while busy, a full timeout later (a request ending then starts the
    /// count again).
    fn next_check(&self, idle_timeout: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + idle_timeout
        } else {
            self.idle_since() + idle_timeout
        }
    }
}

/// One request in flight; dropped when its response is ready.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_without_requests_for_the_whole_timeout() {
        let timeout = Duration::from_secs(5);
        let activity = Arc::new(Activity::new());
        assert!(!activity.is_idle(timeout));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(activity.is_idle(timeout), "silent since it opened");

        let busy = activity.begin();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!activity.is_idle(timeout), "a request in flight");
        assert!(activity.next_check(timeout) > Instant::now());
        drop(busy);
        assert!(
            !activity.is_idle(timeout),
            "the count restarts when it ends"
        );
        assert_eq!(
            activity.next_check(timeout),
            activity.idle_since() + timeout
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(activity.is_idle(timeout));
    }
}
