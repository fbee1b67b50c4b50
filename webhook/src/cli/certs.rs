//! `image-assurance certs`: a new CA and serving certificate, or (`--renew`, `--ca-cert`) a new
//! serving certificate under an existing CA.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use image_assurance::install::ca::ExistingCa;
use image_assurance::install::cert_dir::{new_files, renewal_files, write};
use image_assurance::install::cert_files::{self, CertFiles};
use image_assurance::install::certs::{
    CertRequest, DEFAULT_CA_DAYS, DEFAULT_DAYS, dns_names, generate, renew,
};
use image_assurance::install::{
    CA_FILE, CA_KEY_FILE, DEFAULT_NAMESPACE, SERVICE_NAME, service_dns_name,
};

use super::CliError;

/// Generate the webhook's TLS files: a CA and a serving certificate it signs.
///
/// Writes admission_controller_cert.pem, admission_controller_key.pem, ca.pem and ca_key.pem
/// (keys mode 0600). Keep ca_key.pem: `--renew` signs the next serving certificate with it, so
/// the webhook's caBundle never changes. Exit status: 0 written, 2 bad input or existing files.
#[derive(Args, Debug)]
pub struct CertsArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The webhook's Service; the certificate names <service>.<namespace>.svc.
    #[arg(long, value_name = "NAME", default_value = SERVICE_NAME)]
    pub service: String,
    /// The webhook's namespace.
    #[arg(long, value_name = "NS", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Validity of the serving certificate, in days; at most what is left of the CA's.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DAYS)]
    pub days: u32,
    /// Validity of a new CA, in days (at least --days).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_CA_DAYS,
        conflicts_with_all = ["renew", "ca_cert"]
    )]
    pub ca_days: u32,
    /// Issue a new serving certificate under the CA already in --out (ca.pem, ca_key.pem),
    /// replacing the old serving pair; the CA, and so the caBundle, stay.
    #[arg(long, conflicts_with = "ca_cert")]
    pub renew: bool,
    /// Sign with this CA certificate instead of making one (with --ca-key); it is copied to
    /// --out as ca.pem, the caBundle. Replaces the serving pair in --out, like --renew.
    #[arg(long, value_name = "PATH", requires = "ca_key")]
    pub ca_cert: Option<PathBuf>,
    /// The private key of --ca-cert (PKCS#8 PEM). It is read, never copied.
    #[arg(long, value_name = "PATH", requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,
    /// Overwrite existing files: a new CA replaces the one in --out (and changes the caBundle).
    #[arg(long)]
    pub force: bool,
}

pub fn run(options: &CertsArgs) -> Result<ExitCode, CliError> {
    let now = jiff::Timestamp::now();
    let request = CertRequest {
        service: options.service.clone(),
        namespace: options.namespace.clone(),
        days: options.days,
        now,
    };
    let error = |error: &dyn std::fmt::Display| CliError::new(error.to_string());
    let ca_paths = match (&options.ca_cert, &options.ca_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        _ if options.renew => Some(ca_in_out_dir(options)?),
        _ => None,
    };
    let (files, ca_report) = match ca_paths {
        None => {
            let certs = generate(&request, options.ca_days).map_err(|e| error(&e))?;
            let ca_until = later(now, options.ca_days);
            (
                new_files(&certs),
                format!("a new CA, valid until {ca_until}"),
            )
        }
        Some((cert, key)) => {
            let ca = ExistingCa::load(&cert, &key, now).map_err(|e| error(&e))?;
            let serving = renew(&request, &ca).map_err(|e| error(&e))?;
            // What the API server will check, before anything replaces a working pair.
            let issued = CertFiles {
                cert_pem: serving.cert_pem.clone().into_bytes(),
                key_pem: serving.key_pem.clone().into_bytes(),
                ca_pem: ca.bundle_pem.clone().into_bytes(),
            };
            let name = service_dns_name(&options.service, &options.namespace);
            cert_files::verify(&issued, &options.out, &name, now).map_err(|e| error(&e))?;
            let report = format!(
                "the CA in {} (unchanged, valid until {})",
                ca.cert_path.display(),
                ca.not_after
            );
            (renewal_files(&serving, &ca, &options.out), report)
        }
    };
    let written = write(&options.out, &files, options.force).map_err(|e| error(&e))?;
    for file in &written {
        let verb = if file.unchanged { "kept" } else { "wrote" };
        println!("{verb} {}: {}", file.path.display(), file.what);
    }
    println!(
        "serving certificate for {} valid until {}, signed by {ca_report}",
        dns_names(&options.service, &options.namespace).join(", "),
        later(now, options.days),
    );
    println!(
        "next: image-assurance manifests --cert-dir {} --namespace {} \
         --namespace-selector-key KEY --namespace-selector-values \"V1 V2\" | kubectl apply -f -",
        options.out.display(),
        options.namespace
    );
    Ok(ExitCode::SUCCESS)
}

/// `--renew`: the CA `certs` wrote into --out earlier; a missing file gets a hint rather than
/// a bare "No such file".
fn ca_in_out_dir(options: &CertsArgs) -> Result<(PathBuf, PathBuf), CliError> {
    let (cert, key) = (options.out.join(CA_FILE), options.out.join(CA_KEY_FILE));
    for path in [&cert, &key] {
        if !path.exists() {
            return Err(CliError::new(format!(
                "--renew: {} does not exist. --renew signs with the CA that `image-assurance \
                 certs --out {}` wrote there; for a CA kept elsewhere pass --ca-cert and \
                 --ca-key, for a first installation leave out --renew",
                path.display(),
                options.out.display()
            )));
        }
    }
    Ok((cert, key))
}

fn later(now: jiff::Timestamp, days: u32) -> String {
    jiff::Timestamp::from_second(now.as_second() + 86_400 * i64::from(days))
        .map(|time| time.to_string())
        .unwrap_or_default()
}
