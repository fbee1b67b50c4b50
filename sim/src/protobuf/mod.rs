//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to and from the
//! JSON form the emulator stores.
//!
//! kubectl's typed commands (`kubectl create namespace|deployment|secret|...`, `kubectl autoscale`,
//! `kubectl auth can-i`, `kubectl create token`, `kubectl debug --copy-to`) send protobuf and never
//! fall back to JSON. A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose
//! `raw` holds the object's own message.
//!
//! The conversion walks the message by reflection over descriptors taken from k8s-rs-pb (see
//! `registry` for why not its generated types; field names in Kubernetes' `.proto` files are
//! the JSON names, bar the few in `go_shape`) and reproduces Go's `encoding/json` output, which needs three facts that the
//! wire format does not carry (see `go_shape`): which Go fields are embedded inline, which scalar
//! fields are pointers (an explicit `false`/`0` is meaningful) and which are not `omitempty`.
//! Go's encoder writes every non-pointer scalar, even `""`/`0`/`false`, so "present on the wire"
//! does not mean "set by the user".

mod access;
mod base64;
mod decode;
mod duration;
mod encode;
mod envelope;
mod go_pointers;
mod go_required;
mod go_shape;
mod kinds;
mod registry;
mod wellknown;

use serde_json::Value;

pub use kinds::SUPPORTED_KINDS;

/// The media type kubectl sends.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a body could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("empty protobuf body")]
    Empty,
    #[error("protobuf body does not start with the magic bytes \"k8s\\0\"")]
    MissingMagic,
    #[error("malformed protobuf envelope (runtime.Unknown): {0}")]
    MalformedEnvelope(String),
    #[error("protobuf envelope has no {0}")]
    MissingTypeMeta(&'static str),
    #[error("protobuf envelope contentEncoding {0:?} is not supported")]
    UnsupportedContentEncoding(String),
    #[error("protobuf envelope contentType {0:?} is not supported")]
    UnsupportedContentType(String),
    #[error("unsupported kind {kind:?} (apiVersion {api_version:?}) in protobuf body")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed message for kind {kind}: {detail}")]
    MalformedMessage { kind: String, detail: String },
    #[error("cannot encode object as protobuf: {0}")]
    InvalidObject(String),
    #[error("cannot encode kind {kind} as protobuf: {detail}")]
    Encode { kind: String, detail: String },
}

/// Decodes a Kubernetes protobuf request body into the object's JSON form, with `apiVersion` and
/// `kind` set from the envelope and without the fields Go's `omitempty` would leave out, so the
/// result equals what the same object's JSON body would be (less `null`s such as
/// `creationTimestamp: null`).
pub fn decode_body(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = parse_envelope(body)?;
    let (api_version, kind) = (envelope.api_version, envelope.kind);
    let name =
        kinds::message_for(&api_version, &kind).ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let malformed = |detail: String| ProtobufError::MalformedMessage {
        kind: kind.clone(),
        detail,
    };
    let descriptor = registry::message(name).map_err(malformed)?;
    let message = descriptor
        .parse_from_bytes(&envelope.raw)
        .map_err(|e| malformed(e.to_string()))?;
    let mut object = decode::message_to_json(&*message).map_err(malformed)?;
    let Value::Object(map) = &mut object else {
        return Err(malformed("message is not an object".to_owned()));
    };
    map.insert("apiVersion".to_owned(), Value::String(api_version));
    map.insert("kind".to_owned(), Value::String(kind));
    Ok(object)
}

/// Encodes a JSON object (which must carry `apiVersion` and `kind`) as a Kubernetes protobuf body:
/// `k8s\0` and a `runtime.Unknown` envelope, as Go's client would send it (except that Go also
/// writes zero-valued non-pointer fields, which decode the same).
pub fn encode_body(object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let Value::Object(map) = object else {
        return Err(ProtobufError::InvalidObject("not a JSON object".to_owned()));
    };
    let field = |name: &'static str| -> Result<String, ProtobufError> {
        match map.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ProtobufError::InvalidObject(format!(
                "{name} is missing or not a string"
            ))),
        }
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    let name =
        kinds::message_for(&api_version, &kind).ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let encode_error = |detail: String| ProtobufError::Encode {
        kind: kind.clone(),
        detail,
    };
    let descriptor = registry::message(name).map_err(encode_error)?;
    let raw = encode::json_to_message(&descriptor, object, true)
        .and_then(|m| m.write_to_bytes_dyn().map_err(|e| e.to_string()))
        .map_err(encode_error)?;
    let envelope = envelope::encode(&api_version, &kind, &raw).map_err(encode_error)?;
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&envelope);
    Ok(body)
}

/// Checks the magic and parses the `runtime.Unknown` envelope.
fn parse_envelope(body: &[u8]) -> Result<envelope::Envelope, ProtobufError> {
    if body.is_empty() {
        return Err(ProtobufError::Empty);
    }
    let Some(rest) = body.strip_prefix(MAGIC.as_slice()) else {
        return Err(ProtobufError::MissingMagic);
    };
    let envelope = envelope::decode(rest).map_err(ProtobufError::MalformedEnvelope)?;
    // Go's client writes these as "" (non-pointer fields); only a real value is a problem.
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding(
            envelope.content_encoding,
        ));
    }
    let content_type = envelope.content_type.as_str();
    if !content_type.is_empty() && content_type != PROTOBUF_CONTENT_TYPE {
        return Err(ProtobufError::UnsupportedContentType(envelope.content_type));
    }
    if envelope.kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("typeMeta.kind"));
    }
    if envelope.api_version.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("typeMeta.apiVersion"));
    }
    Ok(envelope)
}
