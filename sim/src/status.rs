//! Errors as kube-apiserver reports them: a `metav1.Status` with its reason, code and exact
//! message wording, which kubectl prints as `Error from server (<Reason>): <message>`.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use serde::ser::{SerializeMap, Serializer};

use crate::catalogue::ResourceInfo;

/// An API error, rendered as a Status object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Answered as Go's `http.NotFound` (`404 page not found`, text/plain) instead of a Status:
    /// what kube-apiserver does for URLs nothing is registered at.
    pub plain_text: bool,
    /// A Status supplied from elsewhere (an admission webhook's denial, with its own reason and
    /// details), answered as it is.
    pub raw_status: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            plain_text: false,
            raw_status: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The Status as a JSON value (field order aside, what `body` writes).
    pub fn status(&self) -> Value {
        serde_json::to_value(GoStatus(&self.to_status())).unwrap_or_else(|_| json!({}))
    }

    /// The Status as kube-apiserver's `metav1.Status`. A webhook's Status goes through that type
    /// too, as kube-apiserver decodes and re-encodes it (fields it does not know are dropped).
    pub fn to_status(&self) -> Status {
        if let Some(status) = self
            .raw_status
            .as_ref()
            .and_then(|raw| serde_json::from_value::<Status>(raw.clone()).ok())
        {
            return status;
        }
        Status {
            code: Some(i32::from(self.code)),
            details: self
                .details
                .as_ref()
                .map(|details| serde_json::from_value(details.clone()).unwrap_or_default()),
            message: Some(self.message.clone()),
            metadata: Default::default(),
            reason: Some(self.reason.to_string()),
            status: Some("Failure".into()),
        }
    }

    /// The response body, byte for byte as kube-apiserver writes it (`encoding/json` of
    /// `metav1.Status`: Go's field order, empty fields omitted, a trailing newline).
    pub fn body(&self) -> Vec<u8> {
        status_body(&self.to_status())
    }

    /// `pods "web" not found`
    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", info.qualified_name()),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.resource}))
    }

    /// `namespaces "x" not found`, for writes into a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details(json!({"name": namespace, "kind": "namespaces"}))
    }

    /// `pods "web" already exists`
    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", info.qualified_name()),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.resource}))
    }

    /// The optimistic-concurrency failure of an update with a stale resourceVersion.
    pub fn conflict(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict_because(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `errors.NewConflict(resource, name, reason)`, e.g. a failed delete precondition.
    pub fn conflict_because(info: &ResourceInfo, name: &str, reason: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {reason}",
                info.qualified_name()
            ),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.resource}))
    }

    /// `Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 ...`
    pub fn invalid(info: &ResourceInfo, name: &str, causes: &[FieldCause]) -> Self {
        Self::invalid_kind(&info.group, &info.kind, name, causes)
    }

    /// An Invalid about no object in particular (kube-apiserver's `NewInvalid(GroupKind{}, "",
    /// ...)`, e.g. for a patch): message ` "" is invalid: ...`, which kubectl prints as `The
    /// request is invalid: ...`.
    pub fn invalid_unnamed(causes: &[FieldCause]) -> Self {
        Self::invalid_kind("", "", "", causes)
    }

    /// The message names the group-qualified kind (`Deployment.apps "web" is invalid`), as Go's
    /// `GroupKind.String()` does; the details carry group and kind apart.
    fn invalid_kind(group: &str, kind: &str, name: &str, causes: &[FieldCause]) -> Self {
        let summary: Vec<String> = causes.iter().map(FieldCause::to_string).collect();
        let summary = if summary.len() == 1 {
            summary.join("")
        } else {
            format!("[{}]", summary.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|cause| json!({"reason": cause.reason, "message": cause.message_body(), "field": cause.field}))
            .collect();
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        ApiError::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {summary}"),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// kube-apiserver's answer names no group or resource, but its `details` is there (`{}`).
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    /// Unknown URLs and resources. kube-apiserver answers these from its not-found handler with
    /// a plain-text body, not a Status; clients word the error themselves (kubectl: `the server
    /// could not find the requested resource (get widgets.example.com)`), so a JSON Status here
    /// would change what they print.
    pub fn not_found_path() -> Self {
        ApiError {
            plain_text: true,
            ..ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        }
    }

    /// A path under a served group/version that names no resource: go-restful's 404, which
    /// kube-apiserver renders as a Status (unlike unregistered paths, `not_found_path`).
    pub fn no_such_resource() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn too_large() -> Self {
        ApiError::new(413, "RequestEntityTooLarge", "the request is too large")
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {content_type:?}"
            ),
        )
    }

    /// `410 Gone` for a watch or list from a resourceVersion that has been compacted away.
    pub fn expired(resource_version: u64, oldest: u64) -> Self {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {resource_version} ({oldest})"),
        )
    }

    /// An unknown bearer token (kube-apiserver's wording).
    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }
}

