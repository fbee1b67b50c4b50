//! What a delete does to an object that cannot go at once, as kube-apiserver's generic store
//! does it (`deletionFinalizersForGarbageCollection`, `markAsDeleting`,
//! `ShouldDeleteDuringUpdate`): the propagation policy becomes the `orphan` or
//! `foregroundDeletion` finalizer, an object with finalizers is only marked deleted
//! (`deletionTimestamp`), and the update that removes its last finalizer deletes it.

use serde_json::{Value, json};

use super::super::lifecycle::now_rfc3339;
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;
use crate::validation::field;

/// `metav1.FinalizerOrphanDependents`.
pub const ORPHAN: &str = "orphan";
/// `metav1.FinalizerDeleteDependents`.
pub const FOREGROUND: &str = "foregroundDeletion";

/// A delete's `propagationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// What the request asked for: the deprecated `orphanDependents` and `propagationPolicy` as
/// sent (each `None` when absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    pub orphan_dependents: Option<bool>,
    pub propagation: Option<Propagation>,
}

impl Requested {
    /// From the DeleteOptions body, else the query (`?propagationPolicy=`).
    pub fn from_request(
        options: &Value,
        query: &std::collections::HashMap<String, String>,
    ) -> Result<Requested, ApiError> {
        let policy = options
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| query.get("propagationPolicy").cloned());
        let propagation = match policy.as_deref() {
            None => None,
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                ));
            }
        };
        let orphan_dependents = options
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| query.get("orphanDependents").map(|value| value == "true"));
        Ok(Requested {
            orphan_dependents,
            propagation,
        })
    }

    /// Whether neither field was sent (a kind's default policy then applies).
    pub fn is_unset(&self) -> bool {
        self.orphan_dependents.is_none() && self.propagation.is_none()
    }
}

/// A kind's `DefaultGarbageCollectionPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPolicy {
    DeleteDependents,
    OrphanDependents,
    /// Events: deleting one never involves the garbage collector.
    Unsupported,
}

/// Per kube-apiserver's strategies: `batch/v1` Jobs, core `v1` ReplicationControllers and
/// `batch/v1beta1` CronJobs orphan by default (for backward compatibility; kubectl always sends
/// a policy), Events are unsupported, everything else deletes its dependents.
pub fn default_policy(info: &ResourceInfo) -> DefaultPolicy {
    if !info.builtin {
        return DefaultPolicy::DeleteDependents;
    }
    match (
        info.group.as_str(),
        info.version.as_str(),
        info.resource.as_str(),
    ) {
        ("" | "events.k8s.io", _, "events") => DefaultPolicy::Unsupported,
        ("", "v1", "replicationcontrollers")
        | ("batch", "v1", "jobs")
        | ("batch", "v1beta1", "cronjobs") => DefaultPolicy::OrphanDependents,
        _ => DefaultPolicy::DeleteDependents,
    }
}

/// The warning kube-apiserver adds to a Job delete that names no policy.
pub const JOB_ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

pub fn finalizers_of(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

pub fn is_deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|timestamp| !timestamp.is_null())
}

/// `shouldOrphanDependents` and `shouldDeleteDependents`: (orphan, foreground).
fn gc_intent(default: DefaultPolicy, requested: Requested, finalizers: &[String]) -> (bool, bool) {
    if default == DefaultPolicy::Unsupported {
        return (false, false);
    }
    if let Some(orphan) = requested.orphan_dependents {
        return (orphan, false);
    }
    match requested.propagation {
        Some(Propagation::Orphan) => return (true, false),
        Some(Propagation::Foreground) => return (false, true),
        Some(Propagation::Background) => return (false, false),
        None => {}
    }
    for finalizer in finalizers {
        match finalizer.as_str() {
            ORPHAN => return (true, false),
            FOREGROUND => return (false, true),
            _ => {}
        }
    }
    (default == DefaultPolicy::OrphanDependents, false)
}

