//! The write paths' hook into the admission chain: builds the attributes (operation, kind,
//! options) kube-apiserver passes for a create, an update (any subresource) and a delete.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::objects::is_dry_run;
use super::{SharedState, Target};
use crate::admission::Caller;
use crate::admission::chain::{Attributes, admit};
use crate::status::ApiError;

/// Who writes, through which subresource ("" for the main resource), with which parameters.
#[derive(Clone, Copy)]
pub struct Write<'a> {
    pub caller: &'a Caller,
    pub query: &'a HashMap<String, String>,
    pub subresource: &'a str,
}

impl<'a> Write<'a> {
    pub fn new(caller: &'a Caller, query: &'a HashMap<String, String>) -> Write<'a> {
        Write {
            caller,
            query,
            subresource: "",
        }
    }

    pub fn dry_run(&self) -> bool {
        is_dry_run(self.query)
    }
}

/// `CreateOptions`/`UpdateOptions` from the query, as the handler decoded them.
fn write_options(kind: &str, query: &HashMap<String, String>) -> Value {
    let mut options = Map::new();
    options.insert("kind".into(), json!(kind));
    options.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    if is_dry_run(query) {
        options.insert("dryRun".into(), json!(["All"]));
    }
    for field in ["fieldManager", "fieldValidation"] {
        if let Some(value) = query.get(field).filter(|v| !v.is_empty()) {
            options.insert(field.into(), json!(value));
        }
    }
    Value::Object(options)
}

fn kind_of(target: &Target) -> (&str, &str, &str) {
    (
        target.info.group.as_str(),
        target.info.version.as_str(),
        target.info.kind.as_str(),
    )
}

fn namespace_of(target: &Target) -> &str {
    target.namespace.as_deref().unwrap_or("")
}

/// CREATE of the fully prepared `object` (a PATCH or apply that creates is a CREATE too).
pub async fn admit_create(
    state: &SharedState,
    target: &Target,
    name: &str,
    object: &Value,
    write: &Write<'_>,
) -> Result<(), ApiError> {
    let attributes = Attributes {
        operation: "CREATE",
        info: &target.info,
        subresource: write.subresource,
        kind: kind_of(target),
        name,
        namespace: namespace_of(target),
        object: Some(object),
        old_object: None,
        dry_run: write.dry_run(),
        options: write_options("CreateOptions", write.query),
    };
    admit(state, &attributes, write.caller).await
}

/// UPDATE (PUT or PATCH) from `old` to `new`; through `scale` both are shown as Scales.
pub async fn admit_update(
    state: &SharedState,
    target: &Target,
    name: &str,
    old: &Value,
    new: &Value,
    write: &Write<'_>,
) -> Result<(), ApiError> {
    let scale = write.subresource == "scale";
    let (old, new) = if scale {
        (
            super::subresources::scale_of(old),
            super::subresources::scale_of(new),
        )
    } else {
        (old.clone(), new.clone())
    };
    let attributes = Attributes {
        operation: "UPDATE",
        info: &target.info,
        subresource: write.subresource,
        kind: if scale {
            ("autoscaling", "v1", "Scale")
        } else {
            kind_of(target)
        },
        name,
        namespace: namespace_of(target),
        object: Some(&new),
        old_object: Some(&old),
        dry_run: write.dry_run(),
        options: write_options("UpdateOptions", write.query),
    };
    admit(state, &attributes, write.caller).await
}

/// DELETE of `old`; `name` is "" for the items of a deletecollection (§2.1).
pub async fn admit_delete(
    state: &SharedState,
    target: &Target,
    name: &str,
    old: &Value,
    options: &Value,
    write: &Write<'_>,
) -> Result<(), ApiError> {
    let mut fields = options.as_object().cloned().unwrap_or_default();
    fields.insert("kind".into(), json!("DeleteOptions"));
    fields.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    if write.dry_run() {
        fields.insert("dryRun".into(), json!(["All"]));
    }
    if let Some(policy) = write.query.get("propagationPolicy") {
        fields
            .entry("propagationPolicy")
            .or_insert_with(|| json!(policy));
    }
    let attributes = Attributes {
        operation: "DELETE",
        info: &target.info,
        subresource: "",
        kind: kind_of(target),
        name,
        namespace: namespace_of(target),
        object: None,
        old_object: Some(old),
        dry_run: write.dry_run(),
        options: Value::Object(fields),
    };
    admit(state, &attributes, write.caller).await
}
