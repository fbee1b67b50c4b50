//! Strategic merge patch (`application/strategic-merge-patch+json`) as kube-apiserver applies it:
//! k8s.io/apimachinery `strategicpatch.StrategicMergeMapPatch` with `MergeParallelList` and
//! `IgnoreUnmatchedNulls`, reading merge keys from [`super::merge_keys`].
//!
//! Directives: `$patch: replace|delete` on maps and list items, `$retainKeys`,
//! `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`. Lists are ordered as upstream
//! does it: the items the patch names in patch (or `$setElementOrder`) order, interleaved with the
//! server-only items in their live order; new items come before server-only items that follow.

use serde_json::{Map, Value};

use super::PatchError;
use super::merge_keys::{Field, ListKind, Type};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies `patch` (the request body, already parsed) to `original`.
pub(crate) fn apply(
    original: &Value,
    patch: Value,
    root: &'static Type,
) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(map) => map,
        // Go decodes `null` into the empty map it was given: nothing to do.
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_kind(&other)
            )));
        }
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch, Some(root)).map(Value::Object)
}

fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// kube-apiserver answers most merge failures with a plain error (500); a malformed patch is the
/// client's fault, so the emulator reports them as 400 with upstream's wording.
fn bad(message: impl Into<String>) -> PatchError {
    PatchError::BadRequest(message.into())
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    bad(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// The merge semantics of a field: how its list merges and what its items or value are.
#[derive(Clone, Copy)]
struct Meta {
    list: ListKind,
    ty: Option<&'static Type>,
}

fn lookup(ty: Option<&'static Type>, name: &str) -> Meta {
    match ty.and_then(|ty| ty.field(name)) {
        Some(Field::Object(ty)) => Meta {
            list: ListKind::Atomic,
            ty: Some(ty),
        },
        Some(Field::List { smp, item, .. }) => Meta {
            list: smp,
            ty: item,
        },
        None => Meta {
            list: ListKind::Atomic,
            ty: None,
        },
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Option<&'static Type>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(clean_map(patch)),
            Some("delete") => Ok(Map::new()),
            _ => Err(bad(format!(
                "unknown patch type: {directive} in map: {}",
                Value::Object(patch)
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty)?;

    for (key, patch_value) in patch {
        let (name, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(name) => (name.to_owned(), true),
                None => return Err(bad("invalid patch format of primitive list")),
            },
            // Other `$` keys are unknown fields that the typed decode would drop.
            None if key.starts_with('$') => continue,
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&name);
            continue;
        }
        let meta = lookup(ty, &name);
        let Some(current) = original.remove(&name) else {
            if !delete_list {
                original.insert(name, clean(patch_value));
            }
            continue;
        };
        let merged = match (current, patch_value) {
            (Value::Object(current), Value::Object(patch_value)) => {
                Value::Object(merge_map(current, patch_value, meta.ty)?)
            }
            (Value::Array(current), Value::Array(patch_value)) => {
                Value::Array(merge_list(current, patch_value, meta, delete_list)?)
            }
            (current, _) if delete_list => current,
            (_, patch_value) => clean(patch_value),
        };
        original.insert(name, merged);
    }
    Ok(original)
}

/// `$retainKeys`: drop the original's keys that are not listed; every patched key must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad("invalid patch format of retainKeys"));
    };
    let listed = |key: &str| retain.iter().any(|item| item.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(key) {
            return Err(PatchError::Invalid(
                "patch content doesn't match retainKeys list".to_owned(),
            ));
        }
    }
    original.retain(|key, _| listed(key));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list (if patched) and orders the result.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Option<&'static Type>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(Value::Array(order)) = patch.remove(&key) else {
            return Err(bad("invalid patch format of setElementOrder list"));
        };
        let Some(name) = key
            .strip_prefix(SET_ELEMENT_ORDER)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return Err(bad("invalid patch format of setElementOrder list"));
        };
        let name = name.to_owned();
        let meta = lookup(ty, &name);
        let merge_key = match meta.list {
            ListKind::Map(keys) => keys.first().copied(),
            _ => None,
        };
        let live = match original.get(&name) {
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad(format!("invalid type for {name}: {other}"))),
            None => None,
        };
        let patched = match patch.remove(&name) {
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(bad(format!("invalid type for {name}: {other}"))),
            None => None,
        };
        if let Some(patched) = &patched {
            check_order(patched, &order, merge_key)?;
        }
        let server_order = live.clone().unwrap_or_default();
        let merged = match (live, patched) {
            (Some(live), None) => live,
            (None, Some(patched)) => clean_items(patched),
            (Some(live), Some(patched)) => merge_list(live, patched, meta, false)?,
            (None, None) => continue,
        };
        let ordered = order_items(merged, &order, &server_order, merge_key)?;
        original.insert(name, Value::Array(ordered));
    }
    Ok(())
}

