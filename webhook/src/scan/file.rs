//! The scan-results file (policy-semantics §6), for air-gapped clusters and offline evaluation:
//! YAML or JSON, possibly multi-document, each document either our `images:` list or a Trivy
//! `VulnerabilityReport` (also inside `kind: List`).

use std::path::Path;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::thresholds::SeverityThresholds;
use super::trivy::{self, VulnerabilityReport};
use super::{ScanDataError, ScanIndex, ScanRecord, ScanResult, ScanStatus};
use crate::image::ImageRef;
use crate::manifest::{self, Document, ManifestError};
use crate::timestamp;

/// ```yaml
/// images:
///   - image: gcr.io/company/production-repository/api:1.2
///     status: Pass
///     lastScan: "2026-11-25T10:00:00Z"
/// ```
/// Unknown keys are refused so that a misspelt `lastScan` is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanResultsDocument {
    images: Vec<ImageEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImageEntry {
    image: ImageRef,
    status: ScanStatus,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    last_scan: Option<Timestamp>,
}

/// Reads a scan-results file (or every `.yaml`/`.yml`/`.json` file directly inside a
/// directory, like `kubectl apply -f DIR`).
pub fn load_scan_file(
    path: &Path,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let documents = manifest::read_documents(path)?;
    index_documents(&documents, thresholds)
}

/// Parses scan results from text; `source_name` names it in errors.
pub fn parse_scan_documents(
    source_name: &str,
    text: &str,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let documents = manifest::parse_documents(source_name, text)?;
    index_documents(&documents, thresholds)
}

fn index_documents(
    documents: &[Document],
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let mut index = ScanIndex::default();
    for document in documents {
        read_document(document, thresholds, &mut index)?;
    }
    Ok(index)
}

const EXPECTED: &str = "expected a scan-results document (a mapping with `images`) or a \
                        VulnerabilityReport (apiVersion aquasecurity.github.io/v1alpha1)";