/// One field error of an `Invalid` status (`field.ErrorTypeInvalid` and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// `metadata.name`
    pub field: String,
    /// What kube-apiserver prints between the field and the detail: `Invalid value: "x"`,
    /// `Required value`.
    pub what: String,
    pub detail: String,
}

impl FieldCause {
    pub fn invalid_value(field: &str, value: &str, detail: impl Into<String>) -> Self {
        FieldCause {
            reason: "FieldValueInvalid",
            field: field.into(),
            what: format!("Invalid value: {value:?}"),
            detail: detail.into(),
        }
    }

    pub fn required(field: &str, detail: impl Into<String>) -> Self {
        FieldCause {
            reason: "FieldValueRequired",
            field: field.into(),
            what: "Required value".into(),
            detail: detail.into(),
        }
    }

    fn message_body(&self) -> String {
        if self.detail.is_empty() {
            self.what.clone()
        } else {
            format!("{}: {}", self.what, self.detail)
        }
    }
}

impl std::fmt::Display for FieldCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message_body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.plain_text {
            return (
                code,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n",
            )
                .into_response();
        }
        (code, [(CONTENT_TYPE, "application/json")], self.body()).into_response()
    }
}

/// `status` as Go's `encoding/json` writes it, newline included (json.Encoder adds one).
pub fn status_body(status: &Status) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(&GoStatus(status)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Serialises a `metav1.Status` in the order of Go's struct fields (`kind, apiVersion,
/// metadata, status, message, reason, details, code`), leaving out what Go's `omitempty`
/// leaves out: empty strings, zero numbers, empty lists. A present `details` is written even
/// when empty (`{}`), as Go writes a non-nil pointer.
pub struct GoStatus<'a>(pub &'a Status);

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

impl serde::Serialize for GoStatus<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let status = self.0;
        let mut out = serializer.serialize_map(None)?;
        out.serialize_entry("kind", "Status")?;
        out.serialize_entry("apiVersion", "v1")?;
        out.serialize_entry("metadata", &GoListMeta(&status.metadata))?;
        for (key, value) in [
            ("status", &status.status),
            ("message", &status.message),
            ("reason", &status.reason),
        ] {
            if let Some(value) = non_empty(value) {
                out.serialize_entry(key, value)?;
            }
        }
        if let Some(details) = &status.details {
            out.serialize_entry("details", &GoDetails(details))?;
        }
        if let Some(code) = status.code.filter(|code| *code != 0) {
            out.serialize_entry("code", &code)?;
        }
        out.end()
    }
}

struct GoListMeta<'a>(&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta);

impl serde::Serialize for GoListMeta<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let meta = self.0;
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in [
            ("selfLink", &meta.self_link),
            ("resourceVersion", &meta.resource_version),
            ("continue", &meta.continue_),
        ] {
            if let Some(value) = non_empty(value) {
                out.serialize_entry(key, value)?;
            }
        }
        // A pointer in Go: written whenever set, zero included.
        if let Some(count) = meta.remaining_item_count {
            out.serialize_entry("remainingItemCount", &count)?;
        }
        out.end()
    }
}

struct GoDetails<'a>(&'a StatusDetails);

