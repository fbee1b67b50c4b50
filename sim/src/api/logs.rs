//! `pods/log`: what `kubectl logs` reads. As kube-apiserver does (`pkg/registry/core/pod/rest/
//! log.go`, `LogLocation`): the `PodLogOptions` are decoded and validated (422 `PodLogOptions
//! "<pod>" is invalid: ...`), the container defaults to the pod's only one (else 400 `a
//! container name must be specified for pod <pod>, choose one of: [...]`, or `container <c> is
//! not valid for pod <pod>`), a pod not yet bound to a node has an empty log, and otherwise the
//! request goes to the node's kubelet, `https://<InternalIP>:<daemonEndpoints port>
//! /containerLogs/<ns>/<pod>/<container>?<options>`, whose answer is streamed back as
//! `text/plain` (flushed as it comes with `follow`). The kubelet's refusals come back as
//! kube-apiserver's response checker words them (400 `BadRequest` with the kubelet's reason; a
//! 404 as `the server could not find the requested resource ( pods/log <pod>)`).
//!
//! As kube-apiserver without `--kubelet-certificate-authority`, the kubelet's certificate is
//! not verified. Deliberate difference: the node's `InternalIP` is preferred to its
//! `Hostname` (kube-apiserver's default order tries the host name first; the simulated nodes'
//! names do not resolve).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use kubelet::logs::LogOptions;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};

use super::SharedState;
use crate::status::{ApiError, FieldCause};
use crate::store::ObjectKey;

/// The kubelet's port when a node does not say (`--kubelet-port`'s default).
const DEFAULT_KUBELET_PORT: u16 = 10250;
/// How long the kubelet may take to start answering (the log itself may stream for ever).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a kubelet's refusal is read (kube-apiserver's `maxReadLength`).
const MAX_REFUSAL_BYTES: usize = 50_000;

/// `/api/v1/namespaces/<ns>/pods/<name>/log` → (namespace, pod), or `None` for any other URL.
pub fn parse(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("pods/")?;
    let (name, sub) = rest.split_once('/')?;
    (sub == "log" && !namespace.is_empty() && !name.is_empty())
        .then(|| (namespace.to_string(), name.to_string()))
}

pub async fn serve(
    state: &SharedState,
    (namespace, name): (String, String),
    request: Request<Body>,
) -> Result<Response, ApiError> {
    if request.method() != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let pods = state
        .catalogue
        .get("", "v1", "pods")
        .ok_or_else(ApiError::no_such_resource)?;
    let options = LogOptions::from_query(request.uri().query().unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let problems = options.problems();
    if !problems.is_empty() {
        let causes: Vec<FieldCause> = problems
            .into_iter()
            .map(|problem| FieldCause {
                reason: if problem.what == "Forbidden" {
                    "FieldValueForbidden"
                } else {
                    "FieldValueInvalid"
                },
                field: problem.field.to_string(),
                what: problem.what,
                detail: problem.detail.to_string(),
            })
            .collect();
        let kind = crate::catalogue::ResourceInfo {
            kind: "PodLogOptions".into(),
            ..pods.clone()
        };
        return Err(ApiError::invalid(&kind, &name, &causes));
    }
    let pod = state
        .store
        .get(&ObjectKey::new("", "pods", &namespace, &name))
        .ok_or_else(|| ApiError::not_found(&pods, &name))?;
    let container = container(&pod, &name, options.container.as_deref())?;
    let Some(node_name) = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
    else {
        // Not bound to a node: nothing has run, so an empty log.
        return Ok(text(StatusCode::OK, Body::empty()));
    };
    let node = state
        .store
        .get(&ObjectKey::new("", "nodes", "", node_name))
        .ok_or_else(|| match state.catalogue.get("", "v1", "nodes") {
            Some(nodes) => ApiError::not_found(&nodes, node_name),
            None => ApiError::no_such_resource(),
        })?;
    let address = kubelet_address(&node)
        .ok_or_else(|| ApiError::internal(format!("node {node_name:?} reports no address")))?;
    let segment = |text: &str| text.replace('%', "%25").replace('/', "%2F");
    let mut path = format!(
        "/containerLogs/{}/{}/{}",
        segment(&namespace),
        segment(&name),
        segment(&container)
    );
    let query = options.to_query();
    if !query.is_empty() {
        path = format!("{path}?{query}");
    }
    fetch(address, &path, &name).await
}

/// `LogLocation`'s `validateContainer`: the named container, or the only one.
fn container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let names = |list: &str| -> Vec<String> {
        pod.pointer(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
            .collect()
    };
    let containers = names("/spec/containers");
    match asked.filter(|asked| !asked.is_empty()) {
        Some(asked) => {
            let all = [
                containers.clone(),
                names("/spec/initContainers"),
                names("/spec/ephemeralContainers"),
            ]
            .concat();
            if all.iter().any(|c| c == asked) {
                Ok(asked.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {asked} is not valid for pod {name}"
                )))
            }
        }
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => {
                // Go's `%s` of a []string: `[a b c]`, init containers first.
                let all = [
                    names("/spec/initContainers"),
                    containers,
                    names("/spec/ephemeralContainers"),
                ]
                .concat();
                Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        },
    }
}

