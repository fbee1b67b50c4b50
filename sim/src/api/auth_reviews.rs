//! The reviews that ask the server about the caller: `authentication.k8s.io/v1
//! SelfSubjectReview` (`kubectl auth whoami`) and `authorization.k8s.io/v1
//! SelfSubjectAccessReview` (`kubectl auth can-i`). Create-only; nothing is stored. After
//! pkg/registry/authentication/selfsubjectreview and authorization/selfsubjectaccessreview.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::rbac::{Attributes, allows};
use super::{SharedState, Target, body};
use crate::admission::Caller;
use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

/// Answers a request on `selfsubjectreviews` or `selfsubjectaccessreviews`.
pub async fn serve(
    state: &SharedState,
    target: &Target,
    request: Request<Body>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST || target.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
    let review = body::decode_object(&headers, &bytes)?;
    let answer = match target.info.resource.as_str() {
        "selfsubjectreviews" => self_subject_review(caller),
        _ => self_subject_access_review(state, &target.info, review, caller)?,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn self_subject_review(caller: &Caller) -> Value {
    json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": now()},
        "status": {"userInfo": caller.user},
    })
}

fn self_subject_access_review(
    state: &SharedState,
    info: &ResourceInfo,
    mut review: Value,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let present = |field: &str| spec.get(field).is_some_and(|value| !value.is_null());
    let (resource, non_resource) = (
        present("resourceAttributes"),
        present("nonResourceAttributes"),
    );
    // kube-apiserver names the kind from the decoded object, whose kind is empty by then:
    // `.authorization.k8s.io "" is invalid: ...`.
    let unnamed_kind = ResourceInfo {
        kind: String::new(),
        ..info.clone()
    };
    if resource && non_resource {
        let value = spec
            .get("nonResourceAttributes")
            .map(go_struct)
            .unwrap_or_default();
        let cause = FieldCause::invalid_value(
            "spec.nonResourceAttributes",
            &value,
            "cannot be specified in combination with resourceAttributes",
        );
        return Err(ApiError::invalid(&unnamed_kind, "", &[cause]));
    }
    if !resource && !non_resource {
        let cause = FieldCause::invalid_value(
            "spec.resourceAttributes",
            "null",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        );
        return Err(ApiError::invalid(&unnamed_kind, "", &[cause]));
    }
    let attributes_of = |field: &str| {
        let text = |key: &str| {
            spec.pointer(&format!("/{field}/{key}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Attributes {
            verb: text("verb"),
            resource_request: resource,
            namespace: text("namespace"),
            group: text("group"),
            resource: text("resource"),
            subresource: text("subresource"),
            name: text("name"),
            path: text("path"),
        }
    };
    let attributes = if resource {
        attributes_of("resourceAttributes")
    } else {
        attributes_of("nonResourceAttributes")
    };
    let allowed = allows(state, &caller.user, &attributes);
    review["kind"] = json!("SelfSubjectAccessReview");
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = json!({"allowed": allowed});
    Ok(review)
}

/// How Go's `%v`-ish field error printing shows a struct value (good enough for the rare
/// both-attributes mistake: the JSON text).
fn go_struct(value: &Value) -> String {
    value.to_string()
}
