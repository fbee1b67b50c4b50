//! Deleting objects as kube-apiserver's generic store does: admitted, then removed at once, or
//! (with finalizers, or a policy the garbage collector carries out: Foreground, Orphan) only
//! marked with a `deletionTimestamp` until the last finalizer is removed. Namespaces are
//! marked `Terminating` and emptied by the namespace controller; dependents are deleted by the
//! garbage collector (`crate::controllers`), not here. CRDs take their resource and objects.

mod finalizers;
mod namespaces;

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusDetails};
use serde_json::{Value, json};

use super::admit::{Write, admit_delete};
use super::listing::Filter;
use super::objects::key_for;
use super::{SharedState, Target, crd};
use crate::admission::Caller;
use crate::status::ApiError;
use crate::store::StoreError;

pub use finalizers::{
    FOREGROUND, ORPHAN, Propagation, check_no_new_finalizers, finalizers_of, is_deleting,
    should_delete_during_update,
};
use finalizers::{JOB_ORPHAN_WARNING, Requested, default_policy, gc_finalizers, mark_as_deleting};
pub use namespaces::refuse_content_in_terminating;

/// What a DELETE answers: the deleted object, a `Status` `Success` naming it, or the object as
/// marked for deletion (finalizers pending). kube-apiserver answers with the object for kinds
/// whose storage sets `ReturnDeletedObject` and for deletions that wait on finalizers, and
/// with the Status when any other object is deleted at once (`Store.finalizeDelete`).
#[derive(Debug)]
pub enum Deleted {
    Object(Value),
    Status(Box<Status>),
    /// Marked, not gone; `202 Accepted` only when the request set `orphanDependents: false`
    /// (the handler's rule, kept for old clients).
    Pending {
        object: Value,
        accepted: bool,
    },
}

