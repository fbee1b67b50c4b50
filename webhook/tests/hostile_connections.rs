//! Attacks on the webhook's connections, on loopback: clients that connect and send nothing,
//! bodies that never arrive, HTTP/2 connections that only say hello, more connections or
//! streams than the server will hold. Each must be answered or closed within a bounded time.
//! The bounds asserted are generous multiples of the (short) limits the server is given.

mod hostile_support;

use std::time::Duration;

use hostile_support::{Server, Setup, read_until_closed, send, start};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use image_assurance::server::Limits;

/// Short limits, so that the attacks resolve quickly.
fn short_limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        close_grace: Duration::from_secs(1),
        ..Limits::default()
    }
}

async fn start_short() -> Server {
    start(Setup {
        limits: short_limits(),
        max_body_bytes: 1024 * 1024,
        ..Setup::default()
    })
    .await
}

/// Far more than any limit above: what "bounded" means in these tests.
const BOUND: Duration = Duration::from_secs(15);

/// The status code of the first HTTP/1 response in `bytes`.
fn status(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The frame types of an HTTP/2 byte stream (from the server: no preface).
fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    types
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
const GOAWAY: u8 = 0x7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_nothing_are_closed() {
    let server = start_short().await;

    // No TLS handshake at all.
    let mut tcp = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    assert!(
        read_until_closed(&mut tcp, BOUND).await.is_some(),
        "a silent TCP connection was held"
    );

    // A handshake, then nothing.
    let mut tls = server.tls(&[b"http/1.1"]).await;
    assert!(
        read_until_closed(&mut tls, BOUND).await.is_some(),
        "a silent TLS connection was held"
    );

    // A request head trickled a byte at a time.
    let slow = server.tls(&[b"http/1.1"]).await;
    let (mut reader, mut writer) = tokio::io::split(slow);
    send(
        &mut writer,
        b"POST /admission-review HTTP/1.1\r\nhost: localhost\r\n",
    )
    .await;
    let trickle = async move {
        while tokio::io::AsyncWriteExt::write_all(&mut writer, b"x")
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        closed = read_until_closed(&mut reader, BOUND) => {
            assert!(closed.is_some(), "a trickled request head was held");
        }
        () = trickle => unreachable!(),
    }

    // HTTP/2: the preface and SETTINGS, then nothing. The server says goodbye, then closes.
    let mut h2 = server.tls(&[b"h2"]).await;
    send(&mut h2, H2_PREFACE).await;
    send(&mut h2, H2_SETTINGS).await;
    let received = read_until_closed(&mut h2, BOUND)
        .await
        .expect("an HTTP/2 connection that sent only its preface was held");
    assert!(
        frame_types(&received).contains(&GOAWAY),
        "no GOAWAY before the close: frame types {:?}",
        frame_types(&received)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_port_closes_silent_connections_and_keeps_serving() {
    let server = start_short().await;
    let mut silent = tokio::net::TcpStream::connect(server.metrics)
        .await
        .unwrap();
    let mut trickling = tokio::net::TcpStream::connect(server.metrics)
        .await
        .unwrap();
    send(&mut trickling, b"GET /metrics HTTP/1.1\r\nhost: x\r\n").await;
    assert!(
        read_until_closed(&mut silent, BOUND).await.is_some(),
        "a silent metrics connection was held"
    );
    assert!(
        read_until_closed(&mut trickling, BOUND).await.is_some(),
        "an unfinished request head on the metrics port was held"
    );
    let mut scrape = tokio::net::TcpStream::connect(server.metrics)
        .await
        .unwrap();
    send(
        &mut scrape,
        b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let answer = read_until_closed(&mut scrape, BOUND).await.unwrap();
    assert_eq!(status(&answer), Some(200));
    assert!(String::from_utf8_lossy(&answer).contains("image_assurance_"));
}

/// Sends `head` (and `body`) on a fresh HTTP/1.1 connection, keeps it open, and returns the
/// status of the answer, or `None` if there is none within `BOUND`.
async fn h1_status(server: &Server, head: &str, body: &[u8]) -> Option<u16> {
    let mut tls = server.tls(&[b"http/1.1"]).await;
    send(&mut tls, head.as_bytes()).await;
    send(&mut tls, body).await;
    let mut received = Vec::new();
    let answered = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::io::AsyncReadExt::read(&mut tls, &mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    answered.ok().and_then(|()| status(&received))
}

fn post_head(extra: &str) -> String {
    format!(
        "POST /admission-review HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{extra}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_bodies_that_never_arrive_in_full_are_answered_in_bounded_time() {
    let server = start_short().await;
    // Promises 1000 bytes, sends 10.
    let answer = h1_status(
        &server,
        &post_head("content-length: 1000\r\n"),
        b"{\"apiVer",
    )
    .await;
    assert_eq!(answer, Some(408), "a short body");

    // A chunked body trickled forever.
    let tls = server.tls(&[b"http/1.1"]).await;
    let (mut reader, mut writer) = tokio::io::split(tls);
    send(
        &mut writer,
        post_head("transfer-encoding: chunked\r\n").as_bytes(),
    )
    .await;
    let trickle = async move {
        while tokio::io::AsyncWriteExt::write_all(&mut writer, b"1\r\n \r\n")
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        closed = read_until_closed(&mut reader, BOUND) => {
            let received = closed.expect("a trickled body was held");
            assert_eq!(status(&received), Some(408), "{}", String::from_utf8_lossy(&received));
        }
        () = trickle => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_content_length_is_refused_before_the_body_is_read() {
    let server = start_short().await;
    // Nothing of the 100 MB is sent: the answer cannot wait for it.
    let answer = h1_status(&server, &post_head("content-length: 100000000\r\n"), b"").await;
    assert_eq!(answer, Some(413));
    let answer = h1_status(&server, &post_head("content-length: many\r\n"), b"").await;
    assert_eq!(answer, Some(400), "an unreadable Content-Length");

    let mut sender = h2_client(&server).await;
    let request = hyper::Request::post(server.url("/admission-review"))
        .header("content-length", "100000000")
        .body(endless_body())
        .unwrap();
    let response = tokio::time::timeout(BOUND, sender.send_request(request))
        .await
        .expect("no HTTP/2 answer")
        .unwrap();
    assert_eq!(response.status(), 413);
}

type EndlessBody =
    StreamBody<futures::stream::BoxStream<'static, Result<Frame<Bytes>, std::convert::Infallible>>>;

/// A body whose first bytes arrive and whose rest never does.
fn endless_body() -> EndlessBody {
    use futures::StreamExt;
    let first = futures::stream::once(async { Ok(Frame::data(Bytes::from_static(b"{\"api"))) });
    StreamBody::new(first.chain(futures::stream::pending()).boxed())
}

async fn h2_client(server: &Server) -> hyper::client::conn::http2::SendRequest<EndlessBody> {
    let tls = server.tls(&[b"h2"]).await;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_bodies_that_never_arrive_in_full_are_answered_in_bounded_time() {
    let server = start_short().await;
    let mut sender = h2_client(&server).await;
    for content_length in [None, Some("1000")] {
        let mut request = hyper::Request::post(server.url("/admission-review"));
        if let Some(length) = content_length {
            request = request.header("content-length", length);
        }
        let response = tokio::time::timeout(
            BOUND,
            sender.send_request(request.body(endless_body()).unwrap()),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer (content-length {content_length:?})"))
        .unwrap();
        assert_eq!(response.status(), 408, "content-length {content_length:?}");
        let _ = response.into_body().collect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_per_connection_are_bounded() {
    let server = start_short().await;
    let mut h2 = server.tls(&[b"h2"]).await;
    send(&mut h2, H2_PREFACE).await;
    send(&mut h2, H2_SETTINGS).await;
    // The server's SETTINGS frame comes first.
    let mut header = [0u8; 9];
    tokio::io::AsyncReadExt::read_exact(&mut h2, &mut header)
        .await
        .unwrap();
    assert_eq!(header[3], 0x4, "not a SETTINGS frame");
    let length =
        usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let mut payload = vec![0u8; length];
    tokio::io::AsyncReadExt::read_exact(&mut h2, &mut payload)
        .await
        .unwrap();
    let max_streams = payload
        .chunks_exact(6)
        .find(|setting| setting[..2] == [0, 3])
        .map(|setting| u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]));
    assert_eq!(max_streams, Some(Limits::default().max_streams));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let limits = Limits {
        max_connections: 4,
        // The held connections must outlast the check below.
        handshake_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = start(Setup {
        limits: limits.clone(),
        ..Setup::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..limits.max_connections {
        held.push(
            tokio::net::TcpStream::connect(server.address)
                .await
                .unwrap(),
        );
    }
    let https = server.https();
    let healthz = https
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        healthz.is_err(),
        "a connection beyond the limit was served: {healthz:?}"
    );
    held.clear();
    let healthz = https
        .get(server.url("/healthz"))
        .timeout(BOUND)
        .send()
        .await
        .expect("served once the held connections closed");
    assert_eq!(healthz.status(), 200);
}
