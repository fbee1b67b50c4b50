//! Lists: label and field selectors (shared with watches and deletecollection), and
//! `limit`/`continue` paging, whose token is the namespace/name the next page starts after.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::objects::{Served, json_response};
use super::shape::Shape;
use super::{SharedState, Target};
use crate::selectors::{FieldQuery, LabelSelector};
use crate::status::ApiError;

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The selectors of a list or watch request.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldQuery,
}

impl Filter {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Filter, ApiError> {
        // labels.Parse's error is the whole message, as kube-apiserver answers it.
        let labels =
            LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))
                .map_err(ApiError::bad_request)?;
        let fields =
            FieldQuery::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))
                .map_err(ApiError::bad_request)?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(&labels_of(object)) && self.fields.matches(object)
    }
}

pub(super) fn list(
    state: &SharedState,
    target: &Target,
    query: &HashMap<String, String>,
    accept: &str,
) -> Result<Response, ApiError> {
    Shape::from_accept(accept).check(&target.info, true)?;
    let filter = Filter::from_query(query)?;
    let (items, resource_version) = state.store.list(
        &target.info.group,
        &target.info.resource,
        target.namespace.as_deref(),
    );
    let mut items: Vec<Arc<Value>> = items
        .into_iter()
        .filter(|object| filter.matches(object))
        .collect();
    // `limit`/`continue`: the token is the namespace/name the next page starts after.
    let after = query
        .get("continue")
        .filter(|token| !token.is_empty())
        .map(|token| decode_continue(token))
        .transpose()?;
    if let Some(after) = &after {
        items.retain(|object| object_position(object) > *after);
    }
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit > 0);
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if let Some(limit) = limit
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            metadata["continue"] = json!(encode_continue(&object_position(last)));
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    if let Some(answer) = Shape::from_accept(accept).list(&target.info, &items, metadata.clone()) {
        return Ok(Json(answer).into_response());
    }
    let api_version = target.info.api_version();
    let items: Vec<Served<'_>> = items
        .iter()
        .map(|object| Served {
            object,
            api_version: &api_version,
        })
        .collect();
    #[derive(serde::Serialize)]
    struct List<'a> {
        kind: String,
        #[serde(rename = "apiVersion")]
        api_version: &'a str,
        metadata: Value,
        items: Vec<Served<'a>>,
    }
    json_response(&List {
        kind: format!("{}List", target.info.kind),
        api_version: &api_version,
        metadata,
        items,
    })
}

fn object_position(object: &Value) -> (String, String) {
    let field = |name: &str| {
        object
            .pointer(&format!("/metadata/{name}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (field("namespace"), field("name"))
}

fn encode_continue(position: &(String, String)) -> String {
    let raw = json!([position.0, position.1]).to_string();
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        })
        .collect();
    let bytes = bytes.ok_or_else(invalid)?;
    let (namespace, name): (String, String) =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok((namespace, name))
}
