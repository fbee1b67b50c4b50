//! The webhook's certificates: a private CA (its certificate becomes the webhook's `caBundle`) and
//! a serving certificate it signs for the Service's DNS names. A CA rather than upstream's single
//! self-signed certificate, so the serving pair can be renewed without re-registering the
//! webhook: a new serving certificate from the same CA keeps the `caBundle` valid.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use super::names::{check_dns1035_label, check_dns1123_label};
use super::{CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE, service_dns_name};

/// `rcgen` cannot encode dates past 9999; a century is more than any webhook certificate needs.
pub const MAX_DAYS: u32 = 36_500;
const SECONDS_PER_DAY: i64 = 86_400;
/// Backdating `notBefore` tolerates clocks on the API server's nodes that run slightly behind.
const BACKDATE_SECONDS: i64 = 300;

/// What to issue. `now` is passed in (the library never reads the clock).
#[derive(Clone, Debug)]
pub struct CertRequest {
    pub service: String,
    pub namespace: String,
    pub days: u32,
    pub now: jiff::Timestamp,
}

/// The four PEM documents `certs` writes.
#[derive(Clone, Debug)]
pub struct GeneratedCerts {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("--service {value:?}: not a valid Service name: {reason}")]
    Service { value: String, reason: String },
    #[error("--namespace {value:?}: not a valid namespace name: {reason}")]
    Namespace { value: String, reason: String },
    #[error("--days {value}: must be between 1 and {MAX_DAYS}")]
    Days { value: u32 },
    #[error("cannot generate the certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: already exists (pass --force to overwrite it)", path.display())]
    Exists { path: PathBuf },
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

/// Issues a new CA and a serving certificate signed by it (ECDSA P-256 keys, PKCS#8 PEM).
pub fn generate(request: &CertRequest) -> Result<GeneratedCerts, CertError> {
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
    let (not_before, not_after) = validity(request.now, request.days)?;

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name(&format!(
        "image-assurance CA for {}",
        service_dns_name(&request.service, &request.namespace)
    ));
    // pathlen 0: this CA signs serving certificates only, never other CAs.
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let mut params = CertificateParams::new(dns_names(&request.service, &request.namespace))?;
    params.distinguished_name = name(&service_dns_name(&request.service, &request.namespace));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;

    Ok(GeneratedCerts {
        ca_cert_pem: ca.pem(),
        ca_key_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
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

/// One file `write` produced, for the report `certs` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub what: &'static str,
}

/// Writes the four files into `dir` (created if missing). Keys are written mode 0600. Without
/// `force`, nothing is written if any of the files exists: a half-replaced set (a new key beside
/// an old certificate) would be worse than none.
pub fn write(
    dir: &Path,
    certs: &GeneratedCerts,
    force: bool,
) -> Result<Vec<WrittenFile>, CertError> {
    let files = [
        (
            CA_FILE,
            "CA certificate, the webhook's caBundle",
            &certs.ca_cert_pem,
            false,
        ),
        (
            CA_KEY_FILE,
            "CA private key, mode 0600: keep it offline, or delete it",
            &certs.ca_key_pem,
            true,
        ),
        (CERT_FILE, "serving certificate", &certs.cert_pem, false),
        (
            KEY_FILE,
            "serving private key, mode 0600",
            &certs.key_pem,
            true,
        ),
    ];
    if !force {
        for (file, ..) in &files {
            let path = dir.join(file);
            if path.exists() {
                return Err(CertError::Exists { path });
            }
        }
    }
    fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (file, what, contents, secret) in files {
        let path = dir.join(file);
        write_file(&path, contents.as_bytes(), secret, force)?;
        written.push(WrittenFile { path, what });
    }
    Ok(written)
}

/// Writes through a temporary file and a rename, so an overwritten key never exists, even for
/// an instant, with the old file's (possibly wider) permissions or half-written.
fn write_file(path: &Path, contents: &[u8], secret: bool, force: bool) -> Result<(), CertError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertError::Io { path, source }
    };
    let temporary = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&temporary);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(io_error(&temporary))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temporary))?;
    drop(file);
    if !force && path.exists() {
        let _ = fs::remove_file(&temporary);
        return Err(CertError::Exists {
            path: path.to_path_buf(),
        });
    }
    fs::rename(&temporary, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CertRequest {
        CertRequest {
            service: "svc".to_string(),
            namespace: "ns".to_string(),
            days: 30,
            now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        }
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
        let certs = generate(&request()).unwrap();
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
            generate(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("--service \"Svc\"")
        );
        let mut bad = request();
        bad.namespace = "a.b".to_string();
        assert!(
            generate(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("--namespace \"a.b\"")
        );
        let mut bad = request();
        bad.days = 0;
        assert_eq!(
            generate(&bad).unwrap_err().to_string(),
            "--days 0: must be between 1 and 36500"
        );
    }
}
