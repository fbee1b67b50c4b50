//! Small accessors for defaulting JSON objects the way Go decodes them: a field that is absent
//! or `null` is unset, and for non-pointer Go fields the zero value (`""`, `0`) is unset too.

use serde_json::{Map, Value};

pub type Object = Map<String, Value>;

/// Go leaves a pointer field nil when it is absent or `null`.
pub fn is_unset(map: &Object, key: &str) -> bool {
    map.get(key).is_none_or(Value::is_null)
}

/// Go's zero value for a non-pointer string or number field.
pub fn is_zero(map: &Object, key: &str) -> bool {
    match map.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(Value::Number(number)) => number.as_f64() == Some(0.0),
        Some(_) => false,
    }
}

/// Sets a pointer field that is unset.
pub fn default_unset(map: &mut Object, key: &str, value: Value) {
    if is_unset(map, key) {
        map.insert(key.into(), value);
    }
}

/// Sets a non-pointer field that holds its zero value.
pub fn default_zero(map: &mut Object, key: &str, value: Value) {
    if is_zero(map, key) {
        map.insert(key.into(), value);
    }
}

/// The object at `key`, if it is one.
pub fn child<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key`, created empty when unset (a Go struct field, or a pointer the defaults
/// allocate). `None` when the field holds something else, which decoding would have refused.
pub fn child_or_empty<'a>(map: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    if is_unset(map, key) {
        map.insert(key.into(), Value::Object(Object::new()));
    }
    child(map, key)
}

/// The objects of the array at `key`.
pub fn items<'a>(map: &'a mut Object, key: &str) -> impl Iterator<Item = &'a mut Object> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

pub fn text<'a>(map: &'a Object, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}