impl IntoResponse for Deleted {
    fn into_response(self) -> Response {
        match self {
            Deleted::Object(object) => Json(object).into_response(),
            Deleted::Pending { object, accepted } => {
                let code = if accepted {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
                (code, Json(object)).into_response()
            }
            Deleted::Status(status) => (
                [(CONTENT_TYPE, "application/json")],
                crate::status::status_body(&status),
            )
                .into_response(),
        }
    }
}

/// Kinds whose kube-apiserver storage sets `ReturnDeletedObject: true` (of those served here;
/// also persistentvolumes, persistentvolumeclaims, podtemplates, resourcequotas and the
/// storage.k8s.io and resource.k8s.io kinds).
fn returns_deleted_object(target: &Target) -> bool {
    let info = &target.info;
    info.builtin
        && info.group.is_empty()
        && matches!(
            info.resource.as_str(),
            "namespaces"
                | "pods"
                | "services"
                | "serviceaccounts"
                | "persistentvolumes"
                | "persistentvolumeclaims"
                | "podtemplates"
                | "resourcequotas"
        )
}

fn is_crd(target: &Target) -> bool {
    target.info.group == "apiextensions.k8s.io"
        && target.info.resource == "customresourcedefinitions"
}

/// The answer for an object deleted at once.
fn answer(target: &Target, deleted: Value) -> Deleted {
    // A CRD waits on its `customresourcecleanup` finalizer in kube-apiserver.
    if returns_deleted_object(target) || is_crd(target) {
        return Deleted::Object(deleted);
    }
    let text = |pointer: &str| {
        deleted
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Deleted::Status(Box::new(Status {
        status: Some("Success".into()),
        details: Some(StatusDetails {
            name: text("/metadata/name"),
            group: Some(target.info.group.clone()),
            // kube-apiserver puts the resource in `kind`, as its comment says.
            kind: Some(target.info.resource.clone()),
            uid: text("/metadata/uid"),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// How many times a delete is re-admitted when the object changes while it is admitted.
const MAX_RETRIES: usize = 16;

/// One delete's parameters, shared by a DELETE and each item of a deletecollection.
struct Request<'a> {
    /// The name admission sees: "" for the items of a deletecollection (§2.1).
    admission_name: &'a str,
    options: &'a Value,
    requested: Requested,
    write: Write<'a>,
}

pub async fn delete(
    state: &SharedState,
    target: &Target,
    name: &str,
    options: &Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Deleted, ApiError> {
    let requested = Requested::from_request(options, query)?;
    warn_of_orphaning_default(target, requested, caller);
    let request = Request {
        admission_name: name,
        options,
        requested,
        write: Write::new(caller, query),
    };
    if namespaces::is_namespaces(target) {
        return namespaces::delete(state, target, name, &request).await;
    }
    delete_object(state, target, name, &request).await
}

/// kube-apiserver warns that a Job deleted without a policy keeps its pods.
fn warn_of_orphaning_default(target: &Target, requested: Requested, caller: &Caller) {
    if requested.is_unset()
        && target.info.builtin
        && target.info.group == "batch"
        && target.info.resource == "jobs"
        && default_policy(&target.info) == finalizers::DefaultPolicy::OrphanDependents
    {
        caller.warnings.add(JOB_ORPHAN_WARNING);
    }
}

/// `preconditions.uid` and `preconditions.resourceVersion`, as `rest.BeforeDelete` checks them:
/// a Conflict naming the kind (`Operation cannot be fulfilled on ConfigMap "c": the UID in the
/// precondition (x) does not match the UID in record (y). ...`).
fn check_preconditions(
    target: &Target,
    name: &str,
    options: &Value,
    object: &Value,
) -> Result<(), ApiError> {
    let expected = |field: &str| {
        options
            .pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
    };
    let actual = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let reason = if let Some(uid) = expected("uid")
        && uid != actual("/metadata/uid")
    {
        format!(
            "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
            actual("/metadata/uid")
        )
    } else if let Some(version) = expected("resourceVersion")
        && version != actual("/metadata/resourceVersion")
    {
        format!(
            "the ResourceVersion in the precondition ({version}) does not match the ResourceVersion in record ({}). The object might have been modified",
            actual("/metadata/resourceVersion")
        )
    } else {
        return Ok(());
    };
    let info = &target.info;
    // kube builds the GroupResource from the kind here, not the resource.
    let kind = if info.group.is_empty() {
        info.kind.clone()
    } else {
        format!("{}.{}", info.kind, info.group)
    };
    let mut error = ApiError::new(
        409,
        "Conflict",
        format!("Operation cannot be fulfilled on {kind} \"{name}\": {reason}"),
    );
    error.details = Some(json!({"name": name, "group": info.group, "kind": info.kind}));
    Err(error)
}

/// `Store.Delete`: admit, then either mark the object (finalizers pending) or remove it.
async fn delete_object(
    state: &SharedState,
    target: &Target,
    name: &str,
    request: &Request<'_>,
) -> Result<Deleted, ApiError> {
    let key = key_for(target, name);
    let write = &request.write;
    for _ in 0..MAX_RETRIES {
        let object = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&target.info, name))?;
        check_preconditions(target, name, request.options, &object)?;
        admit_delete(
            state,
            target,
            request.admission_name,
            &object,
            request.options,
            write,
        )
        .await?;
        let version = object.pointer("/metadata/resourceVersion").cloned();
        let unchanged =
            |latest: &Value| latest.pointer("/metadata/resourceVersion").cloned() == version;
        let gc = gc_finalizers(&target.info, request.requested, &object);
        let pending = gc.clone().unwrap_or_else(|| finalizers_of(&object));
        if !pending.is_empty() {
            let mut marked = (*object).clone();
            if let Some(finalizers) = &gc {
                finalizers::set_finalizers(&mut marked, finalizers);
            }
            mark_as_deleting(&mut marked);
            let accepted = request.requested.orphan_dependents == Some(false);
            if write.dry_run() {
                return Ok(Deleted::Pending {
                    object: marked,
                    accepted,
                });
            }
            match state.store.modify(&key, |latest| {
                if unchanged(latest) {
                    Ok(marked.clone())
                } else {
                    Err(())
                }
            }) {
                Ok(Ok(stored)) => {
                    return Ok(Deleted::Pending {
                        object: (*stored).clone(),
                        accepted,
                    });
                }
                Ok(Err(())) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&target.info, name)),
                Err(other) => return Err(ApiError::internal(other.to_string())),
            }
        }
        if write.dry_run() {
            return Ok(answer(target, (*object).clone()));
        }
        // Admission judged this version; a changed object is judged again.
        match state.store.delete_if(&key, unchanged) {
            Ok(Some(deleted)) => {
                if is_crd(target) {
                    crd::unregister(state, &deleted);
                }
                return Ok(answer(target, (*deleted).clone()));
            }
            Ok(None) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found(&target.info, name)),
            Err(other) => return Err(ApiError::internal(other.to_string())),
        }
    }
    Err(ApiError::conflict(&target.info, name))
}

/// `DELETE` on a collection: every object matching the selectors, each admitted and deleted on
/// its own. A refused item stays; the others go, and the first refusal is the answer (as
/// kube-apiserver's workers do).
pub async fn delete_collection(
    state: &SharedState,
    target: &Target,
    options: &Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let filter = Filter::from_query(query)?;
    let requested = Requested::from_request(options, query)?;
    warn_of_orphaning_default(target, requested, caller);
    let request = Request {
        admission_name: "",
        options,
        requested,
        write: Write::new(caller, query),
    };
    let mut refusal = None;
    let (items, _) = state.store.list(
        &target.info.group,
        &target.info.resource,
        target.namespace.as_deref(),
    );
    let mut deleted = Vec::new();
    for object in items.iter().filter(|object| filter.matches(object)) {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        match delete_object(state, target, name, &request).await {
            Ok(Deleted::Object(object) | Deleted::Pending { object, .. }) => deleted.push(object),
            Ok(Deleted::Status(_)) => deleted.push((**object).clone()),
            // Gone meanwhile: nothing left to delete.
            Err(error) if error.code == 404 => {}
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    if let Some(error) = refusal {
        return Err(error);
    }
    Ok(json!({
        "kind": format!("{}List", target.info.kind),
        "apiVersion": target.info.api_version(),
        "metadata": {"resourceVersion": state.store.resource_version().to_string()},
        "items": deleted,
    }))
}

#[cfg(test)]
mod tests;