/// The patch list must be a subsequence of the `$setElementOrder` list (deletions aside).
fn check_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    let items: Vec<&Value> = patch.iter().filter(|item| !is_directive(item)).collect();
    let mut at = 0;
    for wanted in order {
        if at < items.len() && same_item(items[at], wanted, key)? {
            at += 1;
        }
    }
    if at < items.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn is_directive(item: &Value) -> bool {
    item.as_object()
        .is_some_and(|map| map.contains_key(DIRECTIVE))
}

fn same_item(left: &Value, right: &Value, key: Option<&str>) -> Result<bool, PatchError> {
    match key {
        None => Ok(left == right),
        Some(key) => Ok(key_of(left, key)? == key_of(right, key)?),
    }
}

fn key_of<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    item.as_object()
        .and_then(|map| map.get(key))
        .ok_or_else(|| no_merge_key(item, key))
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: Meta,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if matches!(meta.list, ListKind::Atomic) && !delete_list {
        return Ok(clean_items(patch));
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let objects = element_kind(&original, &patch)?;
    if !objects {
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|item| !patch.contains(item))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::new();
        for item in original.iter().chain(patch.iter()) {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        return order_items(merged, &patch, &original, None);
    }
    let Some(key) = (match meta.list {
        ListKind::Map(keys) => keys.first().copied(),
        _ => None,
    }) else {
        return Err(bad("cannot merge lists without merge key for type map"));
    };

    // Special items first: `$patch: delete` removes by key, `$patch: replace` drops the original.
    let mut original = original;
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let wanted = key_of(&item, key)?.clone();
                original.retain(|live| live.get(key) != Some(&wanted));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(bad("merging lists cannot yet be specified in the patch")),
            _ => {
                return Err(bad(format!(
                    "unknown patch type: {directive} in map: {item}"
                )));
            }
        }
    }
    if replace {
        return Ok(clean_items(plain));
    }

    let server_order = original.clone();
    let mut merged = original;
    for item in &plain {
        let wanted = key_of(item, key)?;
        match merged.iter().position(|live| live.get(key) == Some(wanted)) {
            Some(at) => {
                let live = std::mem::take(&mut merged[at]);
                merged[at] = match (live, item) {
                    (Value::Object(live), Value::Object(item)) => {
                        Value::Object(merge_map(live, item.clone(), meta.ty)?)
                    }
                    (_, item) => clean(item.clone()),
                };
            }
            None => merged.push(clean(item.clone())),
        }
    }
    order_items(merged, &plain, &server_order, Some(key))
}

/// Whether the items are objects; errors on lists of lists and mixed items as upstream does.
fn element_kind(original: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut kind = None;
    for item in original.iter().chain(patch) {
        let this = go_kind(item);
        if this == "array" {
            return Err(PatchError::Invalid(
                "lists of lists are not supported".to_owned(),
            ));
        }
        match kind {
            None => kind = Some(this),
            Some(seen) if seen != this => {
                return Err(bad("list element types are not identical"));
            }
            Some(_) => {}
        }
    }
    Ok(kind == Some("object"))
}

/// upstream `normalizeElementOrder`: the items named in `patch_order` sorted by it, the others by
/// `server_order`, then interleaved by live position (a patch item not live goes first).
fn order_items(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let id = |item: &Value| -> Result<Value, PatchError> {
        match key {
            Some(key) => key_of(item, key).cloned(),
            None => Ok(item.clone()),
        }
    };
    let patch_ids = patch_order
        .iter()
        .filter(|item| !is_directive(item) || key.is_none())
        .map(&id)
        .collect::<Result<Vec<_>, _>>()?;
    let server_ids = server_order
        .iter()
        .map(&id)
        .collect::<Result<Vec<_>, _>>()?;
    let position = |ids: &[Value], wanted: &Value| ids.iter().position(|id| id == wanted);

    let mut patched = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let item_id = id(&item)?;
        if position(&patch_ids, &item_id).is_some() {
            patched.push((item_id, item));
        } else {
            server_only.push((item_id, item));
        }
    }
    patched.sort_by_key(|(item_id, _)| position(&patch_ids, item_id));
    server_only.sort_by_key(|(item_id, _)| position(&server_ids, item_id));

    let mut out = Vec::with_capacity(patched.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        patched.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((l, _)), Some((r, _))) => {
                match (position(&server_ids, l), position(&server_ids, r)) {
                    (Some(l), Some(r)) => l < r,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((_, item)) = next {
            out.push(item);
        }
    }
    Ok(out)
}

/// A patch value stored as is: the typed decode kube-apiserver does afterwards drops `null`s and
/// the unknown `$` keys, so the emulator drops them here.
fn clean(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(clean_map(map)),
        Value::Array(items) => Value::Array(clean_items(items)),
        other => other,
    }
}

fn clean_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, value)| !key.starts_with('$') && !value.is_null())
        .map(|(key, value)| (key, clean(value)))
        .collect()
}

fn clean_items(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .filter(|item| !is_directive(item))
        .map(clean)
        .collect()
}
