//! The verbs on objects: get, list, create, update (PUT), patch, delete, deletecollection, and
//! the watch hand-off. Writes follow kube-apiserver's "guaranteed update": read the current
//! object, compute the new one outside the store lock, commit only if nothing changed in
//! between (otherwise recompute), so slow steps never hold the lock.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::ACCEPT;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::admit::{Write, admit_create, admit_update};
use super::lifecycle::{generated_name, prepare_create, prepare_update, validate_name};
pub use super::patching::{patch_error, patch_request, patch_target};
use super::shape::Shape;
use super::{
    SharedState, Target, body, crd, deletion, patching, query_map, strict, subresources, watch,
};
use crate::admission::Caller;
use crate::catalogue::ResourceInfo;
use crate::patch::{PatchTarget, PatchType, record_managed_fields};
use crate::status::ApiError;
use crate::store::{ObjectKey, StoreError};

/// How many times a write is recomputed when the object changes underneath it.
const MAX_RETRIES: usize = 16;

pub async fn handle(
    state: SharedState,
    target: Target,
    request: Request<Body>,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let method = request.method().clone();
    let query = query_map(&request);
    let accept = request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    if target.info.namespaced && target.namespace.is_none() && method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    match (&method, target.name.clone(), target.subresource.clone()) {
        (&Method::GET, None, None) if is_true(query.get("watch")) => {
            watch::serve(state, target, &query, Shape::from_accept(&accept))
        }
        (&Method::GET, None, None) => super::listing::list(&state, &target, &query, &accept),
        (&Method::GET, Some(name), None) => get(&state, &target, &name, &accept),
        (&Method::GET | &Method::POST, Some(name), Some(sub))
            if super::connect::is_connect(&target, &sub) =>
        {
            super::connect::connect(&state, &target, &name, &sub, &query, caller)
                .await
                .map(ok_json)
        }
        (&Method::GET, Some(name), Some(sub)) => subresources::get(&state, &target, &name, &sub),
        (&Method::POST, None, None) => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let object = body::decode_object(&headers, &bytes)?;
            create(&state, &target, object, &query, caller)
                .await
                .map(|created| (StatusCode::CREATED, Json(created)).into_response())
        }
        (&Method::POST, Some(name), Some(sub)) if sub == "binding" => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let binding = body::decode_object(&headers, &bytes)?;
            super::binding::bind(&state, &target, &name, binding, &query, caller)
                .await
                .map(|status| (StatusCode::CREATED, Json(status)).into_response())
        }
        (&Method::PUT, Some(name), sub) => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let object = body::decode_object(&headers, &bytes)?;
            match sub {
                None => update(&state, &target, &name, object, &query, caller)
                    .await
                    .map(ok_json),
                Some(sub) => {
                    subresources::put(&state, &target, &name, &sub, object, &query, caller)
                        .await
                        .map(ok_json)
                }
            }
        }
        (&Method::PATCH, Some(name), sub) => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let media_type = body::media_type(&headers);
            let patch_type = PatchType::from_content_type(&media_type)
                .ok_or_else(|| ApiError::unsupported_media_type(&media_type))?;
            match sub {
                None => {
                    patching::patch(&state, &target, &name, patch_type, &bytes, &query, caller)
                        .await
                }
                Some(sub) => subresources::patch(
                    &state, &target, &name, &sub, patch_type, &bytes, &query, caller,
                )
                .await
                .map(ok_json),
            }
        }
        (&Method::DELETE, Some(name), None) => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let options = if bytes.is_empty() {
                json!({})
            } else {
                body::decode_object(&headers, &bytes)?
            };
            deletion::delete(&state, &target, &name, &options, &query, caller)
                .await
                .map(IntoResponse::into_response)
        }
        (&Method::DELETE, None, None) if !has_delete_collection(&target.info) => {
            Err(ApiError::method_not_allowed())
        }
        (&Method::DELETE, None, None) => {
            let (headers, bytes) = body::read(request, state.max_body_bytes).await?;
            let options = if bytes.is_empty() {
                json!({})
            } else {
                body::decode_object(&headers, &bytes)?
            };
            deletion::delete_collection(&state, &target, &options, &query, caller)
                .await
                .map(ok_json)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Whether DELETE on the collection is served: kube-apiserver's namespace storage has no
/// deletecollection (discovery does not list the verb for namespaces).
pub fn has_delete_collection(info: &ResourceInfo) -> bool {
    !(info.builtin && info.group.is_empty() && info.resource == "namespaces")
}

pub(super) fn ok_json(value: Value) -> Response {
    Json(value).into_response()
}

pub fn is_true(value: Option<&String>) -> bool {
    matches!(value.map(String::as_str), Some("true") | Some("1"))
}

pub fn is_dry_run(query: &HashMap<String, String>) -> bool {
    query.get("dryRun").is_some_and(|value| value == "All")
}

pub fn key_for(target: &Target, name: &str) -> ObjectKey {
    ObjectKey::new(
        &target.info.group,
        &target.info.resource,
        target.namespace.as_deref().unwrap_or(""),
        name,
    )
}

/// The object, or the Kubernetes `NotFound` for it.
pub fn current(state: &SharedState, target: &Target, name: &str) -> Result<Arc<Value>, ApiError> {
    state
        .store
        .get(&key_for(target, name))
        .ok_or_else(|| ApiError::not_found(&target.info, name))
}

fn get(
    state: &SharedState,
    target: &Target,
    name: &str,
    accept: &str,
) -> Result<Response, ApiError> {
    let shape = Shape::from_accept(accept);
    shape.check(&target.info, false)?;
    let object = current(state, target, name)?;
    let answer = shape
        .one(&target.info, &object)
        .unwrap_or_else(|| serve_version(&target.info, &object));
    Ok(Json(answer).into_response())
}

/// Objects are stored once per group/resource; a request through another served version of a
/// custom resource sees it with that version's apiVersion (no schema conversion).
pub fn serve_version(info: &ResourceInfo, object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
    }
    object
}

