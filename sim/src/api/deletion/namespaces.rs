//! Namespaces as kube-apiserver's namespace storage and its NamespaceLifecycle admission
//! plugin treat them: the first DELETE only marks a namespace `Terminating` (the namespace
//! controller then empties it and removes its `kubernetes` finalizer, which deletes it), the
//! built-in namespaces cannot be deleted, and nothing new is created in a terminating one.

use serde_json::{Value, json};

use super::finalizers::{
    FOREGROUND, ORPHAN, finalizers_of, is_deleting, set_finalizers, with_gc_finalizers,
};
use super::{Deleted, MAX_RETRIES, Request, delete_object};
use crate::api::admit::admit_delete;
use crate::api::objects::key_for;
use crate::api::{SharedState, Target};
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;
use crate::store::{ObjectKey, StoreError};

/// NamespaceLifecycle's immortal namespaces.
const IMMORTAL: [&str; 3] = ["default", "kube-system", "kube-public"];

pub(super) fn is_namespaces(target: &Target) -> bool {
    target.info.builtin && target.info.group.is_empty() && target.info.resource == "namespaces"
}

/// `errors.NewForbidden(resource, name, reason)`.
fn forbidden(info: &ResourceInfo, name: &str, reason: &str) -> ApiError {
    let mut error = ApiError::new(
        403,
        "Forbidden",
        format!(
            "{} \"{name}\" is forbidden: {reason}",
            info.qualified_name()
        ),
    );
    error.details = Some(json!({"name": name, "group": info.group, "kind": info.resource}));
    error
}

/// NamespaceLifecycle on a create: a namespace being terminated takes no new content.
/// `display_name` is what the error calls the object (its generateName before a name exists).
pub fn refuse_content_in_terminating(
    state: &SharedState,
    info: &ResourceInfo,
    namespace: Option<&str>,
    display_name: &str,
) -> Result<(), ApiError> {
    let Some(namespace) = namespace else {
        return Ok(());
    };
    let terminating = state
        .store
        .get(&ObjectKey::new("", "namespaces", "", namespace))
        .is_some_and(|object| {
            object.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        });
    if !terminating {
        return Ok(());
    }
    let mut error = forbidden(
        info,
        display_name,
        &format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        ),
    );
    if let Some(details) = error.details.as_mut() {
        details["causes"] = json!([{
            "reason": "NamespaceTerminating",
            "message": format!("namespace {namespace} is being terminated"),
            "field": "metadata.namespace",
        }]);
    }
    Err(error)
}

/// `shouldHaveOrphanFinalizer` / `shouldHaveDeleteDependentsFinalizer` of the namespace storage.
fn wanted_finalizers(request: &Request<'_>, current: &[String]) -> Vec<String> {
    let requested = request.requested;
    let has = |finalizer: &str| current.iter().any(|f| f == finalizer);
    let orphan = match (requested.orphan_dependents, requested.propagation) {
        (Some(orphan), _) => orphan,
        (None, Some(policy)) => policy == super::Propagation::Orphan,
        (None, None) => has(ORPHAN),
    };
    let foreground = match (requested.orphan_dependents, requested.propagation) {
        (Some(orphan), _) => !orphan,
        (None, Some(policy)) => policy == super::Propagation::Foreground,
        (None, None) => has(FOREGROUND),
    };
    with_gc_finalizers(current, orphan, foreground)
}

/// The namespace storage's own precondition check, in its own words.
fn check_preconditions(
    target: &Target,
    name: &str,
    options: &Value,
    object: &Value,
) -> Result<(), ApiError> {
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        let Some(expected) = options
            .pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let actual = object
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if expected != actual {
            return Err(ApiError::conflict_because(
                &target.info,
                name,
                &format!(
                    "Precondition failed: {label} in precondition: {expected}, {label} in object meta: {actual}"
                ),
            ));
        }
    }
    Ok(())
}

/// The namespace storage's `Delete`.
pub(super) async fn delete(
    state: &SharedState,
    target: &Target,
    name: &str,
    request: &Request<'_>,
) -> Result<Deleted, ApiError> {
    if IMMORTAL.contains(&name) {
        return Err(forbidden(
            &target.info,
            name,
            "this namespace may not be deleted",
        ));
    }
    let key = key_for(target, name);
    for _ in 0..MAX_RETRIES {
        let object = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&target.info, name))?;
        check_preconditions(target, name, request.options, &object)?;
        if is_deleting(&object) {
            let finalized = object
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if !finalized {
                // Still being emptied: answered as it is, without admission.
                return Ok(Deleted::Object((*object).clone()));
            }
            return delete_object(state, target, name, request).await;
        }
        admit_delete(
            state,
            target,
            name,
            &object,
            request.options,
            &request.write,
        )
        .await?;
        let mut marked = (*object).clone();
        if let Some(metadata) = marked.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert(
                "deletionTimestamp".into(),
                json!(crate::api::lifecycle::now_rfc3339()),
            );
        }
        marked["status"]["phase"] = json!("Terminating");
        let current = finalizers_of(&object);
        let wanted = wanted_finalizers(request, &current);
        if wanted != current {
            set_finalizers(&mut marked, &wanted);
        }
        if request.write.dry_run() {
            return Ok(Deleted::Object(marked));
        }
        let version = object.pointer("/metadata/resourceVersion").cloned();
        match state.store.modify(&key, |latest| {
            if latest.pointer("/metadata/resourceVersion").cloned() == version {
                Ok(marked.clone())
            } else {
                Err(())
            }
        }) {
            Ok(Ok(stored)) => return Ok(Deleted::Object((*stored).clone())),
            Ok(Err(())) => continue,
            Err(StoreError::NotFound) => return Err(ApiError::not_found(&target.info, name)),
            Err(other) => return Err(ApiError::internal(other.to_string())),
        }
    }
    Err(ApiError::conflict(&target.info, name))
}
