//! Reading the certificate files back for `manifests`, and checking them the way the API server
//! will: a serving certificate that does not chain to the `caBundle` or does not name the
//! Service makes every admission call fail, and with `failurePolicy: Fail` that blocks every
//! pod in the selected namespaces. Better to refuse here, before anything is applied.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};

use super::cert_dir::read_bounded;
use super::certs::CertError;
use super::{CA_FILE, CERT_FILE, KEY_FILE};

/// The three files the cluster needs (the CA key stays with the operator).
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub ca_pem: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertFileError {
    #[error(
        "{}: {reason} (generate the certificates with `image-assurance certs --out DIR`, then \
         pass --cert-dir DIR)",
        path.display()
    )]
    Read { path: PathBuf, reason: String },
    #[error("{}: expected {expected} in PEM form: {reason}", path.display())]
    Pem {
        path: PathBuf,
        expected: &'static str,
        reason: String,
    },
    #[error(
        "{}: does not verify against the CA in {}: {reason} (regenerate both with \
         `image-assurance certs --out DIR --namespace NS`)",
        cert.display(),
        ca.display()
    )]
    Chain {
        cert: PathBuf,
        ca: PathBuf,
        reason: String,
    },
    #[error(
        "{}: does not belong to the certificate in {} (regenerate both with \
         `image-assurance certs --out DIR`)",
        key.display(),
        cert.display()
    )]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error(
        "{}: not valid for {name}, the name the API server will check (regenerate it with \
         `image-assurance certs --out DIR --namespace NS` for the same namespace)",
        cert.display()
    )]
    Name { cert: PathBuf, name: String },
}

/// Reads `admission_controller_cert.pem`, `admission_controller_key.pem` and `ca.pem` from `dir`.
pub fn read(dir: &Path) -> Result<CertFiles, CertFileError> {
    let read = |file: &str| {
        let path = dir.join(file);
        match read_bounded(&path) {
            Ok(text) => Ok(text.into_bytes()),
            Err(CertError::Read { reason, .. }) => Err(CertFileError::Read { path, reason }),
            Err(other) => Err(CertFileError::Read {
                path,
                reason: other.to_string(),
            }),
        }
    };
    Ok(CertFiles {
        cert_pem: read(CERT_FILE)?,
        key_pem: read(KEY_FILE)?,
        ca_pem: read(CA_FILE)?,
    })
}

/// Checks the files' PEM structure, that the serving certificate chains to a CA certificate in
/// `ca.pem` for server use at `now`, and that it is valid for `dns_name`. Intermediates may
/// follow the leaf in the certificate file. Paths in errors are those under `dir`.
pub fn verify(
    files: &CertFiles,
    dir: &Path,
    dns_name: &str,
    now: jiff::Timestamp,
) -> Result<(), CertFileError> {
    let cert_path = dir.join(CERT_FILE);
    let ca_path = dir.join(CA_FILE);
    let chain = certificates(&files.cert_pem, &cert_path)?;
    let cas = certificates(&files.ca_pem, &ca_path)?;
    PrivateKeyDer::from_pem_slice(&files.key_pem).map_err(|error| CertFileError::Pem {
        path: dir.join(KEY_FILE),
        expected: "a private key",
        reason: error.to_string(),
    })?;

    let chain_error = |reason: String| CertFileError::Chain {
        cert: cert_path.clone(),
        ca: ca_path.clone(),
        reason,
    };
    let anchors = cas
        .iter()
        .map(|ca| webpki::anchor_from_trusted_cert(ca).map(|anchor| anchor.to_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| chain_error(format!("bad CA certificate: {error}")))?;
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| chain_error("no certificate".to_string()))?;
    let end_entity = webpki::EndEntityCert::try_from(leaf)
        .map_err(|error| chain_error(format!("bad certificate: {error}")))?;
    let seconds = u64::try_from(now.as_second()).unwrap_or(0);
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            intermediates,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|error| chain_error(error.to_string()))?;

    let name_error = || CertFileError::Name {
        cert: cert_path.clone(),
        name: dns_name.to_string(),
    };
    let server_name = DnsName::try_from(dns_name)
        .map(|name| ServerName::DnsName(name.to_owned()))
        .map_err(|_| name_error())?;
    end_entity
        .verify_is_valid_for_subject_name(&server_name)
        .map_err(|_| name_error())?;

    if key_signs_for(&files.key_pem, &end_entity) == Some(false) {
        return Err(CertFileError::KeyMismatch {
            key: dir.join(KEY_FILE),
            cert: cert_path,
        });
    }
    Ok(())
}