/// A stored object as served at `api_version`, serialised without copying it (lists and
/// watches would otherwise clone every object for every reader).
pub struct Served<'a> {
    pub object: &'a Value,
    pub api_version: &'a str,
}

impl serde::Serialize for Served<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(map) = self.object.as_object() else {
            return self.object.serialize(serializer);
        };
        if map.get("apiVersion").and_then(Value::as_str) == Some(self.api_version) {
            return self.object.serialize(serializer);
        }
        let mut out = serializer.serialize_map(Some(map.len()))?;
        out.serialize_entry("apiVersion", self.api_version)?;
        for (key, value) in map.iter().filter(|(key, _)| key.as_str() != "apiVersion") {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

/// A JSON response body written straight from borrowed data.
pub fn json_response<T: serde::Serialize>(body: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|error| ApiError::internal(format!("cannot encode the response: {error}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}

/// Checks that the body is the kind the URL serves and agrees on namespace.
fn check_type_and_namespace(target: &Target, object: &Value) -> Result<(), ApiError> {
    let info = &target.info;
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the body ({kind}) does not match the kind of the resource ({}) served at this URL",
            info.kind
        )));
    }
    if let Some(api_version) = object.get("apiVersion").and_then(Value::as_str)
        && !api_version.is_empty()
        && api_version != info.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    if let (Some(url_namespace), Some(body_namespace)) = (
        target.namespace.as_deref(),
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str),
    ) && !body_namespace.is_empty()
        && body_namespace != url_namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

pub fn require_namespace(state: &SharedState, target: &Target) -> Result<(), ApiError> {
    if let Some(namespace) = target.namespace.as_deref()
        && state
            .store
            .get(&ObjectKey::new("", "namespaces", "", namespace))
            .is_none()
    {
        return Err(ApiError::namespace_not_found(namespace));
    }
    Ok(())
}

