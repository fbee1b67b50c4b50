//! The subcommands. Each returns its exit code, or a `CliError` (exit 2, printed on stderr).

pub mod audit;
pub mod certs;
pub mod crd;
pub mod evaluate;
pub mod manifests;
pub mod selector;
pub mod serve;

use std::collections::BTreeMap;

pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// Bad input: what was wrong and where. Always exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}

/// Parses `k=v,k2=v2` (what `--labels` and `--namespace-labels` take). A value may be empty.
pub fn parse_labels(flag: &str, text: &str) -> Result<BTreeMap<String, String>, CliError> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').filter(|pair| !pair.trim().is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CliError::new(format!(
                "{flag}: expected KEY=VALUE, got {pair:?}"
            )));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(CliError::new(format!(
                "{flag}: empty label key in {pair:?}"
            )));
        }
        labels.insert(key.to_string(), value.trim().to_string());
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_into_a_map_and_allow_empty_values() {
        let labels = parse_labels("--labels", "a=1,b=,c=x=y").unwrap();
        assert_eq!(labels.get("a").map(String::as_str), Some("1"));
        assert_eq!(labels.get("b").map(String::as_str), Some(""));
        assert_eq!(labels.get("c").map(String::as_str), Some("x=y"));
    }

    #[test]
    fn a_label_without_equals_is_an_error_naming_the_flag() {
        let error = parse_labels("--namespace-labels", "a=1,b").unwrap_err();
        assert_eq!(
            error.to_string(),
            "--namespace-labels: expected KEY=VALUE, got \"b\""
        );
    }
}
