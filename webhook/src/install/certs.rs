//! The webhook's certificates: a private CA (its certificate becomes the webhook's `caBundle`) and
//! a serving certificate it signs for the Service's DNS names. A CA rather than upstream's single
//! self-signed certificate, so the serving pair can be renewed without re-registering the
//! webhook: a new serving certificate from the same CA keeps the `caBundle` valid. The CA
//! therefore lives longer (ten years by default) than the serving certificate (one year), and
//! [`renew`] issues a new serving certificate under an existing one ([`ExistingCa`]).

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SigningKey,
};

use super::ca::{CaError, ExistingCa};
use super::names::{check_dns1035_label, check_dns1123_label};
use super::service_dns_name;

/// `rcgen` cannot encode dates past 9999; a century is more than any webhook certificate needs.
pub const MAX_DAYS: u32 = 36_500;
/// The serving certificate's validity: renewed yearly, under the same CA.
pub const DEFAULT_DAYS: u32 = 365;
/// The CA's validity. Replacing the CA changes the `caBundle`, a change that needs the webhook
/// configuration re-applied at the same moment as the pods' Secret; renewing the serving
/// certificate under it needs neither.
pub const DEFAULT_CA_DAYS: u32 = 3_650;
const SECONDS_PER_DAY: i64 = 86_400;
/// Backdating `notBefore` tolerates clocks on the API server's nodes that run slightly behind.
const BACKDATE_SECONDS: i64 = 300;

/// The serving certificate to issue. `now` is passed in (the library never reads the clock).
#[derive(Clone, Debug)]
pub struct CertRequest {
    pub service: String,
    pub namespace: String,
    pub days: u32,
    pub now: jiff::Timestamp,
}

