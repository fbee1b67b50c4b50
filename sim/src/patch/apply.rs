//! Server-side apply (`application/apply-patch+yaml`): `kubectl apply --server-side`, kube-rs
//! `Patch::Apply`.
//!
//! What it does, following kube-apiserver's field manager and structured-merge-diff:
//! - the body is the whole intended object (YAML or JSON); its `apiVersion`/`kind` must be the
//!   resource's (400 `invalid object type: apps/v1, Kind=Deployment` otherwise) and it may not
//!   carry `metadata.managedFields`;
//! - with no stored object it creates one from the configuration;
//! - otherwise it merges the configuration into the object (keyed lists by their
//!   `+listMapKey`s, sets as sets, other lists whole; custom resources: objects merge, lists are
//!   replaced), then removes what this manager applied last time and no longer applies, unless
//!   another manager owns it;
//! - a field the merge changes that another manager owns is a conflict (409, listing the
//!   fields) unless `force`, which moves the field to this manager. For the manager `kubectl`,
//!   fields that only `kubectl.kubernetes.io/last-applied-configuration` claims (client-side
//!   apply's record) are not conflicts, and that annotation is kept in sync, as upstream does
//!   to let `kubectl apply --server-side` take over from client-side apply;
//! - an object stored without managed fields is first attributed to `before-first-apply`;
//! - `metadata.managedFields` gets this manager's `Apply` entry (`fieldsV1`, `time` when the
//!   object changed).
//!
//! Simplifications: one API version per resource (no conversion of entries written at another
//! version), no cap on the number of `Update` managers, status is not reset for the main
//! resource (the caller owns that), apply to subresources is not modelled, and objects that are
//! maps (labels, `data`) are treated like structs, which changes nothing but `fieldsV1` of
//! custom resources with `x-kubernetes-preserve-unknown-fields`.

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, path_string};
use super::managed_fields::{self, APPLY, Entry};
use super::merge_keys::{Type, root_type};
use super::{PatchError, PatchRequest, PatchTarget, typed};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The manager whose apply honours and refreshes client-side apply's annotation.
const KUBECTL: &str = "kubectl";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Fields that another manager owns and the apply would change.
type Conflicts = Vec<(Entry, FieldSet)>;

pub(crate) fn apply(
    target: &PatchTarget<'_>,
    current: Option<&Value>,
    request: &PatchRequest<'_>,
    manager: &str,
) -> Result<Value, PatchError> {
    let config = parse(request.body)?;
    check_type(target, &config)?;
    let ty = root_type(target.api_version, target.kind, target.builtin);
    let run = |force| apply_once(target, current, &config, ty, manager, force, request);

    let mut object = match run(request.force)? {
        Ok(object) => object,
        Err(conflicts) => {
            let allowed = match current {
                Some(live) if manager == KUBECTL => allowed_by_last_applied(live, ty),
                _ => None,
            };
            let Some(allowed) = allowed else {
                return Err(conflict_error(conflicts));
            };
            let remaining: Conflicts = conflicts
                .into_iter()
                .map(|(entry, fields)| {
                    let left = fields.difference(&allowed);
                    (entry, left)
                })
                .filter(|(_, fields)| !fields.is_empty())
                .collect();
            if !remaining.is_empty() {
                return Err(conflict_error(remaining));
            }
            match run(true)? {
                Ok(object) => object,
                Err(conflicts) => return Err(conflict_error(conflicts)),
            }
        }
    };
    if manager == KUBECTL {
        sync_last_applied(&mut object, &config);
    }
    Ok(object)
}

/// YAML (or JSON, which is YAML) into an object; `null` or an empty body is an empty object.
fn parse(body: &[u8]) -> Result<Value, PatchError> {
    let bad = |error: &dyn std::fmt::Display| {
        PatchError::BadRequest(format!("error decoding YAML: {error}"))
    };
    let text = std::str::from_utf8(body).map_err(|error| bad(&error))?;
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) if text.trim().is_empty() => Value::Null,
        Err(_) => serde_saphyr::from_str(text).map_err(|error| bad(&error))?,
    };
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(bad(&format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go \
             value of type map[string]interface {{}}",
            match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Bool(_) => "bool",
                _ => "number",
            }
        ))),
    }
}

