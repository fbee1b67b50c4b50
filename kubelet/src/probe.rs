//! Container probes as the kubelet runs them: `httpGet` (HTTP, or HTTPS without verifying the
//! certificate, as the kubelet does; 200–399 is success), `tcpSocket` (the connection opens),
//! and the thresholds. `exec` and `grpc` probes cannot run here and count as success.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
        Err(_) => Err(format!("probe timed out after {timeout:?}")),
    }
}

async fn run(action: &Action) -> Result<(), String> {
    match action {
        Action::Pass => Ok(()),
        Action::Tcp(address) => TcpStream::connect(address)
            .await
            .map(|_| ())
            .map_err(|error| format!("dial tcp {address}: {error}")),
        Action::Http {
            https,
            address,
            host,
            path,
            headers,
        } => {
            let stream = TcpStream::connect(address)
                .await
                .map_err(|error| format!("Get \"{address}{path}\": dial tcp {address}: {error}"))?;
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
                let stream = tokio_rustls::TlsConnector::from(tls_config()?)
                    .connect(name, stream)
                    .await
                    .map_err(|error| format!("TLS handshake with {address}: {error}"))?;
                exchange(stream, &request).await
            } else {
                exchange(stream, &request).await
            }
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

/// The kubelet does not verify a probed server's certificate: accept any, but still check the
/// handshake signatures so the TLS session itself is sound.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(
                        builder
                            .dangerous()
                            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                            .with_no_client_auth(),
                    )
                })
                .map_err(|error| format!("cannot configure TLS for probes: {error}"))
        })
        .clone()
}
