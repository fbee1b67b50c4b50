//! The namespace controller's deleter (`namespaced_resources_deleter.go`): for a namespace
//! marked for deletion it deletes every namespaced object in it (a deletecollection per
//! resource, Background), records how that went in the namespace's five deletion conditions,
//! and once nothing is left removes its `kubernetes` finalizer through `/finalize`, which
//! deletes the namespace.
//!
//! Every write goes through the API as `system:serviceaccount:kube-system:namespace-controller`,
//! so each deleted item passes admission; a refused one keeps the namespace `Terminating`
//! (condition `NamespaceDeletionContentFailure`) and is retried with backoff.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};

use super::store_worker::{self, Outcome, RetryQueue};
use crate::api::SharedState;
use crate::api::deletion::{finalizers_of, is_deleting};
use crate::api::lifecycle::now_rfc3339;
use crate::api::objects::has_delete_collection;
use crate::catalogue::ResourceInfo;
use crate::store::{EventType, ObjectKey, StoreEvent};

/// The finalizer this controller owns (`v1.FinalizerKubernetes`).
const KUBERNETES: &str = "kubernetes";

pub async fn run(state: SharedState, client: kube::Client) {
    let deleter = Deleter {
        state: state.clone(),
        client,
    };
    let deleter = &deleter;
    store_worker::run(state, resync, on_event, |namespace| {
        deleter.attempt(namespace)
    })
    .await;
}

fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey::new("", "namespaces", "", name)
}

fn is_terminating(namespace: &Value) -> bool {
    is_deleting(namespace)
        && namespace
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|finalizers| finalizers.iter().any(|f| f.as_str() == Some(KUBERNETES)))
}

fn resync(state: &SharedState, queue: &mut RetryQueue<String>) {
    let (namespaces, _) = state.store.list("", "namespaces", None);
    for namespace in namespaces
        .iter()
        .filter(|namespace| is_terminating(namespace))
    {
        if let Some(name) = namespace.pointer("/metadata/name").and_then(Value::as_str) {
            queue.add(name.to_string());
        }
    }
}

fn on_event(state: &SharedState, event: &StoreEvent, queue: &mut RetryQueue<String>) {
    let key = &event.key;
    if key.group.is_empty() && key.resource == "namespaces" {
        if event.event_type != EventType::Deleted && is_terminating(&event.object) {
            queue.add(key.name.clone());
        }
    } else if event.event_type == EventType::Deleted
        && !key.namespace.is_empty()
        && state
            .store
            .get(&namespace_key(&key.namespace))
            .is_some_and(|namespace| is_terminating(&namespace))
    {
        // Content went: the namespace may be empty now.
        queue.add(key.namespace.clone());
    }
}

/// What one pass left behind (`allGVRDeletionMetadata`) and what failed.
#[derive(Default)]
struct Pass {
    failures: Vec<String>,
    remaining: BTreeMap<String, usize>,
    finalizers: BTreeMap<String, usize>,
}

struct Deleter {
    state: SharedState,
    client: kube::Client,
}

impl Deleter {
    /// The resources with objects in the namespace (an empty one has nothing to delete, and
    /// deleting nothing is invisible to clients and webhooks), in a served version.
    fn resources_in(&self, namespace: &str) -> Vec<ResourceInfo> {
        let mut seen = std::collections::BTreeSet::new();
        let mut resources = Vec::new();
        for key in self.state.store.keys_in_namespace(namespace) {
            if !seen.insert((key.group.clone(), key.resource.clone())) {
                continue;
            }
            let version = self
                .state
                .catalogue
                .versions_of(&key.group, &key.resource)
                .into_iter()
                .next()
                .map(|(_, version, _)| version);
            if let Some(info) = version
                .and_then(|version| {
                    self.state
                        .catalogue
                        .get(&key.group, &version, &key.resource)
                })
                .filter(|info| info.namespaced)
            {
                resources.push(info);
            }
        }
        resources
    }

