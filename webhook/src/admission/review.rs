//! Reading an `AdmissionReview` (`admission.k8s.io/v1` or `v1beta1`), as the API server sends it.

use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::core::admission::{AdmissionRequest, Operation};
use kube::core::gvk::{GroupVersionKind, GroupVersionResource};
use kube::core::{DynamicObject, TypeMeta};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::quote::{bound, cut, quote};

pub const KIND: &str = "AdmissionReview";
pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error(
        "unsupported AdmissionReview apiVersion {}: expected admission.k8s.io/v1 or admission.k8s.io/v1beta1",
        quote(.0)
    )]
    Version(String),
    // The decoder's message quotes the offending value, and a field path its map keys.
    #[error(
        "malformed AdmissionReview: field `{}`: {}",
        cut(field),
        bound(message)
    )]
    Malformed { field: String, message: String },
    #[error("AdmissionReview has no `request`")]
    MissingRequest,
    #[error("the body is not a JSON AdmissionReview: {}", bound(.0))]
    NotJson(String),
}

/// Whether a document is an AdmissionReview.
pub fn is_review(api_version: &str, kind: &str) -> bool {
    kind == KIND && api_version.starts_with("admission.k8s.io/")
}

/// An AdmissionReview as the API server sends it. kube's `AdmissionReview` flattens its type
/// fields, which makes serde buffer the whole body once more before decoding it; this does not.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<R> {
    api_version: String,
    kind: String,
    request: Option<R>,
}

impl<R> Envelope<R> {
    fn into_parts(self) -> Result<(TypeMeta, R), ReviewError> {
        let request = self.request.ok_or(ReviewError::MissingRequest)?;
        let types = TypeMeta {
            api_version: self.api_version,
            kind: self.kind,
        };
        Ok((types, request))
    }
}

impl Envelope<AdmissionRequest<DynamicObject>> {
    fn into_request(self) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
        let (types, mut request) = self.into_parts()?;
        // Responses are answered in the version the review came in.
        request.types = types;
        Ok(request)
    }
}

/// The fields of kube's `AdmissionRequest`, with the objects kept as the JSON text they came in.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestFields<'a> {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    request_kind: Option<GroupVersionKind>,
    #[serde(default)]
    request_resource: Option<GroupVersionResource>,
    #[serde(default)]
    request_sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    user_info: UserInfo,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
    #[serde(borrow)]
    old_object: Option<&'a RawValue>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    options: Option<RawExtension>,
}

fn check_version(api_version: &str) -> Result<(), ReviewError> {
    if API_VERSIONS.contains(&api_version) {
        Ok(())
    } else {
        Err(ReviewError::Version(api_version.to_string()))
    }
}

fn malformed<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> ReviewError {
    ReviewError::Malformed {
        field: error.path().to_string(),
        message: error.into_inner().to_string(),
    }
}

/// Decodes an AdmissionReview and returns its request.
pub fn read_request(value: &Value) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
    check_version(
        value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )?;
    let envelope: Envelope<AdmissionRequest<DynamicObject>> =
        serde_path_to_error::deserialize(value).map_err(malformed)?;
    envelope.into_request()
}

/// An AdmissionRequest read from JSON text, its object still text (see `read_request_text`).
#[derive(Debug)]
pub struct TextRequest<'a> {
    /// With `object` `None`, and `old_object` only on UPDATE (the one operation whose
    /// decision reads it, policy-semantics §4).
    pub request: AdmissionRequest<DynamicObject>,
    pub object: Option<&'a RawValue>,
}

/// Decodes an AdmissionReview from its JSON text (what the webhook receives on every request),
/// leaving the object as text, to be decoded once, straight into the type its kind names (see
/// `Admitter::review_object`): building `serde_json::Value`s and `DynamicObject`s of it first
/// would cost more than the decision.
pub fn read_request_text(bytes: &[u8]) -> Result<TextRequest<'_>, ReviewError> {
    // UTF-8 checked once for the whole body, not string by string as the decoder goes.
    let decoded = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str::<Envelope<RequestFields<'_>>>(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    let envelope = match decoded {
        Ok(envelope) if API_VERSIONS.contains(&envelope.api_version.as_str()) => envelope,
        // Rare: worded as `read_request` words it (the version first, then the failing field).
        failed => {
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|error| ReviewError::NotJson(error.to_string()))?;
            read_request(&value)?;
            return Err(match failed {
                Err(error) => ReviewError::Malformed {
                    field: "request".into(),
                    message: error.to_string(),
                },
                Ok(envelope) => ReviewError::Version(envelope.api_version),
            });
        }
    };
    let (types, fields) = envelope.into_parts()?;
    let old_object = match (&fields.operation, fields.old_object) {
        (Operation::Update, Some(text)) => Some(
            serde_json::from_str::<DynamicObject>(text.get()).map_err(|error| {
                ReviewError::Malformed {
                    field: "request.oldObject".into(),
                    message: error.to_string(),
                }
            })?,
        ),
        _ => None,
    };
    let request = AdmissionRequest {
        types,
        uid: fields.uid,
        kind: fields.kind,
        resource: fields.resource,
        sub_resource: fields.sub_resource,
        request_kind: fields.request_kind,
        request_resource: fields.request_resource,
        request_sub_resource: fields.request_sub_resource,
        name: fields.name,
        namespace: fields.namespace,
        operation: fields.operation,
        user_info: fields.user_info,
        object: None,
        old_object,
        dry_run: fields.dry_run,
        options: fields.options,
    };
    Ok(TextRequest {
        request,
        object: fields.object,
    })
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

