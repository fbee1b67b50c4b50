//! Reading an `AdmissionReview` (`admission.k8s.io/v1` or `v1beta1`), as the API server sends it.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionReview, Operation};
use serde_json::Value;

pub const KIND: &str = "AdmissionReview";
pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error(
        "unsupported AdmissionReview apiVersion {0:?}: expected admission.k8s.io/v1 or admission.k8s.io/v1beta1"
    )]
    Version(String),
    #[error("malformed AdmissionReview: field `{field}`: {message}")]
    Malformed { field: String, message: String },
    #[error("AdmissionReview has no `request`")]
    MissingRequest,
}

/// Whether a document is an AdmissionReview.
pub fn is_review(api_version: &str, kind: &str) -> bool {
    kind == KIND && api_version.starts_with("admission.k8s.io/")
}

/// Decodes an AdmissionReview and returns its request.
pub fn read_request(value: &Value) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !API_VERSIONS.contains(&api_version) {
        return Err(ReviewError::Version(api_version.to_string()));
    }
    let review: AdmissionReview<DynamicObject> =
        serde_path_to_error::deserialize(value).map_err(|error| ReviewError::Malformed {
            field: error.path().to_string(),
            message: error.into_inner().to_string(),
        })?;
    review.try_into().map_err(|_| ReviewError::MissingRequest)
}

/// CREATE and UPDATE are evaluated; DELETE and CONNECT never create containers.
pub fn is_evaluated(operation: &Operation) -> bool {
    matches!(operation, Operation::Create | Operation::Update)
}

/// An allow for `request`, answered in the AdmissionReview version it came in.
pub fn allow(
    request: &AdmissionRequest<DynamicObject>,
) -> kube::core::admission::AdmissionResponse {
    kube::core::admission::AdmissionResponse::from(request)
}

/// A denial with kube-apiserver's conventional 403 `Forbidden` status (what kubectl shows as
/// `admission webhook "..." denied the request: <message>`).
pub fn deny(
    request: &AdmissionRequest<DynamicObject>,
    code: u16,
    reason: &str,
    message: &str,
) -> kube::core::admission::AdmissionResponse {
    let mut response = allow(request);
    response.allowed = false;
    response.result = kube::core::Status::failure(message, reason).with_code(code);
    response
}

/// The AdmissionReview carrying `response`, as JSON.
pub fn review_json(response: kube::core::admission::AdmissionResponse) -> Value {
    serde_json::to_value(response.into_review()).unwrap_or_else(|error| {
        // Serialising our own types cannot fail; if it ever did, fail closed, never allow.
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "", "allowed": false, "status": {"code": 500, "message": format!("cannot encode the response: {error}")}}})
    })
}