    fn api(&self, info: &ResourceInfo, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            namespace,
            &super::api_resource_of(info),
        )
    }

    /// `deleteAllContentForGroupVersionResource`: a deletecollection (or each item), then
    /// what is left.
    async fn delete_content(&self, info: &ResourceInfo, namespace: &str, pass: &mut Pass) {
        let api = self.api(info, namespace);
        let background = DeleteParams::background();
        let deleted = if has_delete_collection(info) {
            api.delete_collection(&background, &ListParams::default())
                .await
                .map(|_| ())
        } else {
            match api.list(&ListParams::default()).await {
                Ok(list) => {
                    let mut result = Ok(());
                    for item in list.items {
                        let name = item.metadata.name.unwrap_or_default();
                        if let Err(error) = api.delete(&name, &background).await
                            && !super::is_not_found(&error)
                        {
                            result = Err(error);
                            break;
                        }
                    }
                    result
                }
                Err(error) => Err(error),
            }
        };
        if let Err(error) = deleted
            && !super::is_not_found(&error)
        {
            pass.failures.push(super::api_message(&error));
            return;
        }
        let (left, _) = self
            .state
            .store
            .list(&info.group, &info.resource, Some(namespace));
        if left.is_empty() {
            return;
        }
        let mut with_finalizers = false;
        for object in &left {
            for finalizer in finalizers_of(object) {
                with_finalizers = true;
                *pass.finalizers.entry(finalizer).or_default() += 1;
            }
        }
        pass.remaining
            .insert(format!("{}.{}", info.resource, info.group), left.len());
        if !with_finalizers {
            pass.failures.push(format!(
                "unexpected items still remain in namespace: {namespace} for gvr: {}/{}, Resource={}",
                info.group, info.version, info.resource
            ));
        }
    }

    async fn attempt(&self, name: String) -> Outcome {
        let Some(namespace) = self.state.store.get(&namespace_key(&name)) else {
            return Outcome::Done;
        };
        if !is_terminating(&namespace) {
            return Outcome::Done;
        }
        let mut pass = Pass::default();
        for info in self.resources_in(&name) {
            self.delete_content(&info, &name, &mut pass).await;
        }
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        if let Err(error) = self.update_conditions(&namespaces, &name, &pass).await {
            tracing::debug!(namespace = %name, %error, "could not record the deletion conditions");
        }
        if !pass.failures.is_empty() || !pass.remaining.is_empty() {
            return Outcome::Retry;
        }
        match self.finalize(&name).await {
            Ok(()) => Outcome::Done,
            Err(error) if super::is_not_found(&error) => Outcome::Done,
            Err(error) => {
                tracing::debug!(namespace = %name, %error, "could not finalize the namespace yet");
                Outcome::Retry
            }
        }
    }

    /// The five conditions, changed only where their status, reason or message changed.
    async fn update_conditions(
        &self,
        namespaces: &Api<Namespace>,
        name: &str,
        pass: &Pass,
    ) -> Result<(), kube::Error> {
        let Some(current) = self.state.store.get(&namespace_key(name)) else {
            return Ok(());
        };
        let mut updated = (*current).clone();
        let existing: Vec<Value> = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut conditions = existing.clone();
        for wanted in deletion_conditions(pass) {
            let kind = wanted["type"].clone();
            match conditions
                .iter_mut()
                .find(|condition| condition["type"] == kind)
            {
                None => conditions.push(wanted),
                Some(old) => {
                    let same = |field: &str| old[field] == wanted[field];
                    if !(same("status") && same("reason") && same("message")) {
                        if !same("status") {
                            old["lastTransitionTime"] = wanted["lastTransitionTime"].clone();
                        }
                        for field in ["status", "reason", "message"] {
                            old[field] = wanted[field].clone();
                        }
                    }
                }
            }
        }
        if conditions == existing {
            return Ok(());
        }
        updated["status"]["conditions"] = Value::Array(conditions);
        let updated: Namespace =
            serde_json::from_value(updated).map_err(kube::Error::SerdeError)?;
        namespaces
            .replace_status(name, &PostParams::default(), &updated)
            .await
            .map(|_| ())
    }

    /// `finalizeNamespace`: `PUT /finalize` without this controller's finalizer.
    async fn finalize(&self, name: &str) -> Result<(), kube::Error> {
        let Some(current) = self.state.store.get(&namespace_key(name)) else {
            return Ok(());
        };
        let mut finalized = (*current).clone();
        let kept: Vec<Value> = current
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|finalizer| finalizer.as_str() != Some(KUBERNETES))
            .cloned()
            .collect();
        finalized["spec"]["finalizers"] = Value::Array(kept);
        let body = serde_json::to_vec(&finalized).map_err(kube::Error::SerdeError)?;
        let request = axum::http::Request::put(format!("/api/v1/namespaces/{name}/finalize"))
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(kube::Error::HttpError)?;
        self.client.request::<Namespace>(request).await.map(|_| ())
    }
}

/// `namespaceConditionUpdater`: each condition True with what went wrong, else its "ok" form.
fn deletion_conditions(pass: &Pass) -> Vec<Value> {
    let now = now_rfc3339();
    let condition = |kind: &str, failed: Option<(&str, String)>, ok: (&str, &str)| match failed {
        Some((reason, message)) => {
            json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message})
        }
        None => {
            json!({"type": kind, "status": "False", "lastTransitionTime": now, "reason": ok.0, "message": ok.1})
        }
    };
    let mut failures = pass.failures.clone();
    failures.sort();
    let content_failure = (!failures.is_empty()).then(|| {
        (
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                failures.len(),
                failures.join(", ")
            ),
        )
    });
    let remaining = (!pass.remaining.is_empty()).then(|| {
        let listed: Vec<String> = pass
            .remaining
            .iter()
            .map(|(resource, count)| format!("{resource} has {count} resource instances"))
            .collect();
        (
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", listed.join(", ")),
        )
    });
    let finalizers = (!pass.finalizers.is_empty()).then(|| {
        let listed: Vec<String> = pass
            .finalizers
            .iter()
            .map(|(finalizer, count)| format!("{finalizer} in {count} resource instances"))
            .collect();
        (
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                listed.join(", ")
            ),
        )
    });
    vec![
        condition(
            "NamespaceDeletionDiscoveryFailure",
            None,
            (
                "ResourcesDiscovered",
                "All resources successfully discovered",
            ),
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            None,
            (
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed",
            ),
        ),
        condition(
            "NamespaceDeletionContentFailure",
            content_failure,
            (
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            ),
        ),
        condition(
            "NamespaceContentRemaining",
            remaining,
            ("ContentRemoved", "All content successfully removed"),
        ),
        condition(
            "NamespaceFinalizersRemaining",
            finalizers,
            (
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            ),
        ),
    ]
}
