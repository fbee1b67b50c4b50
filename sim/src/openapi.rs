//! The OpenAPI v3 documents kubectl downloads before `apply` (`/openapi/v3` and one document
//! per group-version). They declare every served resource's operations, with the
//! `fieldValidation` query parameter on writes so that kubectl delegates validation to the
//! server, and a schema per kind tagged with `x-kubernetes-group-version-kind`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::SharedState;
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;

/// `api/v1` or `apis/apps/v1`, as the v3 index names group-versions.
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub fn serve(state: &SharedState, path: &str) -> Result<Response, ApiError> {
    let path = path.trim_matches('/');
    if path == "v3" {
        return Ok(Json(index(state)).into_response());
    }
    if let Some(group_version) = path.strip_prefix("v3/") {
        let document =
            group_version_document(state, group_version).ok_or_else(ApiError::not_found_path)?;
        return Ok(Json(document).into_response());
    }
    Err(ApiError::not_found_path())
}

fn index(state: &SharedState) -> Value {
    let mut paths = Map::new();
    for (group, versions) in state.catalogue.groups() {
        for version in versions {
            let gv = group_version_path(&group, &version);
            // The hash only needs to change when the document does: the catalogue's shape.
            let hash = fingerprint(&gv, state);
            paths.insert(
                gv.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn fingerprint(group_version: &str, state: &SharedState) -> String {
    let resources: Vec<String> = state
        .catalogue
        .all()
        .iter()
        .filter(|info| group_version_path(&info.group, &info.version) == group_version)
        .map(|info| format!("{}:{}:{}", info.resource, info.kind, info.namespaced))
        .collect();
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in resources.join(",").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3);
    }
    format!("{hash:016X}")
}

/// The schema name kube-apiserver uses for a kind, e.g. `io.k8s.api.apps.v1.Deployment`.
fn schema_name(info: &ResourceInfo) -> String {
    let package = match info.group.as_str() {
        "" => "core".to_string(),
        "apiextensions.k8s.io" => {
            return format!(
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}",
                info.version, info.kind
            );
        }
        group => group.trim_end_matches(".k8s.io").to_string(),
    };
    if info.builtin {
        format!("io.k8s.api.{package}.{}.{}", info.version, info.kind)
    } else {
        let reversed: Vec<&str> = info.group.split('.').rev().collect();
        format!("{}.{}.{}", reversed.join("."), info.version, info.kind)
    }
}

fn operation(info: &ResourceInfo, verb: &str, action: &str, schema: &str, write: bool) -> Value {
    let mut parameters =
        vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if write {
        for name in ["dryRun", "fieldManager", "fieldValidation"] {
            parameters.push(json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}));
        }
    }
    let reference = json!({"$ref": format!("#/components/schemas/{schema}")});
    json!({
        "operationId": format!("{verb}{}", info.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": info.group, "version": info.version, "kind": info.kind},
    })
}

fn group_version_document(state: &SharedState, group_version: &str) -> Option<Value> {
    let resources: Vec<ResourceInfo> = state
        .catalogue
        .all()
        .into_iter()
        .filter(|info| group_version_path(&info.group, &info.version) == group_version)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for info in &resources {
        let schema = schema_name(info);
        let base = format!("/{group_version}");
        let collection = if info.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", info.resource)
        } else {
            format!("{base}/{}", info.resource)
        };
        paths.insert(
            collection.clone(),
            json!({
                "get": operation(info, "list", "list", &schema, false),
                "post": operation(info, "create", "post", &schema, true),
            }),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(info, "read", "get", &schema, false),
                "put": operation(info, "replace", "put", &schema, true),
                "patch": operation(info, "patch", "patch", &schema, true),
                "delete": operation(info, "delete", "delete", &schema, false),
            }),
        );
        schemas.insert(
            schema,
            json!({
                "type": "object",
                "description": format!("{} ({})", info.kind, info.api_version()),
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                },
                "x-kubernetes-preserve-unknown-fields": true,
                "x-kubernetes-group-version-kind": [{"group": info.group, "version": info.version, "kind": info.kind}],
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-sim"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
