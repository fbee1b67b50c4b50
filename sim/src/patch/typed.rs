//! Server-side apply's schema-aware operations on objects (structured-merge-diff `typed`):
//! the field set of a value, the comparison of two values, the merge of an applied configuration
//! into a live object, and the removal of owned items.
//!
//! Every object is taken for a struct (fields merge one by one) unless the schema marks it
//! atomic; a list is atomic unless the schema says it is a set or keyed. Objects whose fields are
//! map keys (labels, annotations) come out the same as structs, since their values are scalars.

use std::collections::{BTreeSet, VecDeque};

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, Path, PathElement};
use super::merge_keys::{Field, ListKind, Type};

/// What the schema says of a position in an object.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    /// An object merged field by field; its type when described.
    Struct(Option<&'static Type>),
    /// One value: a scalar, an atomic object or an atomic list.
    Atomic,
    /// A list merged item by item.
    List(ListKind, Option<&'static Type>),
}

impl Slot {
    pub(crate) fn root(ty: &'static Type) -> Slot {
        Slot::Struct(Some(ty))
    }

    fn of_type(ty: &'static Type) -> Slot {
        if ty.atomic {
            Slot::Atomic
        } else {
            Slot::Struct(Some(ty))
        }
    }

    fn field(self, name: &str) -> Slot {
        let Slot::Struct(Some(ty)) = self else {
            return Slot::Struct(None);
        };
        match ty.field(name) {
            Some(Field::Object(ty)) => Slot::of_type(ty),
            Some(Field::List { ssa, item, .. }) => match ssa {
                ListKind::Atomic => Slot::Atomic,
                kind => Slot::List(kind, item),
            },
            None => Slot::Struct(None),
        }
    }

    fn item(self) -> Slot {
        match self {
            Slot::List(_, Some(ty)) => Slot::of_type(ty),
            _ => Slot::Struct(None),
        }
    }
}

/// A value as the slot lets it be walked.
enum Shape<'v> {
    Leaf,
    Object(&'v Map<String, Value>),
    List(&'v [Value], ListKind),
}

fn shape(slot: Slot, value: &Value) -> Shape<'_> {
    match (slot, value) {
        (Slot::Struct(_), Value::Object(map)) => Shape::Object(map),
        // An unlisted list merges atomically.
        (Slot::List(kind, _), Value::Array(items)) => Shape::List(items, kind),
        _ => Shape::Leaf,
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The path element of a list item; `Err` explains an item that cannot be keyed.
fn item_element(kind: ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Set => match item {
            Value::Object(_) | Value::Array(_) => {
                Err("expected a primitive item in a set-like list".to_owned())
            }
            scalar => Ok(PathElement::Value(scalar.to_string())),
        },
        ListKind::Map(keys) => {
            let Value::Object(map) = item else {
                return Err(
                    "associative list with keys has an element that is not a map".to_owned(),
                );
            };
            let mut fields: Vec<(String, String)> = Vec::with_capacity(keys.len());
            for key in keys.iter() {
                let value = match (map.get(*key), *key) {
                    (Some(value), _) => value.to_string(),
                    // The one key with a schema default: ContainerPort/ServicePort protocol.
                    (None, "protocol") => "\"TCP\"".to_owned(),
                    (None, _) => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field \
                             {key:?} (and doesn't have default value)"
                        ));
                    }
                };
                fields.push(((*key).to_owned(), value));
            }
            fields.sort();
            Ok(PathElement::Key(fields))
        }
        ListKind::Atomic => Err("atomic lists have no item paths".to_owned()),
    }
}

fn prefixed(path: &[PathElement], index: usize, error: String) -> String {
    format!(
        "{}: element {index}: {error}",
        super::fieldpath::path_string(path)
    )
}

/// The items of a list with their path elements; later duplicates are ignored.
fn keyed_items<'v>(
    items: &'v [Value],
    kind: ListKind,
    path: &[PathElement],
) -> Result<Vec<(PathElement, &'v Value)>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let element = item_element(kind, item).map_err(|error| prefixed(path, index, error))?;
        if seen.insert(element.clone()) {
            out.push((element, item));
        }
    }
    Ok(out)
}

