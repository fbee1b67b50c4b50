//! core/v1 Events, as client-go's event recorder writes them: named `<object>.<hex>`, in the
//! involved object's namespace, with `source.component` and `reportingComponent` the
//! controller's name; a repeat of an identical event increments `count` and moves
//! `lastTimestamp` (what `kubectl describe` shows as `(x13 over 28s)`).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, Patch};
use serde_json::json;

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// How many distinct events a recorder remembers for aggregation.
const MAX_REMEMBERED: usize = 4096;

/// The object an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Involved {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Involved {
    pub fn of<K: kube::Resource<DynamicType = ()>>(object: &K) -> Involved {
        let meta = object.meta();
        Involved {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    involved: Involved,
    kind: String,
    reason: String,
    message: String,
}

#[derive(Clone, Debug)]
struct Seen {
    name: String,
    count: i32,
}

/// Writes the events of one controller.
pub struct Recorder {
    client: Client,
    component: &'static str,
    seen: Mutex<HashMap<Key, Seen>>,
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Recorder {
        Recorder {
            client,
            component,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event; failures to write it are logged, never returned (as client-go does:
    /// events are best effort).
    pub async fn record(&self, involved: &Involved, kind: &str, reason: &str, message: &str) {
        let key = Key {
            involved: involved.clone(),
            kind: kind.into(),
            reason: reason.into(),
            message: message.into(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace_of(involved));
        let now = jiff::Timestamp::now();
        let previous = self.lock().get(&key).cloned();
        if let Some(seen) = previous {
            let count = seen.count + 1;
            let patch = json!({"count": count, "lastTimestamp": Time(now)});
            match api
                .patch(&seen.name, &super::patch_params(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(
                        key,
                        Seen {
                            name: seen.name,
                            count,
                        },
                    );
                    return;
                }
                // Deleted (or expired) in the meantime: start a new one.
                Err(error) if super::is_not_found(&error) => {}
                Err(error) => {
                    tracing::warn!(%error, event = seen.name, "cannot update an event");
                    return;
                }
            }
        }
        let name = format!("{}.{:x}", involved.name, now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace_of(involved).into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(involved.api_version.clone()),
                kind: Some(involved.kind.clone()),
                name: Some(involved.name.clone()),
                namespace: (!involved.namespace.is_empty()).then(|| involved.namespace.clone()),
                uid: Some(involved.uid.clone()),
                ..Default::default()
            },
            type_: Some(kind.into()),
            reason: Some(reason.into()),
            message: Some(message.into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.component.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Default::default()
        };
        match api.create(&super::post_params(), &event).await {
            Ok(_) => {
                self.remember(key, Seen { name, count: 1 });
            }
            Err(error) => tracing::warn!(%error, event = name, "cannot record an event"),
        }
    }

    fn remember(&self, key: Key, seen: Seen) {
        let mut map = self.lock();
        // Messages may carry generated names, so keys need not repeat: forget them all now and
        // then rather than grow without bound (a forgotten event is created anew).
        if map.len() >= MAX_REMEMBERED {
            map.clear();
        }
        map.insert(key, seen);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Seen>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Events of cluster-scoped objects (nodes) go to `default`, as client-go does.
fn namespace_of(involved: &Involved) -> &str {
    if involved.namespace.is_empty() {
        "default"
    } else {
        &involved.namespace
    }
}
