//! What kube-apiserver v1.32 fills in on objects of the built-in kinds, so that clients and
//! admission webhooks see what they would see on a real cluster:
//!
//! - [`default_object`]: the scheme's defaults (`pkg/apis/*/v1/defaults.go`), applied on every
//!   decode — a create, an update or a patch's result, and once more when the stored object is
//!   read back (which is how a Job's template labels reach the Job);
//! - [`on_create`] / [`on_update`]: what the registries add (a Pod's status and QoS class, a
//!   Job's generated selector, a Service's ClusterIP and IP families, a DaemonSet's template
//!   generation, the Go zero-value status of a new workload);
//! - [`admit_create`] / [`admit_update`]: the built-in mutating admission plugins that change
//!   pods (ServiceAccount, Priority, DefaultTolerationSeconds), which run before validating
//!   webhooks are called.

mod apps;
mod batch;
mod core;
mod fields;
mod pod_admission;
mod qos;
mod quantity;
mod service_account;

use serde_json::{Value, json};

use crate::catalogue::ResourceInfo;
use crate::status::ApiError;
use crate::store::Store;

pub use qos::pod_qos_class;

/// The built-in kind `info` serves, as `group/resource` (`None` for custom resources).
fn builtin_resource(info: &ResourceInfo) -> Option<(&str, &str)> {
    info.builtin
        .then_some((info.group.as_str(), info.resource.as_str()))
}

/// The scheme's defaults for the object's kind.
pub fn default_object(info: &ResourceInfo, object: &mut Value) {
    let Some(resource) = builtin_resource(info) else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match resource {
        ("", "pods") => core::pod(map),
        ("", "services") => core::service(map),
        ("", "secrets") => core::secret(map),
        ("", "endpoints") => core::endpoints(map),
        ("", "replicationcontrollers") => core::replication_controller(map),
        ("apps", "deployments") => apps::deployment(map),
        ("apps", "replicasets") => apps::replica_set(map),
        ("apps", "statefulsets") => apps::stateful_set(map),
        ("apps", "daemonsets") => apps::daemon_set(map),
        ("batch", "jobs") => batch::job(map),
        ("batch", "cronjobs") => batch::cron_job(map),
        _ => {}
    }
}

/// The registry's part of a create, after [`default_object`]; the object already has its
/// name, namespace and uid.
pub fn on_create(info: &ResourceInfo, object: &mut Value, service_ip: impl FnOnce() -> String) {
    let Some(resource) = builtin_resource(info) else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match resource {
        ("", "pods") => {
            let class = map.get("spec").map_or("BestEffort", pod_qos_class);
            map.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": class}),
            );
        }
        ("", "services") => {
            core::service_create(map, service_ip);
            map.insert("status".into(), json!({"loadBalancer": {}}));
        }
        ("", "replicationcontrollers") => {
            map.insert("status".into(), json!({"replicas": 0}));
        }
        ("apps", resource) => {
            if resource == "daemonsets" {
                apps::daemon_set_create(map);
            }
            if let Some(status) = apps::initial_status(resource) {
                map.insert("status".into(), status);
            }
        }
        ("batch", "jobs") => {
            batch::job_create(map);
            map.insert("status".into(), json!({}));
        }
        ("batch", "cronjobs") => {
            map.insert("status".into(), json!({}));
        }
        _ => {}
    }
}

/// The registry's part of an update (PUT, patch, or a subresource's write), after
/// [`default_object`] on the new object.
pub fn on_update(info: &ResourceInfo, current: &Value, updated: &mut Value) {
    let (Some(resource), Some(current_map), Some(updated_map)) = (
        builtin_resource(info),
        current.as_object(),
        updated.as_object_mut(),
    ) else {
        return;
    };
    match resource {
        ("", "services") => core::service_update(current_map, updated_map),
        ("apps", "daemonsets") => apps::daemon_set_update(current, updated_map),
        _ => {}
    }
}

/// Built-in mutating admission of a create; `display_name` is the pod's name or, when the
/// server generates it, its `generateName` (as admission errors name it).
pub fn admit_create(
    store: &Store,
    info: &ResourceInfo,
    namespace: &str,
    display_name: &str,
    object: &mut Value,
) -> Result<(), ApiError> {
    if builtin_resource(info) != Some(("", "pods")) {
        return Ok(());
    }
    let Some(pod) = object.as_object_mut() else {
        return Ok(());
    };
    service_account::admit(store, namespace, display_name, pod)?;
    pod_admission::priority_on_create(display_name, pod)?;
    pod_admission::default_toleration_seconds(pod);
    Ok(())
}

/// Built-in mutating admission of an update of the main resource (subresources are left
/// alone, as the plugins leave them).
pub fn admit_update(info: &ResourceInfo, subresource: &str, current: &Value, updated: &mut Value) {
    if builtin_resource(info) != Some(("", "pods")) || !subresource.is_empty() {
        return;
    }
    let Some(pod) = updated.as_object_mut() else {
        return;
    };
    pod_admission::priority_on_update(current, pod);
    pod_admission::default_toleration_seconds(pod);
}
