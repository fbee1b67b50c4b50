//! Kubernetes JSON to protobuf message: the inverse of `decode`, strict about unknown fields so
//! that a misspelt or unsupported field is an error rather than silently lost.

use ::protobuf::MessageDyn;
use ::protobuf::reflect::{
    FieldDescriptor, MessageDescriptor, ReflectValueBox, RuntimeFieldType, RuntimeType,
};
use serde_json::Value;

use super::{base64, go_shape, wellknown};

/// Builds a `descriptor` message from `value`. `apiVersion` and `kind` travel in the envelope at
/// the top level (`top_level`) and are not on the wire for embedded objects either (Go's
/// `TypeMeta` has no protobuf tag), so they are dropped unless the message has such fields.
pub(crate) fn json_to_message(
    descriptor: &MessageDescriptor,
    value: &Value,
    top_level: bool,
) -> Result<Box<dyn MessageDyn>, String> {
    if let Some(special) = wellknown::from_json(descriptor, value) {
        return special;
    }
    let Value::Object(object) = value else {
        return Err(format!(
            "{}: expected an object, got {value}",
            descriptor.name()
        ));
    };
    let mut message = descriptor.new_instance();
    for (key, field_value) in object {
        let type_meta = key == "apiVersion" || key == "kind";
        if field_value.is_null() || (type_meta && (top_level || !owns_key(descriptor, key))) {
            continue;
        }
        set_key(&mut *message, descriptor, key, field_value).map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(message)
}

/// Sets JSON key `key` on `message`, looking through inline (embedded) fields.
fn set_key(
    message: &mut dyn MessageDyn,
    descriptor: &MessageDescriptor,
    key: &str,
    value: &Value,
) -> Result<(), String> {
    let type_name = descriptor.full_name();
    for field in descriptor.fields() {
        if go_shape::json_name(type_name, field.name()) == key
            && !go_shape::is_inline(type_name, field.name())
        {
            return set_field(message, &field, value);
        }
    }
    for field in descriptor.fields() {
        if !go_shape::is_inline(type_name, field.name()) {
            continue;
        }
        if let RuntimeFieldType::Singular(RuntimeType::Message(inner)) = field.runtime_field_type()
            && owns_key(&inner, key)
        {
            return set_key(field.mut_message(message), &inner, key, value);
        }
    }
    Err(format!("unknown field in {}", descriptor.name()))
}

/// Whether `key` is a JSON field of `descriptor`, directly or through its inline fields.
fn owns_key(descriptor: &MessageDescriptor, key: &str) -> bool {
    let type_name = descriptor.full_name();
    descriptor.fields().any(|field| {
        if !go_shape::is_inline(type_name, field.name()) {
            return go_shape::json_name(type_name, field.name()) == key;
        }
        match field.runtime_field_type() {
            RuntimeFieldType::Singular(RuntimeType::Message(inner)) => owns_key(&inner, key),
            _ => false,
        }
    })
}

fn set_field(
    message: &mut dyn MessageDyn,
    field: &FieldDescriptor,
    value: &Value,
) -> Result<(), String> {
    match field.runtime_field_type() {
        RuntimeFieldType::Singular(kind) => {
            let boxed = to_value_box(&kind, value)?;
            field.set_singular_field(message, boxed);
        }
        RuntimeFieldType::Repeated(kind) => {
            let Value::Array(items) = value else {
                return Err(format!("expected a list, got {value}"));
            };
            let mut repeated = field.mut_repeated(message);
            for (index, item) in items.iter().enumerate() {
                repeated.push(to_value_box(&kind, item).map_err(|e| format!("[{index}]: {e}"))?);
            }
        }
        RuntimeFieldType::Map(key_kind, value_kind) => {
            let Value::Object(entries) = value else {
                return Err(format!("expected an object, got {value}"));
            };
            if key_kind != RuntimeType::String {
                return Err("map keys must be strings".to_owned());
            }
            let mut map = field.mut_map(message);
            for (key, item) in entries {
                let item = to_value_box(&value_kind, item).map_err(|e| format!("{key}: {e}"))?;
                map.insert(ReflectValueBox::String(key.clone()), item);
            }
        }
    }
    Ok(())
}

/// Converts one JSON value to the field's protobuf type (the types must match exactly, as
/// rust-protobuf's setters panic on a mismatch).
fn to_value_box(kind: &RuntimeType, value: &Value) -> Result<ReflectValueBox, String> {
    let int = || {
        value
            .as_i64()
            .ok_or_else(|| format!("expected an integer, got {value}"))
    };
    let uint = || {
        value
            .as_u64()
            .ok_or_else(|| format!("expected an unsigned integer, got {value}"))
    };
    let out_of_range = |_| format!("{value} is out of range");
    Ok(match kind {
        RuntimeType::I32 => ReflectValueBox::I32(i32::try_from(int()?).map_err(out_of_range)?),
        RuntimeType::I64 => ReflectValueBox::I64(int()?),
        RuntimeType::U32 => ReflectValueBox::U32(u32::try_from(uint()?).map_err(out_of_range)?),
        RuntimeType::U64 => ReflectValueBox::U64(uint()?),
        RuntimeType::F32 => ReflectValueBox::F32(float(value)? as f32),
        RuntimeType::F64 => ReflectValueBox::F64(float(value)?),
        RuntimeType::Bool => ReflectValueBox::Bool(
            value
                .as_bool()
                .ok_or_else(|| format!("expected a boolean, got {value}"))?,
        ),
        RuntimeType::String => ReflectValueBox::String(
            value
                .as_str()
                .ok_or_else(|| format!("expected a string, got {value}"))?
                .to_owned(),
        ),
        RuntimeType::VecU8 => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("expected a base64 string, got {value}"))?;
            ReflectValueBox::Bytes(base64::decode(text)?)
        }
        RuntimeType::Enum(descriptor) => {
            return Err(format!(
                "enum {} is not used by Kubernetes",
                descriptor.name()
            ));
        }
        RuntimeType::Message(descriptor) => {
            ReflectValueBox::Message(json_to_message(descriptor, value, false)?)
        }
    })
}

fn float(value: &Value) -> Result<f64, String> {
    value
        .as_f64()
        .ok_or_else(|| format!("expected a number, got {value}"))
}
