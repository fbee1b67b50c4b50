//! `apiregistration.k8s.io/v1 APIServices`: one `Local` APIService per served group/version,
//! as kube-aggregator registers them (`kubectl get apiservices`). Built-in groups carry the
//! label `kube-aggregator.kubernetes.io/automanaged: onstart` and kube-apiserver's priorities
//! (cmd/kube-apiserver/app/aggregator.go, pkg/controlplane/apiserver/aggregator.go); CRD
//! groups `automanaged: "true"` with priority 1000/100 (the crdregistration controller).
//! Kept in step with the catalogue at start-up and whenever APIServices are read.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::SharedState;
use crate::store::ObjectKey;

const GROUP: &str = "apiregistration.k8s.io";
const RESOURCE: &str = "apiservices";
const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// `(groupPriorityMinimum, versionPriority)` of the built-in group/versions the emulator serves.
fn builtin_priority(group: &str, version: &str) -> Option<(i64, i64)> {
    Some(match (group, version) {
        ("", "v1") => (18000, 1),
        ("apps", "v1") => (17800, 15),
        ("events.k8s.io", "v1") => (17750, 15),
        ("authentication.k8s.io", "v1") => (17700, 15),
        ("authorization.k8s.io", "v1") => (17600, 15),
        ("autoscaling", "v1") => (17500, 15),
        ("autoscaling", "v2") => (17500, 30),
        ("batch", "v1") => (17400, 15),
        ("certificates.k8s.io", "v1") => (17300, 15),
        ("networking.k8s.io", "v1") => (17200, 15),
        ("policy", "v1") => (17100, 15),
        ("rbac.authorization.k8s.io", "v1") => (17000, 15),
        ("storage.k8s.io", "v1") => (16800, 15),
        ("apiextensions.k8s.io", "v1") => (16700, 15),
        ("admissionregistration.k8s.io", "v1") => (16700, 15),
        ("scheduling.k8s.io", "v1") => (16600, 15),
        ("coordination.k8s.io", "v1") => (16500, 15),
        ("node.k8s.io", "v1") => (16300, 15),
        ("discovery.k8s.io", "v1") => (16200, 15),
        ("flowcontrol.apiserver.k8s.io", "v1") => (16100, 21),
        _ => return None,
    })
}

/// The APIService for one served group/version.
fn api_service(group: &str, version: &str, now: &str) -> Value {
    let (label, (group_priority, version_priority)) = match builtin_priority(group, version) {
        Some(priority) => ("onstart", priority),
        None => ("true", (1000, 100)),
    };
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": format!("{version}.{group}"),
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now,
            "labels": {AUTOMANAGED: label},
        },
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": group_priority,
            "versionPriority": version_priority,
        },
        "status": {"conditions": [{
            "type": "Available",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "Local",
            "message": "Local APIServices are always available",
        }]},
    })
}

/// Creates the APIServices of newly served group/versions and deletes the automanaged ones
/// nothing serves any more (a deleted CRD's).
pub fn sync(state: &SharedState) {
    let now = crate::api::lifecycle::now_rfc3339();
    let mut wanted = BTreeMap::new();
    for (group, versions) in state.catalogue.groups() {
        // kube-aggregator lists no APIService for its own group.
        if group == GROUP {
            continue;
        }
        for version in versions {
            wanted.insert(format!("{version}.{group}"), (group.clone(), version));
        }
    }
    let (stored, _) = state.store.list(GROUP, RESOURCE, None);
    for object in &stored {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let automanaged = object
            .pointer(&format!(
                "/metadata/labels/{}",
                AUTOMANAGED.replace('/', "~1")
            ))
            .is_some();
        if automanaged && !wanted.contains_key(name) {
            let _ = state
                .store
                .delete(&ObjectKey::new(GROUP, RESOURCE, "", name));
        }
    }
    for (name, (group, version)) in wanted {
        let key = ObjectKey::new(GROUP, RESOURCE, "", &name);
        if state.store.get(&key).is_none() {
            // Another request may have created it meanwhile: AlreadyExists is fine.
            let _ = state.store.create(key, api_service(&group, &version, &now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_groups_are_onstart_and_others_are_crd_registrations() {
        let core = api_service("", "v1", "2025-01-01T00:00:00Z");
        assert_eq!(core["metadata"]["name"], "v1.");
        assert_eq!(core["metadata"]["labels"][AUTOMANAGED], "onstart");
        assert_eq!(core["spec"]["groupPriorityMinimum"], 18000);
        let custom = api_service("example.com", "v1alpha1", "2025-01-01T00:00:00Z");
        assert_eq!(custom["metadata"]["name"], "v1alpha1.example.com");
        assert_eq!(custom["metadata"]["labels"][AUTOMANAGED], "true");
        assert_eq!(custom["spec"]["versionPriority"], 100);
    }
}
