//! `pods/exec`, `pods/attach` and `pods/portforward`: CONNECT requests. They pass through
//! admission as kube-apiserver sends them (operation CONNECT, the `*Options` object, no old
//! object), then get a clear refusal: no container runs here, so there is nothing to stream.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::objects::current;
use super::{SharedState, Target};
use crate::admission::Caller;
use crate::admission::chain::{Attributes, admit};
use crate::status::ApiError;

pub fn is_connect(target: &Target, sub: &str) -> bool {
    target.info.group.is_empty()
        && target.info.resource == "pods"
        && matches!(sub, "exec" | "attach" | "portforward")
}

/// The options object of a CONNECT request, from its query (`PodExecOptions` and friends).
fn options(sub: &str, query: &HashMap<String, String>) -> (&'static str, Value) {
    let flag = |name: &str| query.get(name).is_some_and(|v| v == "true" || v == "1");
    let kind = match sub {
        "exec" => "PodExecOptions",
        "attach" => "PodAttachOptions",
        _ => "PodPortForwardOptions",
    };
    let mut object = json!({"kind": kind, "apiVersion": "v1"});
    if sub == "portforward" {
        if let Some(ports) = query.get("ports") {
            let ports: Vec<Value> = ports
                .split(',')
                .filter_map(|port| port.trim().parse::<u16>().ok())
                .map(|port| json!(port))
                .collect();
            object["ports"] = json!(ports);
        }
        return (kind, object);
    }
    for name in ["stdin", "stdout", "stderr", "tty"] {
        if flag(name) {
            object[name] = json!(true);
        }
    }
    if let Some(container) = query.get("container") {
        object["container"] = json!(container);
    }
    if sub == "exec"
        && let Some(command) = query.get("command")
    {
        object["command"] = json!([command]);
    }
    (kind, object)
}

pub async fn connect(
    state: &SharedState,
    target: &Target,
    name: &str,
    sub: &str,
    query: &HashMap<String, String>,
    caller: &Caller,
) -> Result<Value, ApiError> {
    current(state, target, name)?;
    let (kind, object) = options(sub, query);
    let attributes = Attributes {
        operation: "CONNECT",
        info: &target.info,
        subresource: sub,
        kind: ("", "v1", kind),
        name,
        namespace: target.namespace.as_deref().unwrap_or(""),
        object: Some(&object),
        old_object: None,
        dry_run: false,
        options: Value::Null,
    };
    admit(state, &attributes, caller).await?;
    Err(ApiError::bad_request(format!(
        "the simulated cluster cannot {sub} pod {name:?}: its containers are simulated, there is nothing to stream"
    )))
}