/// `finalizers` with `orphan` and `foregroundDeletion` as asked: the others kept in order,
/// those two (re)added at the end.
pub fn with_gc_finalizers(finalizers: &[String], orphan: bool, foreground: bool) -> Vec<String> {
    let mut wanted: Vec<String> = finalizers
        .iter()
        .filter(|finalizer| *finalizer != ORPHAN && *finalizer != FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        wanted.push(ORPHAN.into());
    }
    if foreground {
        wanted.push(FOREGROUND.into());
    }
    wanted
}

/// `deletionFinalizersForGarbageCollection`: the object's finalizers once the request's
/// policy is expressed in them, or `None` when they stay as they are.
pub fn gc_finalizers(
    info: &ResourceInfo,
    requested: Requested,
    object: &Value,
) -> Option<Vec<String>> {
    let current = finalizers_of(object);
    let (orphan, foreground) = gc_intent(default_policy(info), requested, &current);
    let wanted = with_gc_finalizers(&current, orphan, foreground);
    let same = {
        let mut a = current.clone();
        let mut b = wanted.clone();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    };
    (!same).then_some(wanted)
}

/// `markAsDeleting`: the deletion timestamp (kept when already set), a zero grace period, and a
/// generation bump on the first mark.
pub fn mark_as_deleting(object: &mut Value) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let deleting = metadata
        .get("deletionTimestamp")
        .is_some_and(|timestamp| !timestamp.is_null());
    if !deleting {
        if let Some(generation) = metadata.get("generation").and_then(Value::as_i64)
            && generation > 0
        {
            metadata.insert("generation".into(), json!(generation + 1));
        }
        metadata.insert("deletionTimestamp".into(), json!(now_rfc3339()));
    }
    metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
}

pub fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if finalizers.is_empty() {
        metadata.remove("finalizers");
    } else {
        metadata.insert("finalizers".into(), json!(finalizers));
    }
}

/// `ShouldDeleteDuringUpdate` (and the namespace storage's addition: no `spec.finalizers`
/// left either): an update that leaves a deleted object without finalizers removes it.
pub fn should_delete_during_update(info: &ResourceInfo, current: &Value, updated: &Value) -> bool {
    if !finalizers_of(updated).is_empty() || !is_deleting(current) {
        return false;
    }
    let grace = current
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    if grace.is_some_and(|grace| grace != 0) {
        return false;
    }
    if info.builtin && info.group.is_empty() && info.resource == "namespaces" {
        return updated
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
    }
    true
}

