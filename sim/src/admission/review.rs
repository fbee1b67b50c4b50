//! The AdmissionReview a validating webhook receives (§2.1), how its answer is checked
//! (`request/admissionreview.go VerifyAdmissionResponse`) and how a denial becomes the client's
//! Status (`errors/statuserror.go ToStatusErr`, §2.3).

use serde_json::{Map, Value, json};

use crate::auth::UserInfo;
use crate::status::ApiError;

/// The AdmissionReview versions kube-apiserver speaks, in its order of preference.
pub const KNOWN_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// The first version in `admissionReviewVersions` the server knows.
pub fn review_version(webhook: &Value) -> Option<&'static str> {
    webhook
        .get("admissionReviewVersions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|version| KNOWN_VERSIONS.into_iter().find(|known| *known == version))
}

/// (group, version, name) of a kind or a resource.
pub type Gvx<'a> = (&'a str, &'a str, &'a str);

/// Everything an `AdmissionRequest` says, for one webhook.
pub struct ReviewRequest<'a> {
    pub uid: &'a str,
    /// kind/resource as sent to this webhook (an Equivalent match may differ from the request's).
    pub kind: Gvx<'a>,
    pub resource: Gvx<'a>,
    pub request_kind: Gvx<'a>,
    pub request_resource: Gvx<'a>,
    pub subresource: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub operation: &'a str,
    pub user: &'a UserInfo,
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
    pub options: Option<&'a Value>,
}

fn group_version_kind((group, version, kind): Gvx<'_>) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn group_version_resource((group, version, resource): Gvx<'_>) -> Value {
    json!({"group": group, "version": version, "resource": resource})
}

/// The whole `AdmissionReview` body for `version` (`v1` or `v1beta1`: same shape, other
/// apiVersion).
pub fn build(version: &str, request: &ReviewRequest<'_>) -> Value {
    let mut fields = Map::new();
    fields.insert("uid".into(), json!(request.uid));
    fields.insert("kind".into(), group_version_kind(request.kind));
    fields.insert("resource".into(), group_version_resource(request.resource));
    if !request.subresource.is_empty() {
        fields.insert("subResource".into(), json!(request.subresource));
    }
    fields.insert(
        "requestKind".into(),
        group_version_kind(request.request_kind),
    );
    fields.insert(
        "requestResource".into(),
        group_version_resource(request.request_resource),
    );
    if !request.subresource.is_empty() {
        fields.insert("requestSubResource".into(), json!(request.subresource));
    }
    if !request.name.is_empty() {
        fields.insert("name".into(), json!(request.name));
    }
    if !request.namespace.is_empty() {
        fields.insert("namespace".into(), json!(request.namespace));
    }
    fields.insert("operation".into(), json!(request.operation));
    fields.insert(
        "userInfo".into(),
        serde_json::to_value(request.user).unwrap_or_else(|_| json!({})),
    );
    // Empty RawExtensions serialize as null.
    fields.insert(
        "object".into(),
        request.object.cloned().unwrap_or(Value::Null),
    );
    fields.insert(
        "oldObject".into(),
        request.old_object.cloned().unwrap_or(Value::Null),
    );
    fields.insert("dryRun".into(), json!(request.dry_run));
    fields.insert(
        "options".into(),
        request.options.cloned().unwrap_or(Value::Null),
    );
    json!({
        "kind": "AdmissionReview",
        "apiVersion": format!("admission.k8s.io/{version}"),
        "request": Value::Object(fields),
    })
}

/// A webhook's verified answer.
#[derive(Debug)]
pub struct Verdict {
    pub allowed: bool,
    /// The `metav1.Status` it gave (only consulted on a denial).
    pub status: Option<Value>,
    pub warnings: Vec<String>,
}

/// What client-go's `Result.Into` says of a 2xx answer it cannot decode at all: a content
/// type no serializer handles (an absent one is the client's own, JSON), or an empty body.
pub fn undecodable(content_type: &str, status: u16, body: &[u8]) -> Option<String> {
    let content_type = if content_type.is_empty() {
        "application/json"
    } else {
        content_type
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let known = matches!(
        media_type.as_str(),
        "application/json" | "application/yaml" | "application/vnd.kubernetes.protobuf"
    );
    if !known {
        return Some(format!("serializer for {content_type} doesn't exist"));
    }
    body.is_empty().then(|| {
        format!("0-length response with status code: {status} and content type: {content_type}")
    })
}

/// Decodes a 2xx body and checks it as `VerifyAdmissionResponse` does for a validating
/// webhook. `Err` is the `<reason>` of the call failure.
pub fn verify(version: &str, uid: &str, body: &[u8]) -> Result<Verdict, String> {
    let review: Value = serde_json::from_slice(body)
        .map_err(|error| format!("failed to call webhook: {}", decode_error(body, &error)))?;
    let invalid = |why: String| format!("received invalid webhook response: {why}");
    let Some(review) = review.as_object() else {
        // Go cannot find apiVersion/kind in a JSON non-object either.
        return Err(format!(
            "failed to call webhook: couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            go_json_type(&review)
        ));
    };
    let response = match review.get("response") {
        Some(response) if response.is_object() => response,
        _ => return Err(invalid("webhook response was absent".into())),
    };
    let text = |field: &str| response.get(field).and_then(Value::as_str).unwrap_or("");
    if version == "v1" {
        let got = text("uid");
        if got != uid {
            return Err(invalid(format!(
                "expected response.uid={uid:?}, got {got:?}"
            )));
        }
        let api_version = review
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = review.get("kind").and_then(Value::as_str).unwrap_or("");
        if (api_version, kind) != ("admission.k8s.io/v1", "AdmissionReview") {
            let (group, version) = match api_version.split_once('/') {
                Some((group, version)) => (group, version),
                None => ("", api_version),
            };
            return Err(invalid(format!(
                "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {group}/{version}, Kind={kind}"
            )));
        }
    }
    let has = |field: &str| response.get(field).is_some_and(|v| !v.is_null());
    if response
        .get("patch")
        .and_then(Value::as_str)
        .is_some_and(|patch| !patch.is_empty())
    {
        return Err(invalid(
            "validating webhook may not return response.patch".into(),
        ));
    }
    if has("patchType") {
        return Err(invalid(
            "validating webhook may not return response.patchType".into(),
        ));
    }
    let allowed = response
        .get("allowed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let warnings = response
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    Ok(Verdict {
        allowed,
        status: response.get("status").filter(|s| s.is_object()).cloned(),
        warnings,
    })
}

/// Go's `json.Unmarshal` wording for the commonest garbage, inside the serializer's prefix.
fn decode_error(body: &[u8], error: &serde_json::Error) -> String {
    let detail = crate::go_json::syntax_error(body).unwrap_or_else(|| error.to_string());
    format!("couldn't get version/kind; json parse error: {detail}")
}

fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "null",
    }
}

