//! Discovery: `/version`, `/api`, `/apis`, group and group/version resource lists, as
//! kube-apiserver answers them (the legacy, non-aggregated forms, which kubectl and kube-rs
//! accept when the aggregated ones are not offered), and the OpenAPI documents.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SharedState;
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;

/// The Kubernetes version we emulate: kubectl 1.32 is our reference client.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "32");

pub async fn version() -> Json<Value> {
    let (major, minor) = KUBERNETES_VERSION;
    Json(json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    }))
}

pub async fn core_versions(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address}],
    }))
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{name}/{version}"), "version": version}))
        .collect();
    json!({
        "name": name,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

pub async fn groups(State(state): State<SharedState>) -> Json<Value> {
    let groups: Vec<Value> = state
        .catalogue
        .groups()
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, versions)| group_json(&name, &versions))
        .collect();
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

pub fn group(state: &SharedState, name: &str) -> Result<Response, ApiError> {
    let groups = state.catalogue.groups();
    let (_, versions) = groups
        .iter()
        .find(|(group, _)| group == name && !group.is_empty())
        .ok_or_else(ApiError::not_found_path)?;
    let mut body = group_json(name, versions);
    if let Some(object) = body.as_object_mut() {
        object.insert("kind".into(), json!("APIGroup"));
        object.insert("apiVersion".into(), json!("v1"));
    }
    Ok(Json(body).into_response())
}

const OBJECT_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUBRESOURCE_VERBS: [&str; 3] = ["get", "patch", "update"];

/// The verbs discovery lists for a resource, as kube-apiserver's storage serves them.
fn verbs(info: &ResourceInfo) -> Vec<&'static str> {
    if crate::catalogue::is_create_only(info) {
        return vec!["create"];
    }
    OBJECT_VERBS
        .into_iter()
        .filter(|verb| *verb != "deletecollection" || super::objects::has_delete_collection(info))
        .collect()
}

fn resource_entries(info: &ResourceInfo) -> Vec<Value> {
    let mut entries = vec![json!({
        "name": info.resource,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": verbs(info),
        "shortNames": info.short_names,
        "categories": info.categories,
    })];
    for sub in &info.subresources {
        let entry = match sub.as_str() {
            "scale" => json!({
                "name": format!("{}/scale", info.resource), "singularName": "", "namespaced": info.namespaced,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": SUBRESOURCE_VERBS,
            }),
            "ephemeralcontainers" | "status" => json!({
                "name": format!("{}/{sub}", info.resource), "singularName": "", "namespaced": info.namespaced,
                "kind": info.kind, "verbs": SUBRESOURCE_VERBS,
            }),
            "binding" | "eviction" => json!({
                "name": format!("{}/{sub}", info.resource), "singularName": "", "namespaced": info.namespaced,
                "kind": if sub == "binding" { "Binding" } else { "Eviction" }, "verbs": ["create"],
            }),
            "token" => json!({
                "name": format!("{}/token", info.resource), "singularName": "", "namespaced": info.namespaced,
                "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"],
            }),
            "finalize" => json!({
                "name": format!("{}/finalize", info.resource), "singularName": "", "namespaced": info.namespaced,
                "kind": info.kind, "verbs": ["update"],
            }),
            _ => continue,
        };
        entries.push(entry);
    }
    entries
}

pub fn resources(state: &SharedState, group: &str, version: &str) -> Result<Response, ApiError> {
    let resources: Vec<Value> = state
        .catalogue
        .all()
        .iter()
        .filter(|info| info.group == group && info.version == version)
        .flat_map(resource_entries)
        .collect();
    if resources.is_empty() {
        return Err(ApiError::not_found_path());
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
    .into_response())
}

/// `/openapi/...`: the documents kubectl downloads before `apply`.
pub async fn openapi(state: &SharedState, path: &str, accept: &str) -> Response {
    crate::openapi::serve(state, path, accept).unwrap_or_else(IntoResponse::into_response)
}
