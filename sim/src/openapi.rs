//! The OpenAPI v3 documents kubectl downloads before `apply` (`/openapi/v3` and one document
//! per group-version). They declare every served resource's operations, with the
//! `fieldValidation` query parameter on writes so that kubectl delegates validation to the
//! server, and a schema per kind tagged with `x-kubernetes-group-version-kind`.

use axum::Json;
use axum::http::header::CONTENT_TYPE;
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

pub fn serve(state: &SharedState, path: &str, accept: &str) -> Result<Response, ApiError> {
    let path = path.trim_matches('/');
    if path == "v2" {
        return Ok(swagger(accept));
    }
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

/// What kube-apiserver answers `/openapi/v2` in when asked for protobuf (kubectl always is).
const SWAGGER_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

const TITLE: &str = "Kubernetes";
const VERSION: &str = "v1.32.0-sim";

/// `/openapi/v2`: a Swagger 2.0 document without paths or definitions. kubectl validates with
/// it the objects whose group-version the v3 index does not list yet (a custom resource applied
/// in the same command as its CRD) and skips kinds it does not describe, as it does against
/// kube-apiserver; without the document it refuses them with `error validating data ... turn
/// validation off with --validate=false`. kubectl asks for gnostic's protobuf encoding of
/// `openapi_v2.Document`; other clients get JSON.
fn swagger(accept: &str) -> Response {
    if !accept.contains("protobuf") {
        return Json(
            json!({"swagger": "2.0", "info": {"title": TITLE, "version": VERSION}, "paths": {}}),
        )
        .into_response();
    }
    // Document { swagger = 1; info = 2 }, Info { title = 1; version = 2 }.
    let info = [proto_string(1, TITLE), proto_string(2, VERSION)].concat();
    let document = [proto_string(1, "2.0"), proto_field(2, &info)].concat();
    ([(CONTENT_TYPE, SWAGGER_PROTOBUF)], document).into_response()
}

/// A length-delimited protobuf field.
fn proto_field(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    push_varint(&mut out, u64::from(field << 3 | 2));
    push_varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn proto_string(field: u32, text: &str) -> Vec<u8> {
    proto_field(field, text.as_bytes())
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
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

/// An operation. Deliberately no `requestBody`: kubectl (k8s.io/kubectl `apply/patcher.go`)
/// computes client-side apply's strategic merge patch from the OpenAPI v3 schema only when the
/// PATCH operation declares `application/strategic-merge-patch+json`; our schemas carry no
/// `x-kubernetes-patch-merge-key`s, so that patch would replace whole lists. Without it kubectl
/// falls back to its compiled-in Go types (the `patchMergeKey` tags: containers and env by
/// name, ports by containerPort, ...), and to a JSON merge patch for custom resources, which
/// is what it sends to kube-apiserver too.
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
        // A CRD's schema is published as kube-apiserver publishes it (what `kubectl explain`
        // shows); other kinds get a placeholder that accepts anything.
        if let Some(crd) = crate::schema::definition(&state.store, info)
            && let Some(crd_schema) = crate::schema::version_schema(&crd, &info.version)
        {
            schemas.insert(
                schema,
                crate::schema::published::kind_schema(info, crd_schema),
            );
            schemas.insert(
                crate::schema::published::OBJECT_META.into(),
                crate::schema::published::object_meta(),
            );
            continue;
        }
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
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::api::ServerState;
    use crate::catalogue::Catalogue;
    use crate::store::Store;

    fn state() -> SharedState {
        Arc::new(ServerState {
            store: Store::new(10),
            catalogue: Catalogue::default(),
            address: "127.0.0.1:0".into(),
            max_body_bytes: 1 << 20,
            bookmark_interval: std::time::Duration::from_secs(60),
            next_service_ip: AtomicU32::new(1),
            tokens: Default::default(),
            webhook_client: Default::default(),
        })
    }

    #[test]
    fn writes_offer_server_side_field_validation() {
        let document = group_version_document(&state(), "apis/apps/v1").unwrap();
        let post = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"];
        let parameters: Vec<&str> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(parameters.contains(&"fieldValidation"), "{parameters:?}");
        let schema = &document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
    }

    #[test]
    fn no_patch_operation_offers_strategic_merge_so_kubectl_uses_its_own_types() {
        for group_version in ["api/v1", "apis/apps/v1", "apis/batch/v1"] {
            let document = group_version_document(&state(), group_version).unwrap();
            for (path, item) in document["paths"].as_object().unwrap() {
                if let Some(patch) = item.get("patch") {
                    let content = patch
                        .pointer("/requestBody/content/application~1strategic-merge-patch+json");
                    assert!(
                        content.is_none(),
                        "{path} offers strategic merge with schemas lacking merge keys"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn swagger_is_served_as_gnostic_protobuf_to_kubectl() {
        let response = serve(
            &state(),
            "/v2",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], SWAGGER_PROTOBUF);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let mut expected = vec![0x0a, 3];
        expected.extend_from_slice(b"2.0");
        expected.extend_from_slice(&[0x12, 25, 0x0a, 10]);
        expected.extend_from_slice(b"Kubernetes");
        expected.extend_from_slice(&[0x12, 11]);
        expected.extend_from_slice(b"v1.32.0-sim");
        assert_eq!(&body[..], &expected[..]);
        let response = serve(&state(), "/v2", "application/json").unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let document: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(document["swagger"], "2.0");
    }

    #[test]
    fn varints_carry_seven_bits_a_byte() {
        let mut out = Vec::new();
        push_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(proto_field(2, &[7; 200])[..3], [0x12, 0xc8, 0x01]);
    }
}
