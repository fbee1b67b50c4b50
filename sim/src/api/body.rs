//! Request bodies: read up to the size limit, then decoded by `Content-Type` (JSON, YAML or
//! Kubernetes protobuf) into the JSON form objects are stored in.

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Request};
use serde_json::Value;

use crate::status::ApiError;

/// Reads the whole body; more than `limit` bytes is `413`.
pub async fn read(request: Request<Body>, limit: usize) -> Result<(HeaderMap, Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large())?;
    Ok((parts.headers, bytes))
}

/// The media type, without parameters (`application/json; charset=utf-8` → `application/json`).
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Decodes an object body. The result must be a JSON object.
pub fn decode_object(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    let media_type = media_type(headers);
    let value = match media_type.as_str() {
        "" | "application/json" | "*/*" => decode_json(bytes)?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(bytes)?,
        crate::protobuf::PROTOBUF_CONTENT_TYPE => crate::protobuf::decode_body(bytes)
            .map_err(|error| ApiError::bad_request(error.to_string()))?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): expected a JSON object",
            json_type(&value)
        )));
    }
    Ok(value)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub fn decode_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be valid JSON): {error}"
        ))
    })
}

pub fn decode_yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the YAML body is not valid UTF-8"))?;
    serde_saphyr::from_str(text)
        .map_err(|error| ApiError::bad_request(format!("the YAML body is not valid: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    #[test]
    fn bodies_are_decoded_by_media_type() {
        let json = decode_object(
            &headers("application/json; charset=utf-8"),
            br#"{"kind":"Pod"}"#,
        )
        .unwrap();
        assert_eq!(json["kind"], "Pod");
        let yaml = decode_object(&headers("application/yaml"), b"kind: Pod\n").unwrap();
        assert_eq!(yaml["kind"], "Pod");
        assert_eq!(
            decode_object(&headers("application/json"), b"{oops")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_object(&headers("application/json"), b"[1]")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_object(&headers("text/csv"), b"a,b")
                .unwrap_err()
                .code,
            415
        );
    }
}
