//! Container probes as the kubelet runs them: `httpGet` (HTTP, or HTTPS without verifying the
//! certificate, as the kubelet does; 200–399 is success), `tcpSocket` (the connection opens),
//! and the thresholds. `exec` and `grpc` probes cannot run here and count as success. Failures
//! are worded as Go's clients word them (`Get "http://…": dial tcp …: connect: connection
//! refused`), which is what the kubelet's `Unhealthy` events carry.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::events::{Recorder, WARNING};

/// While a container has never been ready, its readiness probe runs this often, whatever its
/// `periodSeconds` (so pods become Ready promptly).
pub const FAST_PERIOD: Duration = Duration::from_millis(50);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Http {
        https: bool,
        address: SocketAddr,
        host: String,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp(SocketAddr),
    /// Probes that cannot run here (`exec`, `grpc`): always successful.
    Pass,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub action: Action,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

fn port_number(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(number) => {
            u16::try_from(*number).map_err(|_| format!("probe port {number} is out of range"))
        }
        IntOrString::String(name) => {
            if let Ok(number) = name.parse::<u16>() {
                return Ok(number);
            }
            container
                .ports
                .iter()
                .flatten()
                .find(|port| port.name.as_deref() == Some(name.as_str()))
                .and_then(|port| u16::try_from(port.container_port).ok())
                .ok_or_else(|| {
                    format!(
                        "probe port {name:?} names no port of container {}",
                        container.name
                    )
                })
        }
    }
}

fn seconds(value: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(u64::try_from(value.unwrap_or(default).max(0)).unwrap_or(0))
}

/// The probe of `container`, aimed at the pod's IP.
pub fn spec(probe: &Probe, container: &Container, pod_ip: IpAddr) -> Result<Spec, String> {
    let action = if let Some(http) = &probe.http_get {
        let port = port_number(&http.port, container)?;
        let host = http.host.clone().filter(|h| !h.is_empty());
        let ip = match &host {
            Some(host) => host.parse().unwrap_or(pod_ip),
            None => pod_ip,
        };
        Action::Http {
            https: http.scheme.as_deref() == Some("HTTPS"),
            address: SocketAddr::new(ip, port),
            host: host.unwrap_or_else(|| pod_ip.to_string()),
            path: http
                .path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into()),
            headers: http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    } else if let Some(tcp) = &probe.tcp_socket {
        let port = port_number(&tcp.port, container)?;
        let ip = tcp
            .host
            .as_deref()
            .and_then(|h| h.parse().ok())
            .unwrap_or(pod_ip);
        Action::Tcp(SocketAddr::new(ip, port))
    } else {
        Action::Pass
    };
    Ok(Spec {
        action,
        initial_delay: seconds(probe.initial_delay_seconds, 0),
        period: seconds(probe.period_seconds, 10).max(Duration::from_millis(100)),
        timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_millis(100)),
        success_threshold: u32::try_from(probe.success_threshold.unwrap_or(1).max(1)).unwrap_or(1),
        failure_threshold: u32::try_from(probe.failure_threshold.unwrap_or(3).max(1)).unwrap_or(3),
    })
}

/// Runs the action once: `Ok` on success, `Err` with what failed.
pub async fn check(action: &Action, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, run(action)).await {
        Ok(result) => result,
        Err(_) => Err(match action {
            Action::Http { .. } => format!(
                "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                url(action)
            ),
            Action::Tcp(address) => format!("dial tcp {address}: i/o timeout"),
            Action::Pass => "probe timed out".into(),
        }),
    }
}

/// The URL an HTTP probe gets, as Go's error messages quote it.
fn url(action: &Action) -> String {
    match action {
        Action::Http {
            https,
            address,
            path,
            ..
        } => format!(
            "{}://{address}{path}",
            if *https { "https" } else { "http" }
        ),
        _ => String::new(),
    }
}

/// `dial tcp <address>: connect: connection refused`, as Go's net package says it.
fn dial_error(address: SocketAddr, error: &std::io::Error) -> String {
    let what = match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "connection timed out".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "cannot assign requested address".to_string(),
        _ => error.to_string(),
    };
    format!("dial tcp {address}: connect: {what}")
}

async fn run(action: &Action) -> Result<(), String> {
    match action {
        Action::Pass => Ok(()),
        Action::Tcp(address) => TcpStream::connect(address)
            .await
            .map(|_| ())
            .map_err(|error| dial_error(*address, &error)),
        Action::Http {
            https,
            address,
            host,
            path,
            headers,
        } => {
            let get = |error: String| format!("Get \"{}\": {error}", url(action));
            let stream = TcpStream::connect(address)
                .await
                .map_err(|error| get(dial_error(*address, &error)))?;
            let mut request = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n",
                address.port()
            );
            for (name, value) in headers {
                request.push_str(&format!("{name}: {value}\r\n"));
            }
            request.push_str("\r\n");
            if *https {
                let name = ServerName::IpAddress(address.ip().into());
                let stream = tokio_rustls::TlsConnector::from(crate::unverified_tls::config()?)
                    .connect(name, stream)
                    .await
                    .map_err(|error| get(format!("remote error: tls: {error}")))?;
                exchange(stream, &request)
                    .await
                    .map_err(get_unless_status(&get))
            } else {
                exchange(stream, &request)
                    .await
                    .map_err(get_unless_status(&get))
            }
        }
    }
}