/// Where the node's kubelet listens: its `InternalIP` (else any address that is an IP) and
/// `daemonEndpoints.kubeletEndpoint.Port`.
fn kubelet_address(node: &Value) -> Option<SocketAddr> {
    let addresses = node.pointer("/status/addresses")?.as_array()?;
    let of_type = |kind: &str| {
        addresses
            .iter()
            .filter(|a| kind.is_empty() || a.get("type").and_then(Value::as_str) == Some(kind))
            .find_map(|a| a.get("address")?.as_str()?.parse::<IpAddr>().ok())
    };
    let ip = of_type("InternalIP").or_else(|| of_type(""))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Some(SocketAddr::new(ip, port))
}

fn text(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain"),
    );
    response
}

/// A failure to reach the kubelet, as Go's HTTP client words it (kube-apiserver passes the
/// error on as it is: `Error from server: Get "https://...": dial tcp ...`).
fn unreachable(url: &str, error: &str) -> ApiError {
    ApiError::new(500, "", format!("Get \"{url}\": {error}"))
}

/// `GET https://<address><path>` at the kubelet; its log streamed back, or its refusal as
/// kube-apiserver's `GenericHttpResponseChecker` turns it into a Status.
async fn fetch(address: SocketAddr, path: &str, pod: &str) -> Result<Response, ApiError> {
    let url = format!("https://{address}{path}");
    let answer = async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| {
                let what = match error.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    _ => error.to_string(),
                };
                unreachable(&url, &format!("dial tcp {address}: connect: {what}"))
            })?;
        let config =
            kubelet::unverified_tls::config().map_err(|error| unreachable(&url, &error))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::IpAddress(address.ip().into()), tcp)
            .await
            .map_err(|error| unreachable(&url, &format!("remote error: tls: {error}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| unreachable(&url, &error.to_string()))?;
        tokio::spawn(async move {
            // Ends when the kubelet closes the connection or the body is dropped.
            let _ = connection.await;
        });
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, address.to_string())
            .header(hyper::header::USER_AGENT, "kube-apiserver")
            .body(Empty::<Bytes>::new())
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        sender
            .send_request(request)
            .await
            .map_err(|error| unreachable(&url, &error.to_string()))
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, answer)
        .await
        .map_err(|_| unreachable(&url, "net/http: timeout awaiting response headers"))??;
    let code = answer.status().as_u16();
    if (200..=206).contains(&code) {
        return Ok(text(StatusCode::OK, Body::new(answer.into_body())));
    }
    let reason = Limited::new(answer.into_body(), MAX_REFUSAL_BYTES)
        .collect()
        .await
        .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
        .unwrap_or_default();
    Err(refusal(code, &reason, pod))
}

/// `GenericHttpResponseChecker.Check` and `NewGenericServerResponse` for `pods/log`.
fn refusal(code: u16, reason: &str, pod: &str) -> ApiError {
    let generic = |status: &'static str, message: &str| {
        let mut error = ApiError::new(code, status, format!("{message} ( pods/log {pod})"));
        error.details = Some(json!({"name": pod, "kind": "pods/log"}));
        error
    };
    match code {
        400 => ApiError::bad_request(reason),
        500 => ApiError::internal(reason),
        404 => generic(
            "NotFound",
            "the server could not find the requested resource",
        ),
        422 => generic(
            "Invalid",
            "the server rejected our request due to an error in our request",
        ),
        405 => generic(
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
        _ => generic(
            "InternalError",
            &format!(
                "an error on the server ({reason:?}) has prevented the request from succeeding"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_urls_are_recognised() {
        assert_eq!(
            parse("/api/v1/namespaces/shop/pods/web-1/log"),
            Some(("shop".into(), "web-1".into()))
        );
        assert_eq!(parse("/api/v1/namespaces/shop/pods/web-1/logs"), None);
        assert_eq!(parse("/api/v1/namespaces/shop/pods/web-1"), None);
        assert_eq!(parse("/api/v1/namespaces/shop/services/web/log"), None);
    }

    #[test]
    fn the_container_defaults_to_the_only_one_as_kube_apiserver_decides() {
        let one = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(container(&one, "web", None).unwrap(), "app");
        let error = container(&one, "web", Some("db")).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (400, "container db is not valid for pod web")
        );
        let many = json!({"spec": {
            "initContainers": [{"name": "setup"}],
            "containers": [{"name": "app"}, {"name": "sidecar"}],
        }});
        assert_eq!(container(&many, "web", Some("setup")).unwrap(), "setup");
        assert_eq!(
            container(&many, "web", None).unwrap_err().message,
            "a container name must be specified for pod web, choose one of: [setup app sidecar]"
        );
    }

    #[test]
    fn the_kubelet_is_reached_at_its_nodes_internal_ip_and_port() {
        let node = json!({"status": {
            "addresses": [
                {"type": "Hostname", "address": "sim-node-1"},
                {"type": "InternalIP", "address": "127.0.0.1"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 40123}},
        }});
        assert_eq!(
            kubelet_address(&node),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        let no_port =
            json!({"status": {"addresses": [{"type": "ExternalIP", "address": "10.0.0.9"}]}});
        assert_eq!(
            kubelet_address(&no_port),
            Some("10.0.0.9:10250".parse().unwrap())
        );
        assert_eq!(kubelet_address(&json!({"status": {}})), None);
    }

    #[test]
    fn kubelet_refusals_become_kube_apiservers_statuses() {
        let bad = refusal(
            400,
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating",
            "web",
        );
        assert_eq!((bad.code, bad.reason), (400, "BadRequest"));
        assert_eq!(
            bad.message,
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        let missing = refusal(404, "pod \"web\" does not exist", "web");
        assert_eq!((missing.code, missing.reason), (404, "NotFound"));
        assert_eq!(
            missing.message,
            "the server could not find the requested resource ( pods/log web)"
        );
    }
}
