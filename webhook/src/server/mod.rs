//! `image-assurance serve`: the webhook. HTTPS (rustls, TLS 1.2/1.3) for admission, plain
//! HTTP on a separate port for Prometheus metrics; watches the cluster through kube-rs.

pub mod audit_task;
pub mod body;
pub mod caches;
pub mod connections;
pub mod decisions;
pub mod events;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod tls;

pub use limits::Limits;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;

use crate::admission::handler::Admitter;
use crate::scan::SeverityThresholds;
use crate::workload::ControllerIdentities;

/// Connections the metrics port holds at once (Prometheus keeps one per scraper).
const METRICS_MAX_CONNECTIONS: usize = 16;

/// How `serve` runs (the flags of the `serve` subcommand).
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub scan_results: Option<PathBuf>,
    pub thresholds: SeverityThresholds,
    pub identities: ControllerIdentities,
    /// `--enforcement warn`: every policy treated as `Warn` (a dry run of all of them).
    pub every_enforcement: Option<crate::policy::Enforcement>,
    pub max_body_bytes: usize,
    /// Per-request deadline, well inside the API server's webhook timeout (5 s by default).
    pub deadline: Duration,
    /// How long in-flight requests may take to finish on shutdown.
    pub shutdown_grace: Duration,
    pub cert_poll: Duration,
    /// The periodic audit and its lease (`--audit-interval`; disabled by a zero interval).
    pub audit: audit_task::AuditSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot connect to the Kubernetes API: {0}")]
    Kube(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// Runs until SIGTERM or Ctrl-C, then finishes the requests in flight. The cluster is reached
/// through the in-cluster configuration or KUBECONFIG.
pub async fn run(options: ServeOptions) -> Result<(), ServeError> {
    let client = kube::Client::try_default()
        .await
        .map_err(|error| ServeError::Kube(error.to_string()))?;
    serve(options, client, wait_for_signal()).await
}

/// Serves with `client` until `stop` completes, then finishes the requests in flight.
pub async fn serve(
    options: ServeOptions,
    client: kube::Client,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with_limits(options, Limits::default(), client, stop).await
}

/// `serve`, with `limits` on connections, time and decisions instead of the defaults.
pub async fn serve_with_limits(
    options: ServeOptions,
    limits: Limits,
    client: kube::Client,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let tls = tls::TlsConfig::new(tls::server_config(&options.tls_cert, &options.tls_key)?);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: options.listen,
            source,
        })?;
    let metrics = Arc::new(metrics::Metrics::default());
    let caches = caches::ClusterCaches::start(
        client.clone(),
        options.scan_results.clone(),
        options.thresholds,
        metrics.clone(),
        options.every_enforcement,
    );
    let audits = audit_task::spawn(
        options.audit.clone(),
        client,
        caches.clone(),
        metrics.clone(),
        options.identities.clone(),
    );
    let state = Arc::new(routes::AppState {
        admitter: Admitter {
            cluster: caches.clone(),
            identities: options.identities.clone(),
        },
        caches,
        metrics: metrics.clone(),
        max_body_bytes: options.max_body_bytes,
        read_timeout: limits.read_timeout,
        deadline: options.deadline,
        decisions: decisions::Decisions::new(limits.max_decisions, limits.max_computing),
        inline_body_bytes: limits.inline_body_bytes,
        // A body as large as allowed must fit.
        bodies: body::Budget::new(limits.body_bytes_in_flight.max(options.max_body_bytes)),
    });
    let reloader = tls::spawn_reloader(
        tls.clone(),
        options.tls_cert.clone(),
        options.tls_key.clone(),
        options.cert_poll,
    );

    let metrics_listener = tokio::net::TcpListener::bind(options.metrics_listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: options.metrics_listen,
            source,
        })?;
    let metrics_app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { metrics.encode() }
        }),
    );
    // Bounded like the admission port, with a pool of its own: a scraper that holds
    // connections cannot take the API server's.
    let metrics_limits = Limits {
        max_connections: limits.max_connections.min(METRICS_MAX_CONNECTIONS),
        ..limits.clone()
    };
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_task = tokio::spawn(connections::serve(
        metrics_listener,
        None,
        metrics_app,
        metrics_limits,
        async move {
            let _ = metrics_stopped.await;
        },
        Duration::ZERO,
    ));

    let stop = async move {
        stop.await;
        tracing::info!("shutting down: finishing requests in flight");
    };
    tracing::info!(listen = %options.listen, metrics = %options.metrics_listen, "serving");
    connections::serve(
        listener,
        Some(tls),
        routes::router(state),
        limits,
        stop,
        options.shutdown_grace,
    )
    .await;
    reloader.abort();
    for task in audits {
        task.abort();
    }
    let _ = stop_metrics.send(());
    let _ = metrics_task.await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
