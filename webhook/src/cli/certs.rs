//! `image-assurance certs --out DIR [--service NAME] [--namespace NS] [--days N] [--force]`.

use std::path::PathBuf;
use std::process::ExitCode;

use image_assurance::install::certs::{CertRequest, dns_names, generate, write};

use super::CliError;

pub struct Options {
    pub out: PathBuf,
    pub service: String,
    pub namespace: String,
    pub days: u32,
    pub force: bool,
}

pub fn run(options: &Options) -> Result<ExitCode, CliError> {
    let now = jiff::Timestamp::now();
    let request = CertRequest {
        service: options.service.clone(),
        namespace: options.namespace.clone(),
        days: options.days,
        now,
    };
    let certs = generate(&request).map_err(|error| CliError::new(error.to_string()))?;
    let written = write(&options.out, &certs, options.force)
        .map_err(|error| CliError::new(error.to_string()))?;
    for file in &written {
        println!("wrote {}: {}", file.path.display(), file.what);
    }
    let until = jiff::Timestamp::from_second(now.as_second() + 86_400 * i64::from(options.days))
        .map(|time| time.to_string())
        .unwrap_or_default();
    println!(
        "serving certificate for {} valid until {until}",
        dns_names(&options.service, &options.namespace).join(", ")
    );
    println!(
        "next: image-assurance manifests --cert-dir {} --namespace {} \
         --namespace-selector-key KEY --namespace-selector-values \"V1 V2\" | kubectl apply -f -",
        options.out.display(),
        options.namespace
    );
    Ok(ExitCode::SUCCESS)
}