impl serde::Serialize for GoDetails<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let details = self.0;
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in [
            ("name", &details.name),
            ("group", &details.group),
            ("kind", &details.kind),
            ("uid", &details.uid),
        ] {
            if let Some(value) = non_empty(value) {
                out.serialize_entry(key, value)?;
            }
        }
        if let Some(causes) = details.causes.as_ref().filter(|causes| !causes.is_empty()) {
            let causes: Vec<GoCause<'_>> = causes.iter().map(GoCause).collect();
            out.serialize_entry("causes", &causes)?;
        }
        if let Some(seconds) = details.retry_after_seconds.filter(|seconds| *seconds != 0) {
            out.serialize_entry("retryAfterSeconds", &seconds)?;
        }
        out.end()
    }
}

struct GoCause<'a>(&'a StatusCause);

impl serde::Serialize for GoCause<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cause = self.0;
        let mut out = serializer.serialize_map(None)?;
        for (key, value) in [
            ("reason", &cause.reason),
            ("message", &cause.message),
            ("field", &cause.field),
        ] {
            if let Some(value) = non_empty(value) {
                out.serialize_entry(key, value)?;
            }
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn messages_use_kube_apiservers_wording() {
        let catalogue = Catalogue::default();
        let deployments = catalogue.get("apps", "v1", "deployments").unwrap();
        assert_eq!(
            ApiError::not_found(&deployments, "web").message,
            "deployments.apps \"web\" not found"
        );
        assert_eq!(
            ApiError::already_exists(&deployments, "web").message,
            "deployments.apps \"web\" already exists"
        );
        let pods = catalogue.get("", "v1", "pods").unwrap();
        assert_eq!(
            ApiError::not_found(&pods, "p").message,
            "pods \"p\" not found"
        );
        let invalid = ApiError::invalid(
            &pods,
            "Bad",
            &[FieldCause::invalid_value(
                "metadata.name",
                "Bad",
                "must be lowercase",
            )],
        );
        assert_eq!(
            invalid.message,
            "Pod \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": must be lowercase"
        );
        assert_eq!(invalid.code, 422);
        let qualified = ApiError::invalid(
            &deployments,
            "Web",
            &[FieldCause::required("spec.selector", "")],
        );
        assert_eq!(
            qualified.message,
            "Deployment.apps \"Web\" is invalid: spec.selector: Required value"
        );
        assert_eq!(
            (
                qualified.status()["details"]["kind"].as_str(),
                qualified.status()["details"]["group"].as_str()
            ),
            (Some("Deployment"), Some("apps"))
        );
        let unnamed =
            ApiError::invalid_unnamed(&[FieldCause::invalid_value("patch", "map[]", "bad")]);
        assert_eq!(
            unnamed.message,
            " \"\" is invalid: patch: Invalid value: \"map[]\": bad"
        );
        assert_eq!(
            invalid.status()["details"]["causes"][0]["field"],
            "metadata.name"
        );
    }

    #[test]
    fn bodies_are_written_in_gos_field_order() {
        let pods = Catalogue::default().get("", "v1", "pods").unwrap();
        assert_eq!(
            String::from_utf8(ApiError::not_found(&pods, "p").body()).unwrap(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods \\\"p\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"p\",\"kind\":\"pods\"},\"code\":404}\n"
        );
        // A webhook's Status is re-encoded: Go's order, unknown fields dropped.
        let mut denied = ApiError::new(403, "", "admission webhook \"w\" denied the request: no");
        denied.raw_status = Some(json!({"code": 403, "reason": "Forbidden", "extra": 1,
            "details": {"causes": [{"field": "spec", "message": "m", "reason": "R"}], "kind": "pods", "group": ""},
            "message": "admission webhook \"w\" denied the request: no", "status": "Failure",
            "metadata": {}, "apiVersion": "v1", "kind": "Status"}));
        assert_eq!(
            String::from_utf8(denied.body()).unwrap(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"admission webhook \\\"w\\\" denied the request: no\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\",\"causes\":[{\"reason\":\"R\",\"message\":\"m\",\"field\":\"spec\"}]},\"code\":403}\n"
        );
    }

    #[tokio::test]
    async fn unknown_paths_get_a_plain_text_404_like_kube_apiserver() {
        let response = ApiError::not_found_path().into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"404 page not found\n");
        let response =
            ApiError::not_found(&Catalogue::default().get("", "v1", "pods").unwrap(), "p")
                .into_response();
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/json",
            "objects that are missing get a Status"
        );
    }
}