/// The AdmissionReview carrying `response`, as JSON text (encoded directly, not through a
/// `serde_json::Value`).
pub fn review_json(response: kube::core::admission::AdmissionResponse) -> Vec<u8> {
    serde_json::to_vec(&response.into_review()).unwrap_or_else(|error| {
        // Serialising our own types cannot fail; if it ever did, fail closed, never allow.
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "", "allowed": false, "status": {"code": 500, "message": format!("cannot encode the response: {error}")}}})
            .to_string()
            .into_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review(api_version: &str) -> Value {
        json!({
            "apiVersion": api_version, "kind": "AdmissionReview",
            "request": {
                "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "p", "namespace": "team-a", "operation": "CREATE",
                "userInfo": {"username": "jane", "groups": ["system:authenticated"]},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "oldObject": null, "dryRun": true,
                "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
            },
        })
    }

    #[test]
    fn text_and_value_decode_alike_and_answer_in_the_reviews_version() {
        for version in API_VERSIONS {
            let value = review(version);
            let text = value.to_string();
            let TextRequest {
                request: from_text,
                object,
            } = read_request_text(text.as_bytes()).unwrap();
            let mut from_value = read_request(&value).unwrap();
            assert_eq!(from_text.types.api_version, version);
            assert_eq!(from_text.types.kind, "AdmissionReview");
            let object: Value = serde_json::from_str(object.unwrap().get()).unwrap();
            assert_eq!(object, value["request"]["object"]);
            assert!(from_text.object.is_none());
            from_value.object = None;
            assert_eq!(
                serde_json::to_value(&from_text).unwrap(),
                serde_json::to_value(&from_value).unwrap()
            );
            let answer: Value = serde_json::from_slice(&review_json(allow(&from_text))).unwrap();
            assert_eq!(
                (
                    answer["apiVersion"].as_str(),
                    answer["response"]["uid"].as_str()
                ),
                (Some(version), Some("u-1"))
            );
            assert_eq!(answer["response"]["allowed"], true);
        }
    }

    #[test]
    fn a_review_without_an_object_has_none() {
        let mut value = review("admission.k8s.io/v1");
        value["request"]["object"] = Value::Null;
        let text = value.to_string();
        assert!(read_request_text(text.as_bytes()).unwrap().object.is_none());
        value["request"].as_object_mut().unwrap().remove("object");
        let text = value.to_string();
        assert!(read_request_text(text.as_bytes()).unwrap().object.is_none());
    }

    #[test]
    fn only_an_updates_old_object_is_read_and_a_malformed_one_is_named() {
        let mut value = review("admission.k8s.io/v1");
        value["request"]["oldObject"] = value["request"]["object"].clone();
        let text = value.to_string();
        let create = read_request_text(text.as_bytes()).unwrap();
        assert!(create.request.old_object.is_none());
        value["request"]["operation"] = json!("UPDATE");
        let text = value.to_string();
        let update = read_request_text(text.as_bytes()).unwrap();
        let old = update.request.old_object.unwrap();
        assert_eq!(old.metadata.name.as_deref(), Some("p"));
        value["request"]["oldObject"] = json!(7);
        let text = value.to_string();
        match read_request_text(text.as_bytes()) {
            Err(ReviewError::Malformed { field, .. }) => assert_eq!(field, "request.oldObject"),
            other => panic!("expected a malformed oldObject, got {other:?}"),
        }
    }

    #[test]
    fn bad_bodies_are_named_as_read_request_names_them() {
        assert!(matches!(
            read_request_text(b"{not json"),
            Err(ReviewError::NotJson(_))
        ));
        let text = review("admission.k8s.io/v2").to_string();
        assert_eq!(
            read_request_text(text.as_bytes()).unwrap_err(),
            ReviewError::Version("admission.k8s.io/v2".into())
        );
        assert_eq!(
            read_request_text(br#"{"kind": "AdmissionReview"}"#).unwrap_err(),
            ReviewError::Version(String::new())
        );
        let no_request = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"});
        assert_eq!(
            read_request_text(no_request.to_string().as_bytes()).unwrap_err(),
            ReviewError::MissingRequest
        );
        let mut bad_uid = review("admission.k8s.io/v1");
        bad_uid["request"]["uid"] = json!(7);
        let text = bad_uid.to_string();
        match read_request_text(text.as_bytes()) {
            Err(ReviewError::Malformed { field, .. }) => assert_eq!(field, "request.uid"),
            other => panic!("expected a malformed review, got {other:?}"),
        }
    }
}
