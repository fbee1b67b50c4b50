//! CPU-heavy admission requests, on loopback: Pods of 100,000 containers against 500 patterns.
//! A decision that cannot finish within the webhook's deadline is a denial saying so, sent at
//! the deadline; and the health endpoints answer while such decisions run.

mod hostile_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hostile_support::{Server, Setup, pod, pod_review, start, verdict};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const CONTAINERS: usize = 100_000;

/// 500 `imagePath` patterns that reject `registry.example.com/team-N/…`; anything else is allowed.
async fn five_hundred_patterns(server: &Server) {
    let patterns: Vec<String> = (0..500)
        .map(|i| format!("^registry\\.example\\.com/team-{i}/"))
        .collect();
    server
        .create_policy(
            "teams",
            json!({"rules": [
                {"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": patterns}},
                {"action": "Allow"},
            ]}),
        )
        .await;
    // In effect once a small Pod of a team image is rejected by it.
    let small = pod_review(pod(1, "registry.example.com/team-7/app:1"));
    for _ in 0..200 {
        let (_, body) = server
            .post("/admission-review", small.to_string().into_bytes())
            .await;
        if verdict(&body)
            .1
            .contains("ContainerPolicy teams rule index 0")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the policy never took effect");
}

fn heavy_review() -> Vec<u8> {
    pod_review(pod(CONTAINERS, "registry.example.com/elsewhere/app:1"))
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_past_its_deadline_is_a_denial_saying_so() {
    let server = start(Setup {
        deadline: Duration::from_millis(200),
        ..Setup::default()
    })
    .await;
    five_hundred_patterns(&server).await;
    let (code, body) = server.post("/admission-review", heavy_review()).await;
    assert_eq!(code, 200);
    let (allowed, message) = verdict(&body);
    assert!(!allowed, "answered after its deadline: {message}");
    assert!(
        message.contains("did not complete within 200ms") && message.contains("fail closed"),
        "{message}"
    );
}

/// Posts `body` on a fresh HTTP/1.1 connection and returns once all of it is sent.
async fn send(server: &Server, body: &[u8]) -> TlsStream<TcpStream> {
    let mut tls = server.tls(&[b"http/1.1"]).await;
    let head = format!(
        "POST /admission-review HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

/// The status and body of the answer on `tls`.
async fn answer(mut tls: TlsStream<TcpStream>) -> (u16, String) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = tls.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed without an answer");
        received.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|length| length.trim().parse().ok())
        .unwrap();
    while received.len() < head_end + length {
        let n = tls.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed in the middle of the answer");
        received.extend_from_slice(&buffer[..n]);
    }
    let body = String::from_utf8_lossy(&received[head_end..head_end + length]).into_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_answered_while_heavy_decisions_run() {
    let server = start(Setup {
        // Long enough for every decision to finish: they must not be cut short here.
        deadline: Duration::from_secs(300),
        ..Setup::default()
    })
    .await;
    five_hundred_patterns(&server).await;
    let body = heavy_review();
    // More decisions than the runtime has worker threads, all sent before health is asked, so
    // that they are under way.
    let sent = futures::future::join_all((0..4).map(|_| send(&server, &body))).await;
    let finished = Arc::new(AtomicUsize::new(0));
    let decisions: Vec<_> = sent
        .into_iter()
        .map(|tls| {
            let finished = finished.clone();
            tokio::spawn(async move {
                let answer = answer(tls).await;
                finished.fetch_add(1, Ordering::SeqCst);
                answer
            })
        })
        .collect();
    // Health, asked again and again until the first decision is answered: how often it was
    // answered meanwhile compares two durations measured on the same machine, not a clock.
    let https = server.https();
    let mut while_deciding = 0;
    while finished.load(Ordering::SeqCst) == 0 {
        for path in ["/healthz", "/readyz"] {
            let response = https.get(server.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
        if finished.load(Ordering::SeqCst) == 0 {
            while_deciding += 1;
        }
    }
    assert!(
        while_deciding >= 20,
        "the health endpoints answered only {while_deciding} times while decisions ran"
    );
    for decision in decisions {
        let (code, body) = decision.await.unwrap();
        assert_eq!(code, 200);
        let (allowed, message) = verdict(&body);
        assert!(allowed, "{message}");
    }
}