/// The four PEM documents of a new installation.
#[derive(Clone, Debug)]
pub struct GeneratedCerts {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A serving certificate and its key, issued under an existing CA.
#[derive(Clone, Debug)]
pub struct ServingCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: jiff::Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("--service {value:?}: not a valid Service name: {reason}")]
    Service { value: String, reason: String },
    #[error("--namespace {value:?}: not a valid namespace name: {reason}")]
    Namespace { value: String, reason: String },
    #[error("--days {value}: must be between 1 and {MAX_DAYS}")]
    Days { value: u32 },
    #[error("--ca-days {value}: must be between 1 and {MAX_DAYS}")]
    CaDays { value: u32 },
    #[error(
        "--ca-days {ca_days}: the CA must live at least as long as the serving certificate \
         (--days {days}), or the API server stops trusting the certificate before it expires"
    )]
    CaShorterThanServing { ca_days: u32, days: u32 },
    #[error(
        "--days {days}: the serving certificate would outlive its CA ({} expires at \
         {ca_not_after}){}",
        ca.display(),
        if *max_days == 0 {
            " and the CA has less than a day left: make a new CA with `image-assurance certs \
             --out DIR` (without --renew) and re-apply the manifests".to_string()
        } else {
            format!("; pass --days {max_days} or less, or make a new CA")
        }
    )]
    OutlivesCa {
        days: u32,
        ca: PathBuf,
        ca_not_after: jiff::Timestamp,
        max_days: i64,
    },
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error("cannot generate the certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: already exists ({hint})", path.display())]
    Exists { path: PathBuf, hint: &'static str },
    #[error("{}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The serving certificate's DNS names: the two the API server may dial
/// (`<service>.<namespace>.svc`, as the upstream procedure demands, and its `cluster.local`
/// form) and the short forms in-cluster clients use.
pub fn dns_names(service: &str, namespace: &str) -> Vec<String> {
    let svc = service_dns_name(service, namespace);
    vec![
        svc.clone(),
        format!("{svc}.cluster.local"),
        service.to_string(),
        format!("{service}.{namespace}"),
    ]
}

/// Issues a new CA valid for `ca_days` and a serving certificate signed by it (ECDSA P-256
/// keys, PKCS#8 PEM).
pub fn generate(request: &CertRequest, ca_days: u32) -> Result<GeneratedCerts, CertError> {
    check_request(request)?;
    if ca_days == 0 || ca_days > MAX_DAYS {
        return Err(CertError::CaDays { value: ca_days });
    }
    if ca_days < request.days {
        return Err(CertError::CaShorterThanServing {
            ca_days,
            days: request.days,
        });
    }
    let (not_before, ca_not_after) = validity(request.now, ca_days)?;

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name(&format!(
        "image-assurance CA for {}",
        service_dns_name(&request.service, &request.namespace)
    ));
    // pathlen 0: this CA signs serving certificates only, never other CAs.
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = ca_not_after;
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let serving = serving_cert(request, &ca)?;
    Ok(GeneratedCerts {
        ca_cert_pem: ca.pem(),
        ca_key_pem,
        cert_pem: serving.cert_pem,
        key_pem: serving.key_pem,
    })
}

/// Issues a new serving certificate under `ca`, which stays as it is (and so does the
/// `caBundle`). Refused if the certificate would outlive the CA: the API server would stop
/// trusting it at the CA's expiry, a date nobody would be watching for.
pub fn renew(request: &CertRequest, ca: &ExistingCa) -> Result<ServingCert, CertError> {
    check_request(request)?;
    let not_after = request.now.as_second() + i64::from(request.days) * SECONDS_PER_DAY;
    if not_after > ca.not_after.as_second() {
        return Err(CertError::OutlivesCa {
            days: request.days,
            ca: ca.cert_path.clone(),
            ca_not_after: ca.not_after,
            max_days: (ca.not_after.as_second() - request.now.as_second()) / SECONDS_PER_DAY,
        });
    }
    serving_cert(request, &ca.issuer()?)
}

fn check_request(request: &CertRequest) -> Result<(), CertError> {
    check_dns1035_label(&request.service).map_err(|reason| CertError::Service {
        value: request.service.clone(),
        reason,
    })?;
    check_dns1123_label(&request.namespace).map_err(|reason| CertError::Namespace {
        value: request.namespace.clone(),
        reason,
    })?;
    if request.days == 0 || request.days > MAX_DAYS {
        return Err(CertError::Days {
            value: request.days,
        });
    }
    Ok(())
}

fn serving_cert<S: SigningKey>(
    request: &CertRequest,
    issuer: &Issuer<'_, S>,
) -> Result<ServingCert, CertError> {
    let (not_before, not_after) = validity(request.now, request.days)?;
    let mut params = CertificateParams::new(dns_names(&request.service, &request.namespace))?;
    params.distinguished_name = name(&service_dns_name(&request.service, &request.namespace));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(ServingCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: jiff::Timestamp::from_second(not_after.unix_timestamp())
            .unwrap_or(jiff::Timestamp::MAX),
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "image-assurance");
    name.push(DnType::CommonName, common_name);
    name
}

fn validity(
    now: jiff::Timestamp,
    days: u32,
) -> Result<(time::OffsetDateTime, time::OffsetDateTime), CertError> {
    let start = now.as_second() - BACKDATE_SECONDS;
    let end = now.as_second() + i64::from(days) * SECONDS_PER_DAY;
    let convert = |seconds| {
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|_| CertError::Days { value: days })
    };
    Ok((convert(start)?, convert(end)?))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::install::cert_dir::{new_files, write};
    use crate::install::{CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE};

    const NOW: i64 = 1_800_000_000;

    fn request() -> CertRequest {
        CertRequest {
            service: "svc".to_string(),
            namespace: "ns".to_string(),
            days: 30,
            now: jiff::Timestamp::from_second(NOW).unwrap(),
        }
    }

    /// `certs` written into a temporary directory, and that CA loaded back `days_later`.
    fn written_ca(ca_days: u32, days_later: i64) -> (tempfile::TempDir, ExistingCa) {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate(&request(), ca_days).unwrap();
        write(dir.path(), &new_files(&certs), false).unwrap();
        let later = jiff::Timestamp::from_second(NOW + days_later * SECONDS_PER_DAY).unwrap();
        let ca = ExistingCa::load(
            &dir.path().join(CA_FILE),
            &dir.path().join(CA_KEY_FILE),
            later,
        )
        .unwrap();
        (dir, ca)
    }

    #[test]
    fn dns_names_cover_the_service_forms_the_api_server_uses() {
        assert_eq!(
            dns_names("svc", "ns"),
            ["svc.ns.svc", "svc.ns.svc.cluster.local", "svc", "svc.ns"]
        );
    }

    #[test]
    fn generation_yields_four_pem_documents() {
        let certs = generate(&request(), DEFAULT_CA_DAYS).unwrap();
        assert!(certs.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(certs.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(certs.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(certs.ca_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_ne!(certs.key_pem, certs.ca_key_pem);
    }

    #[test]
    fn bad_input_names_the_flag() {
        let mut bad = request();
        bad.service = "Svc".to_string();
        assert!(
            generate(&bad, DEFAULT_CA_DAYS)
                .unwrap_err()
                .to_string()
                .starts_with("--service \"Svc\"")
        );
        let mut bad = request();
        bad.namespace = "a.b".to_string();
        assert!(
            generate(&bad, DEFAULT_CA_DAYS)
                .unwrap_err()
                .to_string()
                .starts_with("--namespace \"a.b\"")
        );
        let mut bad = request();
        bad.days = 0;
        assert_eq!(
            generate(&bad, DEFAULT_CA_DAYS).unwrap_err().to_string(),
            "--days 0: must be between 1 and 36500"
        );
        assert_eq!(
            generate(&request(), 0).unwrap_err().to_string(),
            "--ca-days 0: must be between 1 and 36500"
        );
        let error = generate(&request(), 29).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "--ca-days 29: the CA must live at least as long as the serving certificate \
                 (--days 30)"
            ),
            "{error}"
        );
    }

    #[test]
    fn the_ca_outlives_the_serving_certificate() {
        let (_dir, ca) = written_ca(DEFAULT_CA_DAYS, 0);
        assert_eq!(
            ca.not_after.as_second(),
            NOW + i64::from(DEFAULT_CA_DAYS) * SECONDS_PER_DAY
        );
    }

    #[test]
    fn a_renewal_is_signed_by_the_same_ca_and_may_not_outlive_it() {
        // With 40 of the CA's 60 days left a 30-day certificate fits; with 10 left it does
        // not, and the error says how many days would.
        let (_dir, ca) = written_ca(60, 20);
        let mut later = request();
        later.now = jiff::Timestamp::from_second(NOW + 20 * SECONDS_PER_DAY).unwrap();
        let serving = renew(&later, &ca).unwrap();
        assert_eq!(
            serving.not_after.as_second(),
            later.now.as_second() + 30 * SECONDS_PER_DAY
        );
        let files = crate::install::cert_files::CertFiles {
            cert_pem: serving.cert_pem.into_bytes(),
            key_pem: serving.key_pem.into_bytes(),
            ca_pem: ca.bundle_pem.clone().into_bytes(),
        };
        crate::install::cert_files::verify(&files, Path::new("d"), "svc.ns.svc", later.now)
            .unwrap();

        let (_dir, ca) = written_ca(60, 50);
        later.now = jiff::Timestamp::from_second(NOW + 50 * SECONDS_PER_DAY).unwrap();
        let error = renew(&later, &ca).unwrap_err().to_string();
        assert!(
            error.starts_with("--days 30: the serving certificate would outlive its CA"),
            "{error}"
        );
        assert!(
            error.ends_with("pass --days 10 or less, or make a new CA"),
            "{error}"
        );
    }

    #[test]
    fn an_expired_or_foreign_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate(&request(), 30).unwrap();
        write(dir.path(), &new_files(&certs), false).unwrap();
        let (cert, key) = (dir.path().join(CA_FILE), dir.path().join(CA_KEY_FILE));
        let after = jiff::Timestamp::from_second(NOW + 31 * SECONDS_PER_DAY).unwrap();
        let error = ExistingCa::load(&cert, &key, after)
            .unwrap_err()
            .to_string();
        assert!(error.contains("the CA expired at"), "{error}");

        let now = jiff::Timestamp::from_second(NOW).unwrap();
        let other = generate(&request(), 30).unwrap();
        fs::write(&key, other.ca_key_pem).unwrap();
        let error = ExistingCa::load(&cert, &key, now).unwrap_err().to_string();
        assert!(
            error.contains("the key does not belong to any certificate"),
            "{error}"
        );

        // The serving certificate's own pair: a key that matches, but no CA.
        let (leaf, leaf_key) = (dir.path().join(CERT_FILE), dir.path().join(KEY_FILE));
        let error = ExistingCa::load(&leaf, &leaf_key, now)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a CA certificate"), "{error}");

        let error = ExistingCa::load(&cert, &cert, now).unwrap_err().to_string();
        assert!(error.contains("expected a PKCS#8 private key"), "{error}");
    }
}