/// fieldmanager's version check, then the managedFields check.
fn check_type(target: &PatchTarget<'_>, config: &Value) -> Result<(), PatchError> {
    let text = |pointer: &str| {
        config
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (api_version, kind) = (text("/apiVersion"), text("/kind"));
    if api_version != target.api_version || kind != target.kind {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        return Err(PatchError::BadRequest(format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|fields| !fields.is_null())
    {
        return Err(PatchError::BadRequest(
            "metadata.managedFields must be nil".to_owned(),
        ));
    }
    Ok(())
}

fn typed_error(error: String) -> PatchError {
    PatchError::BadRequest(format!("failed to create typed patch object: {error}"))
}

/// One structured-merge-diff `Updater.Apply`: the new object, or the conflicts.
fn apply_once(
    target: &PatchTarget<'_>,
    current: Option<&Value>,
    config: &Value,
    ty: &'static Type,
    manager: &str,
    force: bool,
    request: &PatchRequest<'_>,
) -> Result<Result<Value, Conflicts>, PatchError> {
    let live = current
        .map(managed_fields::without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut entries = current.map(managed_fields::decode).unwrap_or_default();
    if current.is_some() && entries.is_empty() {
        // An object nobody tracked yet: what is in it belongs to `before-first-apply`.
        let zero = managed_fields::zero_object(&live, target.builtin);
        entries = managed_fields::update_entries(
            entries,
            &zero,
            &live,
            ty,
            BEFORE_FIRST_APPLY,
            target.api_version,
            request.now,
        )
        .map_err(typed_error)?;
    }

    let mut merged = typed::merge(&live, config, ty).map_err(typed_error)?;
    let applied = typed::field_set(config, ty).map_err(typed_error)?;
    let own_at = match entries.iter().position(|e| e.is(manager, APPLY, "")) {
        Some(at) => at,
        None => {
            entries.push(Entry::new(manager, APPLY, target.api_version));
            entries.len() - 1
        }
    };
    let last = std::mem::replace(&mut entries[own_at].fields, applied);
    entries[own_at].api_version = target.api_version.to_owned();

    // Prune: what this manager applied last time and nobody (this apply included) claims now.
    if !last.is_empty() {
        let claimed = entries
            .iter()
            .fold(FieldSet::new(), |all, entry| all.union(&entry.fields))
            .with_named_ancestors();
        let disowned = last.with_named_ancestors().difference(&claimed);
        typed::remove(&mut merged, &disowned, ty);
    }

    let comparison = typed::compare(&live, &merged, ty).map_err(typed_error)?;
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts: Conflicts = Vec::new();
    for (at, entry) in entries.iter().enumerate() {
        let overlap = entry.fields.intersection(&changed);
        if at != own_at && !overlap.is_empty() {
            conflicts.push((entry.clone(), overlap));
        }
    }
    if !force && !conflicts.is_empty() {
        return Ok(Err(conflicts));
    }
    for (at, entry) in entries.iter_mut().enumerate() {
        if at != own_at {
            entry.fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
        }
    }
    managed_fields::strip_meta(&mut entries[own_at].fields);
    if current.is_none() || merged != live {
        entries[own_at].time = Some(managed_fields::format_time(request.now));
    }

    drop_nulls(&mut merged);
    if let Some(object) = merged.as_object_mut() {
        object.insert(
            "apiVersion".to_owned(),
            Value::String(target.api_version.to_owned()),
        );
        object.insert("kind".to_owned(), Value::String(target.kind.to_owned()));
    }
    managed_fields::store(&mut merged, entries);
    Ok(Ok(merged))
}

/// A `null` in a configuration unsets the field: the typed object has no value for it.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, child| !child.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// fieldmanager `lastAppliedManager`: the fields of the last-applied annotation whose values the
/// object still has may be taken over without `force`.
fn allowed_by_last_applied(live: &Value, ty: &'static Type) -> Option<FieldSet> {
    let text = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|text| !text.is_empty())?;
    let last: Value = serde_json::from_str(text).ok()?;
    let live = managed_fields::without_managed_fields(live);
    let set = typed::field_set(&last, ty).ok()?;
    let comparison = typed::compare(&last, &live, ty).ok()?;
    Some(
        set.difference(&comparison.modified)
            .difference(&comparison.added)
            .difference(&comparison.removed),
    )
}

/// fieldmanager `lastAppliedUpdater`: when the object carries client-side apply's annotation,
/// `kubectl`'s server-side apply rewrites it to the applied configuration.
fn sync_last_applied(object: &mut Value, config: &Value) {
    let has = object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(LAST_APPLIED))
        .is_some();
    if !has {
        return;
    }
    let mut recorded = config.clone();
    if let Some(annotations) = recorded
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
    }
    let text = format!("{recorded}\n");
    if let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED.to_owned(), Value::String(text));
    }
}

/// fieldmanager `NewConflictError`: one line per field, managers sorted.
fn conflict_error(mut conflicts: Conflicts) -> PatchError {
    conflicts.sort_by(|(a, _), (b, _)| {
        (&a.manager, &a.operation, &a.api_version).cmp(&(&b.manager, &b.operation, &b.api_version))
    });
    let mut fields = Vec::new();
    let mut lines = Vec::new();
    for (entry, set) in &conflicts {
        lines.push(format!("conflicts with {}:", entry.describe()));
        for path in set.ordered() {
            let path = path_string(&path);
            lines.push(format!("- {path}"));
            fields.push((entry.manager.clone(), path));
        }
    }
    let message = match (conflicts.as_slice(), fields.as_slice()) {
        ([(entry, _)], [(_, path)]) => format!(
            "Apply failed with 1 conflict: conflict with {}: {path}",
            entry.describe()
        ),
        _ => format!(
            "Apply failed with {} conflicts: {}",
            fields.len(),
            lines.join("\n")
        ),
    };
    PatchError::Conflict { message, fields }
}
