//! Writes as `kubectl` sends them, keeping what kube-rs' typed calls drop: the API server's
//! `Warning` headers (RFC 7234 `299 - "text"`), where admission webhooks' warnings reach the
//! user (`kubectl` prints them as `Warning: text`).

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::client::Body;
use kube::{Client, Resource};

use crate::world::Outcome;

/// POSTs `object` to `resource` in `namespace`: what the API server decided, and its warnings.
pub async fn create(
    client: &Client,
    resource: &ApiResource,
    namespace: &str,
    object: &DynamicObject,
) -> Result<(Outcome, Vec<String>), String> {
    let url = DynamicObject::url_path(resource, Some(namespace));
    let body = serde_json::to_vec(object).map_err(|error| format!("encode: {error}"))?;
    let request = kube::core::Request::new(url)
        .create(&PostParams::default(), body)
        .map_err(|error| format!("build the request: {error}"))?;
    let response = client
        .send(request.map(Body::from))
        .await
        .map_err(|error| format!("POST {}: {error}", resource.plural))?;
    let warnings = response
        .headers()
        .get_all(http::header::WARNING)
        .iter()
        // UTF-8, as the API server writes it (`to_str` takes visible ASCII only).
        .filter_map(|value| warning_text(&String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|error| format!("read the answer: {error}"))?;
    if (200..300).contains(&code) {
        return Ok((Outcome::Admitted, warnings));
    }
    let status: kube::core::Status = serde_json::from_slice(&bytes).map_err(|error| {
        format!(
            "HTTP {code} with a body that is not a Status ({error}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    Ok((
        Outcome::Rejected {
            code,
            message: status.message,
        },
        warnings,
    ))
}

/// The text of one `Warning` header value, `299 - "text"` (Go's `net/http` quoting: `\"` and
/// `\\` escaped).
fn warning_text(value: &str) -> Option<String> {
    let quoted = value.strip_prefix("299 - \"")?.strip_suffix('"')?;
    let mut text = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(chars.next()?),
            c => text.push(c),
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::warning_text;

    #[test]
    fn warning_headers_are_unquoted() {
        assert_eq!(
            warning_text(r#"299 - "image \"nginx:1.27\" (container \"web\"): a\\b""#).as_deref(),
            Some(r#"image "nginx:1.27" (container "web"): a\b"#)
        );
        assert_eq!(warning_text("199 - \"misc\""), None);
        assert_eq!(warning_text("299 - \"unterminated"), None);
    }
}
