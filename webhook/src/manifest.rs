//! Reading manifests the way `kubectl apply -f` does: a file or a directory of files, each
//! holding one or more YAML documents (`---`-separated) or a JSON document, with `kind: List`
//! expanded into its items. Every error says which file, which document and which field.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
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
    /// More than a file of its kind may hold: refused rather than read into memory.
    #[error("{path}: larger than {}, the most {what} may hold; not read", Mebibytes(*limit))]
    TooLarge {
        path: PathBuf,
        limit: u64,
        what: &'static str,
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

/// The most one manifest file (`--policy`, `--resource`, `--owner`) may hold. Kubernetes
/// objects are at most a few MiB (etcd's limit is 1.5 MiB), so this leaves room for thousands
/// of them per file while a mistaken or hostile path (`/dev/zero`, a huge file) costs at most
/// this much memory before it is refused.
pub const MAX_MANIFEST_BYTES: u64 = 16 * MIB;

const MIB: u64 = 1024 * 1024;

/// Bytes shown in MiB, as the limits are documented.
struct Mebibytes(u64);

impl fmt::Display for Mebibytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(MIB) {
            write!(f, "{} MiB", self.0 / MIB)
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}

/// Opens a file to read without ever blocking in `open`: a FIFO that no one writes to would
/// hang `open` forever, while opened non-blocking it reads as empty (end of file). Reads are
/// blocking again afterwards, so a pipe with a writer (`--resource <(kubectl get …)`) is read
/// whole.
pub fn open_input(path: &Path) -> Result<File, ManifestError> {
    let read_error = |source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(OFlags::NONBLOCK.bits() as i32)
            .open(path)
            .map_err(read_error)?;
        let flags = rustix::fs::fcntl_getfl(&file).map_err(|errno| read_error(errno.into()))?;
        rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)
            .map_err(|errno| read_error(errno.into()))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        File::open(path).map_err(read_error)
    }
}

/// A reader that fails with [`io::ErrorKind::FileTooLarge`] instead of reading past `limit`
/// bytes, so that a stream without end (`/dev/zero`, a pipe) is cut off.
pub struct LimitedReader<R> {
    inner: R,
    remaining: u64,
}

impl<R> LimitedReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        LimitedReader {
            inner,
            remaining: limit,
        }
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // At the limit: the stream may end exactly here, or go on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "larger than the limit",
                )),
            };
        }
        let most = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..most])?;
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// Opens `path` for reading at most `limit` bytes. A regular file known to be larger is
/// refused at once, before anything is read; anything else (a device, a pipe) is cut off by
/// the reader once it passes the limit.
pub fn open_limited(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<LimitedReader<File>, ManifestError> {
    let file = open_input(path)?;
    let metadata = file.metadata().map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if metadata.is_file() && metadata.len() > limit {
        return Err(ManifestError::TooLarge {
            path: path.to_path_buf(),
            limit,
            what,
        });
    }
    Ok(LimitedReader::new(file, limit))
}

/// The error for a failed read of `path` (limited to `limit` bytes): [`ManifestError::TooLarge`]
/// when the limit was passed.
pub fn read_failure(
    path: &Path,
    source: io::Error,
    limit: u64,
    what: &'static str,
) -> ManifestError {
    if source.kind() == io::ErrorKind::FileTooLarge {
        ManifestError::TooLarge {
            path: path.to_path_buf(),
            limit,
            what,
        }
    } else {
        ManifestError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Files in a directory that `kubectl apply -f DIR` would read.
const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every document of a file, or of every manifest file directly inside a directory
/// (sorted by name, like kubectl). Empty documents are skipped but still counted. The files of
/// one path may hold [`MAX_MANIFEST_BYTES`] together, so that a directory of large files is
/// bounded as one file is.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let mut documents = Vec::new();
    let mut remaining = MAX_MANIFEST_BYTES;
    for file in manifest_files(path)? {
        let (read, used) = read_file(&file, remaining).map_err(|error| match error {
            // Over what is left after the files before it: the directory is too large.
            ManifestError::TooLarge { .. } if remaining < MAX_MANIFEST_BYTES => {
                ManifestError::TooLarge {
                    path: path.to_path_buf(),
                    limit: MAX_MANIFEST_BYTES,
                    what: MANIFEST_DIRECTORY,
                }
            }
            other => other,
        })?;
        remaining -= used;
        documents.extend(read);
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

const MANIFEST_FILE: &str = "a manifest file";
const MANIFEST_DIRECTORY: &str = "the manifest files of one path together";

/// The documents of a file of at most `limit` bytes, and its size.
fn read_file(path: &Path, limit: u64) -> Result<(Vec<Document>, u64), ManifestError> {
    let reader = open_limited(path, limit, MANIFEST_FILE)?;
    read_text(path, reader, limit)
}

/// How `-` (standard input) is named in messages.
pub const STDIN_NAME: &str = "(standard input)";

/// Reads every document of standard input (`--resource -`), bounded as a file is.
pub fn read_stdin_documents() -> Result<Vec<Document>, ManifestError> {
    let stdin = LimitedReader::new(io::stdin().lock(), MAX_MANIFEST_BYTES);
    read_text(Path::new(STDIN_NAME), stdin, MAX_MANIFEST_BYTES).map(|(documents, _)| documents)
}

/// The documents of what `reader` gives (at most `limit` bytes), and how many bytes that was.
fn read_text(
    path: &Path,
    mut reader: impl Read,
    limit: u64,
) -> Result<(Vec<Document>, u64), ManifestError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| read_failure(path, source, limit, MANIFEST_FILE))?;
    let size = bytes.len() as u64;
    let text = String::from_utf8(bytes).map_err(|_| ManifestError::Read {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8"),
    })?;
    Ok((parse_documents(&path.display().to_string(), &text)?, size))
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
    fn a_reader_past_its_limit_fails_instead_of_ending() {
        let mut exact = Vec::new();
        LimitedReader::new(&b"12345"[..], 5)
            .read_to_end(&mut exact)
            .unwrap();
        assert_eq!(exact, b"12345");
        let error = LimitedReader::new(io::repeat(b'x'), 1000)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn a_directory_is_bounded_as_one_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let half = "#".repeat((MAX_MANIFEST_BYTES / 2) as usize) + "\n";
        for name in ["a.yaml", "b.yaml", "c.yaml"] {
            std::fs::write(dir.path().join(name), &half).unwrap();
        }
        let error = read_documents(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: larger than 16 MiB, the most the manifest files of one path together may hold; not read",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_file_over_the_limit_is_named_with_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(MAX_MANIFEST_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_documents(&path).unwrap_err().to_string(),
            format!(
                "{}: larger than 16 MiB, the most a manifest file may hold; not read",
                path.display()
            )
        );
    }

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
