//! The HTTPS client for webhook calls: TLS 1.2/1.3 (rustls, ring) trusting only the webhook's
//! `caBundle`, HTTP/1.1 over hyper, idle connections kept per (address, name, CA) and reused,
//! responses capped in size. Errors carry Go's wording (the text after `Post "<url>": `).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use super::endpoints::Destination;

/// Webhook answers larger than this are refused (kube-apiserver has no such cap; a runaway
/// webhook must not exhaust the simulator).
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Idle connections kept per destination.
const MAX_IDLE_PER_KEY: usize = 32;

/// What came back from a webhook.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// Why a call failed: either before the request reached the webhook (Go reports these as
/// `Post "<url>": <error>`) or a refused client configuration.
#[derive(Debug, PartialEq, Eq)]
pub enum CallError {
    Transport(String),
    Config(String),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct PoolKey {
    address: SocketAddr,
    server_name: String,
    ca_bundle: String,
}

type Sender = SendRequest<Full<Bytes>>;

#[derive(Default)]
pub struct WebhookClient {
    tls: Mutex<HashMap<String, Arc<rustls::ClientConfig>>>,
    idle: Mutex<HashMap<PoolKey, Vec<Sender>>>,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookClient")
    }
}

impl WebhookClient {
    /// POSTs `body` (JSON) to `destination`. No deadline here: the caller bounds the call.
    pub async fn post(
        &self,
        destination: &Destination,
        ca_bundle: &str,
        body: Bytes,
    ) -> Result<Reply, CallError> {
        let key = PoolKey {
            address: destination.address,
            server_name: destination.server_name.clone(),
            ca_bundle: ca_bundle.to_string(),
        };
        // A pooled connection the webhook closed meanwhile fails before the request goes out:
        // then (only then, so the webhook is never called twice) retry on a fresh connection.
        if let Some(sender) = self.take_idle(&key).await {
            match self.send(&key, sender, destination, body.clone()).await {
                Ok(reply) => return Ok(reply),
                Err((error, false)) => return Err(error),
                Err((_, true)) => {}
            }
        }
        let sender = self.connect(&key).await?;
        self.send(&key, sender, destination, body)
            .await
            .map_err(|(error, _)| error)
    }

