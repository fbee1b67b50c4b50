//! `POST serviceaccounts/<name>/token`: an `authentication.k8s.io/v1 TokenRequest`, what
//! `kubectl create token` and the kubelet's projected tokens use. After kube-apiserver's
//! `TokenREST.Create` (pkg/registry/core/serviceaccount/storage/token.go): the returned token
//! authenticates as `system:serviceaccount:<namespace>:<name>` until `expirationTimestamp`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::objects::is_dry_run;
use super::{SharedState, Target, body, query_map};
use crate::admission::Caller;
use crate::admission::chain::{Attributes, admit};
use crate::auth::UserInfo;
use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};
use crate::store::ObjectKey;

/// kube-apiserver's default audience (`--api-audiences`, else the issuer), as kubeadm and kind
/// configure it.
const AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
/// `SetDefaults_TokenRequestSpec`.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// Answers a request on `serviceaccounts/<name>/token`.
pub async fn serve(
    state: &SharedState,
    target: &Target,
    request: Request<Body>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let (Some(namespace), Some(name)) = (target.namespace.clone(), target.name.clone()) else {
        return Err(ApiError::method_not_allowed());
    };
    let query = query_map(&request);
    let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
    let review = body::decode_object(&headers, &bytes)?;
    create(state, target, &namespace, &name, review, &query, caller)
        .await
        .map(|created| (StatusCode::CREATED, Json(created)).into_response())
}

fn token_request_kind(info: &ResourceInfo) -> ResourceInfo {
    ResourceInfo {
        group: "authentication.k8s.io".into(),
        version: "v1".into(),
        kind: "TokenRequest".into(),
        ..info.clone()
    }
}

async fn create(
    state: &SharedState,
    target: &Target,
    namespace: &str,
    name: &str,
    mut request: Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let kind = token_request_kind(&target.info);
    // The name and namespace in the body, when given, must be the URL's.
    for (field, expected, what) in [
        (
            "name",
            name,
            "must match the service account name if specified",
        ),
        (
            "namespace",
            namespace,
            "must match the service account namespace if specified",
        ),
    ] {
        if let Some(given) = request
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .filter(|given| !given.is_empty() && *given != expected)
        {
            let cause = FieldCause::invalid_value(&format!("metadata.{field}"), given, what);
            return Err(ApiError::invalid(&kind, name, &[cause]));
        }
    }
    super::objects::require_namespace(state, target)?;
    let account = state
        .store
        .get(&ObjectKey::new("", "serviceaccounts", namespace, name))
        .ok_or_else(|| ApiError::not_found(&target.info, name))?;
    let now = jiff::Timestamp::now();
    let spec = request
        .get("spec")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let expiration = expiration_seconds(&kind, &spec)?;
    let audiences = match spec.get("audiences").and_then(Value::as_array) {
        Some(given) if !given.is_empty() => Value::Array(given.clone()),
        _ => json!([AUDIENCE]),
    };
    let bound = spec.get("boundObjectRef").cloned().unwrap_or(Value::Null);
    if !bound.is_null() {
        check_bound_object(state, namespace, name, &bound)?;
    }
    request = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
        "status": {},
    });
    let dry_run = is_dry_run(query);
    let mut options = json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"});
    if dry_run {
        options["dryRun"] = json!(["All"]);
    }
    admit(
        state,
        &Attributes {
            operation: "CREATE",
            info: &target.info,
            subresource: "token",
            kind: ("authentication.k8s.io", "v1", "TokenRequest"),
            name,
            namespace,
            object: Some(&request),
            old_object: None,
            dry_run,
            options,
        },
        caller,
    )
    .await?;
    let expires = now + jiff::SignedDuration::from_secs(expiration);
    // The identity carries the ServiceAccount object's uid, as a real token's claims do.
    let mut user = UserInfo::service_account(namespace, name);
    user.uid = account
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let token = if dry_run {
        String::new()
    } else {
        state.tokens.issue_until(&user, expires)
    };
    request["status"] = json!({
        "token": token,
        "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    Ok(request)
}

/// `spec.expirationSeconds`, defaulted and validated as `ValidateTokenRequest` does.
fn expiration_seconds(kind: &ResourceInfo, spec: &Value) -> Result<i64, ApiError> {
    let Some(given) = spec.get("expirationSeconds").filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_EXPIRATION_SECONDS);
    };
    let field = "spec.expirationSeconds";
    let Some(seconds) = given.as_i64() else {
        return Err(ApiError::bad_request(format!(
            "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal {} into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64",
            go_json_type(given)
        )));
    };
    let detail = if seconds < MIN_EXPIRATION_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if seconds > MAX_EXPIRATION_SECONDS {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        return Ok(seconds);
    };
    // Numbers are printed bare (`Invalid value: 100`), not quoted.
    let cause = FieldCause {
        reason: "FieldValueInvalid",
        field: field.into(),
        what: format!("Invalid value: {seconds}"),
        detail: detail.into(),
    };
    Err(ApiError::invalid(kind, "", &[cause]))
}

fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        // A fraction or a number out of int64's range.
        _ => "number",
    }
}

/// A token bound to a Pod, Secret or Node needs that object to exist (with the given uid).
fn check_bound_object(
    state: &SharedState,
    namespace: &str,
    account: &str,
    bound: &Value,
) -> Result<(), ApiError> {
    let text = |field: &str| bound.get(field).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, name) = (text("apiVersion"), text("kind"), text("name"));
    let (resource, scope) = match (api_version, kind) {
        ("v1", "Pod") => ("pods", namespace),
        ("v1", "Secret") => ("secrets", namespace),
        ("v1", "Node") => ("nodes", ""),
        _ => {
            let (group, version) = crate::catalogue::split_api_version(api_version);
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    let info = state
        .catalogue
        .get("", "v1", resource)
        .ok_or_else(|| ApiError::internal(format!("{resource} are not served")))?;
    let object = state
        .store
        .get(&ObjectKey::new("", resource, scope, name))
        .ok_or_else(|| ApiError::not_found(&info, name))?;
    if kind == "Pod" {
        let runs_as = object
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if runs_as != account {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
            )));
        }
    }
    let uid = text("uid");
    let actual = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !uid.is_empty() && uid != actual {
        let mut conflict = ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {kind} {name:?}: the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        );
        conflict.details = Some(json!({"name": name, "kind": kind}));
        return Err(conflict);
    }
    Ok(())
}
