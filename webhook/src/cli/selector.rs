//! `image-assurance selector SELECTOR [--labels k=v,...]`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use image_assurance::selector::Selector;

use super::{CliError, EXIT_REJECTED, parse_labels};

pub fn run(selector: &str, labels: Option<&str>) -> Result<ExitCode, CliError> {
    let parsed = Selector::parse(selector).map_err(|error| {
        CliError::new(format!(
            "invalid selector: {error}\n{}",
            error.render(selector)
        ))
    })?;
    let labels = match labels {
        Some(text) => parse_labels("--labels", text)?,
        None => BTreeMap::new(),
    };
    if parsed.matches(&labels) {
        println!("match");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("no match");
        Ok(ExitCode::from(EXIT_REJECTED))
    }
}
