//! The form an answer takes, as the `Accept` header asks for it: the objects themselves, a
//! `meta.k8s.io` Table (what `kubectl get` prints), or only their metadata
//! (`PartialObjectMetadata`, what kube-rs' `get_metadata`, `list_metadata` and
//! `metadata_watcher` read). kube-apiserver's negotiation (`endpoints/handlers/response.go`)
//! takes the first media range of the header it can serve.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::catalogue::ResourceInfo;
use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    Objects,
    /// `as=Table`, at `meta.k8s.io/<version>`.
    Table {
        version: String,
    },
    /// `as=PartialObjectMetadata` (one object, or each watch event's object).
    Metadata {
        version: String,
    },
    /// `as=PartialObjectMetadataList` (a list).
    MetadataList {
        version: String,
    },
}

impl Shape {
    /// The first media range of `accept` the server can answer. Ranges asking for another
    /// group or version (`as=Table;g=meta.k8s.io;v=v2`) are passed over, as kube-apiserver does.
    pub fn from_accept(accept: &str) -> Shape {
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or("");
            let (mut kind, mut group, mut version) = ("", "", "");
            for parameter in parts {
                match parameter.split_once('=') {
                    Some(("as", value)) => kind = value,
                    Some(("g", value)) => group = value,
                    Some(("v", value)) => version = value,
                    _ => {}
                }
            }
            if !matches!(
                media_type,
                "application/json" | "application/yaml" | "application/*" | "*/*" | ""
            ) && !media_type.starts_with("application/vnd.kubernetes.protobuf")
            {
                continue;
            }
            if kind.is_empty() {
                return Shape::Objects;
            }
            if group != "meta.k8s.io" || !matches!(version, "v1" | "v1beta1") {
                continue;
            }
            let version = version.to_string();
            match kind {
                "Table" => return Shape::Table { version },
                "PartialObjectMetadata" => return Shape::Metadata { version },
                "PartialObjectMetadataList" => return Shape::MetadataList { version },
                _ => continue,
            }
        }
        Shape::Objects
    }

    /// `406 NotAcceptable` when a metadata form does not fit what is answered (a list asked for
    /// as one object, or one object as a list), worded as kube-apiserver words it with the
    /// Go type it holds.
    pub fn check(&self, info: &ResourceInfo, is_list: bool) -> Result<(), ApiError> {
        let asked = match self {
            Shape::Metadata { .. } if is_list => "PartialObjectMetadata",
            Shape::MetadataList { .. } if !is_list => "PartialObjectMetadataList",
            _ => return Ok(()),
        };
        let go_type = go_type(info, is_list);
        let message = if is_list {
            format!("you requested {asked}, but the requested object is a list ({go_type})")
        } else {
            format!("you requested {asked}, but the requested object is not a list ({go_type})")
        };
        Err(ApiError::new(406, "NotAcceptable", message))
    }
}

impl Shape {
    /// One object in this shape; `None` for the object itself.
    pub fn one(&self, info: &ResourceInfo, object: &Arc<Value>) -> Option<Value> {
        match self {
            Shape::Table { version } => {
                let mut table =
                    crate::table::table(info, std::slice::from_ref(object), None, version);
                // A one-object Table carries that object's version.
                if let Some(rv) = object.pointer("/metadata/resourceVersion") {
                    table["metadata"] = json!({"resourceVersion": rv});
                }
                Some(table)
            }
            Shape::Metadata { version } => Some(partial_metadata(object, version)),
            Shape::Objects | Shape::MetadataList { .. } => None,
        }
    }

    /// A list in this shape, with the list's `metadata`; `None` for the usual `<Kind>List`.
    pub fn list(
        &self,
        info: &ResourceInfo,
        items: &[Arc<Value>],
        metadata: Value,
    ) -> Option<Value> {
        match self {
            Shape::Table { version } => {
                let mut table = crate::table::table(info, items, None, version);
                table["metadata"] = metadata;
                Some(table)
            }
            Shape::MetadataList { version } => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|object| partial_metadata(object, version))
                    .collect();
                Some(json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": format!("meta.k8s.io/{version}"),
                    "metadata": metadata,
                    "items": items,
                }))
            }
            Shape::Objects | Shape::Metadata { .. } => None,
        }
    }
}

/// The Go type kube-apiserver names in its 406: the internal type of a built-in kind
/// (`*core.ServiceAccount`, `*apps.DeploymentList`), `*unstructured.Unstructured` for custom
/// resources.
fn go_type(info: &ResourceInfo, is_list: bool) -> String {
    let list = if is_list { "List" } else { "" };
    if !info.builtin {
        return format!("*unstructured.Unstructured{list}");
    }
    let package = match info.group.as_str() {
        "" => "core",
        group => group.split('.').next().unwrap_or(group),
    };
    format!("*{package}.{}{list}", info.kind)
}

/// One object as `PartialObjectMetadata`: its whole `metadata`, nothing else.
pub fn partial_metadata(object: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn the_first_range_served_wins() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            Shape::from_accept(kubectl),
            Shape::Table {
                version: "v1".into()
            }
        );
        assert_eq!(
            Shape::from_accept("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
            Shape::Metadata {
                version: "v1".into()
            }
        );
        assert_eq!(
            Shape::from_accept(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1"
            ),
            Shape::MetadataList {
                version: "v1beta1".into()
            }
        );
        assert_eq!(
            Shape::from_accept("application/json;as=Table;g=meta.k8s.io;v=v9, application/json"),
            Shape::Objects
        );
        assert_eq!(Shape::from_accept(""), Shape::Objects);
    }

    #[test]
    fn a_list_is_not_one_object() {
        let catalogue = Catalogue::default();
        let accounts = catalogue.get("", "v1", "serviceaccounts").unwrap();
        let error = Shape::Metadata {
            version: "v1".into(),
        }
        .check(&accounts, true)
        .unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (
                406,
                "you requested PartialObjectMetadata, but the requested object is a list (*core.ServiceAccountList)"
            )
        );
        let deployments = catalogue.get("apps", "v1", "deployments").unwrap();
        let error = Shape::MetadataList {
            version: "v1".into(),
        }
        .check(&deployments, false)
        .unwrap_err();
        assert_eq!(
            error.message,
            "you requested PartialObjectMetadataList, but the requested object is not a list (*apps.Deployment)"
        );
    }
}
