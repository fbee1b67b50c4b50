//! The serving certificate: TLS 1.2 and 1.3 only, and reloaded when its files change so that
//! certificate rotation needs no restart. New connections get the new certificate; connections
//! in flight keep theirs, so no request fails during a rotation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read the certificate chain: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("{path}: cannot read the private key: {message}")]
    Key { path: PathBuf, message: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// Builds the server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|error| TlsError::Certificate {
            path: cert.to_path_buf(),
            message: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_path_buf(),
            message: "no certificate in the file".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_path_buf(),
        message: error.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The configuration new connections are served with; swapped whole on reload.
#[derive(Clone)]
pub struct TlsConfig(Arc<RwLock<Arc<ServerConfig>>>);

impl TlsConfig {
    pub fn new(config: ServerConfig) -> Self {
        TlsConfig(Arc::new(RwLock::new(Arc::new(config))))
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        // Writers only swap whole values, so a poisoned lock still holds a consistent one.
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(&self, config: ServerConfig) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// Polls the files and swaps the configuration when either changes (Secret volume updates
/// replace the files through a symlink swap, which a modification time catches).
pub fn spawn_reloader(
    config: TlsConfig,
    cert: PathBuf,
    key: PathBuf,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = (modified(&cert), modified(&key));
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            let now = (modified(&cert), modified(&key));
            if now == seen {
                continue;
            }
            match server_config(&cert, &key) {
                Ok(new) => {
                    config.replace(new);
                    seen = now;
                    tracing::info!(cert = %cert.display(), "serving certificate reloaded");
                }
                // A half-written pair is retried on the next tick; the old certificate stays.
                Err(error) => tracing::warn!(%error, "serving certificate not reloaded yet"),
            }
        }
    })
}
