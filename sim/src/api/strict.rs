//! `fieldValidation=Strict`, which kubectl sends on create, replace and client-side apply: a
//! built-in object with fields its kind does not declare is refused, as kube-apiserver's strict
//! decoder refuses it (`strict decoding error: unknown field "spec.containers[0].bogus"`).
//!
//! The declared fields come from the k8s-openapi types: an object decoded into its type and
//! encoded again keeps exactly the fields the type declares, so whatever the round trip loses
//! is unknown. An object that does not decode (a missing required field, a value of the wrong
//! type) is left to the other checks, and custom resources are not checked (their schemas are
//! not enforced at all). Other validation directives store the object as sent.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

/// Whether the request asks for strict field validation.
pub fn is_strict(query: &HashMap<String, String>) -> bool {
    query
        .get("fieldValidation")
        .is_some_and(|value| value == "Strict")
}

/// The fields of `object` that its kind does not declare, in kube-apiserver's notation
/// (`spec.containers[0].bogus`), in document order. Empty for kinds we have no type for and
/// objects that do not decode.
pub fn unknown_fields(info: &ResourceInfo, object: &Value) -> Vec<String> {
    if !info.builtin {
        return Vec::new();
    }
    let mut typed = object.clone();
    if let Some(map) = typed.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
    let Some(known) = round_trip(&info.api_version(), &info.kind, typed) else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    collect(object, &known, "", &mut unknown);
    unknown
}

/// Decodes `object` as `T` and encodes it again.
fn via<T: DeserializeOwned + Serialize>(object: Value) -> Option<Value> {
    let typed: T = serde_json::from_value(object).ok()?;
    serde_json::to_value(typed).ok()
}

fn round_trip(api_version: &str, kind: &str, object: Value) -> Option<Value> {
    use k8s_openapi::api::admissionregistration::v1 as admission;
    use k8s_openapi::api::apps::v1 as apps;
    use k8s_openapi::api::batch::v1 as batch;
    use k8s_openapi::api::core::v1 as core;
    use k8s_openapi::api::policy::v1 as policy;
    use k8s_openapi::api::rbac::v1 as rbac;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    let decode: fn(Value) -> Option<Value> = match (api_version, kind) {
        ("v1", "Namespace") => via::<core::Namespace>,
        ("v1", "Pod") => via::<core::Pod>,
        ("v1", "Service") => via::<core::Service>,
        ("v1", "Endpoints") => via::<core::Endpoints>,
        ("v1", "ConfigMap") => via::<core::ConfigMap>,
        ("v1", "Secret") => via::<core::Secret>,
        ("v1", "ServiceAccount") => via::<core::ServiceAccount>,
        ("v1", "Event") => via::<core::Event>,
        ("v1", "Node") => via::<core::Node>,
        ("v1", "ReplicationController") => via::<core::ReplicationController>,
        ("apps/v1", "Deployment") => via::<apps::Deployment>,
        ("apps/v1", "ReplicaSet") => via::<apps::ReplicaSet>,
        ("apps/v1", "StatefulSet") => via::<apps::StatefulSet>,
        ("apps/v1", "DaemonSet") => via::<apps::DaemonSet>,
        ("batch/v1", "Job") => via::<batch::Job>,
        ("batch/v1", "CronJob") => via::<batch::CronJob>,
        ("policy/v1", "PodDisruptionBudget") => via::<policy::PodDisruptionBudget>,
        ("rbac.authorization.k8s.io/v1", "Role") => via::<rbac::Role>,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => via::<rbac::RoleBinding>,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => via::<rbac::ClusterRole>,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => via::<rbac::ClusterRoleBinding>,
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
            via::<admission::ValidatingWebhookConfiguration>
        }
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
            via::<admission::MutatingWebhookConfiguration>
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            via::<apiextensions::CustomResourceDefinition>
        }
        _ => return None,
    };
    decode(object)
}