    async fn take_idle(&self, key: &PoolKey) -> Option<Sender> {
        loop {
            let candidate = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.get_mut(key).and_then(Vec::pop)
            }?;
            let mut sender = candidate;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn keep(&self, key: &PoolKey, sender: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.entry(key.clone()).or_default();
        if senders.len() < MAX_IDLE_PER_KEY {
            senders.push(sender);
        }
    }

    async fn send(
        &self,
        key: &PoolKey,
        mut sender: Sender,
        destination: &Destination,
        body: Bytes,
    ) -> Result<Reply, (CallError, bool)> {
        let sent = |error| (error, false);
        let request = hyper::Request::post(destination.path_and_query.as_str())
            .header(hyper::header::HOST, destination.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json, */*")
            .header(hyper::header::USER_AGENT, "kube-apiserver-admission")
            .body(Full::new(body))
            .map_err(|error| sent(CallError::Config(error.to_string())))?;
        // `true`: the request never left (the connection was closed), safe to retry.
        let response = sender.try_send_request(request).await.map_err(|error| {
            let unsent = error.message().is_some();
            (CallError::Transport(hyper_error(error.error())), unsent)
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| {
                sent(if error.is::<http_body_util::LengthLimitError>() {
                    CallError::Transport(format!(
                        "the webhook response is larger than {MAX_RESPONSE_BYTES} bytes"
                    ))
                } else {
                    CallError::Transport(hyper_text(&error.to_string()))
                })
            })?
            .to_bytes();
        // The body was read to its end: the connection can carry the next call.
        self.keep(key, sender);
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    async fn connect(&self, key: &PoolKey) -> Result<Sender, CallError> {
        let config = self.tls_config(&key.ca_bundle)?;
        let address = key.address;
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| CallError::Transport(dial_error(address, &error)))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(key.server_name.clone())
            .map_err(|error| CallError::Config(format!("invalid server name: {error}")))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|error| CallError::Transport(tls_error(&error)))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| CallError::Transport(hyper_error(&error)))?;
        tokio::spawn(async move {
            // Ends when the webhook closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// The TLS configuration trusting exactly `ca_bundle` (base64 of PEM, as stored).
    fn tls_config(&self, ca_bundle: &str) -> Result<Arc<rustls::ClientConfig>, CallError> {
        let mut cache = self.tls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = cache.get(ca_bundle) {
            return Ok(config.clone());
        }
        let config = Arc::new(tls_config(ca_bundle).map_err(CallError::Config)?);
        cache.insert(ca_bundle.to_string(), config.clone());
        Ok(config)
    }
}

fn tls_config(ca_bundle: &str) -> Result<rustls::ClientConfig, String> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(ca_bundle.trim())
        .map_err(|error| format!("unable to load root certificates: caBundle: {error}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate =
            certificate.map_err(|error| format!("unable to load root certificates: {error}"))?;
        roots
            .add(certificate)
            .map_err(|error| format!("unable to load root certificates: {error}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
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

/// TLS handshake failures in crypto/tls wording.
fn tls_error(error: &std::io::Error) -> String {
    use rustls::CertificateError as C;
    let verify = |detail: &str| format!("tls: failed to verify certificate: x509: {detail}");
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(certificate)) => match certificate {
            C::UnknownIssuer => verify("certificate signed by unknown authority"),
            C::NotValidForName => verify("certificate is not valid for the requested name"),
            C::NotValidForNameContext {
                expected,
                presented,
            } => verify(&name_mismatch(&server_name_text(expected), presented)),
            C::ExpiredContext { time, not_after } => verify(&format!(
                "{EXPIRED}: current time {} is after {}",
                go_time(*time),
                go_time(*not_after)
            )),
            C::NotValidYetContext { time, not_before } => verify(&format!(
                "{EXPIRED}: current time {} is before {}",
                go_time(*time),
                go_time(*not_before)
            )),
            C::Expired | C::NotValidYet => verify(EXPIRED),
            other => verify(&format!("{other:?}")),
        },
        Some(other) => format!("tls: {other}"),
        None if error.kind() == std::io::ErrorKind::UnexpectedEof => "EOF".into(),
        None if error.kind() == std::io::ErrorKind::ConnectionReset => {
            "read: connection reset by peer".into()
        }
        None => error.to_string(),
    }
}

const EXPIRED: &str = "certificate has expired or is not yet valid";

/// crypto/x509's `HostnameError`: a DNS name is matched against the certificate's DNS names
/// only, an IP address against its IP addresses only (Go's `maxNamesIncluded` is 100).
fn name_mismatch(host: &str, presented: &[String]) -> String {
    let wants_ip = host.parse::<std::net::IpAddr>().is_ok();
    let valid: Vec<&str> = presented
        .iter()
        .map(String::as_str)
        .filter(|name| name.parse::<std::net::IpAddr>().is_ok() == wants_ip)
        .collect();
    match (wants_ip, valid.len()) {
        (true, 0) => {
            format!("cannot validate certificate for {host} because it doesn't contain any IP SANs")
        }
        (true, count) if count >= 100 => {
            format!("certificate is valid for {count} IP SANs, but none matched {host}")
        }
        (false, count) if count >= 100 => {
            format!("certificate is valid for {count} names, but none matched {host}")
        }
        (false, 0) => format!("certificate is not valid for any names, but wanted to match {host}"),
        _ => format!("certificate is valid for {}, not {host}", valid.join(", ")),
    }
}

/// `time.Format(time.RFC3339)` of a UTC time, as kube-apiserver's x509 errors print it.
fn go_time(time: rustls_pki_types::UnixTime) -> String {
    let seconds = i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .map(|timestamp| timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => format!("{:?}", std::net::IpAddr::from(*ip)),
        _ => "the requested name".into(),
    }
}

/// A connection that ends mid-exchange is Go's `EOF`; a reset is a reset.
fn hyper_error(error: &hyper::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::UnexpectedEof => "EOF".into(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    "read: connection reset by peer".into()
                }
                _ => io.to_string(),
            };
        }
        source = inner.source();
    }
    if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        return "EOF".into();
    }
    hyper_text(&error.to_string())
}

fn hyper_text(text: &str) -> String {
    if text.contains("connection reset") {
        "read: connection reset by peer".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_worded_as_crypto_x509_words_them() {
        let presented = vec!["webhook.example".to_string(), "10.0.0.1".to_string()];
        assert_eq!(
            name_mismatch("svc.ns.svc", &presented),
            "certificate is valid for webhook.example, not svc.ns.svc"
        );
        assert_eq!(
            name_mismatch("10.0.0.2", &presented),
            "certificate is valid for 10.0.0.1, not 10.0.0.2"
        );
        assert_eq!(
            name_mismatch("10.0.0.2", &presented[..1]),
            "cannot validate certificate for 10.0.0.2 because it doesn't contain any IP SANs"
        );
        assert_eq!(
            name_mismatch("svc", &[]),
            "certificate is not valid for any names, but wanted to match svc"
        );
        let time = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            1_800_000_000,
        ));
        assert_eq!(go_time(time), "2027-01-15T08:00:00Z");
    }
}
