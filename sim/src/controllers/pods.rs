//! Pods as the workload controllers see and make them (client-go's `controller_utils.go`):
//! which pods a controller owns, which are active, ready and available, how a pod is made from
//! a template, and slow-start creation.

use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::{Client, Resource};

use super::{api_message, decode, is_not_found, resource_of};

/// The pods in `namespace` whose controller reference is the object with `owner_uid`. Pods that
/// do not decode as pods are skipped (they cannot be ours: we wrote ours).
pub async fn list_owned(
    client: &Client,
    namespace: &str,
    owner_uid: &str,
) -> Result<Vec<Pod>, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource_of::<Pod>());
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter_map(|object| decode::<Pod>(object).ok())
        .filter(|pod| controller_uid(&pod.metadata) == Some(owner_uid))
        .collect())
}

/// The uid in an object's controller reference.
pub fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|reference| reference.controller == Some(true))
        .map(|reference| reference.uid.as_str())
}

/// `metav1.NewControllerRef`.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or("Pending")
}

pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// `controller.IsPodActive`: not finished and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminating(pod) && !matches!(phase(pod), "Succeeded" | "Failed")
}

/// The time the pod's `Ready` condition turned True, if it is True.
fn ready_since(pod: &Pod) -> Option<Option<jiff::Timestamp>> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready" && condition.status == "True")
        .map(|condition| condition.last_transition_time.as_ref().map(|time| time.0))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether the pod is available (ready for at least `min_ready_seconds`), and if it is ready
/// but not yet available, how long until it is.
pub fn availability(
    pod: &Pod,
    min_ready_seconds: i32,
    now: jiff::Timestamp,
) -> (bool, Option<Duration>) {
    let Some(since) = ready_since(pod) else {
        return (false, None);
    };
    if min_ready_seconds <= 0 {
        return (true, None);
    }
    let Some(since) = since else {
        return (true, None);
    };
    let available_at = since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds));
    if available_at <= now {
        (true, None)
    } else {
        let wait = now.duration_until(available_at);
        (
            false,
            Some(Duration::try_from(wait).unwrap_or(Duration::from_secs(1))),
        )
    }
}

/// The shortest of two optional waits.
pub fn sooner(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How a new pod is named.
pub enum PodName {
    /// `generateName`: `<owner>-` plus the server's random suffix.
    Generate(String),
    Fixed(String),
}

/// `GetPodFromTemplate`: the template's labels, annotations and finalizers, the controller
/// reference, the template's spec.
pub fn from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    owner: OwnerReference,
    name: PodName,
) -> Pod {
    let template_meta = template.metadata.clone().unwrap_or_default();
    let (name, generate_name) = match name {
        PodName::Generate(prefix) => (None, Some(prefix)),
        PodName::Fixed(name) => (Some(name), None),
    };
    Pod {
        metadata: ObjectMeta {
            name,
            generate_name,
            namespace: Some(namespace.into()),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Creates `count` pods made by `make(i)` in slow-start batches (1, 2, 4, ...), each batch at
/// once, stopping after the first batch with a failure. Returns the number created and the
/// error messages of the failed creates.
pub async fn create_slow_start(
    api: &Api<Pod>,
    count: usize,
    make: impl Fn(usize) -> Pod,
) -> (usize, Vec<String>) {
    let mut created = 0;
    let mut batch = 1;
    let mut errors = Vec::new();
    while created < count {
        let size = batch.min(count - created);
        let pods: Vec<Pod> = (created..created + size).map(&make).collect();
        let results = join_all(
            pods.iter()
                .map(|pod| async move { api.create(&super::post_params(), pod).await }),
        )
        .await;
        for result in results {
            match result {
                Ok(_) => created += 1,
                Err(error) => errors.push(api_message(&error)),
            }
        }
        if !errors.is_empty() {
            break;
        }
        batch *= 2;
    }
    (created, errors)
}

/// Deletes the named pods at once; an already-gone pod is not an error.
pub async fn delete_all(api: &Api<Pod>, names: &[String]) -> Vec<String> {
    let results = join_all(
        names
            .iter()
            .map(|name| async move { (name, api.delete(name, &DeleteParams::default()).await) }),
    )
    .await;
    results
        .into_iter()
        .filter_map(|(name, result)| match result {
            Err(error) if !is_not_found(&error) => {
                Some(format!("delete pod {name}: {}", api_message(&error)))
            }
            _ => None,
        })
        .collect()
}

/// Which pods to delete first when scaling down (`controller.ActivePods` ordering, simplified):
/// unscheduled before scheduled, pending before running, not ready before ready, newer before
/// older.
pub fn deletion_order(pods: &mut [Pod]) {
    pods.sort_by_key(|pod| {
        let scheduled = pod
            .spec
            .as_ref()
            .is_some_and(|spec| spec.node_name.as_deref().is_some_and(|n| !n.is_empty()));
        let running = phase(pod) == "Running";
        let created = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|time| std::cmp::Reverse(time.0));
        (scheduled, running, is_ready(pod), created)
    });
}
