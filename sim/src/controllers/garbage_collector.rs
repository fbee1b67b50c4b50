//! The garbage collector, as kube-controller-manager's (`garbagecollector.go`): it deletes
//! objects whose owners are all gone, drops references to gone owners from objects that still
//! have one, orphans the dependents of an owner deleted with `orphan`, and deletes the
//! dependents of an owner deleted with `foregroundDeletion` before removing that finalizer.
//!
//! It finds its work in the store (its informers' graph), and does every write through the API
//! as `system:serviceaccount:kube-system:generic-garbage-collector`, so each delete and each
//! patch passes admission like any client's; a refused one is retried with backoff and the
//! object stays meanwhile, as on a real cluster.

use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use serde_json::{Value, json};

use super::store_worker::{self, Outcome, RetryQueue};
use crate::api::SharedState;
use crate::api::deletion::{FOREGROUND, ORPHAN, finalizers_of, is_deleting};
use crate::store::{EventType, ObjectKey, StoreEvent};

pub async fn run(state: SharedState, client: kube::Client) {
    let collector = Collector {
        state: state.clone(),
        client,
    };
    let collector = &collector;
    store_worker::run(state, resync, on_event, |key| collector.attempt(key)).await;
}

fn uid_of(object: &Value) -> &str {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|reference| reference.get("uid").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Whether the collector has anything to do for this object as it is now.
fn concerns(object: &Value) -> bool {
    let finalizers = finalizers_of(object);
    !owner_uids(object).is_empty()
        || (is_deleting(object)
            && finalizers
                .iter()
                .any(|finalizer| finalizer == ORPHAN || finalizer == FOREGROUND))
}

fn resync(state: &SharedState, queue: &mut RetryQueue<ObjectKey>) {
    // Every served version shows the same stored objects: each resource is listed once.
    let resources: std::collections::BTreeSet<(String, String)> = state
        .catalogue
        .all()
        .into_iter()
        .map(|info| (info.group, info.resource))
        .collect();
    for (group, resource) in resources {
        let (objects, _) = state.store.list(&group, &resource, None);
        for object in objects.iter().filter(|object| concerns(object)) {
            queue.add(key_of(&group, &resource, object));
        }
    }
}

fn key_of(group: &str, resource: &str, object: &Value) -> ObjectKey {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    ObjectKey::new(
        group,
        resource,
        text("/metadata/namespace"),
        text("/metadata/name"),
    )
}

fn on_event(state: &SharedState, event: &StoreEvent, queue: &mut RetryQueue<ObjectKey>) {
    let object = &event.object;
    if event.event_type == EventType::Deleted {
        // Its dependents may have lost their last owner.
        for (dependent, _) in state.store.dependents_of(uid_of(object)) {
            queue.add(dependent);
        }
        // An owner deleting in the foreground may have lost its last blocking dependent.
        for owner in owner_uids(object) {
            if let Some((key, _)) = state.store.by_uid(&owner) {
                queue.add(key);
            }
        }
    } else if concerns(object) {
        queue.add(event.key.clone());
    }
}

/// How an object's owners stand (`classifyReferences`).
#[derive(Default)]
struct Owners {
    solid: Vec<String>,
    dangling: Vec<String>,
    waiting_for_dependents: Vec<String>,
}

struct Collector {
    state: SharedState,
    client: kube::Client,
}

impl Collector {
    fn classify(&self, object: &Value) -> Owners {
        let mut owners = Owners::default();
        for uid in owner_uids(object) {
            match self.state.store.by_uid(&uid) {
                None => owners.dangling.push(uid),
                Some((_, owner))
                    if is_deleting(&owner)
                        && finalizers_of(&owner).iter().any(|f| f == FOREGROUND) =>
                {
                    owners.waiting_for_dependents.push(uid)
                }
                Some(_) => owners.solid.push(uid),
            }
        }
        owners
    }

    /// The API for an object, by its own apiVersion and kind.
    fn api_for(&self, key: &ObjectKey, object: &Value) -> Option<Api<DynamicObject>> {
        let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
        let info = self
            .state
            .catalogue
            .by_kind(text("apiVersion"), text("kind"))?;
        let resource = super::api_resource_of(&info);
        Some(if info.namespaced {
            Api::namespaced_with(self.client.clone(), &key.namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        })
    }

    async fn attempt(&self, key: ObjectKey) -> Outcome {
        let Some(object) = self.state.store.get(&key) else {
            return Outcome::Done;
        };
        let Some(api) = self.api_for(&key, &object) else {
            tracing::warn!(?key, "the garbage collector found no API for an object");
            return Outcome::Done;
        };
        let result = if is_deleting(&object) {
            self.finish_owner(&api, &key, &object).await
        } else {
            self.collect(&api, &key, &object).await
        };
        match result {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::debug!(?key, %error, "the garbage collector will retry");
                Outcome::Retry
            }
        }
    }

    /// An owner being deleted: orphan its dependents, or wait for them to go.
    async fn finish_owner(
        &self,
        api: &Api<DynamicObject>,
        key: &ObjectKey,
        owner: &Value,
    ) -> Result<Outcome, kube::Error> {
        let finalizers = finalizers_of(owner);
        let uid = uid_of(owner);
        let dependents = self.state.store.dependents_of(uid);
        if finalizers.iter().any(|f| f == ORPHAN) {
            for (dependent_key, dependent) in &dependents {
                if let Some(dependent_api) = self.api_for(dependent_key, dependent) {
                    drop_references(&dependent_api, dependent_key, dependent, &[uid.to_string()])
                        .await?;
                }
            }
            remove_finalizer(api, key, owner, ORPHAN).await?;
            return Ok(Outcome::Done);
        }
        if finalizers.iter().any(|f| f == FOREGROUND) {
            let blocking = dependents.iter().any(|(_, dependent)| {
                dependent
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|reference| {
                        reference.get("uid").and_then(Value::as_str) == Some(uid)
                            && reference.get("blockOwnerDeletion").and_then(Value::as_bool)
                                == Some(true)
                    })
            });
            // Each dependent is deleted on its own; a refused one stays until a retry.
            for (dependent_key, dependent) in &dependents {
                if !is_deleting(dependent) {
                    self.collect_by_key(dependent_key).await;
                }
            }
            if blocking {
                // Their deletions requeue this owner at once; the retry covers refusals.
                return Ok(Outcome::Retry);
            }
            // Nothing blocks it; the other dependents go in the background.
            remove_finalizer(api, key, owner, FOREGROUND).await?;
        }
        // Other finalizers are someone else's to remove.
        Ok(Outcome::Done)
    }

    async fn collect_by_key(&self, key: &ObjectKey) {
        if let Some(object) = self.state.store.get(key)
            && let Some(api) = self.api_for(key, &object)
            && let Err(error) = self.collect(&api, key, &object).await
        {
            tracing::debug!(?key, %error, "the garbage collector could not delete a dependent yet");
        }
    }

    /// `attemptToDeleteItem` for an object not being deleted.
    async fn collect(
        &self,
        api: &Api<DynamicObject>,
        key: &ObjectKey,
        object: &Value,
    ) -> Result<Outcome, kube::Error> {
        let owners = self.classify(object);
        if owners.dangling.is_empty() && owners.waiting_for_dependents.is_empty() {
            return Ok(Outcome::Done);
        }
        if !owners.solid.is_empty() {
            let gone: Vec<String> = owners
                .dangling
                .into_iter()
                .chain(owners.waiting_for_dependents)
                .collect();
            drop_references(api, key, object, &gone).await?;
            return Ok(Outcome::Done);
        }
        let has_dependents = !self.state.store.dependents_of(uid_of(object)).is_empty();
        let own = finalizers_of(object);
        let policy = if !owners.waiting_for_dependents.is_empty() && has_dependents {
            PropagationPolicy::Foreground
        } else if own.iter().any(|f| f == ORPHAN) {
            PropagationPolicy::Orphan
        } else if own.iter().any(|f| f == FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(uid_of(object).to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Ok(_) => Ok(Outcome::Done),
            // Gone already, or replaced by a new object of the same name.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
                Ok(Outcome::Done)
            }
            Err(error) => Err(error),
        }
    }
}