/// The field manager a write is recorded under: `?fieldManager=`, else a fixed name (kube-apiserver
/// derives one from the User-Agent; no client we serve relies on which).
pub fn field_manager(query: &HashMap<String, String>) -> &str {
    query.get("fieldManager").map_or("unknown", String::as_str)
}

/// Creates an object (POST).
pub async fn create(
    state: &SharedState,
    target: &Target,
    object: Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    reject_unknown_fields(target, &object, query)?;
    create_recorded(state, target, object, &Write::new(caller, query), true).await
}

/// Under `fieldValidation=Strict`, a body with fields its kind does not declare cannot be
/// decoded (kube-apiserver decodes before it checks anything else).
fn reject_unknown_fields(
    target: &Target,
    object: &Value,
    query: &HashMap<String, String>,
) -> Result<(), ApiError> {
    if !strict::is_strict(query) {
        return Ok(());
    }
    let unknown = strict::unknown_fields(&target.info, object);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(strict::decode_error(&target.info, &unknown))
    }
}

/// Creates an object; `record` says whether to record the create in managedFields (a
/// server-side apply has recorded its own Apply entry already).
pub(super) async fn create_recorded(
    state: &SharedState,
    target: &Target,
    mut object: Value,
    write: &Write<'_>,
    record: bool,
) -> Result<Value, ApiError> {
    let query = write.query;
    check_type_and_namespace(target, &object)?;
    let info = &target.info;
    // What admission errors call the object before its name is generated.
    let display_name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .or_else(|| {
            object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
        })
        .unwrap_or("")
        .to_string();
    let name = match object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
    {
        Some(name) => name.to_string(),
        None => match object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            Some(prefix) => generated_name(prefix),
            None => String::new(),
        },
    };
    validate_name(info, &name)?;
    require_namespace(state, target)?;
    deletion::refuse_content_in_terminating(
        state,
        info,
        target.namespace.as_deref(),
        &display_name,
    )?;
    if info.group == "apiextensions.k8s.io" && info.resource == "customresourcedefinitions" {
        crd::validate(&object, &name)?;
    }
    // A custom resource is decoded as kube's decoder does: pruned and defaulted by its schema.
    crate::schema::decode_custom_resource(&state.store, info, &mut object, write)?;
    crate::admission::config_validation::prepare_create(info, &name, &mut object)?;
    prepare_create(
        info,
        &mut object,
        &name,
        target.namespace.as_deref(),
        || state.allocate_service_ip(),
    );
    // A custom resource is validated against its CRD's schema.
    crate::schema::validate_custom_resource(&state.store, info, &name, &object, None, write)?;
    crate::allocation::allocate_on_create(state, info, &mut object, write.dry_run())?;
    if record {
        let api_version = info.api_version();
        let patch_target = PatchTarget {
            api_version: &api_version,
            ..patch_target(info)
        };
        record_managed_fields(
            &patch_target,
            None,
            &mut object,
            field_manager(query),
            jiff::Timestamp::now(),
        );
    }
    if info.group == "apiextensions.k8s.io" && info.resource == "customresourcedefinitions" {
        crd::set_established(&mut object);
    }
    // Built-in mutating admission (ServiceAccount, Priority, ...) runs before the webhooks.
    crate::defaulting::admit_create(
        &state.store,
        info,
        target.namespace.as_deref().unwrap_or(""),
        &display_name,
        &mut object,
    )?;
    // Validating admission sees the object exactly as it would be stored.
    admit_create(state, target, &name, &object, write).await?;
    // Reading the stored object back defaults it once more (a Job gets its template's labels).
    crate::defaulting::default_object(info, &mut object);
    if is_dry_run(query) {
        return Ok(object);
    }
    let stored =
        state
            .store
            .create(key_for(target, &name), object)
            .map_err(|error| match error {
                StoreError::AlreadyExists => ApiError::already_exists(info, &name),
                other => ApiError::internal(other.to_string()),
            })?;
    if info.group == "apiextensions.k8s.io" && info.resource == "customresourcedefinitions" {
        crd::register(&state.catalogue, &stored);
    }
    Ok((*stored).clone())
}