/// Walks `original` beside its round trip `known`, noting the fields that did not survive.
/// `null` fields are skipped: clients send them for "unset" (`creationTimestamp: null`).
fn collect(original: &Value, known: &Value, path: &str, unknown: &mut Vec<String>) {
    match (original, known) {
        (Value::Object(fields), Value::Object(kept)) => {
            for (name, value) in fields.iter().filter(|(_, value)| !value.is_null()) {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match kept.get(name) {
                    Some(kept) => collect(value, kept, &child, unknown),
                    None => unknown.push(child),
                }
            }
        }
        (Value::Array(items), Value::Array(kept)) => {
            for (index, (item, kept)) in items.iter().zip(kept).enumerate() {
                collect(item, kept, &format!("{path}[{index}]"), unknown);
            }
        }
        _ => {}
    }
}

/// `strict decoding error: unknown field "a", unknown field "b"`
fn strict_decoding_error(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown
        .iter()
        .map(|field| format!("unknown field \"{field}\""))
        .collect();
    format!("strict decoding error: {}", fields.join(", "))
}

/// What a create or update with unknown fields gets: the body cannot be decoded.
pub fn decode_error(info: &ResourceInfo, unknown: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {}",
        strict_decoding_error(unknown),
        kind = info.kind,
        version = info.version,
    ))
}

/// What a strategic merge patch introducing unknown fields gets: an Invalid `patch` showing
/// the patch as Go prints a map (`%+v`).
pub fn patch_error(patch: &[u8], unknown: &[String]) -> ApiError {
    let shown = serde_json::from_slice::<Value>(patch)
        .map(|patch| go_format(&patch))
        .unwrap_or_else(|_| String::from_utf8_lossy(patch).into_owned());
    let cause = FieldCause::invalid_value("patch", &shown, strict_decoding_error(unknown));
    ApiError::invalid_unnamed(&[cause])
}

/// Go's `%+v` of a decoded JSON value: `map[a:1 b:[x y]]`, keys sorted, strings bare.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{key}:{}", go_format(&fields[key])))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn info(group: &str, resource: &str) -> ResourceInfo {
        Catalogue::default().get(group, "v1", resource).unwrap()
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let pods = info("", "pods");
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "creationTimestamp": null, "labels": {"any": "label"}, "colour": "red"},
            "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx", "bogus": 1, "env": [{"name": "X", "valu": "1"}]}]},
            "extra": {"deep": true},
        });
        assert_eq!(
            unknown_fields(&pods, &pod),
            [
                "extra",
                "metadata.colour",
                "spec.containers[1].bogus",
                "spec.containers[1].env[0].valu"
            ]
        );
        let clean = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx", "resources": {}, "env": []}]}});
        assert!(unknown_fields(&pods, &clean).is_empty());
    }

    #[test]
    fn objects_that_do_not_decode_and_custom_resources_are_not_checked() {
        let deployments = info("apps", "deployments");
        // A value of the wrong type: kube-apiserver fails to decode it, with an error of its own.
        let undecodable =
            json!({"metadata": {"name": "d"}, "spec": {"replicas": "two", "bogus": 1}});
        assert!(unknown_fields(&deployments, &undecodable).is_empty());
        // A missing required field decodes (to its zero value); validation reports it later.
        let incomplete = json!({"metadata": {"name": "d"}, "spec": {"bogus": 1}});
        assert_eq!(unknown_fields(&deployments, &incomplete), ["spec.bogus"]);
        let mut widgets = deployments.clone();
        widgets.builtin = false;
        widgets.group = "example.com".into();
        assert!(unknown_fields(&widgets, &json!({"spec": {"anything": 1}})).is_empty());
    }

    #[test]
    fn errors_use_kube_apiservers_wording() {
        let deployments = info("apps", "deployments");
        let error = decode_error(&deployments, &["spec.replica".into(), "zzz".into()]);
        assert_eq!(error.code, 400);
        assert_eq!(
            error.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"zzz\""
        );
        let patch = br#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"bogus":1,"name":"web"}]}}}}"#;
        let error = patch_error(patch, &["spec.template.spec.containers[0].bogus".into()]);
        assert_eq!(error.code, 422);
        assert_eq!(
            error.message,
            " \"\" is invalid: patch: Invalid value: \"map[spec:map[template:map[spec:map[$setElementOrder/containers:[map[name:web]] containers:[map[bogus:1 name:web]]]]]]\": strict decoding error: unknown field \"spec.template.spec.containers[0].bogus\""
        );
    }
}
