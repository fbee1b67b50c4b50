//! Deleting objects: `propagationPolicy` (Background and Foreground cascade to dependents by
//! ownerReference, Orphan strips the reference), namespaces taking their contents with them,
//! and CRDs taking their resource and its objects. Deletion is immediate: there are no
//! finalizers to wait for, so Foreground and Background differ only in order.

use std::collections::HashMap;

use axum::Json;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusDetails};
use serde_json::{Value, json};

use super::admit::{Write, admit_delete};
use super::objects::{Filter, is_dry_run, key_for};
use super::{SharedState, Target, crd};
use crate::admission::Caller;
use crate::status::ApiError;
use crate::store::{ObjectKey, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Propagation {
    Background,
    Foreground,
    Orphan,
}

fn propagation(options: &Value, query: &HashMap<String, String>) -> Result<Propagation, ApiError> {
    let policy = options
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| query.get("propagationPolicy").cloned())
        .or_else(|| {
            // The deprecated orphanDependents flag.
            match options.get("orphanDependents").and_then(Value::as_bool) {
                Some(true) => Some("Orphan".into()),
                Some(false) => Some("Background".into()),
                None => None,
            }
        });
    match policy.as_deref() {
        None | Some("Background") => Ok(Propagation::Background),
        Some("Foreground") => Ok(Propagation::Foreground),
        Some("Orphan") => Ok(Propagation::Orphan),
        Some(other) => Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
        )),
    }
}

/// What a DELETE answers: the deleted object, or a `Status` `Success` naming it. kube-apiserver
/// answers with the object for kinds whose storage sets `ReturnDeletedObject` and for
/// deletions that wait on finalizers (Foreground and Orphan add one), and with the Status when
/// any other object is deleted at once (`Store.finalizeDelete`).
#[derive(Debug)]
pub enum Deleted {
    Object(Value),
    Status(Box<Status>),
}

