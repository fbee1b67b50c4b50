//! A corpus of bad requests, each answered with the Status kube-apiserver would return, after
//! which the server still serves. Sent as raw HTTP so that nothing on the client side can
//! tidy them up first.

use serde_json::Value;
use sim::{Config, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Reply {
    code: u16,
    body: Value,
}

async fn send(sim: &Simulator, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(sim.address()).await.expect("connects");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        sim.address(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    // The server may answer (413) before reading a large body; a reset while writing is fine.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or("");
    // A chunked body: take the JSON between the first `{` and the last `}`.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if end > start => {
            serde_json::from_str(&body[start..=end]).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    };
    Reply { code, body: json }
}

fn status_reason(reply: &Reply) -> &str {
    reply
        .body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// What, method, path, content type, body, expected code, expected reason.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

const PODS: &str = "/api/v1/namespaces/default/pods";
const JSON: &str = "application/json";

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_kube_apiservers_status_and_the_server_keeps_serving() {
    let sim = Simulator::start(Config::default()).await.expect("starts");
    let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#;
    let big = vec![b' '; 4 * 1024 * 1024];
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            "POST",
            PODS,
            JSON,
            b"{\"kind\": ".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "malformed YAML",
            "POST",
            PODS,
            "application/yaml",
            b"kind: [Pod\n".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "not an object",
            "POST",
            PODS,
            JSON,
            b"[1, 2]".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "empty body",
            "POST",
            PODS,
            JSON,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "kind does not match the URL",
            "POST",
            PODS,
            JSON,
            br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "apiVersion does not match",
            "POST",
            PODS,
            JSON,
            br#"{"apiVersion":"v2","kind":"Pod","metadata":{"name":"d"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "namespace does not match",
            "POST",
            PODS,
            JSON,
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"d","namespace":"other"}}"#
                .to_vec(),
            400,
            "BadRequest",
        ),
        (
            "invalid name",
            "POST",
            PODS,
            JSON,
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Not_DNS"}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "no name at all",
            "POST",
            PODS,
            JSON,
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "namespace name with a dot",
            "POST",
            "/api/v1/namespaces",
            JSON,
            br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a.b"}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "missing namespace",
            "POST",
            "/api/v1/namespaces/ghost/pods",
            JSON,
            pod.to_vec(),
            404,
            "NotFound",
        ),
        (
            "unknown resource",
            "GET",
            "/api/v1/namespaces/default/widgets",
            JSON,
            Vec::new(),
            404,
            "NotFound",
        ),
        // Nothing is registered for an unknown group: Go's plain `404 page not found`, no Status.
        (
            "unknown group",
            "GET",
            "/apis/nope.example.com/v1/things",
            JSON,
            Vec::new(),
            404,
            "",
        ),
        (
            "oversized body",
            "POST",
            PODS,
            JSON,
            big,
            413,
            "RequestEntityTooLarge",
        ),
        (
            "unsupported media type",
            "POST",
            PODS,
            "text/csv",
            b"a,b".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "unsupported patch type",
            "PATCH",
            "/api/v1/namespaces/default/pods/ok",
            "application/x-www-form-urlencoded",
            b"a=b".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "malformed patch",
            "PATCH",
            "/api/v1/namespaces/default/pods/ok",
            "application/merge-patch+json",
            b"{oops".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "patch of a missing object",
            "PATCH",
            "/api/v1/namespaces/default/pods/ghost",
            "application/merge-patch+json",
            b"{}".to_vec(),
            404,
            "NotFound",
        ),
        (
            "PUT on a collection",
            "PUT",
            PODS,
            JSON,
            pod.to_vec(),
            405,
            "MethodNotAllowed",
        ),
        (
            "name mismatch on update",
            "PUT",
            "/api/v1/namespaces/default/pods/ok",
            JSON,
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"other"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "bad label selector",
            "GET",
            "/api/v1/namespaces/default/pods?labelSelector=a%20in%20b",
            JSON,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "bad field selector",
            "GET",
            "/api/v1/namespaces/default/pods?fieldSelector=nonsense",
            JSON,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "bad continue token",
            "GET",
            "/api/v1/namespaces/default/pods?limit=1&continue=zz",
            JSON,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "bad watch version",
            "GET",
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion=abc",
            JSON,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "bad propagation policy",
            "DELETE",
            "/api/v1/namespaces/default/pods/ok",
            JSON,
            br#"{"propagationPolicy":"Sideways"}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "garbage protobuf",
            "POST",
            PODS,
            "application/vnd.kubernetes.protobuf",
            b"\x00\x01garbage".to_vec(),
            400,
            "BadRequest",
        ),
    ];
    // The object some cases patch, update or delete.
    let created = send(&sim, "POST", PODS, JSON, pod).await;
    assert_eq!(created.code, 201, "setup: {:?}", created.body);
    let mut failures = Vec::new();
    for (what, method, path, content_type, body, code, reason) in &cases {
        let reply = send(&sim, method, path, content_type, body).await;
        let status_ok =
            reason.is_empty() || reply.body.get("kind").and_then(Value::as_str) == Some("Status");
        if reply.code != *code || status_reason(&reply) != *reason || !status_ok {
            failures.push(format!(
                "{what}: expected {code} {reason}, got {} {}",
                reply.code, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Still serving, and nothing bad was stored.
    let list = send(&sim, "GET", PODS, JSON, b"").await;
    assert_eq!(list.code, 200);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["ok"]);
}