/// Transport failures are quoted after the URL; a status the probe refuses stands alone.
fn get_unless_status(get: &dyn Fn(String) -> String) -> impl Fn(String) -> String + '_ {
    move |error| {
        if error.starts_with("HTTP probe failed") {
            error
        } else {
            get(error)
        }
    }
}

/// Sends the request and judges the status line.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<(), String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| format!("cannot send the probe request: {error}"))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|error| format!("cannot read the probe response: {error}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {:?}",
                line.lines().next().unwrap_or("")
            )
        })?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

/// What a probe loop tells its container's runner.
pub enum Probed {
    Ready(bool),
    LivenessFailed(String),
}

/// Records failed probes as the kubelet does: a Warning `Unhealthy` event on the container,
/// `Readiness probe failed: <what failed>`.
pub struct Unhealthy {
    pub events: Recorder,
    pub pod: Arc<Pod>,
    pub container: String,
}

impl Unhealthy {
    fn record(&self, probe: &str, message: &str) {
        self.events.container(
            &self.pod,
            &self.container,
            WARNING,
            "Unhealthy",
            format!("{probe} probe failed: {message}"),
        );
    }
}

/// Runs a readiness probe until the runner goes away, sending each change of readiness.
///
/// Until the container is first ready the probe runs every `FAST_PERIOD` (so pods become Ready
/// promptly), where a kubelet probes once a period: failures are recorded only once a kubelet
/// would have seen one (a period after the initial delay), at most once a period.
pub async fn readiness_loop(
    spec: Spec,
    results: mpsc::UnboundedSender<Probed>,
    unhealthy: Unhealthy,
) {
    tokio::time::sleep(spec.initial_delay).await;
    let started = Instant::now();
    let mut recorded: Option<Instant> = None;
    let (mut ready, mut ever_ready) = (false, false);
    let (mut successes, mut failures) = (0u32, 0u32);
    loop {
        match check(&spec.action, spec.timeout).await {
            Ok(()) => {
                successes += 1;
                failures = 0;
                if !ready && successes >= spec.success_threshold {
                    ready = true;
                    ever_ready = true;
                    if results.send(Probed::Ready(true)).is_err() {
                        return;
                    }
                }
            }
            Err(message) => {
                failures += 1;
                successes = 0;
                let now = Instant::now();
                let seen = ever_ready || now.duration_since(started) >= spec.period;
                if seen && recorded.is_none_or(|at| now.duration_since(at) >= spec.period) {
                    recorded = Some(now);
                    unhealthy.record("Readiness", &message);
                }
                if ready && failures >= spec.failure_threshold {
                    ready = false;
                    if results.send(Probed::Ready(false)).is_err() {
                        return;
                    }
                }
            }
        }
        let period = if ever_ready { spec.period } else { FAST_PERIOD };
        tokio::time::sleep(period).await;
    }
}

/// Runs a liveness probe until it fails `failureThreshold` times in a row (each failure is an
/// `Unhealthy` event), then tells the runner. The first probe comes when a kubelet's would: at
/// its first period tick once the initial delay has passed (not as the process starts, when
/// nothing listens yet).
pub async fn liveness_loop(
    spec: Spec,
    results: mpsc::UnboundedSender<Probed>,
    unhealthy: Unhealthy,
) {
    tokio::time::sleep(spec.initial_delay.max(spec.period)).await;
    let mut failures = 0u32;
    loop {
        match check(&spec.action, spec.timeout).await {
            Ok(()) => failures = 0,
            Err(message) => {
                failures += 1;
                unhealthy.record("Liveness", &message);
                if failures >= spec.failure_threshold {
                    let _ = results.send(Probed::LivenessFailed(message));
                    return;
                }
            }
        }
        tokio::time::sleep(spec.period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port nothing listens on (bound, then released).
    async fn closed_port() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    #[tokio::test]
    async fn failures_are_worded_as_the_kubelets_go_clients_word_them() {
        let address = closed_port().await;
        let tcp = check(&Action::Tcp(address), Duration::from_secs(1)).await;
        assert_eq!(
            tcp.unwrap_err(),
            format!("dial tcp {address}: connect: connection refused")
        );
        let http = Action::Http {
            https: false,
            address,
            host: address.ip().to_string(),
            path: "/readyz".into(),
            headers: vec![],
        };
        assert_eq!(
            check(&http, Duration::from_secs(1)).await.unwrap_err(),
            format!(
                "Get \"http://{address}/readyz\": dial tcp {address}: connect: connection refused"
            )
        );
        // Answers with a status the probe refuses: the status alone.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let serving = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        });
        let refused = Action::Http {
            https: false,
            address: serving,
            host: serving.ip().to_string(),
            path: "/readyz".into(),
            headers: vec![],
        };
        assert_eq!(
            check(&refused, Duration::from_secs(1)).await.unwrap_err(),
            "HTTP probe failed with statuscode: 503"
        );
    }
}
