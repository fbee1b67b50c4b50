//! The scan-results file (policy-semantics §6), for air-gapped clusters and offline evaluation:
//! YAML or JSON, possibly multi-document, each document either our `images:` list or a Trivy
//! `VulnerabilityReport` (also inside `kind: List`).
//!
//! The file is streamed: documents are parsed one at a time from the reader and the `images:`
//! entries go straight into the index (`stream.rs`), so that memory holds the index and one
//! entry, never the file's text or a tree of it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::documents::YamlDocuments;
use super::stream::{DocumentSeed, IMAGES, Rejection, Root, Sink};
use super::thresholds::SeverityThresholds;
use super::trivy::{self, VulnerabilityReport};
use super::{ScanDataError, ScanIndex, ScanRecord};
use crate::manifest::{self, Document, ManifestError, Origin};

/// Reads a scan-results file (or every `.yaml`/`.yml`/`.json` file directly inside a
/// directory, like `kubectl apply -f DIR`).
pub fn load_scan_file(
    path: &Path,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let mut index = ScanIndex::default();
    for file in manifest::manifest_files(path)? {
        let open = || {
            File::open(&file)
                .map(|opened| BufReader::with_capacity(READ_BUFFER, opened))
                .map_err(|source| ManifestError::Read {
                    path: file.clone(),
                    source,
                })
        };
        index.merge(read_scan_stream(
            &file.display().to_string(),
            open,
            thresholds,
        )?);
    }
    Ok(index)
}

/// Parses scan results from text; `source_name` names it in errors.
pub fn parse_scan_documents(
    source_name: &str,
    text: &str,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    read_scan_stream(source_name, || Ok(text.as_bytes()), thresholds)
}

const READ_BUFFER: usize = 64 * 1024;

/// Reads one file's documents. `open` gives the stream from its start: JSON that turns out not
/// to be JSON is read again as YAML (as `manifest::parse_documents` does).
fn read_scan_stream<R: BufRead>(
    source_name: &str,
    open: impl Fn() -> Result<R, ManifestError>,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let mut input = open()?;
    if starts_like_json(&mut input).map_err(|source| read_error(source_name, source))? {
        let mut index = ScanIndex::default();
        match read_json(source_name, input, thresholds, &mut index) {
            Ok(()) => return Ok(index),
            Err(JsonError::Refused(error)) => return Err(error),
            // Not JSON after all: YAML reports what is wrong with it.
            Err(JsonError::Syntax) => input = open()?,
        }
    }
    let mut index = ScanIndex::default();
    read_yaml(source_name, input, thresholds, &mut index)?;
    Ok(index)
}

/// The stream failed (a file's content is read while it is parsed).
fn read_error(source_name: &str, source: io::Error) -> ManifestError {
    ManifestError::Read {
        path: source_name.into(),
        source,
    }
}

/// Whether the first non-whitespace byte opens a JSON object or array. Consumes nothing.
fn starts_like_json(input: &mut impl BufRead) -> io::Result<bool> {
    // Only what is buffered can be looked at without consuming it; a file that starts with
    // more whitespace than the buffer holds is read as YAML, which JSON documents also are.
    let buffered = input.fill_buf()?;
    let first = buffered.iter().find(|byte| !byte.is_ascii_whitespace());
    Ok(matches!(first, Some(b'{' | b'[')))
}

enum JsonError {
    /// Not valid JSON: to be read as YAML.
    Syntax,
    /// Valid JSON, but not valid scan results.
    Refused(ScanDataError),
}

