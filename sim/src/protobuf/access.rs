//! Reading and writing dynamic message fields by name (all Kubernetes fields are proto2
//! `optional`, so presence is known).

use ::protobuf::MessageDyn;
use ::protobuf::reflect::{MessageRef, ReflectValueBox, ReflectValueRef};

fn singular<'a>(message: &'a dyn MessageDyn, name: &str) -> Option<ReflectValueRef<'a>> {
    message
        .descriptor_dyn()
        .field_by_name(name)?
        .get_singular(message)
}

pub(crate) fn string<'a>(message: &'a dyn MessageDyn, name: &str) -> Option<&'a str> {
    match singular(message, name)? {
        ReflectValueRef::String(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn bytes<'a>(message: &'a dyn MessageDyn, name: &str) -> Option<&'a [u8]> {
    match singular(message, name)? {
        ReflectValueRef::Bytes(b) => Some(b),
        _ => None,
    }
}

pub(crate) fn int(message: &dyn MessageDyn, name: &str) -> Option<i64> {
    match singular(message, name)? {
        ReflectValueRef::I32(v) => Some(i64::from(v)),
        ReflectValueRef::I64(v) => Some(v),
        _ => None,
    }
}

pub(crate) fn boolean(message: &dyn MessageDyn, name: &str) -> Option<bool> {
    match singular(message, name)? {
        ReflectValueRef::Bool(v) => Some(v),
        _ => None,
    }
}

pub(crate) fn message<'a>(message: &'a dyn MessageDyn, name: &str) -> Option<MessageRef<'a>> {
    match singular(message, name)? {
        ReflectValueRef::Message(m) => Some(m),
        _ => None,
    }
}

/// The elements of a repeated field (empty when the field does not exist).
pub(crate) fn repeated<'a>(message: &'a dyn MessageDyn, name: &str) -> Vec<ReflectValueRef<'a>> {
    match message.descriptor_dyn().field_by_name(name) {
        Some(field) if field.is_repeated() => field.get_repeated(message).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Sets a singular field; the value's type must be the field's (checked, as rust-protobuf
/// panics on a mismatch).
pub(crate) fn set(
    message: &mut dyn MessageDyn,
    name: &str,
    value: ReflectValueBox,
) -> Result<(), String> {
    let descriptor = message.descriptor_dyn();
    let field = descriptor
        .field_by_name(name)
        .ok_or_else(|| format!("{} has no field {name}", descriptor.name()))?;
    let expected = field.singular_runtime_type();
    let matches = match (&value, &expected) {
        (ReflectValueBox::Message(m), ::protobuf::reflect::RuntimeType::Message(d)) => {
            m.descriptor_dyn() == *d
        }
        (ReflectValueBox::Message(_), _) => false,
        _ => value.get_type() == expected,
    };
    if !field.is_singular() || !matches {
        return Err(format!("{}.{name}: wrong value type", descriptor.name()));
    }
    field.set_singular_field(message, value);
    Ok(())
}

/// Appends to a repeated field.
pub(crate) fn push(
    message: &mut dyn MessageDyn,
    name: &str,
    value: ReflectValueBox,
) -> Result<(), String> {
    let descriptor = message.descriptor_dyn();
    let field = descriptor
        .field_by_name(name)
        .filter(|f| f.is_repeated())
        .ok_or_else(|| format!("{} has no repeated field {name}", descriptor.name()))?;
    field.mut_repeated(message).push(value);
    Ok(())
}