/// The fields a configuration sets (structured-merge-diff `ToFieldSet`): leaves, list items, and
/// empty or null fields.
pub(crate) fn field_set(value: &Value, ty: &'static Type) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    collect(value, Slot::root(ty), &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn collect(value: &Value, slot: Slot, path: &mut Path, set: &mut FieldSet) -> Result<(), String> {
    match shape(slot, value) {
        Shape::Leaf => set.insert(path.clone()),
        Shape::Object(map) => {
            for (name, child) in map {
                path.push(PathElement::Field(name.clone()));
                collect(child, slot.field(name), path, set)?;
                if child.is_null() || child.as_object().is_some_and(Map::is_empty) {
                    set.insert(path.clone());
                }
                path.pop();
            }
        }
        Shape::List(items, kind) => {
            for (element, item) in keyed_items(items, kind, path)? {
                path.push(element);
                collect(item, slot.item(), path, set)?;
                set.insert(path.clone());
                path.pop();
            }
        }
    }
    Ok(())
}

/// What changed between two versions of an object (structured-merge-diff `Comparison`).
/// `added` and `removed` also hold the objects, lists and list items that appeared or went.
#[derive(Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

pub(crate) fn compare(old: &Value, new: &Value, ty: &'static Type) -> Result<Comparison, String> {
    let mut out = Comparison::default();
    compare_at(
        Some(old),
        Some(new),
        Slot::root(ty),
        &mut Vec::new(),
        &mut out,
    )?;
    Ok(out)
}

fn compare_leaf(old: Option<&Value>, new: Option<&Value>, path: &Path, out: &mut Comparison) {
    match (old, new) {
        (None, Some(_)) => out.added.insert(path.clone()),
        (Some(_), None) => out.removed.insert(path.clone()),
        (Some(old), Some(new)) if old != new => out.modified.insert(path.clone()),
        _ => {}
    }
}

fn compare_at(
    old: Option<&Value>,
    new: Option<&Value>,
    slot: Slot,
    path: &mut Path,
    out: &mut Comparison,
) -> Result<(), String> {
    // A null stands for an empty value of the other side's type, as in structured-merge-diff: a
    // list that was null (`containers` in a Go zero value) and now has items has not appeared.
    let (empty_map, empty_list) = (Value::Object(Map::new()), Value::Array(Vec::new()));
    let stand_in = |this: Option<&Value>, other: Option<&Value>| match (this, other) {
        (Some(Value::Null), Some(Value::Object(_))) => Some(&empty_map),
        (Some(Value::Null), Some(Value::Array(_))) => Some(&empty_list),
        _ => None,
    };
    let (old, new) = (stand_in(old, new).or(old), stand_in(new, old).or(new));
    let shapes = (old.map(|v| shape(slot, v)), new.map(|v| shape(slot, v)));
    let both_empty = old.is_none_or(is_empty_container) && new.is_none_or(is_empty_container);
    match shapes {
        (Some(Shape::Object(_)) | None, Some(Shape::Object(_)) | None) if !both_empty => {
            let empty = Map::new();
            let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
            let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
            let names: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
            for name in names {
                path.push(PathElement::Field(name.clone()));
                let child = slot.field(name);
                compare_at(old_map.get(name), new_map.get(name), child, path, out)?;
                path.pop();
            }
        }
        (Some(Shape::List(..)) | None, Some(Shape::List(..)) | None) if !both_empty => {
            let Slot::List(kind, _) = slot else {
                return Ok(());
            };
            let old_items = keyed_items(list_of(old), kind, path)?;
            let new_items = keyed_items(list_of(new), kind, path)?;
            let mut seen = BTreeSet::new();
            for (element, _) in new_items.iter().chain(old_items.iter()) {
                if !seen.insert(element.clone()) {
                    continue;
                }
                path.push(element.clone());
                let (old_item, new_item) = (find(&old_items, element), find(&new_items, element));
                compare_at(old_item, new_item, slot.item(), path, out)?;
                path.pop();
            }
        }
        _ => {
            compare_leaf(old, new, path, out);
            return Ok(());
        }
    }
    // Objects, lists and items that appear or go are recorded themselves too.
    match (old, new) {
        (None, Some(_)) => out.added.insert(path.clone()),
        (Some(_), None) => out.removed.insert(path.clone()),
        _ => {}
    }
    Ok(())
}

fn find<'v>(items: &[(PathElement, &'v Value)], wanted: &PathElement) -> Option<&'v Value> {
    items.iter().find(|(e, _)| e == wanted).map(|(_, v)| *v)
}

