//! Subresources: `status` (only `.status` changes), `scale` (an `autoscaling/v1` Scale over
//! `.spec.replicas`, what `kubectl scale` uses) and `pods/ephemeralcontainers` (only
//! `.spec.ephemeralContainers` changes, what `kubectl debug` uses) and `namespaces/finalize`
//! (only `.spec.finalizers` changes).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::admit::Write;
use super::lifecycle::prepare_status_update;
use super::objects::{current, guaranteed_update, patch_error, patch_request, patch_target};
use super::{SharedState, Target};
use crate::admission::Caller;
use crate::patch::{PatchTarget, PatchType, apply_patch};
use crate::status::ApiError;

fn check(target: &Target, sub: &str) -> Result<(), ApiError> {
    if target.info.has_subresource(sub)
        && matches!(sub, "status" | "scale" | "ephemeralcontainers" | "finalize")
    {
        Ok(())
    } else {
        Err(ApiError::no_such_resource())
    }
}

pub fn get(
    state: &SharedState,
    target: &Target,
    name: &str,
    sub: &str,
) -> Result<axum::response::Response, ApiError> {
    check(target, sub)?;
    let object = current(state, target, name)?;
    let body = if sub == "scale" {
        scale_of(&object)
    } else {
        (*object).clone()
    };
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        body,
    )))
}

/// The Scale view of a workload.
pub fn scale_of(object: &Value) -> Value {
    let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let keep = [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ];
    let metadata: serde_json::Map<String, Value> = metadata
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let selector = object
        .pointer("/spec/selector")
        .and_then(crate::selectors::match_labels_text)
        .or_else(|| {
            // ReplicationControllers select with a plain map.
            object
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// Takes from `changed` what the subresource may change, onto `current`.
fn merge_subresource(sub: &str, current: &Value, changed: &Value) -> Result<Value, ApiError> {
    let mut result = current.clone();
    match sub {
        "status" => return Ok(prepare_status_update(current, changed)),
        "scale" => {
            let replicas = changed
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::bad_request("a Scale must set spec.replicas"))?;
            if replicas < 0 {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                        current
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    ),
                ));
            }
            if let Some(spec) = result.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("replicas".into(), json!(replicas));
            }
        }
        "ephemeralcontainers" => {
            let ephemeral = changed
                .pointer("/spec/ephemeralContainers")
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(spec) = result.get_mut("spec").and_then(Value::as_object_mut) {
                if ephemeral.is_null() {
                    spec.remove("ephemeralContainers");
                } else {
                    spec.insert("ephemeralContainers".into(), ephemeral);
                }
            }
        }
        // `namespaces/finalize`: only the namespace's finalizers change.
        "finalize" => {
            let finalizers = changed
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            match result.get_mut("spec").and_then(Value::as_object_mut) {
                Some(spec) => {
                    spec.insert("finalizers".into(), finalizers);
                }
                None => result["spec"] = json!({"finalizers": finalizers}),
            }
        }
        _ => return Err(ApiError::no_such_resource()),
    }
    Ok(result)
}

fn respond(sub: &str, stored: Value) -> Value {
    if sub == "scale" {
        scale_of(&stored)
    } else {
        stored
    }
}

pub async fn put(
    state: &SharedState,
    target: &Target,
    name: &str,
    sub: &str,
    object: Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    check(target, sub)?;
    let write = Write {
        subresource: sub,
        ..Write::new(caller, query)
    };
    let stored = guaranteed_update(state, target, name, &write, |current| {
        merge_subresource(sub, current, &object)
    })
    .await?;
    Ok(respond(sub, stored))
}

#[allow(clippy::too_many_arguments)]
pub async fn patch(
    state: &SharedState,
    target: &Target,
    name: &str,
    sub: &str,
    patch_type: PatchType,
    bytes: &[u8],
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    check(target, sub)?;
    let request = patch_request(patch_type, bytes, query);
    let api_version = target.info.api_version();
    let write = Write {
        subresource: sub,
        ..Write::new(caller, query)
    };
    let stored = guaranteed_update(state, target, name, &write, |current| {
        if sub == "scale" {
            // The patch is against the Scale object, a built-in kind.
            let scale = scale_of(current);
            let scale_target = PatchTarget {
                api_version: "autoscaling/v1",
                kind: "Scale",
                builtin: true,
            };
            let patched = apply_patch(&scale_target, Some(&scale), &request)
                .map_err(|e| patch_error(&target.info, name, e))?;
            return merge_subresource(sub, current, &patched);
        }
        let object_target = PatchTarget {
            api_version: &api_version,
            ..patch_target(&target.info)
        };
        let patched = apply_patch(&object_target, Some(current), &request)
            .map_err(|e| patch_error(&target.info, name, e))?;
        merge_subresource(sub, current, &patched)
    })
    .await?;
    Ok(respond(sub, stored))
}