/// `ValidateObjectMetaUpdate`: an object being deleted takes no new finalizers.
pub fn check_no_new_finalizers(
    info: &ResourceInfo,
    name: &str,
    current: &Value,
    updated: &Value,
) -> Result<(), ApiError> {
    if !is_deleting(current) {
        return Ok(());
    }
    let old = finalizers_of(current);
    let mut added: Vec<String> = finalizers_of(updated)
        .into_iter()
        .filter(|finalizer| !old.contains(finalizer))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    // Go lists them from a sorted set.
    added.sort();
    added.dedup();
    let detail = format!(
        "no new finalizers can be added if the object is being deleted, found new finalizers {}",
        field::string_slice("string", Some(&added))
    );
    Err(ApiError::invalid(
        info,
        name,
        &[field::forbidden("metadata.finalizers", &detail)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn info(group: &str, version: &str, resource: &str) -> ResourceInfo {
        Catalogue::default()
            .get(group, version, resource)
            .expect("a served resource")
    }

    fn requested(propagation: Option<Propagation>) -> Requested {
        Requested {
            orphan_dependents: None,
            propagation,
        }
    }

    #[test]
    fn the_policy_becomes_a_finalizer_except_for_background() {
        let deployments = info("apps", "v1", "deployments");
        let plain = json!({"metadata": {"name": "web"}});
        assert_eq!(gc_finalizers(&deployments, requested(None), &plain), None);
        assert_eq!(
            gc_finalizers(
                &deployments,
                requested(Some(Propagation::Foreground)),
                &plain
            ),
            Some(vec![FOREGROUND.to_string()])
        );
        assert_eq!(
            gc_finalizers(&deployments, requested(Some(Propagation::Orphan)), &plain),
            Some(vec![ORPHAN.to_string()])
        );
        // A later Background delete takes the earlier policy's finalizer away again.
        let foreground = json!({"metadata": {"finalizers": ["example.com/keep", FOREGROUND]}});
        assert_eq!(
            gc_finalizers(
                &deployments,
                requested(Some(Propagation::Background)),
                &foreground
            ),
            Some(vec!["example.com/keep".to_string()])
        );
    }

    #[test]
    fn jobs_and_replication_controllers_orphan_by_default_and_events_never_do() {
        let plain = json!({"metadata": {"name": "x"}});
        for (group, version, resource) in [
            ("batch", "v1", "jobs"),
            ("", "v1", "replicationcontrollers"),
        ] {
            assert_eq!(
                gc_finalizers(&info(group, version, resource), requested(None), &plain),
                Some(vec![ORPHAN.to_string()]),
                "{resource}"
            );
        }
        assert_eq!(
            gc_finalizers(
                &info("", "v1", "events"),
                requested(Some(Propagation::Orphan)),
                &plain
            ),
            None
        );
        // The deprecated flag wins over the policy, as in Go.
        let both = Requested {
            orphan_dependents: Some(false),
            propagation: Some(Propagation::Orphan),
        };
        assert_eq!(
            gc_finalizers(&info("batch", "v1", "jobs"), both, &plain),
            None
        );
    }

    #[test]
    fn marking_keeps_the_first_timestamp_and_bumps_generation_once() {
        let mut object = json!({"metadata": {"name": "web", "generation": 3}});
        mark_as_deleting(&mut object);
        let first = object["metadata"]["deletionTimestamp"].clone();
        assert!(first.is_string());
        assert_eq!(object["metadata"]["generation"], 4);
        assert_eq!(object["metadata"]["deletionGracePeriodSeconds"], 0);
        mark_as_deleting(&mut object);
        assert_eq!(object["metadata"]["generation"], 4);
        assert_eq!(object["metadata"]["deletionTimestamp"], first);
    }

    #[test]
    fn removing_the_last_finalizer_of_a_deleted_object_deletes_it() {
        let config_maps = info("", "v1", "configmaps");
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-12-03T00:00:00Z", "deletionGracePeriodSeconds": 0, "finalizers": ["a"]}});
        let emptied = json!({"metadata": {"deletionTimestamp": "2026-12-03T00:00:00Z"}});
        assert!(should_delete_during_update(
            &config_maps,
            &deleting,
            &emptied
        ));
        assert!(!should_delete_during_update(
            &config_maps,
            &deleting,
            &deleting
        ));
        let alive = json!({"metadata": {"finalizers": ["a"]}});
        assert!(!should_delete_during_update(
            &config_maps,
            &alive,
            &json!({"metadata": {}})
        ));
        // A namespace also waits for its spec.finalizers.
        let namespaces = info("", "v1", "namespaces");
        let terminating = json!({"metadata": {"deletionTimestamp": "2026-12-03T00:00:00Z"}, "spec": {"finalizers": ["kubernetes"]}});
        assert!(!should_delete_during_update(
            &namespaces,
            &terminating,
            &terminating
        ));
        let finalized = json!({"metadata": {"deletionTimestamp": "2026-12-03T00:00:00Z"}, "spec": {"finalizers": []}});
        assert!(should_delete_during_update(
            &namespaces,
            &terminating,
            &finalized
        ));
    }

    #[test]
    fn a_deleted_object_takes_no_new_finalizer() {
        let config_maps = info("", "v1", "configmaps");
        let deleting =
            json!({"metadata": {"deletionTimestamp": "2026-12-03T00:00:00Z", "finalizers": ["a"]}});
        let added = json!({"metadata": {"finalizers": ["a", "z", "b"]}});
        let error = check_no_new_finalizers(&config_maps, "c", &deleting, &added).unwrap_err();
        assert_eq!(error.code, 422);
        assert_eq!(
            error.message,
            "ConfigMap \"c\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b\", \"z\"}"
        );
        let removed = json!({"metadata": {"finalizers": []}});
        assert!(check_no_new_finalizers(&config_maps, "c", &deleting, &removed).is_ok());
    }
}
