//! core/v1 Events about pods, as a kubelet records them (client-go's recorder and its
//! correlator): in the pod's namespace, named `<pod>.<hex nanoseconds>`, `involvedObject` the
//! pod (with `fieldPath` `spec.containers{<name>}` for a container's events),
//! `source.component` and `reportingComponent` `kubelet`, `source.host` and
//! `reportingInstance` the node. A repeat of an identical event increments `count` and moves
//! `lastTimestamp` (a strategic merge patch; `kubectl describe` shows `(x4 over 2m)`), and each
//! pod may write 25 events of a type at once, then one per 5 minutes (client-go's spam
//! filter; counts still add up meanwhile). Only writes a node may make: events in its pods'
//! namespaces.
//!
//! Events are best effort: they are queued and written by one task per node, and a failed
//! write is logged, never retried.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::{Patch, PostParams};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// The component events are reported as.
const COMPONENT: &str = "kubelet";
/// Events waiting to be written; more are dropped (client-go's `maxQueuedEvents` is 1000).
const QUEUE: usize = 1000;
/// How many distinct events are remembered for aggregation (client-go's LRU holds 4096).
const MAX_REMEMBERED: usize = 4096;
/// client-go's `EventSourceObjectSpamFilter`: a burst of 25, then one every 5 minutes.
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL: Duration = Duration::from_secs(300);

/// One event to write.
#[derive(Clone, Debug)]
struct Pending {
    involved: ObjectReference,
    kind: &'static str,
    reason: &'static str,
    message: String,
    at: jiff::Timestamp,
}

/// Queues events for a node's writer task. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Pending>,
}

impl Recorder {
    /// The recorder of node `node` and its writer task, which writes with `client` (the node's).
    pub fn start(client: kube::Client, node: String) -> (Recorder, JoinHandle<()>) {
        let (queue, pending) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_all(client, node, pending));
        (Recorder { queue }, task)
    }

    /// An event about the pod itself.
    pub fn pod(&self, pod: &Pod, kind: &'static str, reason: &'static str, message: String) {
        self.queue(reference(pod, None), kind, reason, message);
    }

    /// An event about one of the pod's containers (`involvedObject.fieldPath` names it).
    pub fn container(
        &self,
        pod: &Pod,
        container: &str,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) {
        self.queue(
            reference(pod, Some(field_path(pod, container))),
            kind,
            reason,
            message,
        );
    }

    fn queue(
        &self,
        involved: ObjectReference,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) {
        let pending = Pending {
            involved,
            kind,
            reason,
            message,
            at: jiff::Timestamp::now(),
        };
        if self.queue.try_send(pending).is_err() {
            tracing::debug!(reason, "kubelet: event queue full or closed; event dropped");
        }
    }
}

/// `spec.containers{web}` or `spec.initContainers{setup}`, as `GenerateContainerRef` writes.
pub fn field_path(pod: &Pod, container: &str) -> String {
    let init = pod.spec.as_ref().is_some_and(|spec| {
        !spec.containers.iter().any(|c| c.name == container)
            && spec
                .init_containers
                .iter()
                .flatten()
                .any(|c| c.name == container)
    });
    if init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}

fn reference(pod: &Pod, field_path: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path,
    }
}

/// What makes two events the same one (client-go's `getEventKey`; the pod's
/// resourceVersion does not count).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    object: ObjectKey,
    field_path: Option<String>,
    kind: &'static str,
    reason: &'static str,
    message: String,
}

/// The involved object and event type: what the spam filter counts by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjectKey {
    namespace: String,
    name: String,
    uid: String,
    kind: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
struct Seen {
    name: String,
    count: i32,
    first: jiff::Timestamp,
}

/// A token bucket (client-go's `TokenBucketPassiveRateLimiter`).
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// What to send for an event, once correlated.
#[derive(Debug, PartialEq)]
enum Action {
    Create(Seen),
    /// A repeat: the new count and `lastTimestamp` (and message) on the existing event.
    Patch(Seen),
    /// Counted, but filtered out as spam.
    Skip,
}

