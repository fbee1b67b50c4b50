//! `image-assurance crd`.

use std::process::ExitCode;

use image_assurance::policy::crd::crd_yaml;

use super::CliError;

pub fn run() -> Result<ExitCode, CliError> {
    let yaml =
        crd_yaml().map_err(|error| CliError::new(format!("cannot render the CRD: {error}")))?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}