/// The garbage collector's JSON merge patch dropping owner references (`deleteOwnerRefJSONMergePatch`),
/// guarded by the resourceVersion it read.
async fn drop_references(
    api: &Api<DynamicObject>,
    key: &ObjectKey,
    object: &Value,
    gone: &[String],
) -> Result<(), kube::Error> {
    let kept: Vec<Value> = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|reference| {
            reference
                .get("uid")
                .and_then(Value::as_str)
                .is_none_or(|uid| !gone.iter().any(|gone| gone == uid))
        })
        .cloned()
        .collect();
    let references = if kept.is_empty() {
        Value::Null
    } else {
        Value::Array(kept)
    };
    patch_metadata(api, key, object, "ownerReferences", references).await
}

/// `removeFinalizer`: a JSON merge patch of the remaining finalizers, guarded by resourceVersion.
async fn remove_finalizer(
    api: &Api<DynamicObject>,
    key: &ObjectKey,
    object: &Value,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let kept: Vec<String> = finalizers_of(object)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    let finalizers = if kept.is_empty() {
        Value::Null
    } else {
        json!(kept)
    };
    patch_metadata(api, key, object, "finalizers", finalizers).await
}

/// A JSON merge patch of one metadata field, guarded by the resourceVersion the collector read
/// (a changed object is a conflict, and looked at again).
async fn patch_metadata(
    api: &Api<DynamicObject>,
    key: &ObjectKey,
    object: &Value,
    field: &str,
    value: Value,
) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {
        "resourceVersion": object.pointer("/metadata/resourceVersion"),
        field: value,
    }});
    tolerate_gone(
        api.patch(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )
}

fn tolerate_gone(result: Result<DynamicObject, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}