/// Aggregation and spam filtering, apart from the writes (client-go's `EventCorrelator`).
#[derive(Default)]
struct Correlator {
    seen: HashMap<Key, Seen>,
    buckets: HashMap<ObjectKey, Bucket>,
    /// Event names carry a time in nanoseconds; never the same one twice.
    last_nanos: i128,
}

impl Correlator {
    fn observe(&mut self, pending: &Pending, now: Instant) -> Action {
        let involved = &pending.involved;
        let object = ObjectKey {
            namespace: involved.namespace.clone().unwrap_or_default(),
            name: involved.name.clone().unwrap_or_default(),
            uid: involved.uid.clone().unwrap_or_default(),
            kind: pending.kind,
        };
        let key = Key {
            object: object.clone(),
            field_path: involved.field_path.clone(),
            kind: pending.kind,
            reason: pending.reason,
            message: pending.message.clone(),
        };
        let seen = match self.seen.get(&key) {
            Some(seen) => Seen {
                count: seen.count.saturating_add(1),
                ..seen.clone()
            },
            None => {
                let nanos = pending.at.as_nanosecond().max(self.last_nanos + 1);
                self.last_nanos = nanos;
                Seen {
                    name: format!("{}.{nanos:x}", object.name),
                    count: 1,
                    first: pending.at,
                }
            }
        };
        // Messages may carry changing details, so keys need not repeat: forget them all now
        // and then rather than grow without bound (a forgotten event is created anew).
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen.clear();
        }
        if self.buckets.len() >= MAX_REMEMBERED {
            self.buckets.clear();
        }
        self.seen.insert(key, seen.clone());
        let bucket = self.buckets.entry(object).or_insert(Bucket {
            tokens: SPAM_BURST,
            refilled: now,
        });
        let refill = now.saturating_duration_since(bucket.refilled).as_secs_f64()
            / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return Action::Skip;
        }
        bucket.tokens -= 1.0;
        if seen.count == 1 {
            Action::Create(seen)
        } else {
            Action::Patch(seen)
        }
    }
}

/// The Event object for a first occurrence (or for a repeat whose event is gone).
fn event(node: &str, pending: &Pending, seen: &Seen) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(seen.name.clone()),
            namespace: pending.involved.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: pending.involved.clone(),
        type_: Some(pending.kind.into()),
        reason: Some(pending.reason.into()),
        message: Some(pending.message.clone()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: Some(node.into()),
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(node.into()),
        first_timestamp: Some(Time(seen.first)),
        last_timestamp: Some(Time(pending.at)),
        count: Some(seen.count),
        ..Event::default()
    }
}

