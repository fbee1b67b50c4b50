//! What kube-apiserver does to an object on its way in: name validation, `generateName`, the
//! system metadata (`uid`, `creationTimestamp`, `generation`), per-kind defaults (from
//! `crate::defaulting`), and on update the fields a client may not change.

use serde_json::{Map, Value, json};

use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label)
}

/// Resources whose names must be DNS-1123 labels rather than subdomains.
fn needs_label_name(info: &ResourceInfo) -> bool {
    info.group.is_empty() && matches!(info.resource.as_str(), "namespaces" | "services")
}

/// Validates `metadata.name` as kube-apiserver does for the resource.
pub fn validate_name(info: &ResourceInfo, name: &str) -> Result<(), ApiError> {
    let causes = if name.is_empty() {
        vec![FieldCause::required(
            "metadata.name",
            "name or generateName is required",
        )]
    } else if needs_label_name(info) && !is_label(name) {
        let detail = if name.len() > 63 {
            "must be no more than 63 characters".to_string()
        } else {
            DNS1123_LABEL.to_string()
        };
        vec![FieldCause::invalid_value("metadata.name", name, detail)]
    } else if !needs_label_name(info) && !is_subdomain(name) {
        let detail = if name.len() > 253 {
            "must be no more than 253 characters".to_string()
        } else {
            DNS1123_SUBDOMAIN.to_string()
        };
        vec![FieldCause::invalid_value("metadata.name", name, detail)]
    } else {
        return Ok(());
    };
    Err(ApiError::invalid(info, name, &causes))
}

