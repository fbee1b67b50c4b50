//! The scan-results file (policy-semantics §6), for air-gapped clusters and offline evaluation:
//! YAML or JSON, possibly multi-document, each document either our `images:` list or a Trivy
//! `VulnerabilityReport` (also inside `kind: List`).
//!
//! The file is streamed: documents are parsed one at a time from the reader and the `images:`
//! entries go straight into the index (`stream.rs`), so that memory holds the index and one
//! entry, never the file's text or a tree of it.

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::documents::YamlDocuments;
use super::stream::{DocumentSeed, IMAGES, Rejection, Root, Sink};
use super::thresholds::SeverityThresholds;
use super::trivy::{self, VulnerabilityReport};
use super::{ScanDataError, ScanIndex, ScanRecord};
use crate::manifest::{self, Document, ManifestError, Origin};

/// The most one scan-results file may hold. The file is streamed (memory holds the index, not
/// the text), so this bounds the time spent on a mistaken or hostile path (`/dev/zero`) rather
/// than memory; 10^5 results in our format are about 11 MiB, and a `kubectl get -o yaml` dump
/// of VulnerabilityReports with their findings is far larger.
pub const MAX_SCAN_FILE_BYTES: u64 = 256 * 1024 * 1024;

const SCAN_FILE: &str = "a scan-results file";

/// Reads a scan-results file (or every `.yaml`/`.yml`/`.json` file directly inside a
/// directory, like `kubectl apply -f DIR`). A file without any document, or a directory
/// without any such file, is an error: a file truncated or not yet written must not read as
/// "no image was ever scanned". `images: []` is the empty set.
pub fn load_scan_file(
    path: &Path,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ScanDataError> {
    let files = manifest::manifest_files(path)?;
    if files.is_empty() {
        return Err(ScanDataError::Empty {
            source_name: path.display().to_string(),
            what: "the directory holds no .yaml, .yml or .json file",
        });
    }
    let mut index = ScanIndex::default();
    for file in files {
        let open = || {
            manifest::open_limited(&file, MAX_SCAN_FILE_BYTES, SCAN_FILE)
                .map(|opened| BufReader::with_capacity(READ_BUFFER, opened))
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
    let mut index = ScanIndex::default();
    let found = 'read: {
        if starts_like_json(&mut input).map_err(|source| read_error(source_name, source))? {
            match read_json(source_name, input, thresholds, &mut index) {
                Ok(found) => break 'read found,
                Err(JsonError::Refused(error)) => return Err(error),
                // Not JSON after all: YAML reports what is wrong with it.
                Err(JsonError::Syntax) => {
                    index = ScanIndex::default();
                    input = open()?;
                }
            }
        }
        read_yaml(source_name, input, thresholds, &mut index)?
    };
    if !found {
        return Err(ScanDataError::Empty {
            source_name: source_name.to_string(),
            what: "the file holds no document (it is empty, or only blank lines and comments)",
        });
    }
    Ok(index)
}

/// The stream failed (a file's content is read while it is parsed), perhaps because it is
/// longer than a scan-results file may be.
fn read_error(source_name: &str, source: io::Error) -> ManifestError {
    manifest::read_failure(
        &PathBuf::from(source_name),
        source,
        MAX_SCAN_FILE_BYTES,
        SCAN_FILE,
    )
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

/// The whole stream is one JSON document (document 0). Whether it was one (not `null`).
fn read_json(
    source_name: &str,
    input: impl Read,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<bool, JsonError> {
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
        // The stream itself failed (too long, unreadable): reading it again as YAML would not help.
        (Err(error), None) if error.is_io() => {
            let kind = error.io_error_kind().unwrap_or(io::ErrorKind::Other);
            Err(JsonError::Refused(
                read_error(source_name, io::Error::new(kind, error.to_string())).into(),
            ))
        }
        (Err(_), None) => Err(JsonError::Syntax),
        (Ok(root), None) => {
            let found = !matches!(root, Root::Null);
            finish_document(&origin, root, thresholds, sink.index)
                .map(|()| found)
                .map_err(JsonError::Refused)
        }
    }
}

/// Every `---`-separated document in turn, each parsed from the stream. Whether there was
/// any document (not blank, not `null`).
fn read_yaml(
    source_name: &str,
    input: impl BufRead,
    thresholds: &SeverityThresholds,
    index: &mut ScanIndex,
) -> Result<bool, ScanDataError> {
    let read_error = |source| read_error(source_name, source);
    let mut documents = YamlDocuments::new(input);
    let mut number = 0;
    let mut found = false;
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
        found |= !matches!(root, Root::Null);
        finish_document(&origin, root, thresholds, index)?;
    }
    Ok(found)
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
mod tests;