async fn write_all(client: kube::Client, node: String, mut pending: mpsc::Receiver<Pending>) {
    let mut correlator = Correlator::default();
    while let Some(next) = pending.recv().await {
        let action = correlator.observe(&next, Instant::now());
        let namespace = next.involved.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        let written = match action {
            Action::Skip => continue,
            Action::Create(seen) => api
                .create(&PostParams::default(), &event(&node, &next, &seen))
                .await
                .map(|_| ()),
            Action::Patch(seen) => {
                let patch = json!({
                    "count": seen.count,
                    "lastTimestamp": Time(next.at),
                    "message": next.message,
                });
                match api
                    .patch(
                        &seen.name,
                        &kube::api::PatchParams::default(),
                        &Patch::Strategic(patch),
                    )
                    .await
                {
                    // Gone (deleted, or its first write was filtered): created anew, as
                    // client-go does.
                    Err(kube::Error::Api(status)) if status.code == 404 => api
                        .create(&PostParams::default(), &event(&node, &next, &seen))
                        .await
                        .map(|_| ()),
                    other => other.map(|_| ()),
                }
            }
        };
        match written {
            Ok(()) => {}
            // The namespace is gone or going: nothing to tell anyone there.
            Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404 | 409) => {
                tracing::debug!(%status.message, reason = next.reason, "kubelet: event not written");
            }
            Err(error) => {
                tracing::warn!(%error, reason = next.reason, namespace, "kubelet: cannot write an event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
            "spec": {
                "initContainers": [{"name": "setup"}],
                "containers": [{"name": "web"}],
            },
        }))
        .unwrap()
    }

    fn pending(container: Option<&str>, kind: &'static str, message: &str) -> Pending {
        let pod = pod();
        Pending {
            involved: reference(&pod, container.map(|c| field_path(&pod, c))),
            kind,
            reason: "BackOff",
            message: message.into(),
            at: jiff::Timestamp::now(),
        }
    }

    #[test]
    fn containers_are_referred_to_as_kubelet_does() {
        let pod = pod();
        assert_eq!(field_path(&pod, "web"), "spec.containers{web}");
        assert_eq!(field_path(&pod, "setup"), "spec.initContainers{setup}");
        let reference = reference(&pod, Some(field_path(&pod, "web")));
        assert_eq!(reference.kind.as_deref(), Some("Pod"));
        assert_eq!(reference.api_version.as_deref(), Some("v1"));
        assert_eq!(reference.uid.as_deref(), Some("u1"));
        assert_eq!(reference.resource_version.as_deref(), Some("7"));
    }

    #[test]
    fn an_event_is_what_a_kubelet_writes() {
        let pending = pending(Some("web"), WARNING, "Back-off restarting failed container");
        let seen = Seen {
            name: "web-1.1".into(),
            count: 1,
            first: pending.at,
        };
        let event = serde_json::to_value(event("node-1", &pending, &seen)).unwrap();
        assert_eq!(event["metadata"]["namespace"], "shop");
        assert_eq!(event["involvedObject"]["namespace"], "shop");
        assert_eq!(event["involvedObject"]["fieldPath"], "spec.containers{web}");
        assert_eq!(
            event["source"],
            json!({"component": "kubelet", "host": "node-1"})
        );
        assert_eq!(event["reportingComponent"], "kubelet");
        assert_eq!(event["reportingInstance"], "node-1");
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["count"], 1);
        assert!(event["firstTimestamp"].is_string() && event["lastTimestamp"].is_string());
    }

    #[test]
    fn repeats_are_counted_on_one_event() {
        let mut correlator = Correlator::default();
        let now = Instant::now();
        let first = correlator.observe(&pending(Some("web"), WARNING, "a"), now);
        let Action::Create(created) = first else {
            panic!("{first:?}")
        };
        assert!(created.name.starts_with("web-1."), "{}", created.name);
        assert_eq!(created.count, 1);
        let again = correlator.observe(&pending(Some("web"), WARNING, "a"), now);
        assert_eq!(
            again,
            Action::Patch(Seen {
                count: 2,
                ..created.clone()
            })
        );
        // Another message, or another container, is another event.
        let other = correlator.observe(&pending(Some("web"), WARNING, "b"), now);
        let Action::Create(other) = other else {
            panic!("{other:?}")
        };
        assert_ne!(other.name, created.name, "names never repeat");
        assert!(matches!(
            correlator.observe(&pending(Some("setup"), WARNING, "a"), now),
            Action::Create(_)
        ));
    }

    #[test]
    fn a_pod_gets_a_burst_of_events_per_type_then_one_per_five_minutes() {
        let mut correlator = Correlator::default();
        let now = Instant::now();
        for n in 0..25 {
            let action = correlator.observe(&pending(None, WARNING, &format!("m{n}")), now);
            assert!(matches!(action, Action::Create(_)), "{n}: {action:?}");
        }
        assert_eq!(
            correlator.observe(&pending(None, WARNING, "m0"), now),
            Action::Skip
        );
        // Normal events have their own allowance.
        assert!(matches!(
            correlator.observe(&pending(None, NORMAL, "n"), now),
            Action::Create(_)
        ));
        // Counts add up while filtered: the next accepted repeat carries them.
        let later = now + SPAM_REFILL;
        assert!(matches!(
            correlator.observe(&pending(None, WARNING, "m0"), later),
            Action::Patch(Seen { count: 3, .. })
        ));
        assert_eq!(
            correlator.observe(&pending(None, WARNING, "m0"), later),
            Action::Skip
        );
    }
}
