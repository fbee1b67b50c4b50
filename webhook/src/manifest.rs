//! Reading manifests the way `kubectl apply -f` does: a file or a directory of files, each
//! holding one or more YAML documents (`---`-separated) or a JSON document, with `kind: List`
//! expanded into its items. Every error says which file, which document and which field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where a document came from, for error messages: `policies.yaml document 2` or
/// `list.yaml document 0 item 3` (documents and items count from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub source: String,
    pub index: usize,
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} document {}", self.source, self.index)?;
        if let Some(item) = self.item {
            write!(f, " item {item}")?;
        }
        Ok(())
    }
}

/// One parsed document and where it came from.
#[derive(Clone, Debug)]
pub struct Document {
    pub origin: Origin,
    pub value: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}: not valid YAML or JSON: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    #[error("{origin}: not a Kubernetes object: {message}")]
    NotAnObject { origin: Origin, message: String },
    #[error("{origin}: field `{field}`: {message}")]
    Field {
        origin: Origin,
        field: String,
        message: String,
    },
}

/// Files in a directory that `kubectl apply -f DIR` would read.
const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every document of a file, or of every manifest file directly inside a directory
/// (sorted by name, like kubectl). Empty documents are skipped but still counted.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let mut documents = Vec::new();
    for file in manifest_files(path)? {
        documents.extend(read_file(&file)?);
    }
    Ok(documents)
}

/// The files `kubectl apply -f PATH` reads: PATH itself, or the manifest files directly inside
/// the directory PATH, sorted by name.
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let read_error = |source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let entry_path = entry.map_err(read_error)?.path();
        let is_manifest = entry_path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| MANIFEST_EXTENSIONS.contains(&ext));
        if is_manifest && entry_path.is_file() {
            files.push(entry_path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_documents(&path.display().to_string(), &text)
}

/// Parses multi-document YAML, or JSON, from text. `source_name` is used in errors.
pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let values: Vec<Value> = if looks_like_json(text) {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => vec![value],
            Err(_) => parse_yaml(source_name, text)?,
        }
    } else {
        parse_yaml(source_name, text)?
    };
    let mut documents = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        let origin = Origin {
            source: source_name.to_string(),
            index,
            item: None,
        };
        expand_list(origin, value, &mut documents)?;
    }
    Ok(documents)
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('{') | Some('['))
}

/// Splits on `---` separator lines the way kubectl's YAML reader does, so that document indexes
/// count empty documents too, then parses each document on its own.
fn parse_yaml(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    split_yaml_documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| {
            if chunk.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_saphyr::from_str::<Value>(chunk).map_err(|error| ManifestError::Syntax {
                source_name: format!("{source_name} document {index}"),
                message: error.to_string(),
            })
        })
        .collect()
}

/// A line (with or without its line break) that separates YAML documents, as kubectl's reader
/// sees it; whatever follows `--- ` on that line is dropped.
pub(crate) fn is_document_separator(line: &str) -> bool {
    let content = line.trim_end_matches(['\n', '\r']);
    content == "---" || content.starts_with("--- ")
}

