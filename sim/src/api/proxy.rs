//! `pods/<id>/proxy/<path>`: the API server as an HTTP proxy to a pod, which is how a client
//! reads a pod's own HTTP endpoints through the API alone (`kubectl get --raw
//! /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics`). As kube-apiserver does
//! (`pkg/registry/core/pod/strategy.go ResourceLocation`): `<id>` is `<pod>`, `<pod>:<port>` or
//! `<scheme>:<pod>:<port>`; the port defaults to the pod's first container port; the request
//! is a CONNECT for admission (kind `PodProxyOptions`); the pod's `status.podIP` is dialled
//! directly and its answer (status, headers, body) passed back as it is; a pod without an IP
//! gives 400 `address not allowed`, a failed dial 503 `error trying to reach service: <error>`.
//!
//! Deliberate differences: only GET and plain HTTP are proxied; and kube-apiserver refuses pod
//! IPs that are not global unicast, loopback among them, while the simulated pods live on
//! loopback addresses (`127.0.x.y`), so those are allowed here.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::SharedState;
use crate::admission::Caller;
use crate::admission::chain::{Attributes, admit};
use crate::status::ApiError;
use crate::store::ObjectKey;

/// A pod's answer larger than this is cut off with an error rather than held in memory.
const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// A pod that accepts the connection but never answers does not hold the request forever.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a `pods/<id>/proxy/...` URL asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    pub namespace: String,
    /// `<pod>`, `<pod>:<port>` or `<scheme>:<pod>:<port>`, as written.
    pub id: String,
    /// The path to ask the pod for, from `/`.
    pub path: String,
}

/// `/api/v1/namespaces/<ns>/pods/<id>/proxy[/<path>]`, or `None` for any other URL. The
/// pod's path keeps a trailing slash, as kube-apiserver's `JoinPreservingTrailingSlash` does.
pub fn parse(path: &str) -> Option<ProxyRequest> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("pods/")?;
    let (id, rest) = rest.split_once('/')?;
    let tail = rest.strip_prefix("proxy")?;
    if !(tail.is_empty() || tail.starts_with('/')) || namespace.is_empty() || id.is_empty() {
        return None;
    }
    Some(ProxyRequest {
        namespace: namespace.to_string(),
        id: id.to_string(),
        path: if tail.is_empty() {
            "/".to_string()
        } else {
            tail.to_string()
        },
    })
}

/// `SplitSchemeNamePort` (k8s.io/apimachinery/pkg/util/net): (scheme, name, port).
fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme, name, port))
}

fn first_container_port(pod: &Value) -> Option<String> {
    pod.pointer("/spec/containers")?
        .as_array()?
        .iter()
        .find_map(|container| container.pointer("/ports/0/containerPort")?.as_i64())
        .map(|port| port.to_string())
}

fn pod_ip(pod: &Value) -> Option<IpAddr> {
    pod.pointer("/status/podIPs/0/ip")
        .or_else(|| pod.pointer("/status/podIP"))
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse().ok())
}

pub async fn serve(
    state: &SharedState,
    proxy: ProxyRequest,
    request: Request<Body>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    if request.method() != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let info = state
        .catalogue
        .get("", "v1", "pods")
        .ok_or_else(ApiError::no_such_resource)?;
    // Admission first, as kube-apiserver's connect handler runs it before locating the pod.
    let options = json!({"kind": "PodProxyOptions", "apiVersion": "v1", "path": proxy.path});
    let attributes = Attributes {
        operation: "CONNECT",
        info: &info,
        subresource: "proxy",
        kind: ("", "v1", "PodProxyOptions"),
        name: &proxy.id,
        namespace: &proxy.namespace,
        object: Some(&options),
        old_object: None,
        dry_run: false,
        options: Value::Null,
    };
    admit(state, &attributes, caller).await?;
    let (scheme, name, port) = split_scheme_name_port(&proxy.id)
        .ok_or_else(|| ApiError::bad_request(format!("invalid pod request {:?}", proxy.id)))?;
    let pod = state
        .store
        .get(&ObjectKey::new("", "pods", &proxy.namespace, name))
        .ok_or_else(|| ApiError::not_found(&info, name))?;
    let port = if port.is_empty() {
        first_container_port(&pod).unwrap_or_default()
    } else {
        port.to_string()
    };
    let ip = pod_ip(&pod).ok_or_else(|| ApiError::bad_request("address not allowed"))?;
    if scheme == "https" {
        return Err(unreachable(
            "the simulated cluster proxies to pods over plain HTTP only",
        ));
    }
    // No port anywhere: Go dials the URL's default, 80 for http.
    let port: u16 = if port.is_empty() {
        80
    } else {
        port.parse()
            .map_err(|_| unreachable(&format!("invalid port {port:?} after host")))?
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{}?{query}", proxy.path),
        None => proxy.path.clone(),
    };
    let accept = request.headers().get(axum::http::header::ACCEPT).cloned();
    forward(SocketAddr::new(ip, port), &path_and_query, accept).await
}

