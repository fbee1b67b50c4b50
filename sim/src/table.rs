//! `meta.k8s.io` Tables: what `kubectl get` prints. kube-apiserver renders the columns
//! server-side (kubectl asks with `Accept: ...;as=Table`), always with the `-o wide` ones
//! (priority 1), which kubectl hides unless asked. Built-in kinds get the columns of
//! kube-apiserver's printers (`pkg/printers/internalversion`), with their definitions exactly as
//! it sends them (`table/columns.json`, captured from kube-apiserver v1.32); kinds without a
//! printer get its default `Name`/`Created At`; custom resources their
//! `additionalPrinterColumns`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::api::shape::partial_metadata;
use crate::catalogue::ResourceInfo;
use crate::selectors::LabelSelector;

mod cluster_policy;
mod core_kinds;
mod pod_status;
mod routing;
mod volumes;
mod workloads;

/// The cells of one object's row, given the current time (for ages).
type Cells = fn(&Value, Timestamp) -> Vec<Value>;

/// kube-apiserver's column definitions, by `group/resource` (`default` for kinds without a
/// printer).
static COLUMNS: LazyLock<HashMap<String, Vec<Value>>> =
    LazyLock::new(|| serde_json::from_str(include_str!("table/columns.json")).unwrap_or_default());

fn columns(key: &str) -> Vec<Value> {
    COLUMNS.get(key).cloned().unwrap_or_default()
}

/// The cells of a built-in kind with a printer.
fn builtin_cells(group: &str, resource: &str) -> Option<Cells> {
    core_kinds::cells(group, resource)
        .or_else(|| workloads::cells(group, resource))
        .or_else(|| cluster_policy::cells(group, resource))
        .or_else(|| volumes::cells(group, resource))
        .or_else(|| routing::cells(group, resource))
}

pub(crate) fn text(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn count(object: &Value, pointer: &str) -> usize {
    match object.pointer(pointer) {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(map)) => map.len(),
        _ => 0,
    }
}

pub(crate) fn none_if_empty(value: String) -> String {
    if value.is_empty() {
        "<none>".into()
    } else {
        value
    }
}

/// kube's `duration.HumanDuration`: `45s`, `5m`, `3h`, `2d`, `3y`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < 0 {
        return "<invalid>".into();
    }
    match seconds {
        s if s < 60 * 2 => format!("{s}s"),
        s if s < 60 * 10 => {
            let (m, s) = (s / 60, s % 60);
            if s == 0 {
                format!("{m}m")
            } else {
                format!("{m}m{s}s")
            }
        }
        s if s < 60 * 60 * 3 => format!("{}m", s / 60),
        s if s < 60 * 60 * 8 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h}h")
            } else {
                format!("{h}h{m}m")
            }
        }
        s if s < 60 * 60 * 48 => format!("{}h", s / 3600),
        s if s < 60 * 60 * 24 * 8 => {
            let (d, h) = (s / 86400, (s % 86400) / 3600);
            if h == 0 {
                format!("{d}d")
            } else {
                format!("{d}d{h}h")
            }
        }
        s if s < 60 * 60 * 24 * 365 * 2 => format!("{}d", s / 86400),
        s => format!("{}y", s / (86400 * 365)),
    }
}

/// `translateTimestampSince`: the age of the timestamp at `pointer`, `<unknown>` without one.
pub(crate) fn age(object: &Value, pointer: &str, now: Timestamp) -> String {
    match text(object, pointer).parse::<Timestamp>() {
        Ok(then) => human_duration(now.as_second() - then.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

/// `layoutContainerCells`: the containers' names and images, comma-separated.
pub(crate) fn container_cells(object: &Value, containers: &str) -> (String, String) {
    let containers = object
        .pointer(containers)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let field = |name: &str| {
        containers
            .iter()
            .map(|container| text(container, &format!("/{name}")))
            .collect::<Vec<_>>()
            .join(",")
    };
    (field("name"), field("image"))
}

/// `labels.FormatLabels`: `k=v,k2=v2` in key order, `<none>` when empty.
pub(crate) fn format_labels(object: &Value, pointer: &str) -> String {
    let pairs: Vec<String> = object
        .pointer(pointer)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or("")))
        .collect();
    none_if_empty(pairs.join(","))
}

/// `LabelSelectorAsSelector(...).String()`: requirements in key order (`app=web`, `tier in
/// (a,b)`, `tier notin (a)`, `tier`, `!tier`), values sorted; `""` for none or an empty
/// selector; `None` when the selector is not valid.
pub(crate) fn selector_string(selector: Option<&Value>) -> Option<String> {
    let selector = selector.unwrap_or(&Value::Null);
    LabelSelector::from_value(selector).ok()?;
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        requirements.push((
            key.clone(),
            format!("{key}={}", value.as_str().unwrap_or("")),
        ));
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = text(expression, "/key");
        let mut values: Vec<String> = expression
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|value| value.as_str().map(str::to_string))
            .collect();
        values.sort();
        let printed = match text(expression, "/operator").as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        };
        requirements.push((key, printed));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, printed)| printed)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `metav1.FormatLabelSelector`: the selector's string, `<none>` when empty, `<error>` when
/// it is not valid.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Some(printed) => none_if_empty(printed),
        None => "<error>".into(),
    }
}

