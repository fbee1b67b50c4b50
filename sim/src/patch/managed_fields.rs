//! `metadata.managedFields`: who owns which fields. Read and written the way kube-apiserver's
//! field manager does (k8s.io/apiserver `pkg/endpoints/handlers/fieldmanager`): one entry per
//! manager and operation (`Apply` entries per manager, `Update` entries per manager and API
//! version), `fieldsType: FieldsV1`, sorted by operation, time, manager.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::PatchTarget;
use super::fieldpath::{FieldSet, Path, PathElement};
use super::merge_keys::{Type, root_type};
use super::typed;

pub(crate) const APPLY: &str = "Apply";
pub(crate) const UPDATE: &str = "Update";

/// One `managedFields` entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    pub(crate) fn new(manager: &str, operation: &str, api_version: &str) -> Entry {
        Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: api_version.to_owned(),
            time: None,
            subresource: String::new(),
            fields: FieldSet::new(),
        }
    }

    /// Whether this is the entry of `manager` for `operation` on the main resource. An applier
    /// has one entry whatever the version; an updater has one per version.
    pub(crate) fn is(&self, manager: &str, operation: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.is_empty()
            && (operation == APPLY || self.api_version == api_version)
    }

    /// The manager as conflict messages name it (fieldmanager `printManager`): the time is never
    /// part of a manager's identity, so an updater reads `"name" using apps/v1`.
    pub(crate) fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// The entries stored in an object; entries that cannot be read are skipped.
pub(crate) fn decode(object: &Value) -> Vec<Entry> {
    let Some(Value::Array(items)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
            let fields = match item.get("fieldsV1") {
                Some(fields) => FieldSet::from_fields_v1(fields)?,
                None => FieldSet::new(),
            };
            Some(Entry {
                manager: text("manager").to_owned(),
                operation: text("operation").to_owned(),
                api_version: text("apiVersion").to_owned(),
                time: item.get("time").and_then(Value::as_str).map(str::to_owned),
                subresource: text("subresource").to_owned(),
                fields,
            })
        })
        .collect()
}

/// Writes the entries into `object`'s metadata, sorted as kube-apiserver sorts them; entries
/// that own nothing are dropped, and so is the field when none is left.
pub(crate) fn store(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let encoded: Vec<Value> = entries.iter().map(encode_entry).collect();
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        if encoded.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".to_owned(), Value::Array(encoded));
        }
    }
}

fn encode_entry(entry: &Entry) -> Value {
    let mut out = json!({
        "manager": entry.manager,
        "operation": entry.operation,
        "apiVersion": entry.api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": entry.fields.to_fields_v1(),
    });
    if let Some(map) = out.as_object_mut() {
        if let Some(time) = &entry.time {
            map.insert("time".to_owned(), Value::String(time.clone()));
        }
        if !entry.subresource.is_empty() {
            map.insert(
                "subresource".to_owned(),
                Value::String(entry.subresource.clone()),
            );
        }
    }
    out
}

/// `metav1.Time`: RFC 3339 in UTC, whole seconds.
pub(crate) fn format_time(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The object without `metadata.managedFields`: what ownership is computed on.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    out
}

/// Fields nobody owns: kube-apiserver's `stripMetaManager` drops them from the entry it writes.
pub(crate) fn strip_meta(fields: &mut FieldSet) {
    let field =
        |names: &[&str]| -> Path { names.iter().map(|name| PathElement::field(name)).collect() };
    fields.remove(&field(&["apiVersion"]));
    fields.remove(&field(&["kind"]));
    fields.remove(&field(&["metadata"]));
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        fields.remove(&field(&["metadata", name]));
    }
}

/// The Go zero value of a built-in kind, as far as it matters: the fields that exist in an empty
/// object (non-pointer structs, and `containers`, which has no `omitempty` and so is `null`), so
/// that creating an object does not count them as added. A custom resource's zero value is empty.
pub(crate) fn zero_object(object: &Value, builtin: bool) -> Value {
    fn skeleton(object: &Value, shape: &Value) -> Value {
        let mut out = Map::new();
        if let (Some(object), Some(shape)) = (object.as_object(), shape.as_object()) {
            for (name, inner) in shape {
                match object.get(name) {
                    Some(child) if child.is_object() && inner.is_object() => {
                        out.insert(name.clone(), skeleton(child, inner));
                    }
                    Some(_) if inner.is_null() => {
                        out.insert(name.clone(), Value::Null);
                    }
                    _ => {}
                }
            }
        }
        Value::Object(out)
    }
    if !builtin {
        return json!({});
    }
    let pod_template = json!({"metadata": {}, "spec": {"containers": null}});
    let shape = json!({
        "metadata": {},
        "spec": {
            "containers": null,
            "template": pod_template,
            "jobTemplate": {"metadata": {}, "spec": {"template": pod_template}},
            "strategy": {},
            "updateStrategy": {},
        },
        "status": {},
    });
    skeleton(object, &shape)
}

/// Ownership after a non-apply write (fieldmanager `Update`): the fields the write changed move
/// to `manager`'s `Update` entry, and go from every other entry; removed fields go from all.
pub(crate) fn update_entries(
    mut entries: Vec<Entry>,
    old: &Value,
    new: &Value,
    ty: &'static Type,
    manager: &str,
    api_version: &str,
    now: Timestamp,
) -> Result<Vec<Entry>, String> {
    let comparison = typed::compare(old, new, ty)?;
    let mut changed = comparison.modified.union(&comparison.added);
    for entry in &mut entries {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    strip_meta(&mut changed);
    let position = entries
        .iter()
        .position(|entry| entry.is(manager, UPDATE, api_version));
    let own = match position {
        Some(at) => &mut entries[at],
        None => {
            entries.push(Entry::new(manager, UPDATE, api_version));
            let last = entries.len() - 1;
            &mut entries[last]
        }
    };
    if !changed.is_empty() {
        own.fields = own.fields.union(&changed);
        own.time = Some(format_time(now));
    }
    entries.retain(|entry| !entry.fields.is_empty());
    Ok(entries)
}

/// Records a create, update or non-apply patch by `field_manager` in `new`'s
/// `metadata.managedFields`, as kube-apiserver does on every write. `old` is the stored object
/// (`None` for a create). An existing object that has no managed fields stays untracked, and a
/// write that cannot be tracked drops the field, both as upstream does.
pub fn record_managed_fields(
    target: &PatchTarget<'_>,
    old: Option<&Value>,
    new: &mut Value,
    field_manager: &str,
    now: Timestamp,
) {
    let ty = root_type(target.api_version, target.kind, target.builtin);
    // A client may write managedFields itself; otherwise they carry over from the stored object.
    let mut entries = decode(new);
    if entries.is_empty() {
        entries = old.map(decode).unwrap_or_default();
    }
    let fresh = without_managed_fields(new);
    if old.is_some() && entries.is_empty() {
        *new = fresh;
        return;
    }
    let live = match old {
        Some(old) => without_managed_fields(old),
        None => zero_object(&fresh, target.builtin),
    };
    let updated = update_entries(
        entries,
        &live,
        &fresh,
        ty,
        field_manager,
        target.api_version,
        now,
    );
    *new = fresh;
    if let Ok(entries) = updated {
        store(new, entries);
    }
}