/// Whether the private key belongs to the certificate, found by signing with one and verifying
/// with the other (robust to how the public key happens to be encoded). `None` when the key's
/// form cannot be loaded here (e.g. PKCS#1 or SEC1 PEM): the server will tell then.
fn key_signs_for(key_pem: &[u8], certificate: &webpki::EndEntityCert<'_>) -> Option<bool> {
    use rcgen::SigningKey;
    let key = rcgen::KeyPair::from_pem(std::str::from_utf8(key_pem).ok()?).ok()?;
    let message = b"image-assurance key check";
    let signature = key.sign(message).ok()?;
    Some(webpki::ALL_VERIFICATION_ALGS.iter().any(|algorithm| {
        certificate
            .verify_signature(*algorithm, message, &signature)
            .is_ok()
    }))
}

fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, CertFileError> {
    let pem_error = |reason: String| CertFileError::Pem {
        path: path.to_path_buf(),
        expected: "a certificate",
        reason,
    };
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(pem_error("no CERTIFICATE block".to_string()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::certs::{CertRequest, GeneratedCerts, generate};

    const NOW: i64 = 1_800_000_000;

    fn generated(namespace: &str) -> GeneratedCerts {
        generate(
            &CertRequest {
                service: "svc".to_string(),
                namespace: namespace.to_string(),
                days: 10,
                now: jiff::Timestamp::from_second(NOW).unwrap(),
            },
            10,
        )
        .unwrap()
    }

    fn files(certs: &GeneratedCerts) -> CertFiles {
        CertFiles {
            cert_pem: certs.cert_pem.clone().into_bytes(),
            key_pem: certs.key_pem.clone().into_bytes(),
            ca_pem: certs.ca_cert_pem.clone().into_bytes(),
        }
    }

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn a_generated_pair_verifies_for_every_service_name() {
        let files = files(&generated("ns"));
        for name in ["svc.ns.svc", "svc.ns.svc.cluster.local", "svc", "svc.ns"] {
            verify(&files, Path::new("d"), name, at(NOW)).unwrap();
        }
    }

    #[test]
    fn another_namespace_is_refused_by_name() {
        let files = files(&generated("ns"));
        let error = verify(&files, Path::new("d"), "svc.other.svc", at(NOW)).unwrap_err();
        assert!(matches!(error, CertFileError::Name { .. }), "{error}");
        assert!(error.to_string().contains("svc.other.svc"));
    }

    #[test]
    fn a_foreign_ca_or_an_expired_certificate_is_refused() {
        let mut mixed = files(&generated("ns"));
        mixed.ca_pem = generated("ns").ca_cert_pem.into_bytes();
        let error = verify(&mixed, Path::new("d"), "svc.ns.svc", at(NOW)).unwrap_err();
        assert!(matches!(error, CertFileError::Chain { .. }), "{error}");

        let files = files(&generated("ns"));
        let later = NOW + 11 * 86_400;
        let error = verify(&files, Path::new("d"), "svc.ns.svc", at(later)).unwrap_err();
        assert!(error.to_string().contains("Expired"), "{error}");
    }

    #[test]
    fn swapped_files_are_refused_with_the_path() {
        let certs = generated("ns");
        let mut swapped = files(&certs);
        swapped.key_pem = certs.cert_pem.into_bytes();
        let error = verify(&swapped, Path::new("d"), "svc.ns.svc", at(NOW)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("d/admission_controller_key.pem: expected a private key")
        );
    }

    #[test]
    fn a_key_from_another_pair_is_refused() {
        let mut mixed = files(&generated("ns"));
        mixed.key_pem = generated("ns").key_pem.into_bytes();
        let error = verify(&mixed, Path::new("d"), "svc.ns.svc", at(NOW)).unwrap_err();
        assert!(
            matches!(error, CertFileError::KeyMismatch { .. }),
            "{error}"
        );
    }
}
