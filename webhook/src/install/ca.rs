//! An existing CA that `certs --renew` (or `--ca-cert`/`--ca-key`) signs a new serving
//! certificate with, so that the webhook's `caBundle` stays as it is. Checked before anything is
//! issued: a key that is not the certificate's, a certificate that is no CA or has expired
//! would give a serving certificate the API server refuses, and with `failurePolicy: Fail`
//! that stops pod creation in every selected namespace.

use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair, PublicKeyData};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::cert_dir::read_bounded;
use super::certs::CertError;

/// A CA certificate file and the private key that signs with it. The file may hold several
/// certificates (a bundle kept during a CA rotation); the signer is the one the key belongs to.
#[derive(Clone, Debug)]
pub struct ExistingCa {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// The whole certificate file, as read: what becomes the `caBundle`.
    pub bundle_pem: String,
    /// The DER of the certificate the key belongs to.
    signer: CertificateDer<'static>,
    key_pem: String,
    /// When the signing certificate expires.
    pub not_after: jiff::Timestamp,
}

/// Why an existing CA cannot sign.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{}: expected {expected} in PEM form: {reason}", path.display())]
    Pem {
        path: PathBuf,
        expected: &'static str,
        reason: String,
    },
    #[error("{}: the key does not belong to any certificate in {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error(
        "{}: not a CA certificate ({reason}); a serving certificate it signed would not verify",
        path.display()
    )]
    NotCa { path: PathBuf, reason: &'static str },
    #[error(
        "{}: the CA expired at {not_after}; make a new CA with `image-assurance certs --out DIR` \
         (without --renew) and re-apply the manifests",
        path.display()
    )]
    Expired {
        path: PathBuf,
        not_after: jiff::Timestamp,
    },
}

impl ExistingCa {
    /// Reads and checks `cert_path` and `key_path` at `now`.
    pub fn load(
        cert_path: &Path,
        key_path: &Path,
        now: jiff::Timestamp,
    ) -> Result<Self, CertError> {
        let bundle_pem = read_bounded(cert_path)?;
        let key_pem = read_bounded(key_path)?;
        let pem_error = |path: &Path, expected, reason: String| CaError::Pem {
            path: path.to_path_buf(),
            expected,
            reason,
        };
        let key = KeyPair::from_pem(&key_pem).map_err(|error| {
            pem_error(
                key_path,
                "a PKCS#8 private key (BEGIN PRIVATE KEY; convert others with \
                 `openssl pkcs8 -topk8 -nocrypt`)",
                error.to_string(),
            )
        })?;
        let certificates = CertificateDer::pem_slice_iter(bundle_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| pem_error(cert_path, "certificates", error.to_string()))?;
        if certificates.is_empty() {
            return Err(pem_error(cert_path, "certificates", "no CERTIFICATE block".into()).into());
        }
        let public_key = key.subject_public_key_info();
        let mut signer = None;
        for certificate in certificates {
            let (_, parsed) = x509_parser::parse_x509_certificate(&certificate)
                .map_err(|error| pem_error(cert_path, "certificates", error.to_string()))?;
            if parsed.public_key().raw == public_key.as_slice() {
                let not_after = parsed.validity().not_after.timestamp();
                check_can_sign(&parsed, cert_path)?;
                signer = Some((certificate, not_after));
                break;
            }
        }
        let Some((signer, not_after)) = signer else {
            return Err(CaError::KeyMismatch {
                key: key_path.to_path_buf(),
                cert: cert_path.to_path_buf(),
            }
            .into());
        };
        // x509 times end at 9999-12-31, inside jiff's range; saturate rather than fail anyway.
        let not_after = jiff::Timestamp::from_second(not_after).unwrap_or(jiff::Timestamp::MAX);
        if not_after <= now {
            return Err(CaError::Expired {
                path: cert_path.to_path_buf(),
                not_after,
            }
            .into());
        }
        Ok(ExistingCa {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            bundle_pem,
            signer,
            key_pem,
            not_after,
        })
    }

    /// The signer, for rcgen: the CA's subject and key identifier as they are in its
    /// certificate, so that the new certificate's issuer and authority key identifier match.
    pub(crate) fn issuer(&self) -> Result<Issuer<'static, KeyPair>, CertError> {
        let key = KeyPair::from_pem(&self.key_pem)?;
        Ok(Issuer::from_ca_cert_der(&self.signer, key)?)
    }
}

fn check_can_sign(
    certificate: &x509_parser::certificate::X509Certificate<'_>,
    path: &Path,
) -> Result<(), CaError> {
    let not_ca = |reason| CaError::NotCa {
        path: path.to_path_buf(),
        reason,
    };
    if !certificate.is_ca() {
        return Err(not_ca("basicConstraints does not say cA"));
    }
    match certificate.key_usage() {
        Ok(Some(usage)) if !usage.value.key_cert_sign() => {
            Err(not_ca("its keyUsage lacks keyCertSign"))
        }
        Ok(_) => Ok(()),
        Err(_) => Err(not_ca("its keyUsage extension does not parse")),
    }
}
