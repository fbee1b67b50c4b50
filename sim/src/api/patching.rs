//! PATCH on objects: JSON patch, merge patch, strategic merge patch and server-side apply (an
//! apply of a missing object creates it), committed with the guaranteed-update loop.

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::admit::Write;
use super::objects::{create_recorded, guaranteed_update, is_true, key_for, ok_json};
use super::{SharedState, Target, strict};
use crate::admission::Caller;
use crate::catalogue::ResourceInfo;
use crate::patch::{PatchError, PatchRequest, PatchTarget, PatchType, apply_patch, check_name};
use crate::status::ApiError;

/// A PATCH request's body and its `fieldManager`/`force` parameters.
pub fn patch_request<'a>(
    patch_type: PatchType,
    body: &'a [u8],
    query: &'a HashMap<String, String>,
) -> PatchRequest<'a> {
    PatchRequest {
        patch_type,
        body,
        field_manager: query.get("fieldManager").map(String::as_str),
        force: is_true(query.get("force")),
        now: jiff::Timestamp::now(),
    }
}

pub fn patch_target(info: &ResourceInfo) -> PatchTarget<'_> {
    PatchTarget {
        api_version: "",
        kind: &info.kind,
        builtin: info.builtin,
    }
}

pub fn patch_error(info: &ResourceInfo, name: &str, error: PatchError) -> ApiError {
    match error {
        PatchError::BadRequest(message) => ApiError::bad_request(message),
        PatchError::Invalid(message) => ApiError::new(422, "Invalid", message),
        PatchError::UnsupportedMediaType(message) => {
            ApiError::new(415, "UnsupportedMediaType", message)
        }
        PatchError::Conflict { message, .. } => ApiError::new(409, "Conflict", message),
        PatchError::NotFound => ApiError::not_found(info, name),
    }
}

pub(super) async fn patch(
    state: &SharedState,
    target: &Target,
    name: &str,
    patch_type: PatchType,
    bytes: &[u8],
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let write = Write::new(caller, query);
    let api_version = target.info.api_version();
    let patch_target = PatchTarget {
        api_version: &api_version,
        ..patch_target(&target.info)
    };
    let request = patch_request(patch_type, bytes, query);
    let exists = state.store.get(&key_for(target, name)).is_some();
    if !exists && patch_type == PatchType::Apply {
        // Server-side apply of a new object creates it.
        let object = apply_patch(&patch_target, None, &request)
            .map_err(|e| patch_error(&target.info, name, e))?;
        check_name(&object, name, target.namespace.as_deref())
            .map_err(|e| patch_error(&target.info, name, e))?;
        let created = create_recorded(state, target, object, &write, false).await?;
        return Ok((StatusCode::CREATED, Json(created)).into_response());
    }
    // Strict validation of a strategic merge patch (client-side apply): the fields the patch
    // adds that the kind does not declare. (Apply patches are the patch module's to check; merge
    // and JSON patches are not checked.)
    let strict = strict::is_strict(query) && patch_type == PatchType::StrategicMerge;
    let updated = guaranteed_update(state, target, name, &write, |current| {
        let patched = apply_patch(&patch_target, Some(current), &request)
            .map_err(|e| patch_error(&target.info, name, e))?;
        if strict {
            let before = strict::unknown_fields(&target.info, current);
            let added: Vec<String> = strict::unknown_fields(&target.info, &patched)
                .into_iter()
                .filter(|field| !before.contains(field))
                .collect();
            if !added.is_empty() {
                return Err(strict::patch_error(bytes, &added));
            }
        }
        Ok(patched)
    })
    .await?;
    Ok(ok_json(updated))
}