fn split_yaml_documents(text: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_document_separator(line) {
            documents.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push(&text[start..]);
    // A leading separator opens the first document rather than ending an empty one.
    if documents.len() > 1 && documents[0].trim().is_empty() && text.trim_start().starts_with("---")
    {
        documents.remove(0);
    }
    documents
}

/// `kind: List` (what `kubectl get -o yaml` prints) stands for its items.
pub(crate) fn expand_list(
    origin: Origin,
    value: Value,
    out: &mut Vec<Document>,
) -> Result<(), ManifestError> {
    let is_list = value.get("kind").and_then(Value::as_str) == Some("List");
    if !is_list {
        out.push(Document { origin, value });
        return Ok(());
    }
    let Some(items) = value.get("items").and_then(Value::as_array) else {
        return Err(ManifestError::Field {
            origin,
            field: "items".into(),
            message: "a List must have an `items` array".into(),
        });
    };
    for (item, value) in items.iter().enumerate() {
        out.push(Document {
            origin: Origin {
                item: Some(item),
                ..origin.clone()
            },
            value: value.clone(),
        });
    }
    Ok(())
}

impl Document {
    /// `(apiVersion, kind)`, or an error if the document is not a Kubernetes object.
    pub fn type_meta(&self) -> Result<(&str, &str), ManifestError> {
        let Some(object) = self.value.as_object() else {
            return Err(self.not_an_object("expected a mapping with `apiVersion` and `kind`"));
        };
        let api_version = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        match (api_version, kind) {
            (Some(api_version), Some(kind)) if !api_version.is_empty() && !kind.is_empty() => {
                Ok((api_version, kind))
            }
            (None, _) | (Some(""), _) => Err(self.not_an_object("missing `apiVersion`")),
            _ => Err(self.not_an_object("missing `kind`")),
        }
    }

    /// `metadata.name`, if present.
    pub fn name(&self) -> Option<&str> {
        self.value.pointer("/metadata/name").and_then(Value::as_str)
    }

    /// Decodes the document into `T`; a type mismatch names the field's path.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ManifestError> {
        decode_value(&self.origin, &self.value)
    }

    fn not_an_object(&self, message: &str) -> ManifestError {
        ManifestError::NotAnObject {
            origin: self.origin.clone(),
            message: message.to_string(),
        }
    }
}

/// Decodes a JSON value into `T`, naming the path of the offending field on error.
pub fn decode_value<T: DeserializeOwned>(
    origin: &Origin,
    value: &Value,
) -> Result<T, ManifestError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        ManifestError::Field {
            origin: origin.clone(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: error.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_keeps_document_indexes_across_empty_documents() {
        let text = "a: 1\n---\n---\nkind: Pod\napiVersion: v1\n";
        let documents = parse_documents("x.yaml", text).unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].origin.index, 2);
        assert_eq!(documents[1].type_meta().unwrap(), ("v1", "Pod"));
    }

    #[test]
    fn a_leading_separator_does_not_count_as_a_document() {
        let documents = parse_documents("x.yaml", "---\nkind: A\n---\nkind: B\n").unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].origin.index, 1);
    }

    #[test]
    fn json_documents_are_read() {
        let documents = parse_documents("x.json", r#"{"apiVersion":"v1","kind":"Pod"}"#).unwrap();
        assert_eq!(documents[0].type_meta().unwrap(), ("v1", "Pod"));
    }

    #[test]
    fn lists_are_expanded_into_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: v1, kind: Service}\n";
        let documents = parse_documents("l.yaml", text).unwrap();
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].origin.to_string(), "l.yaml document 0 item 1");
    }

    #[test]
    fn malformed_yaml_names_the_file() {
        let error = parse_documents("bad.yaml", "a: [1, 2\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("bad.yaml document 0: not valid YAML"),
            "{error}"
        );
    }

    #[test]
    fn a_scalar_document_is_not_a_kubernetes_object() {
        let documents = parse_documents("s.yaml", "just text\n").unwrap();
        let error = documents[0].type_meta().unwrap_err();
        assert_eq!(
            error.to_string(),
            "s.yaml document 0: not a Kubernetes object: expected a mapping with `apiVersion` and `kind`"
        );
    }

    #[test]
    fn decode_errors_name_the_field_path() {
        #[derive(serde::Deserialize, Debug)]
        struct Spec {
            #[allow(dead_code)]
            order: f64,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Object {
            #[allow(dead_code)]
            spec: Spec,
        }
        let documents = parse_documents("p.yaml", "spec:\n  order: high\n").unwrap();
        let error = documents[0].decode::<Object>().unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("p.yaml document 0: field `spec.order`:"),
            "{text}"
        );
    }
}