fn list_of(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Merges an applied configuration into the live object (structured-merge-diff `Merge`): the
/// configuration's leaves win, objects merge field by field, keyed lists item by item in the
/// configuration's order with live-only items kept in place.
pub(crate) fn merge(live: &Value, config: &Value, ty: &'static Type) -> Result<Value, String> {
    merge_at(Some(live), Some(config), Slot::root(ty), &mut Vec::new())
        .map(|merged| merged.unwrap_or(Value::Null))
}

fn merge_at(
    live: Option<&Value>,
    config: Option<&Value>,
    slot: Slot,
    path: &mut Path,
) -> Result<Option<Value>, String> {
    let (Some(live_value), Some(config_value)) = (live, config) else {
        return Ok(config.or(live).cloned());
    };
    let both_empty = is_empty_container(live_value) && is_empty_container(config_value);
    match (shape(slot, live_value), shape(slot, config_value)) {
        (Shape::Object(live_map), Shape::Object(config_map)) if !both_empty => {
            let mut out = live_map.clone();
            for (name, value) in config_map {
                path.push(PathElement::Field(name.clone()));
                let merged = merge_at(live_map.get(name), Some(value), slot.field(name), path)?;
                path.pop();
                if let Some(merged) = merged {
                    out.insert(name.clone(), merged);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        (Shape::List(live_items, kind), Shape::List(config_items, _)) if !both_empty => {
            let live_items = keyed_items(live_items, kind, path)?;
            let config_items = keyed_items(config_items, kind, path)?;
            merge_items(&live_items, &config_items, slot.item(), path)
                .map(|items| Some(Value::Array(items)))
        }
        _ => Ok(Some(config_value.clone())),
    }
}

/// structured-merge-diff's list merge order: shared items follow the configuration's order,
/// live-only items keep their place, new items go where the configuration puts them.
fn merge_items(
    live: &[(PathElement, &Value)],
    config: &[(PathElement, &Value)],
    item: Slot,
    path: &mut Path,
) -> Result<Vec<Value>, String> {
    let mut shared: VecDeque<&PathElement> = config
        .iter()
        .map(|(e, _)| e)
        .filter(|e| find(live, e).is_some())
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_config = BTreeSet::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let mut push =
        |element: &PathElement, l: Option<&Value>, c: Option<&Value>, out: &mut Vec<Value>| {
            path.push(element.clone());
            let merged = merge_at(l, c, item, path);
            path.pop();
            merged.map(|merged| out.extend(merged))
        };
    let (mut li, mut ci) = (0, 0);
    while li < live.len() || ci < config.len() {
        if li < live.len() && ci < config.len() {
            let (element, value) = &live[li];
            if *element == config[ci].0 {
                merged_config.insert(element.clone());
                push(element, Some(value), Some(config[ci].1), &mut out)?;
                li += 1;
                ci += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if find(config, element).is_some() && next_shared.is_some_and(|next| next != element) {
                li += 1;
                continue;
            }
        }
        if li < live.len() {
            let (element, value) = &live[li];
            if find(config, element).is_none() {
                out.push((*value).clone());
                li += 1;
                continue;
            }
            if merged_config.contains(element) {
                li += 1;
                continue;
            }
        }
        if ci < config.len() {
            let (element, value) = &config[ci];
            merged_config.insert(element.clone());
            push(element, find(live, element), Some(value), &mut out)?;
            ci += 1;
            if next_shared == Some(element) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// Removes every path of `set` (with what is under it) from `value` (`RemoveItems`).
pub(crate) fn remove(value: &mut Value, set: &FieldSet, ty: &'static Type) {
    if !set.is_empty() {
        remove_at(value, set, Slot::root(ty), &mut Vec::new());
    }
}

fn remove_at(value: &mut Value, set: &FieldSet, slot: Slot, path: &mut Path) {
    match (slot, value) {
        (Slot::Struct(_), Value::Object(map)) => {
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                path.push(PathElement::Field(name.clone()));
                if set.contains(path) {
                    map.remove(&name);
                } else if set.has_descendant(path)
                    && let Some(child) = map.get_mut(&name)
                {
                    remove_at(child, set, slot.field(&name), path);
                }
                path.pop();
            }
        }
        (Slot::List(kind, _), Value::Array(items)) => {
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                let Ok(element) = item_element(kind, &item) else {
                    kept.push(item);
                    continue;
                };
                path.push(element);
                if !set.contains(path) {
                    if set.has_descendant(path) {
                        remove_at(&mut item, set, slot.item(), path);
                    }
                    kept.push(item);
                }
                path.pop();
            }
            *items = kept;
        }
        _ => {}
    }
}
