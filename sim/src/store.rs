//! The object store: every object under one global `resourceVersion` counter, like etcd behind
//! kube-apiserver, with an event log that watches replay from and that is compacted (a watch from
//! a version older than the log gets `410 Gone`).
//!
//! One mutex guards objects, counter and log together, so every change gets its version, its
//! log entry and its broadcast atomically: watchers see changes in version order, and a watch
//! that starts from a version sees each later change exactly once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

/// `(group, resource, namespace, name)`; the namespace is `""` for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        ObjectKey {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct StoreEvent {
    pub resource_version: u64,
    pub key: ObjectKey,
    pub event_type: EventType,
    pub object: Arc<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("resourceVersion conflict")]
    Conflict,
    /// A watch from a version older than the retained log.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },
}

struct Inner {
    resource_version: u64,
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    log: VecDeque<Arc<StoreEvent>>,
    /// Versions at or below this are no longer in the log.
    compacted_through: u64,
}

impl Inner {
    /// The objects of a group/resource (in one namespace, or all), in key order.
    fn range(&self, group: &str, resource: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let start = ObjectKey::new(group, resource, namespace.unwrap_or(""), "");
        self.objects
            .range(start..)
            .take_while(|(key, _)| {
                key.group == group
                    && key.resource == resource
                    && namespace.is_none_or(|ns| key.namespace == ns)
            })
            .map(|(_, object)| object.clone())
            .collect()
    }
}

pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<StoreEvent>>,
    log_capacity: usize,
}

/// A watch's starting point: the events already missed, then a live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<StoreEvent>>,
    pub live: broadcast::Receiver<Arc<StoreEvent>>,
    /// The store's version when the watch started.
    pub resource_version: u64,
}

/// How many changes a lagging watcher may fall behind before it is cut off (it gets a 410 and
/// relists, as with a real API server).
const BROADCAST_CAPACITY: usize = 1 << 16;

impl Store {
    pub fn new(log_capacity: usize) -> Self {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        Store {
            inner: Mutex::new(Inner {
                resource_version: 1,
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                compacted_through: 1,
            }),
            events,
            log_capacity: log_capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Poisoning only means a request panicked while holding the lock; every mutation below
        // completes before it can panic, so the data is consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// How many watches are open (each holds one subscription). Lets a test know that a client
    /// has started watching before it makes the change the client waits for.
    pub fn watchers(&self) -> usize {
        self.events.receiver_count()
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.lock().objects.get(key).cloned()
    }

    /// Objects of a group/resource (in one namespace, or all), sorted by namespace and name,
    /// with the store's version at the time of the list.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = inner.range(group, resource, namespace);
        (items, inner.resource_version)
    }

    /// Every key of objects in a namespace (for namespace deletion).
    pub fn keys_in_namespace(&self, namespace: &str) -> Vec<ObjectKey> {
        self.lock()
            .objects
            .keys()
            .filter(|key| key.namespace == namespace)
            .cloned()
            .collect()
    }

    /// Whether an object with this `metadata.uid` exists (for the garbage collector's "is the
    /// other owner still there").
    pub fn has_uid(&self, uid: &str) -> bool {
        self.lock()
            .objects
            .values()
            .any(|object| object.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid))
    }

