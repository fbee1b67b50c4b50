//! `POST pods/<name>/binding`: what the scheduler uses to put a pod on a node. It is a CREATE
//! of a `v1 Binding` on the `pods/binding` subresource, so admission webhooks that cover only
//! `pods` never see it — which is why a webhook that is down does not stop already-admitted
//! pods from being scheduled.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::objects::{is_dry_run, key_for};
use super::{SharedState, Target};
use crate::admission::Caller;
use crate::admission::chain::{Attributes, admit};
use crate::status::{ApiError, FieldCause};
use crate::store::StoreError;

pub async fn bind(
    state: &SharedState,
    target: &Target,
    name: &str,
    binding: Value,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    if target.info.resource != "pods" || !target.info.has_subresource("binding") {
        return Err(ApiError::no_such_resource());
    }
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
        .ok_or_else(|| ApiError::invalid_unnamed(&[FieldCause::required("target.name", "")]))?
        .to_string();
    let key = key_for(target, name);
    if state.store.get(&key).is_none() {
        return Err(ApiError::not_found(&target.info, name));
    }
    let dry_run = is_dry_run(query);
    let mut options = json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"});
    if dry_run {
        options["dryRun"] = json!(["All"]);
    }
    let attributes = Attributes {
        operation: "CREATE",
        info: &target.info,
        subresource: "binding",
        kind: ("", "v1", "Binding"),
        name,
        namespace: target.namespace.as_deref().unwrap_or(""),
        object: Some(&binding),
        old_object: None,
        dry_run,
        options,
    };
    admit(state, &attributes, caller).await?;
    let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    if dry_run {
        return Ok(success);
    }
    let result = state.store.modify(&key, |pod| {
        let assigned = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|assigned| !assigned.is_empty());
        if let Some(assigned) = assigned {
            return Err(assigned.to_string());
        }
        let mut bound = pod.clone();
        if let Some(spec) = bound.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeName".into(), json!(node));
        }
        Ok(bound)
    });
    match result {
        Ok(Ok(_)) => Ok(success),
        // kube-apiserver's wording (pkg/registry/core/pod/storage `assignPod`).
        Ok(Err(assigned)) => Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{assigned}\""
            ),
        )),
        Err(StoreError::NotFound) => Err(ApiError::not_found(&target.info, name)),
        Err(other) => Err(ApiError::internal(other.to_string())),
    }
}
