//! A CRD version's schema as kube-apiserver publishes it in its OpenAPI v3 group-version
//! document (apiextensions-apiserver `controller/openapi/builder`): the `openAPIV3Schema` with
//! `apiVersion`, `kind` and `metadata` (a reference to ObjectMeta) added, tagged with its
//! group-version-kind. `kubectl explain` reads it from there.

use serde_json::{Value, json};

use crate::catalogue::ResourceInfo;

pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

const API_VERSION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The published schema of the kind `info` serves, from the version's `openAPIV3Schema`.
pub fn kind_schema(info: &ResourceInfo, schema: &Value) -> Value {
    let mut published = schema.clone();
    if let Some(map) = published.as_object_mut() {
        let properties = map.entry("properties").or_insert_with(|| json!({}));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert(
                "apiVersion".into(),
                json!({"description": API_VERSION, "type": "string"}),
            );
            properties.insert(
                "kind".into(),
                json!({"description": KIND, "type": "string"}),
            );
            properties.insert(
                "metadata".into(),
                json!({"description": METADATA, "allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}]}),
            );
        }
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": info.group, "version": info.version, "kind": info.kind}]),
        );
    }
    published
}

/// ObjectMeta as far as the simulator describes it: its description, without its fields (their
/// schemas are not on hand), so `kubectl explain <kind>.metadata` names the type but lists no
/// fields.
pub fn object_meta() -> Value {
    json!({
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