/// The Table for `objects` of a resource, at `meta.k8s.io/<version>`. `now` defaults to the
/// current time (ages).
pub fn table(
    info: &ResourceInfo,
    objects: &[Arc<Value>],
    now: Option<Timestamp>,
    version: &str,
) -> Value {
    let now = now.unwrap_or_else(Timestamp::now);
    let (definitions, cells): (Vec<Value>, RowCells) = if !info.builtin {
        custom_resource_columns(info, now)
    } else if let Some(cells) = builtin_cells(&info.group, &info.resource) {
        (
            columns(&format!("{}/{}", info.group, info.resource)),
            Box::new(move |object| cells(object, now)),
        )
    } else {
        // rest.NewDefaultTableConvertor: the creation time as RFC 3339, not an age.
        (
            columns("default"),
            Box::new(|object| {
                let created = text(object, "/metadata/creationTimestamp");
                let created = if created.is_empty() {
                    "0001-01-01T00:00:00Z".to_string()
                } else {
                    created
                };
                vec![json!(text(object, "/metadata/name")), json!(created)]
            }),
        )
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| json!({"cells": cells(object), "object": partial_metadata(object, version)}))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": {},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// A simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`) for printer columns.
fn json_path(object: &Value, path: &str) -> Value {
    let mut current = object;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        let (field, index) = match part.split_once('[') {
            Some((field, rest)) => (field, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        current = match current.get(field) {
            Some(value) => value,
            None => return Value::Null,
        };
        if let Some(index) = index {
            current = match current.get(index) {
                Some(value) => value,
                None => return Value::Null,
            };
        }
    }
    current.clone()
}

type RowCells = Box<dyn Fn(&Value) -> Vec<Value>>;

/// A custom resource's columns: Name, then its `additionalPrinterColumns`, or Age when it
/// declares none (apiextensions-apiserver's table convertor).
fn custom_resource_columns(info: &ResourceInfo, now: Timestamp) -> (Vec<Value>, RowCells) {
    let printer = info.printer_columns.clone();
    let default_columns = columns("default");
    let mut definitions: Vec<Value> = default_columns.first().cloned().into_iter().collect();
    for column in &printer {
        definitions.push(json!({
            "name": column.get("name").cloned().unwrap_or(json!("")),
            "type": column.get("type").cloned().unwrap_or(json!("string")),
            "format": column.get("format").cloned().unwrap_or(json!("")),
            "description": column.get("description").cloned().unwrap_or(json!("")),
            "priority": column.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    let show_age = printer.is_empty();
    if show_age {
        definitions.push(
            json!({"name": "Age", "type": "date", "format": "", "description": "", "priority": 0}),
        );
    }
    let cells = move |object: &Value| {
        let mut cells = vec![json!(text(object, "/metadata/name"))];
        for column in &printer {
            let path = column.get("jsonPath").and_then(Value::as_str).unwrap_or("");
            let value = json_path(object, path);
            let is_date = column.get("type").and_then(Value::as_str) == Some("date");
            cells.push(match value {
                Value::String(ref s) if is_date => match s.parse::<Timestamp>() {
                    Ok(then) => json!(human_duration(now.as_second() - then.as_second())),
                    Err(_) => value,
                },
                Value::Null => json!("<none>"),
                other => other,
            });
        }
        if show_age {
            cells.push(json!(age(object, "/metadata/creationTimestamp", now)));
        }
        cells
    };
    (definitions, Box::new(cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn ages_read_like_kubectls() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn every_printed_kind_has_kube_apiservers_column_definitions() {
        for key in COLUMNS.keys().filter(|key| *key != "default") {
            let (group, resource) = key.split_once('/').unwrap();
            assert!(builtin_cells(group, resource).is_some(), "{key}");
        }
        assert_eq!(COLUMNS["default"].len(), 2);
    }

    #[test]
    fn selectors_print_as_labels_selector_strings() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "Exists"}]});
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=web,!env,tier in (a,b),zone"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Bad"}]})
            )),
            "<error>"
        );
    }

    #[test]
    fn kinds_without_a_printer_show_their_creation_time() {
        let info = Catalogue::default()
            .get("rbac.authorization.k8s.io", "v1", "roles")
            .unwrap();
        let role = Arc::new(
            json!({"metadata": {"name": "r", "creationTimestamp": "2026-11-26T11:55:00Z"}}),
        );
        let table = table(&info, &[role], None, "v1");
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["r", "2026-11-26T11:55:00Z"])
        );
        assert_eq!(table["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(table["columnDefinitions"][1]["type"], "date");
    }

    #[test]
    fn custom_resources_use_their_printer_columns() {
        let mut info = Catalogue::default()
            .get("apps", "v1", "deployments")
            .unwrap();
        info.builtin = false;
        info.group = "example.com".into();
        info.printer_columns =
            vec![json!({"name": "Order", "type": "number", "jsonPath": ".spec.order"})];
        let table = table(
            &info,
            &[Arc::new(
                json!({"metadata": {"name": "p"}, "spec": {"order": 10}}),
            )],
            None,
            "v1",
        );
        assert_eq!(table["rows"][0]["cells"], json!(["p", 10]));
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
    }
}
