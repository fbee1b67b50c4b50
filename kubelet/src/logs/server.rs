//! The kubelet's HTTPS endpoint, as far as the API server needs it: `GET
//! /containerLogs/<namespace>/<pod>/<container>?<PodLogOptions>`, which kube-apiserver's
//! `pods/log` proxies to (at the node's `InternalIP` and `daemonEndpoints.kubeletEndpoint.Port`).
//! Answers as the kubelet's server words them: the log as `text/plain` (streamed and
//! flushed as it grows with `follow`), or a status with a plain-text reason.
//!
//! Its certificate is self-signed, as a kubelet's without `--tls-cert-file`; kube-apiserver
//! without `--kubelet-certificate-authority` does not verify it. Unlike a kubelet, it asks
//! callers for no credentials: it serves only logs, which are files any local user of this
//! machine can read anyway, and listens on the node's address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::read::{LogOptions, Render, percent_decode, tail_start};
use super::{Found, Run, Table};

type Body = BoxBody<Bytes, Infallible>;

/// Chunks of a followed log waiting for the client.
const STREAM_BACKLOG: usize = 16;

/// Listens on `host` (a free port) and serves `table`'s logs until the task is aborted.
/// Returns the port and the task.
pub async fn start(
    host: IpAddr,
    names: &[String],
    table: Arc<Table>,
) -> Result<(u16, JoinHandle<()>), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config(host, names)?);
    let listener = TcpListener::bind(SocketAddr::new(host, 0))
        .await
        .map_err(|error| format!("the kubelet cannot listen on {host}: {error}"))?;
    let port = listener
        .local_addr()
        .map_err(|error| format!("the kubelet's listener has no address: {error}"))?
        .port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, table) = (acceptor.clone(), table.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    let table = table.clone();
                    async move { Ok::<_, Infallible>(handle(&table, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((port, task))
}

fn tls_config(host: IpAddr, names: &[String]) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut subjects = vec![host.to_string(), "localhost".to_string()];
    subjects.extend(names.iter().cloned());
    let certified = rcgen::generate_simple_self_signed(subjects)
        .map_err(|error| format!("cannot make the kubelet's serving certificate: {error}"))?;
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key)
        })
        .map_err(|error| format!("cannot configure the kubelet's TLS: {error}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(message.into())).boxed());
    *response.status_mut() = status;
    response
}

/// `/containerLogs/<namespace>/<pod>/<container>`, decoded.
fn route(path: &str) -> Option<(String, String, String)> {
    let rest = path.strip_prefix("/containerLogs/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [namespace, pod, container] if !pod.is_empty() && !container.is_empty() => Some((
            percent_decode(namespace),
            percent_decode(pod),
            percent_decode(container),
        )),
        _ => None,
    }
}

async fn handle(table: &Table, request: Request<Incoming>) -> Response<Body> {
    let Some((namespace, pod, container)) = route(request.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    };
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
    }
    // The kubelet's own (terse) answers to options the API server would have refused.
    let Ok(options) = LogOptions::from_query(request.uri().query().unwrap_or("")) else {
        return text(
            StatusCode::BAD_REQUEST,
            r#"{"message": "Unable to decode query."}"#,
        );
    };
    if !options.problems().is_empty() {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"message": "Invalid request."}"#,
        );
    }
    let run = match table.find(&namespace, &pod, &container, options.previous) {
        Ok(Found::Run(run)) => run,
        Ok(Found::Nothing) => return text(StatusCode::OK, ""),
        Err(refusal) => {
            let status =
                StatusCode::from_u16(refusal.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return text(status, refusal.message);
        }
    };
    let (chunks, receiver) = mpsc::channel::<Bytes>(STREAM_BACKLOG);
    tokio::spawn(stream(run, options, chunks));
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), receiver))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

/// Sends the run's log, rendered, in chunks; with `follow`, keeps sending what the container
/// writes until its output ends (the run is over), the byte limit is reached or the client
/// goes away.
async fn stream(run: Run, options: LogOptions, chunks: mpsc::Sender<Bytes>) {
    let mut written = run.written.clone();
    let Ok(mut file) = tokio::fs::File::open(&run.path).await else {
        return;
    };
    let mut render = Render::new(&options, jiff::Timestamp::now());
    let mut pending: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        // Sampled before reading: a run that has ended has nothing after what is read now.
        let ended = written.has_changed().is_err();
        if file.read_to_end(&mut pending).await.is_err() {
            return;
        }
        if first {
            first = false;
            if let Some(lines) = options.tail_lines {
                let complete = pending
                    .iter()
                    .rposition(|byte| *byte == b'\n')
                    .map_or(0, |at| at + 1);
                let start = tail_start(&pending[..complete], u64::try_from(lines).unwrap_or(0));
                pending.drain(..start);
            }
        }
        let mut out = Vec::new();
        let used = render.lines(&pending, &mut out);
        pending.drain(..used);
        if !out.is_empty() && chunks.send(Bytes::from(out)).await.is_err() {
            return;
        }
        if !options.follow || ended || render.full() {
            return;
        }
        // Err: the run's output has ended; one more pass reads what is left.
        tokio::select! {
            _ = written.changed() => {}
            _ = chunks.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_log_paths_are_served() {
        assert_eq!(
            route("/containerLogs/shop/web-1/app"),
            Some(("shop".into(), "web-1".into(), "app".into()))
        );
        assert_eq!(route("/containerLogs/shop/web-1"), None);
        assert_eq!(route("/containerLogs/shop/web-1/app/x"), None);
        assert_eq!(route("/exec/shop/web-1/app"), None);
    }
}