/// Commits `compute(current)` with the guaranteed-update loop. `compute` returns the new
/// object, or an error to give up with. Each computed object is admitted before it is
/// committed; when the object changed meanwhile it is recomputed and admitted again.
pub async fn guaranteed_update(
    state: &SharedState,
    target: &Target,
    name: &str,
    write: &Write<'_>,
    mut compute: impl FnMut(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let dry_run = write.dry_run();
    let via_status = write.subresource == "status";
    let key = key_for(target, name);
    for _ in 0..MAX_RETRIES {
        let current = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&target.info, name))?;
        let mut updated = compute(&current)?;
        crate::schema::decode_custom_resource(&state.store, &target.info, &mut updated, write)?;
        prepare_update(&target.info, &current, &mut updated, via_status);
        crate::allocation::allocate_on_update(
            state,
            &target.info,
            &current,
            &mut updated,
            dry_run,
        )?;
        crate::defaulting::admit_update(&target.info, write.subresource, &current, &mut updated);
        crate::admission::config_validation::prepare_update(
            &target.info,
            name,
            &current,
            &mut updated,
        )?;
        crate::schema::validate_custom_resource(
            &state.store,
            &target.info,
            name,
            &updated,
            Some(&current),
            write,
        )?;
        deletion::check_no_new_finalizers(&target.info, name, &current, &updated)?;
        admit_update(state, target, name, &current, &updated, write).await?;
        if dry_run {
            return Ok(updated);
        }
        let expected = current.pointer("/metadata/resourceVersion").cloned();
        if deletion::should_delete_during_update(&target.info, &current, &updated) {
            // The last finalizer of a deleted object is gone: the update deletes it.
            match state.store.delete_if(&key, |latest| {
                latest.pointer("/metadata/resourceVersion").cloned() == expected
            }) {
                Ok(Some(deleted)) => return Ok((*deleted).clone()),
                Ok(None) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&target.info, name)),
                Err(other) => return Err(ApiError::internal(other.to_string())),
            }
        }
        let result = state.store.modify(&key, |latest| {
            if latest.pointer("/metadata/resourceVersion").cloned() == expected {
                // Unchanged objects keep their version: compare without it.
                let mut candidate = updated.clone();
                if let (Some(meta), Some(rv)) = (
                    candidate.get_mut("metadata").and_then(Value::as_object_mut),
                    expected.clone(),
                ) {
                    meta.insert("resourceVersion".into(), rv);
                }
                Ok(candidate)
            } else {
                Err(())
            }
        });
        match result {
            Ok(Ok(stored)) => {
                if target.info.resource == "customresourcedefinitions"
                    && target.info.group == "apiextensions.k8s.io"
                {
                    crd::register(&state.catalogue, &stored);
                }
                return Ok((*stored).clone());
            }
            Ok(Err(())) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found(&target.info, name)),
            Err(other) => return Err(ApiError::internal(other.to_string())),
        }
    }
    Err(ApiError::conflict(&target.info, name))
}

async fn update(
    state: &SharedState,
    target: &Target,
    name: &str,
    object: Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    reject_unknown_fields(target, &object, query)?;
    check_type_and_namespace(target, &object)?;
    let body_name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let precondition = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let write = Write::new(caller, query);
    guaranteed_update(state, target, name, &write, |current| {
        if let Some(expected) = &precondition
            && !expected.is_empty()
            && current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                != Some(expected.as_str())
        {
            return Err(ApiError::conflict(&target.info, name));
        }
        let mut updated = object.clone();
        let api_version = target.info.api_version();
        let patch_target = PatchTarget {
            api_version: &api_version,
            ..patch_target(&target.info)
        };
        record_managed_fields(
            &patch_target,
            Some(current),
            &mut updated,
            field_manager(query),
            jiff::Timestamp::now(),
        );
        Ok(updated)
    })
    .await
}