/// The whole stream is one JSON document (document 0).
fn read_json(
    source_name: &str,
    input: impl Read,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<(), JsonError> {
    let origin = origin(source_name, 0);
    let mut sink = Sink {
        index,
        rejection: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let parsed = DocumentSeed { sink: &mut sink }
        .deserialize(&mut deserializer)
        .and_then(|root| deserializer.end().map(|()| root));
    match (parsed, sink.rejection) {
        (_, Some(rejection)) => Err(JsonError::Refused(refused(&origin, rejection))),
        (Err(_), None) => Err(JsonError::Syntax),
        (Ok(root), None) => {
            finish_document(&origin, root, thresholds, sink.index).map_err(JsonError::Refused)
        }
    }
}

/// Every `---`-separated document in turn, each parsed from the stream.
fn read_yaml(
    source_name: &str,
    input: impl BufRead,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<(), ScanDataError> {
    let read_error = |source| read_error(source_name, source);
    let mut documents = YamlDocuments::new(input);
    let mut number = 0;
    while let Some(mut document) = documents.next_document().map_err(read_error)? {
        let origin = origin(source_name, number);
        if document.is_counted() {
            number += 1;
        }
        if document.is_blank() {
            document.finish().map_err(read_error)?;
            continue;
        }
        let mut sink = Sink {
            index: &mut *index,
            rejection: None,
        };
        let parsed = serde_saphyr::with_deserializer_from_reader_with_options(
            &mut document,
            yaml_options(),
            |deserializer| DocumentSeed { sink: &mut sink }.deserialize(deserializer),
        );
        let root = match (parsed, sink.rejection) {
            (_, Some(rejection)) => return Err(refused(&origin, rejection)),
            (Err(error), None) => {
                drop(document);
                if let Some(source) = documents.take_error() {
                    return Err(read_error(source).into());
                }
                return Err(ManifestError::Syntax {
                    source_name: origin.to_string(),
                    message: error.to_string(),
                }
                .into());
            }
            (Ok(root), None) => root,
        };
        document.finish().map_err(read_error)?;
        finish_document(&origin, root, thresholds, index)?;
    }
    Ok(())
}

/// The parser's limits, raised for this file: it is the operator's own, read from local disk,
/// and 10^5 results (7 nodes each) are far beyond the default of 250,000 nodes. Nesting depth
/// and alias expansion stay bounded.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

fn origin(source_name: &str, index: usize) -> Origin {
    Origin {
        source: source_name.to_string(),
        index,
        item: None,
    }
}

fn refused(origin: &Origin, rejection: Rejection) -> ScanDataError {
    match rejection {
        Rejection::Field { field, message } => ScanDataError::Manifest(ManifestError::Field {
            origin: origin.clone(),
            field,
            message,
        }),
        Rejection::Ambiguous { key } => ScanDataError::UnexpectedDocument {
            origin: origin.clone(),
            message: format!(
                "{EXPECTED}, found a mapping with both `{IMAGES}` and `{key}` (`{IMAGES}` first)"
            ),
        },
    }
}

/// What is left to check once the document has been parsed (its `images` are already indexed).
fn finish_document(
    origin: &Origin,
    root: Root,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<(), ScanDataError> {
    match root {
        Root::Null => Ok(()),
        Root::Other(found) => Err(unexpected(origin, found.to_string())),
        Root::Mapping { rest, images: true } => match rest.keys().next() {
            // As `#[serde(deny_unknown_fields)]` would say it.
            Some(key) => Err(ManifestError::Field {
                origin: origin.clone(),
                field: key.clone(),
                message: <serde_json::Error as serde::de::Error>::unknown_field(key, &[IMAGES])
                    .to_string(),
            }
            .into()),
            None => Ok(()),
        },
        Root::Mapping {
            rest,
            images: false,
        } => {
            let mut documents = Vec::new();
            manifest::expand_list(origin.clone(), Value::Object(rest), &mut documents)?;
            for document in &documents {
                read_document(document, thresholds, index)?;
            }
            Ok(())
        }
    }
}

const EXPECTED: &str = "expected a scan-results document (a mapping with `images`) or a \
                        VulnerabilityReport (apiVersion aquasecurity.github.io/v1alpha1)";

fn unexpected(origin: &Origin, found: String) -> ScanDataError {
    ScanDataError::UnexpectedDocument {
        origin: origin.clone(),
        message: format!("{EXPECTED}, found {found}"),
    }
}

/// A document held whole: a `VulnerabilityReport`, an item of a `List`, or anything else that
/// is not a streamed `images:` document.
fn read_document(
    document: &Document,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<(), ScanDataError> {
    let Some(object) = document.value.as_object() else {
        return Err(unexpected(
            &document.origin,
            describe(&document.value).to_string(),
        ));
    };
    if object.contains_key("kind") || object.contains_key("apiVersion") {
        let (api_version, kind) = document.type_meta()?;
        if (api_version, kind) != (trivy::API_VERSION, trivy::KIND) {
            return Err(unexpected(
                &document.origin,
                format!("{kind} ({api_version})"),
            ));
        }
        let report: VulnerabilityReport = document.decode()?;
        let record = record_in_document(&report, thresholds, document)?;
        index.insert(record);
    } else if object.contains_key(IMAGES) {
        // An `images:` document inside a `List`: small enough to go through the streaming
        // decoder from its value.
        let mut sink = Sink {
            index,
            rejection: None,
        };
        let parsed = DocumentSeed { sink: &mut sink }.deserialize(&document.value);
        match (parsed, sink.rejection) {
            (_, Some(rejection)) => return Err(refused(&document.origin, rejection)),
            (Err(error), None) => {
                return Err(ManifestError::Field {
                    origin: document.origin.clone(),
                    field: "(document)".into(),
                    message: error.to_string(),
                }
                .into());
            }
            (Ok(root), None) => finish_document(&document.origin, root, thresholds, sink.index)?,
        }
    } else {
        return Err(unexpected(
            &document.origin,
            "a mapping without `images`".into(),
        ));
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
    use crate::image::ImageRef;
    use crate::scan::{ScanResult, ScanSource, ScanStatus};

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

    #[test]
    fn flow_yaml_that_looks_like_json_is_read_as_yaml() {
        let index = parse("{images: [{image: a, status: Pass}]}\n").unwrap();
        assert_eq!(index.len(), 1);
        // Valid JSON up to a trailing comma, which YAML's flow syntax accepts: the records read
        // as JSON are dropped, not counted twice.
        let index = parse(r#"{"images": [{"image": "a", "status": "Pass"},]}"#).unwrap();
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn json_documents_report_like_yaml_ones() {
        assert_eq!(
            error(r#"[{"image": "a"}]"#),
            format!("scans.yaml document 0: {EXPECTED}, found a sequence")
        );
        assert_eq!(
            error(r#"{"images": null}"#),
            "scans.yaml document 0: field `images`: invalid type: null, expected a sequence"
        );
    }

    #[test]
    fn another_key_beside_images_is_refused() {
        assert_eq!(
            error("images: []\nimagez: []\n"),
            "scans.yaml document 0: field `imagez`: unknown field `imagez`, expected `images`"
        );
    }

    #[test]
    fn images_of_the_wrong_type_say_what_was_found() {
        assert_eq!(
            error("images: {a: 1}\n"),
            "scans.yaml document 0: field `images`: invalid type: map, expected a sequence"
        );
        assert_eq!(
            error("images:\n"),
            "scans.yaml document 0: field `images`: invalid type: null, expected a sequence"
        );
    }

    #[test]
    fn an_entry_that_is_not_a_mapping_names_its_index() {
        assert_eq!(
            error("images:\n- {image: a, status: Pass}\n- nginx\n"),
            "scans.yaml document 0: field `images[1]`: invalid type: string \"nginx\", expected struct ImageEntry"
        );
    }

    #[test]
    fn images_before_kind_is_refused_as_ambiguous() {
        assert_eq!(
            error("images: []\nkind: VulnerabilityReport\n"),
            format!(
                "scans.yaml document 0: {EXPECTED}, found a mapping with both `images` and `kind` (`images` first)"
            )
        );
        // After `kind`, `images` is just a key of that object.
        assert_eq!(
            error("kind: Pod\napiVersion: v1\nimages: [1]\n"),
            format!("scans.yaml document 0: {EXPECTED}, found Pod (v1)")
        );
    }

    #[test]
    fn comment_only_and_null_documents_are_skipped_but_counted() {
        let text =
            "# nothing yet\n---\n~\n---\nimages: [{image: a, status: Pass}]\n---\nimages: 1\n";
        assert_eq!(
            error(text),
            "scans.yaml document 3: field `images`: invalid type: integer `1`, expected a sequence"
        );
    }

    #[test]
    fn a_list_item_in_our_format_is_read() {
        let text = "kind: List\nitems:\n- images: [{image: a, status: Pass}]\n- images: [{image: b, status: bad}]\n";
        assert!(
            error(text).starts_with(
                "scans.yaml document 0 item 1: field `images[0].status`: unknown variant `bad`"
            ),
            "{}",
            error(text)
        );
    }
}