impl IntoResponse for Deleted {
    fn into_response(self) -> Response {
        match self {
            Deleted::Object(object) => Json(object).into_response(),
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

fn answer(target: &Target, deleted: Value, policy: Propagation) -> Deleted {
    let has_finalizers = deleted
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|finalizers| !finalizers.is_empty());
    // A CRD waits on its `customresourcecleanup` finalizer in kube-apiserver.
    let is_crd = target.info.group == "apiextensions.k8s.io"
        && target.info.resource == "customresourcedefinitions";
    if returns_deleted_object(target)
        || policy != Propagation::Background
        || has_finalizers
        || is_crd
    {
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

pub async fn delete(
    state: &SharedState,
    target: &Target,
    name: &str,
    options: &Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Deleted, ApiError> {
    let policy = propagation(options, query)?;
    let key = key_for(target, name);
    let write = Write::new(caller, query);
    for _ in 0..MAX_RETRIES {
        let object = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&target.info, name))?;
        if let Some(uid) = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            && object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
        {
            return Err(ApiError::conflict(&target.info, name));
        }
        admit_delete(state, target, name, &object, options, &write).await?;
        if is_dry_run(query) {
            return Ok(answer(target, (*object).clone(), policy));
        }
        // Admission judged this version; a changed object is judged again.
        let unchanged = state.store.get(&key).is_some_and(|latest| {
            latest.pointer("/metadata/resourceVersion")
                == object.pointer("/metadata/resourceVersion")
        });
        if unchanged {
            return delete_key(state, &key, policy).map(|deleted| answer(target, deleted, policy));
        }
    }
    Err(ApiError::conflict(&target.info, name))
}

/// Deletes one object with the given propagation; returns it as last stored.
fn delete_key(
    state: &SharedState,
    key: &ObjectKey,
    policy: Propagation,
) -> Result<Value, ApiError> {
    let Some(object) = state.store.get(key) else {
        return Err(ApiError::no_such_resource());
    };
    let uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if policy == Propagation::Foreground {
        cascade(state, &uid, policy);
    }
    if key.group.is_empty() && key.resource == "namespaces" {
        for contained in state.store.keys_in_namespace(&key.name) {
            // Everything in a namespace goes; dependents are in it too.
            let _ = state.store.delete(&contained);
        }
    }
    if key.group == "apiextensions.k8s.io" && key.resource == "customresourcedefinitions" {
        crd::unregister(state, &object);
    }
    let deleted = match state.store.delete(key) {
        Ok(deleted) => (*deleted).clone(),
        Err(StoreError::NotFound) => return Err(ApiError::no_such_resource()),
        Err(other) => return Err(ApiError::internal(other.to_string())),
    };
    match policy {
        Propagation::Background => cascade(state, &uid, policy),
        Propagation::Orphan => orphan(state, &uid),
        Propagation::Foreground => {}
    }
    Ok(deleted)
}

/// Deletes every dependent of `uid` (and theirs), as the garbage collector does: a dependent
/// that another existing object still owns is kept, losing only its reference to `uid`.
fn cascade(state: &SharedState, uid: &str, policy: Propagation) {
    if uid.is_empty() {
        return;
    }
    for (key, object) in state.store.dependents_of(uid) {
        let owned_elsewhere = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|reference| reference.get("uid").and_then(Value::as_str))
            .any(|owner| owner != uid && state.store.has_uid(owner));
        if owned_elsewhere {
            drop_reference(state, &key, uid);
        } else {
            // A dependent that is already gone (deleted concurrently) is fine.
            let _ = delete_key(state, &key, policy);
        }
    }
}

/// Removes the ownerReference to `uid` from every dependent.
fn orphan(state: &SharedState, uid: &str) {
    for (key, _) in state.store.dependents_of(uid) {
        drop_reference(state, &key, uid);
    }
}

/// Removes a dependent's ownerReference to `uid`.
fn drop_reference(state: &SharedState, key: &ObjectKey, uid: &str) {
    // A dependent deleted meanwhile has nothing left to change.
    let _ = state.store.modify::<()>(key, |current| {
        let mut updated = current.clone();
        if let Some(metadata) = updated.get_mut("metadata").and_then(Value::as_object_mut) {
            let emptied = match metadata
                .get_mut("ownerReferences")
                .and_then(Value::as_array_mut)
            {
                Some(references) => {
                    references.retain(|reference| {
                        reference.get("uid").and_then(Value::as_str) != Some(uid)
                    });
                    references.is_empty()
                }
                None => false,
            };
            // The garbage collector's patch leaves no empty list behind (Go omits it).
            if emptied {
                metadata.remove("ownerReferences");
            }
        }
        Ok(updated)
    });
}

/// `DELETE` on a collection: every object matching the selectors, each admitted on its own. A
/// refused item stays; the others go, and the first refusal is the answer (as kube-apiserver's
/// workers do).
pub async fn delete_collection(
    state: &SharedState,
    target: &Target,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    let write = Write::new(caller, query);
    let mut refusal = None;
    let filter = Filter::from_query(query)?;
    let policy = propagation(&json!({}), query)?;
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
        let key = key_for(target, name);
        if let Err(error) = admit_delete(state, target, "", object, &json!({}), &write).await {
            refusal.get_or_insert(error);
            continue;
        }
        if is_dry_run(query) {
            deleted.push((**object).clone());
        } else if let Ok(object) = delete_key(state, &key, policy) {
            deleted.push(object);
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
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::api::ServerState;
    use crate::api::objects::create;
    use crate::catalogue::Catalogue;
    use crate::store::Store;

    fn state() -> SharedState {
        Arc::new(ServerState {
            store: Store::new(100),
            catalogue: Catalogue::default(),
            address: "127.0.0.1:0".into(),
            max_body_bytes: 1 << 20,
            bookmark_interval: std::time::Duration::from_secs(60),
            next_service_ip: AtomicU32::new(1),
            tokens: Default::default(),
            webhook_client: Default::default(),
        })
    }

    fn target(state: &SharedState, group: &str, resource: &str, namespace: Option<&str>) -> Target {
        Target {
            info: state.catalogue.get(group, "v1", resource).unwrap(),
            namespace: namespace.map(str::to_string),
            name: None,
            subresource: None,
        }
    }

    /// A Deployment and a ReplicaSet it owns (plus an unrelated owner on the second one).
    async fn owner_and_dependents(state: &SharedState) -> (Target, Target) {
        let namespaces = target(state, "", "namespaces", None);
        create(
            state,
            &namespaces,
            json!({"metadata": {"name": "default"}}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        let deployments = target(state, "apps", "deployments", Some("default"));
        let owner = create(
            state,
            &deployments,
            json!({"metadata": {"name": "web"}}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        let reference = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner["metadata"]["uid"], "controller": true});
        let replicasets = target(state, "apps", "replicasets", Some("default"));
        let only = json!({"metadata": {"name": "only", "ownerReferences": [reference.clone()]}});
        create(state, &replicasets, only, &HashMap::new(), &Caller::admin())
            .await
            .unwrap();
        let other =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "other-uid"});
        let shared = json!({"metadata": {"name": "shared", "ownerReferences": [reference, other]}});
        create(
            state,
            &replicasets,
            shared,
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        (deployments, replicasets)
    }

    #[tokio::test]
    async fn orphaning_removes_the_reference_and_an_emptied_list() {
        let state = state();
        let (deployments, replicasets) = owner_and_dependents(&state).await;
        delete(
            &state,
            &deployments,
            "web",
            &json!({"propagationPolicy": "Orphan"}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        let only = state.store.get(&key_for(&replicasets, "only")).unwrap();
        assert!(only["metadata"].get("ownerReferences").is_none(), "{only}");
        let shared = state.store.get(&key_for(&replicasets, "shared")).unwrap();
        assert_eq!(
            shared["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "other-uid"}])
        );
    }

    #[tokio::test]
    async fn a_dependent_with_another_living_owner_is_kept() {
        let state = state();
        let (deployments, replicasets) = owner_and_dependents(&state).await;
        let configmaps = target(&state, "", "configmaps", Some("default"));
        // The second owner of `shared` exists now.
        let owner = create(
            &state,
            &configmaps,
            json!({"metadata": {"name": "c", "uid": "ignored"}}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        let uid = owner["metadata"]["uid"].clone();
        state
            .store
            .modify::<()>(&key_for(&replicasets, "shared"), |current| {
                let mut updated = current.clone();
                updated["metadata"]["ownerReferences"][1]["uid"] = uid.clone();
                Ok(updated)
            })
            .unwrap()
            .unwrap();
        delete(
            &state,
            &deployments,
            "web",
            &json!({}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        assert!(state.store.get(&key_for(&replicasets, "only")).is_none());
        let shared = state.store.get(&key_for(&replicasets, "shared")).unwrap();
        let owners: Vec<&Value> = shared["metadata"]["ownerReferences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["uid"])
            .collect();
        assert_eq!(owners, [&uid]);
    }

    #[tokio::test]
    async fn background_deletion_takes_the_dependents() {
        let state = state();
        let (deployments, replicasets) = owner_and_dependents(&state).await;
        delete(
            &state,
            &deployments,
            "web",
            &json!({"propagationPolicy": "Background"}),
            &HashMap::new(),
            &Caller::admin(),
        )
        .await
        .unwrap();
        assert!(state.store.get(&key_for(&replicasets, "only")).is_none());
        assert!(state.store.get(&key_for(&replicasets, "shared")).is_none());
    }
}