/// `ToStatusErr`: the Status a denial is answered with.
pub fn denial(webhook_name: &str, status: Option<&Value>) -> ApiError {
    let mut status: Map<String, Value> = status
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let denied_by = format!("admission webhook {webhook_name:?} denied the request");
    let code = status.get("code").and_then(Value::as_i64).unwrap_or(0);
    let code = if code < 400 { 400 } else { code };
    let text = |field: &str| {
        status
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let state = text("status");
    let (message, reason) = (text("message"), text("reason"));
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason.is_empty() {
        format!("{denied_by}: {reason}")
    } else {
        format!("{denied_by} without explanation")
    };
    if state.is_empty() || state == "Success" {
        status.insert("status".into(), json!("Failure"));
    }
    status.insert("kind".into(), json!("Status"));
    status.insert("apiVersion".into(), json!("v1"));
    status.entry("metadata").or_insert_with(|| json!({}));
    status.insert("message".into(), json!(message));
    status.insert("code".into(), json!(code));
    // Go's Status omits an empty reason; a non-string one could not have been decoded.
    if !status.get("reason").is_some_and(Value::is_string) || reason.is_empty() {
        status.remove("reason");
    }
    let http_code = u16::try_from(code).unwrap_or(500);
    let mut error = ApiError::new(http_code, "", message);
    error.raw_status = Some(Value::Object(status));
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_follow_to_status_err() {
        let denied = denial(
            "w.example.com",
            Some(&json!({"code": 403, "reason": "Forbidden", "message": "no"})),
        );
        assert_eq!(denied.code, 403);
        assert_eq!(
            denied.status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "admission webhook \"w.example.com\" denied the request: no",
                   "reason": "Forbidden", "code": 403})
        );
        let zero = denial("w", Some(&json!({"reason": "Because"})));
        assert_eq!(zero.code, 400);
        assert_eq!(
            zero.message,
            "admission webhook \"w\" denied the request: Because"
        );
        let bare = denial("w", None);
        assert_eq!(
            bare.message,
            "admission webhook \"w\" denied the request without explanation"
        );
        assert_eq!(bare.status()["status"], "Failure");
        assert!(bare.status().get("reason").is_none());
    }

    #[test]
    fn responses_are_verified_in_kube_apiservers_order() {
        let ok = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"warnings":["w"]}}"#;
        assert_eq!(undecodable("application/json", 200, ok), None);
        assert_eq!(undecodable("", 200, ok), None);
        assert_eq!(
            undecodable("application/json", 200, b"").as_deref(),
            Some("0-length response with status code: 200 and content type: application/json")
        );
        assert_eq!(
            undecodable("text/plain; charset=utf-8", 200, b"ok").as_deref(),
            Some("serializer for text/plain; charset=utf-8 doesn't exist")
        );
        let verdict = verify("v1", "u", ok).unwrap();
        assert!(verdict.allowed);
        assert_eq!(verdict.warnings, ["w"]);
        assert_eq!(
            verify("v1", "x", ok).unwrap_err(),
            "received invalid webhook response: expected response.uid=\"x\", got \"u\""
        );
        assert_eq!(
            verify("v1", "u", br#"{"response":{"uid":"u","allowed":true}}"#).unwrap_err(),
            "received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind="
        );
        assert_eq!(
            verify("v1", "u", br#"{"apiVersion":"admission.k8s.io/v1"}"#).unwrap_err(),
            "received invalid webhook response: webhook response was absent"
        );
        assert_eq!(
            verify("v1", "u", b"garbage").unwrap_err(),
            "failed to call webhook: couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value"
        );
        // v1beta1 answers are not checked for uid or kind.
        assert!(verify("v1beta1", "x", br#"{"response":{"allowed":true}}"#).is_ok());
    }
}