/// kube-apiserver's proxy transport wraps every failure to reach the backend so.
fn unreachable(error: &str) -> ApiError {
    ApiError::new(
        503,
        "ServiceUnavailable",
        format!("error trying to reach service: {error}"),
    )
}

/// `GET http://<address><path_and_query>`, the answer passed back as it is.
pub async fn forward(
    address: SocketAddr,
    path_and_query: &str,
    accept: Option<axum::http::HeaderValue>,
) -> Result<Response, ApiError> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| unreachable(&dial_error(address, &error)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| unreachable(&error.to_string()))?;
        tokio::spawn(async move {
            // Ends when the pod closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        let mut builder = hyper::Request::get(path_and_query)
            .header(hyper::header::HOST, address.to_string())
            .header(hyper::header::USER_AGENT, "kube-apiserver-proxy");
        if let Some(accept) = accept {
            builder = builder.header(hyper::header::ACCEPT, accept);
        }
        let outbound = builder
            .body(Empty::<Bytes>::new())
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        let answer = sender
            .send_request(outbound)
            .await
            .map_err(|error| unreachable(&error.to_string()))?;
        let (parts, body) = answer.into_parts();
        let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| unreachable(&error.to_string()))?
            .to_bytes();
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = StatusCode::from_u16(parts.status.as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (header, value) in &parts.headers {
            // Hop-by-hop headers and the length belong to the pod's connection, not ours.
            let hop = matches!(
                header.as_str(),
                "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "te"
                    | "trailer"
                    | "upgrade"
                    | "proxy-connection"
                    | "content-length"
            );
            if !hop {
                response.headers_mut().append(header, value.clone());
            }
        }
        Ok(response)
    };
    match tokio::time::timeout(RESPONSE_TIMEOUT, exchange).await {
        Ok(result) => result,
        // The simulator's own limit (kube-apiserver waits as long as the client does).
        Err(_) => Err(unreachable(&format!(
            "no answer from {address} within {RESPONSE_TIMEOUT:?}"
        ))),
    }
}

/// `dial tcp <ip>:<port>: connect: connection refused`, as Go's net package says it.
fn dial_error(address: SocketAddr, error: &std::io::Error) -> String {
    let what = match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
        _ => error.to_string(),
    };
    format!("dial tcp {address}: connect: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn proxy_urls_are_recognised_with_their_pod_path() {
        let parsed = parse("/api/v1/namespaces/ns/pods/web-1:9090/proxy/metrics").unwrap();
        assert_eq!(
            parsed,
            ProxyRequest {
                namespace: "ns".into(),
                id: "web-1:9090".into(),
                path: "/metrics".into(),
            }
        );
        assert_eq!(
            parse("/api/v1/namespaces/ns/pods/web/proxy").unwrap().path,
            "/"
        );
        assert_eq!(
            parse("/api/v1/namespaces/ns/pods/web/proxy/a/b/")
                .unwrap()
                .path,
            "/a/b/"
        );
        assert_eq!(parse("/api/v1/namespaces/ns/pods/web/status"), None);
        assert_eq!(parse("/api/v1/namespaces/ns/pods/web/proxyx"), None);
        assert_eq!(parse("/api/v1/namespaces/ns/services/web/proxy"), None);
        assert_eq!(parse("/apis/apps/v1/namespaces/ns/pods/web/proxy"), None);
    }

    #[test]
    fn pod_ids_split_as_kube_does() {
        assert_eq!(split_scheme_name_port("web"), Some(("", "web", "")));
        assert_eq!(
            split_scheme_name_port("web:9090"),
            Some(("", "web", "9090"))
        );
        assert_eq!(
            split_scheme_name_port("http:web:9090"),
            Some(("http", "web", "9090"))
        );
        assert_eq!(split_scheme_name_port("ftp:web:21"), None);
        assert_eq!(split_scheme_name_port(":9090"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }

    #[test]
    fn the_port_defaults_to_the_first_container_port() {
        let pod = json!({"spec": {"containers": [
            {"name": "a"},
            {"name": "b", "ports": [{"containerPort": 8443}, {"containerPort": 9090}]},
        ]}, "status": {"podIP": "127.0.3.4"}});
        assert_eq!(first_container_port(&pod).as_deref(), Some("8443"));
        assert_eq!(pod_ip(&pod), Some("127.0.3.4".parse().unwrap()));
        assert_eq!(pod_ip(&json!({"status": {}})), None);
    }

    #[tokio::test]
    async fn the_pods_answer_is_passed_back_and_a_refused_dial_is_a_503() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = stream.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nmetric 1")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let response = forward(address, "/metrics?x=1", None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/plain");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"metric 1");
        let request = server.await.unwrap();
        assert!(
            request.starts_with("GET /metrics?x=1 HTTP/1.1\r\n"),
            "{request}"
        );

        // Nothing listens on the port now.
        let error = forward(address, "/metrics", None).await.unwrap_err();
        assert_eq!((error.code, error.reason), (503, "ServiceUnavailable"));
        assert_eq!(
            error.message,
            format!(
                "error trying to reach service: dial tcp {address}: connect: connection refused"
            )
        );
    }
}