fn read_document(
    document: &Document,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<(), ScanDataError> {
    let unexpected = |found: String| ScanDataError::UnexpectedDocument {
        origin: document.origin.clone(),
        message: format!("{EXPECTED}, found {found}"),
    };
    let Some(object) = document.value.as_object() else {
        return Err(unexpected(describe(&document.value).to_string()));
    };
    if object.contains_key("kind") || object.contains_key("apiVersion") {
        let (api_version, kind) = document.type_meta()?;
        if (api_version, kind) != (trivy::API_VERSION, trivy::KIND) {
            return Err(unexpected(format!("{kind} ({api_version})")));
        }
        let report: VulnerabilityReport = document.decode()?;
        let record = record_in_document(&report, thresholds, document)?;
        index.insert(record);
    } else if object.contains_key("images") {
        let results: ScanResultsDocument = document.decode()?;
        index.extend(results.images.into_iter().map(|entry| ScanRecord {
            image: entry.image,
            result: ScanResult {
                status: entry.status,
                last_scan: entry.last_scan,
            },
        }));
    } else {
        return Err(unexpected("a mapping without `images`".into()));
    }
    Ok(())
}

/// Like [`trivy::record_from_report`], with errors located by file and document rather than
/// by the report's name.
fn record_in_document(
    report: &VulnerabilityReport,
    thresholds: &SeverityThresholds,
    document: &Document,
) -> Result<ScanRecord, ScanDataError> {
    trivy::record_from_report(report, thresholds).map_err(|error| match error {
        ScanDataError::InvalidReport { field, message, .. } => {
            ScanDataError::Manifest(ManifestError::Field {
                origin: document.origin.clone(),
                field,
                message,
            })
        }
        other => other,
    })
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanSource;

    fn parse(text: &str) -> Result<ScanIndex, ScanDataError> {
        parse_scan_documents("scans.yaml", text, &SeverityThresholds::default())
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(index) => panic!("parsed {} records", index.len()),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn our_format_is_read_with_any_reference_form() {
        let index = parse(
            "images:\n- image: nginx:1.25\n  status: Fail\n- image: gcr.io/a/api:1.2\n  status: Pass\n  lastScan: \"2022-01-02T0:00:00Z\"\n",
        )
        .unwrap();
        assert_eq!(index.len(), 2);
        let nginx = ImageRef::parse("docker.io/library/nginx:1.25").unwrap();
        assert_eq!(
            index.lookup(&nginx).unwrap(),
            Some(ScanResult {
                status: ScanStatus::Fail,
                last_scan: None
            })
        );
        let api = ImageRef::parse("gcr.io/a/api:1.2").unwrap();
        let last_scan = index
            .lookup(&api)
            .unwrap()
            .and_then(|result| result.last_scan);
        assert_eq!(last_scan, Some("2022-01-02T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn an_empty_file_has_no_results() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("images: []\n").unwrap().is_empty());
    }

    #[test]
    fn a_lowercase_status_names_the_field() {
        let text = "images:\n- {image: a, status: Pass}\n- {image: b, status: Pass}\n- {image: c, status: pass}\n";
        assert_eq!(
            error(text),
            "scans.yaml document 0: field `images[2].status`: unknown variant `pass`, expected one of `Pass`, `Warn`, `Fail`, `Unknown`"
        );
    }

    #[test]
    fn a_bad_image_names_the_field() {
        let text = "images:\n- {image: a, status: Pass}\n- {image: Foo, status: Pass}\n";
        assert!(
            error(text).starts_with(
                "scans.yaml document 0: field `images[1].image`: invalid image reference \"Foo\": "
            ),
            "{}",
            error(text)
        );
    }

    #[test]
    fn a_bad_last_scan_names_the_field() {
        let text = "images:\n- {image: a, status: Pass, lastScan: '2022-01-02 00:00:00Z'}\n";
        assert!(
            error(text).starts_with(
                "scans.yaml document 0: field `images[0].lastScan`: invalid RFC 3339 timestamp"
            ),
            "{}",
            error(text)
        );
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let text = "images:\n- {image: a, status: Pass, lastscan: '2022-01-02T00:00:00Z'}\n";
        assert!(
            error(text).starts_with("scans.yaml document 0: field `images[0].lastscan`: unknown field `lastscan`, expected one of `image`, `status`, `lastScan`"),
            "{}",
            error(text)
        );
    }

    #[test]
    fn a_document_of_another_kind_is_refused() {
        assert_eq!(
            error("apiVersion: v1\nkind: Pod\n"),
            format!("scans.yaml document 0: {EXPECTED}, found Pod (v1)")
        );
    }

    #[test]
    fn a_mapping_without_images_is_refused() {
        assert_eq!(
            error("results: []\n"),
            format!("scans.yaml document 0: {EXPECTED}, found a mapping without `images`")
        );
        assert_eq!(
            error("- a\n"),
            format!("scans.yaml document 0: {EXPECTED}, found a sequence")
        );
    }

    #[test]
    fn vulnerability_reports_are_read() {
        let text = "apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nreport:\n  registry: {server: index.docker.io}\n  artifact: {repository: library/nginx, tag: '1.25'}\n  summary: {highCount: 1}\n";
        let index = parse(text).unwrap();
        let image = ImageRef::parse("nginx:1.25").unwrap();
        assert_eq!(
            index.lookup(&image).unwrap().map(|result| result.status),
            Some(ScanStatus::Fail)
        );
    }

    #[test]
    fn a_bad_report_image_names_document_and_field() {
        let text = "images: []\n---\napiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nreport:\n  artifact: {repository: app, tag: '.x'}\n";
        assert!(
            error(text).starts_with(
                "scans.yaml document 1: field `report.artifact.tag`: invalid image reference"
            ),
            "{}",
            error(text)
        );
    }
}
