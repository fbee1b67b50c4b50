//! CustomResourceDefinitions: a created CRD serves its resource at once (every served version,
//! namespaced or cluster-scoped) and discovery lists it; a deleted one takes its resource and
//! every object of it away.

use serde_json::{Value, json};

use super::SharedState;
use super::lifecycle::now_rfc3339;
use crate::catalogue::{Catalogue, ResourceInfo};
use crate::status::{ApiError, FieldCause};

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The checks kube-apiserver makes that matter for serving: the name is `<plural>.<group>`,
/// names and scope are set, at least one version is served and exactly one is the storage one.
pub fn validate(object: &Value, name: &str) -> Result<(), ApiError> {
    let group = text(object, "/spec/group");
    let plural = text(object, "/spec/names/plural");
    let mut causes = Vec::new();
    if group.is_empty() {
        causes.push(FieldCause::required("spec.group", ""));
    }
    if plural.is_empty() {
        causes.push(FieldCause::required("spec.names.plural", ""));
    }
    if text(object, "/spec/names/kind").is_empty() {
        causes.push(FieldCause::required("spec.names.kind", ""));
    }
    if !matches!(text(object, "/spec/scope"), "Namespaced" | "Cluster") {
        causes.push(FieldCause::invalid_value(
            "spec.scope",
            text(object, "/spec/scope"),
            "supported values: \"Cluster\", \"Namespaced\"",
        ));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(FieldCause::invalid_value(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let versions = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !versions
        .iter()
        .any(|v| v.get("served").and_then(Value::as_bool) == Some(true))
    {
        causes.push(FieldCause::invalid_value(
            "spec.versions",
            "",
            "must have at least one served version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(FieldCause::invalid_value(
            "spec.versions",
            "",
            "must have exactly one version marked as storage version",
        ));
    }
    if causes.is_empty() {
        return Ok(());
    }
    let info = ResourceInfo {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        resource: "customresourcedefinitions".into(),
        singular: "customresourcedefinition".into(),
        kind: "CustomResourceDefinition".into(),
        namespaced: false,
        short_names: Vec::new(),
        subresources: Vec::new(),
        builtin: true,
        categories: Vec::new(),
        printer_columns: Vec::new(),
    };
    Err(ApiError::invalid(&info, name, &causes))
}

/// A new CRD is immediately accepted and established (there is no controller to wait for).
pub fn set_established(object: &mut Value) {
    let now = now_rfc3339();
    let names = object
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let stored: Vec<Value> = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    if let Some(map) = object.as_object_mut() {
        map.insert(
            "status".into(),
            json!({
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
                "acceptedNames": names,
                "storedVersions": stored,
            }),
        );
    }
}

/// Serves (or re-serves, after an update) the CRD's versions.
pub fn register(catalogue: &Catalogue, crd: &Value) {
    let group = text(crd, "/spec/group").to_string();
    let plural = text(crd, "/spec/names/plural").to_string();
    catalogue.remove(&group, &plural);
    let names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let strings = |field: &str| -> Vec<String> {
        names
            .get(field)
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = text(crd, "/spec/names/kind").to_string();
    let singular = Some(text(crd, "/spec/names/singular"))
        .filter(|s| !s.is_empty())
        .map_or_else(|| kind.to_lowercase(), str::to_string);
    for version in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let mut subresources = Vec::new();
        if version.pointer("/subresources/status").is_some() {
            subresources.push("status".to_string());
        }
        if version.pointer("/subresources/scale").is_some() {
            subresources.push("scale".to_string());
        }
        catalogue.insert(ResourceInfo {
            group: group.clone(),
            version: text(version, "/name").to_string(),
            resource: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            namespaced: text(crd, "/spec/scope") == "Namespaced",
            short_names: strings("shortNames"),
            subresources,
            builtin: false,
            categories: strings("categories"),
            printer_columns: version
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        });
    }
}

/// Stops serving the CRD's resource and deletes every object of it.
pub fn unregister(state: &SharedState, crd: &Value) {
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    state.catalogue.remove(group, plural);
    let (objects, _) = state.store.list(group, plural, None);
    for object in objects {
        let key = crate::store::ObjectKey::new(
            group,
            plural,
            text(&object, "/metadata/namespace"),
            text(&object, "/metadata/name"),
        );
        // Already gone is fine.
        let _ = state.store.delete(&key);
    }
}