    /// The object with this `metadata.uid` (the garbage collector's owner lookup).
    pub fn by_uid(&self, uid: &str) -> Option<(ObjectKey, Arc<Value>)> {
        self.lock()
            .objects
            .iter()
            .find(|(_, object)| {
                object.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid)
            })
            .map(|(key, object)| (key.clone(), object.clone()))
    }

    /// Every object whose ownerReferences name `uid` (for cascading deletion).
    pub fn dependents_of(&self, uid: &str) -> Vec<(ObjectKey, Arc<Value>)> {
        self.lock()
            .objects
            .iter()
            .filter(|(_, object)| {
                object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    })
            })
            .map(|(key, object)| (key.clone(), object.clone()))
            .collect()
    }

    pub fn create(&self, key: ObjectKey, object: Value) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        if inner.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        Ok(self.commit(&mut inner, key, object, EventType::Added))
    }

    /// Replaces an object through `change`, which sees the current object and returns the new
    /// one (or an error of its own), all under the store lock so read-modify-write is atomic.
    /// `change` must not set `metadata.resourceVersion`; the store does.
    pub fn modify<E>(
        &self,
        key: &ObjectKey,
        change: impl FnOnce(&Value) -> Result<Value, E>,
    ) -> Result<Result<Arc<Value>, E>, StoreError> {
        let mut inner = self.lock();
        let Some(current) = inner.objects.get(key).cloned() else {
            return Err(StoreError::NotFound);
        };
        match change(&current) {
            Ok(object) if object == *current => Ok(Ok(current)),
            Ok(object) => Ok(Ok(self.commit(
                &mut inner,
                key.clone(),
                object,
                EventType::Modified,
            ))),
            Err(error) => Ok(Err(error)),
        }
    }

    pub fn delete(&self, key: &ObjectKey) -> Result<Arc<Value>, StoreError> {
        self.delete_if(key, |_| true)
            .map(|deleted| deleted.unwrap_or_default())
    }

    /// Deletes an object if `still` holds for it (a precondition such as "not changed since it
    /// was admitted"), under the store lock; `Ok(None)` when it did not hold.
    pub fn delete_if(
        &self,
        key: &ObjectKey,
        still: impl FnOnce(&Value) -> bool,
    ) -> Result<Option<Arc<Value>>, StoreError> {
        let mut inner = self.lock();
        match inner.objects.get(key) {
            None => return Err(StoreError::NotFound),
            Some(current) if !still(current) => return Ok(None),
            Some(_) => {}
        }
        let Some(object) = inner.objects.remove(key) else {
            return Err(StoreError::NotFound);
        };
        inner.resource_version += 1;
        let resource_version = inner.resource_version;
        let mut object = (*object).clone();
        set_resource_version(&mut object, resource_version);
        let object = Arc::new(object);
        self.record(&mut inner, key.clone(), EventType::Deleted, object.clone());
        Ok(Some(object))
    }

    fn commit(
        &self,
        inner: &mut Inner,
        key: ObjectKey,
        mut object: Value,
        event_type: EventType,
    ) -> Arc<Value> {
        inner.resource_version += 1;
        set_resource_version(&mut object, inner.resource_version);
        let object = Arc::new(object);
        inner.objects.insert(key.clone(), object.clone());
        self.record(inner, key, event_type, object.clone());
        object
    }

    fn record(&self, inner: &mut Inner, key: ObjectKey, event_type: EventType, object: Arc<Value>) {
        let event = Arc::new(StoreEvent {
            resource_version: inner.resource_version,
            key,
            event_type,
            object,
        });
        inner.log.push_back(event.clone());
        while inner.log.len() > self.log_capacity {
            if let Some(dropped) = inner.log.pop_front() {
                inner.compacted_through = dropped.resource_version;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    /// The current objects of a group/resource and a watch from exactly that point, taken
    /// together (what a watch without a resourceVersion starts with).
    pub fn snapshot_and_subscribe(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, Subscription) {
        let inner = self.lock();
        let live = self.events.subscribe();
        let items = inner.range(group, resource, namespace);
        let subscription = Subscription {
            backlog: Vec::new(),
            live,
            resource_version: inner.resource_version,
        };
        (items, subscription)
    }

    /// Starts a watch after `from` (None: from now). Events older than the log are gone.
    pub fn subscribe(&self, from: Option<u64>) -> Result<Subscription, StoreError> {
        let inner = self.lock();
        let live = self.events.subscribe();
        let backlog = match from {
            None => Vec::new(),
            Some(from) if from < inner.compacted_through => {
                return Err(StoreError::Expired {
                    requested: from,
                    oldest: inner.compacted_through,
                });
            }
            Some(from) => inner
                .log
                .iter()
                .filter(|event| event.resource_version > from)
                .cloned()
                .collect(),
        };
        Ok(Subscription {
            backlog,
            live,
            resource_version: inner.resource_version,
        })
    }
}

fn set_resource_version(object: &mut Value, resource_version: u64) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("", "pods", "default", name)
    }

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name}})
    }

    #[test]
    fn every_change_gets_a_higher_resource_version() {
        let store = Store::new(100);
        let a = store.create(key("a"), pod("a")).unwrap();
        let b = store.create(key("b"), pod("b")).unwrap();
        let rv = |v: &Value| {
            v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert!(rv(&b) > rv(&a));
        let a2 = store
            .modify::<()>(&key("a"), |_| {
                Ok(json!({"metadata": {"name": "a"}, "x": 1}))
            })
            .unwrap()
            .unwrap();
        assert!(rv(&a2) > rv(&b));
        assert_eq!(
            store.create(key("a"), pod("a")).unwrap_err(),
            StoreError::AlreadyExists
        );
    }

    #[test]
    fn lists_are_scoped_to_resource_and_namespace() {
        let store = Store::new(100);
        store.create(key("a"), pod("a")).unwrap();
        store
            .create(ObjectKey::new("", "pods", "other", "b"), pod("b"))
            .unwrap();
        store
            .create(ObjectKey::new("", "services", "default", "c"), pod("c"))
            .unwrap();
        assert_eq!(store.list("", "pods", Some("default")).0.len(), 1);
        assert_eq!(store.list("", "pods", None).0.len(), 2);
    }

    #[test]
    fn a_subscription_replays_what_came_after_its_version() {
        let store = Store::new(100);
        store.create(key("a"), pod("a")).unwrap();
        let from = store.resource_version();
        store.create(key("b"), pod("b")).unwrap();
        store.delete(&key("a")).unwrap();
        let subscription = store.subscribe(Some(from)).unwrap();
        let types: Vec<EventType> = subscription.backlog.iter().map(|e| e.event_type).collect();
        assert_eq!(types, [EventType::Added, EventType::Deleted]);
    }

    #[test]
    fn a_watch_from_before_the_compacted_log_is_expired() {
        let store = Store::new(2);
        for name in ["a", "b", "c", "d"] {
            store.create(key(name), pod(name)).unwrap();
        }
        assert!(matches!(
            store.subscribe(Some(1)),
            Err(StoreError::Expired { .. })
        ));
        assert!(store.subscribe(Some(store.resource_version())).is_ok());
    }

    #[test]
    fn objects_are_found_by_uid() {
        let store = Store::new(10);
        store
            .create(key("a"), json!({"metadata": {"name": "a", "uid": "u-a"}}))
            .unwrap();
        assert!(store.has_uid("u-a"));
        assert!(!store.has_uid("u-b"));
    }

    #[test]
    fn open_subscriptions_are_counted() {
        let store = Store::new(10);
        assert_eq!(store.watchers(), 0);
        let subscription = store.subscribe(None).unwrap();
        assert_eq!(store.watchers(), 1);
        drop(subscription);
        assert_eq!(store.watchers(), 0);
    }

    #[test]
    fn an_unchanged_object_keeps_its_version() {
        let store = Store::new(10);
        let a = store.create(key("a"), pod("a")).unwrap();
        let same = store
            .modify::<()>(&key("a"), |current| Ok(current.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(a, same);
    }
}