/// kube-apiserver's `generateName` suffix alphabet: no vowels, no look-alike characters.
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn generated_name(prefix: &str) -> String {
    // apiserver's SimpleNameGenerator: the prefix is cut to 58 bytes so that prefix and suffix
    // fit in 63.
    let mut cut = prefix.len().min(58);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = &prefix[..cut];
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(5)
        .map(|byte| SUFFIX_ALPHABET[usize::from(*byte) % SUFFIX_ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `metadata` as a map, created if absent or not a map. `None` only for a non-object, which
/// body decoding has already ruled out.
fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let metadata = object
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    metadata.as_object_mut()
}

/// Kinds whose objects carry `metadata.generation` (those with a spec that controllers act on).
fn has_generation(info: &ResourceInfo) -> bool {
    !info.builtin
        || matches!(
            info.resource.as_str(),
            "deployments"
                | "replicasets"
                | "statefulsets"
                | "daemonsets"
                | "jobs"
                | "cronjobs"
                | "replicationcontrollers"
                | "poddisruptionbudgets"
                | "customresourcedefinitions"
                | "validatingwebhookconfigurations"
                | "mutatingwebhookconfigurations"
        )
}

/// Fills what the server owns on create and applies per-kind defaults. `name` is final (any
/// generateName already resolved), `namespace` the request's.
pub fn prepare_create(
    info: &ResourceInfo,
    object: &mut Value,
    name: &str,
    namespace: Option<&str>,
    service_ip: impl FnOnce() -> String,
) {
    if let Some(metadata) = metadata_mut(object) {
        metadata.insert("name".into(), json!(name));
        match namespace {
            Some(namespace) => {
                metadata.insert("namespace".into(), json!(namespace));
            }
            None => {
                metadata.remove("namespace");
            }
        }
        metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        metadata.insert("creationTimestamp".into(), json!(now_rfc3339()));
        metadata.remove("resourceVersion");
        metadata.remove("deletionTimestamp");
        metadata.remove("selfLink");
        if has_generation(info) {
            metadata.insert("generation".into(), json!(1));
        } else {
            metadata.remove("generation");
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
        // The status of a new object is the server's to set, not the client's.
        if info.has_subresource("status") {
            map.remove("status");
        }
    }
    apply_defaults(info, object, service_ip);
}

fn apply_defaults(info: &ResourceInfo, object: &mut Value, service_ip: impl FnOnce() -> String) {
    crate::defaulting::default_object(info, object);
    if info.group.is_empty() && info.resource == "namespaces" {
        let name = object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        set_namespace_label(object, name);
        if let Some(map) = object.as_object_mut() {
            map.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            map.insert("status".into(), json!({"phase": "Active"}));
        }
    }
    crate::defaulting::on_create(info, object, service_ip);
}

/// An update (PUT or patch): the client may not change identity or system metadata; on the
/// main resource status changes go through `/status` (`via_status` is a `/status` write); a
/// spec change bumps `generation`.
pub fn prepare_update(info: &ResourceInfo, current: &Value, updated: &mut Value, via_status: bool) {
    // kube-apiserver defaults every object it decodes, updates included.
    crate::defaulting::default_object(info, updated);
    crate::defaulting::on_update(info, current, updated);
    preserve_system_metadata(current, updated);
    if info.has_subresource("status") && !via_status {
        match current.get("status") {
            Some(status) => set(updated, "status", status.clone()),
            None => remove(updated, "status"),
        }
    }
    if info.resource == "namespaces" && info.group.is_empty() {
        // The name label cannot be removed or changed.
        let name = current
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        set_namespace_label(updated, name);
    }
    bump_generation(info, current, updated);
}

/// A `/status` update: only `status` changes.
pub fn prepare_status_update(current: &Value, updated: &Value) -> Value {
    let mut result = current.clone();
    match updated.get("status") {
        Some(status) => set(&mut result, "status", status.clone()),
        None => remove(&mut result, "status"),
    }
    result
}

fn bump_generation(info: &ResourceInfo, current: &Value, updated: &mut Value) {
    if !has_generation(info) {
        return;
    }
    let generation = current
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let spec_changed = current.get("spec") != updated.get("spec")
        || (!info.builtin && strip_meta_and_status(current) != strip_meta_and_status(updated));
    let next = if spec_changed {
        generation + 1
    } else {
        generation
    };
    if let Some(metadata) = metadata_mut(updated) {
        metadata.insert("generation".into(), json!(next));
    }
}

/// Custom resources bump generation on any change outside metadata and status.
fn strip_meta_and_status(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

fn preserve_system_metadata(current: &Value, updated: &mut Value) {
    for field in [
        "uid",
        "creationTimestamp",
        "name",
        "namespace",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let pointer = format!("/metadata/{field}");
        let Some(metadata) = metadata_mut(updated) else {
            return;
        };
        match current.pointer(&pointer) {
            Some(value) => {
                metadata.insert(field.into(), value.clone());
            }
            None => {
                metadata.remove(field);
            }
        }
    }
    for field in ["apiVersion", "kind"] {
        if let Some(value) = current.get(field) {
            set(updated, field, value.clone());
        }
    }
}

fn set_namespace_label(object: &mut Value, name: Value) {
    if let Some(metadata) = metadata_mut(object) {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(NAMESPACE_NAME_LABEL.into(), name);
        }
    }
}

fn set(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(field.into(), value);
    }
}

fn remove(object: &mut Value, field: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn names_are_validated_per_resource() {
        let catalogue = Catalogue::default();
        let pods = catalogue.get("", "v1", "pods").unwrap();
        let namespaces = catalogue.get("", "v1", "namespaces").unwrap();
        assert!(validate_name(&pods, "web-1.example").is_ok());
        let error = validate_name(&pods, "Web").unwrap_err();
        assert_eq!(error.code, 422);
        assert!(error.message.starts_with("Pod \"Web\" is invalid: metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain"), "{}", error.message);
        assert!(
            validate_name(&namespaces, "a.b").is_err(),
            "namespace names are labels: no dots"
        );
        assert!(validate_name(&namespaces, &"a".repeat(64)).is_err());
        assert!(
            validate_name(&pods, "")
                .unwrap_err()
                .message
                .contains("name or generateName is required")
        );
    }

    #[test]
    fn generated_names_have_a_five_character_suffix() {
        let name = generated_name("web-");
        assert_eq!(name.len(), 9);
        assert!(name[4..].bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
        let long = generated_name(&"a".repeat(70));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with(&"a".repeat(58)));
    }

    #[test]
    fn create_fills_system_metadata_and_namespace_label() {
        let catalogue = Catalogue::default();
        let namespaces = catalogue.get("", "v1", "namespaces").unwrap();
        let mut ns = json!({"metadata": {"name": "team-a", "labels": {"x": "y"}}});
        prepare_create(&namespaces, &mut ns, "team-a", None, || unreachable!());
        assert_eq!(ns["metadata"]["labels"][NAMESPACE_NAME_LABEL], "team-a");
        assert_eq!(ns["status"]["phase"], "Active");
        assert!(ns["metadata"]["uid"].is_string());
        assert_eq!(ns["apiVersion"], "v1");
        let deployments = catalogue.get("apps", "v1", "deployments").unwrap();
        let mut d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        prepare_create(
            &deployments,
            &mut d,
            "web",
            Some("default"),
            || unreachable!(),
        );
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(d["metadata"]["namespace"], "default");
        assert_eq!(
            d["status"],
            json!({}),
            "client-supplied status is dropped for the empty one"
        );
    }

    #[test]
    fn updates_keep_identity_and_bump_generation_on_spec_change() {
        let catalogue = Catalogue::default();
        let deployments = catalogue.get("apps", "v1", "deployments").unwrap();
        let mut current = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "u1", "generation": 3, "creationTimestamp": "t"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        // Stored objects are defaulted.
        crate::defaulting::default_object(&deployments, &mut current);
        let mut updated = json!({"metadata": {"name": "web", "uid": "forged", "labels": {"a": "b"}}, "spec": {"replicas": 2}, "status": {"replicas": 7}});
        prepare_update(&deployments, &current, &mut updated, false);
        assert_eq!(updated["metadata"]["uid"], "u1");
        assert_eq!(updated["metadata"]["generation"], 4);
        assert_eq!(
            updated["status"]["replicas"], 1,
            "status changes go through /status"
        );
        assert_eq!(updated["metadata"]["labels"]["a"], "b");
        let mut unchanged_spec = current.clone();
        prepare_update(&deployments, &current, &mut unchanged_spec, false);
        assert_eq!(unchanged_spec["metadata"]["generation"], 3);
    }
}
