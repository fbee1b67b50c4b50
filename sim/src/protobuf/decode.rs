//! Protobuf message to Kubernetes JSON, the way Go's `encoding/json` would print the same
//! struct: absent fields, empty lists and maps, and zero non-pointer `omitempty` scalars are
//! left out; present messages stay even when empty (`emptyDir: {}`, `resources: {}`).

use ::protobuf::MessageDyn;
use ::protobuf::reflect::{ReflectFieldRef, ReflectValueRef};
use serde_json::{Map, Number, Value};

use super::{base64, go_shape, wellknown};

/// The JSON form of `message` (an object for ordinary messages).
pub(crate) fn message_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    if let Some(special) = wellknown::to_json(message) {
        return special;
    }
    let mut out = Map::new();
    write_fields(message, &mut out)?;
    Ok(Value::Object(out))
}

/// Writes `message`'s fields into `out`; inline (embedded) Go structs write into the same object.
fn write_fields(message: &dyn MessageDyn, out: &mut Map<String, Value>) -> Result<(), String> {
    let descriptor = message.descriptor_dyn();
    let type_name = descriptor.full_name();
    for field in descriptor.fields() {
        let name = field.name();
        let json = match field.get_reflect(message) {
            ReflectFieldRef::Optional(optional) => {
                let Some(value) = optional.value() else {
                    continue;
                };
                if let ReflectValueRef::Message(inner) = &value {
                    if go_shape::is_inline(type_name, name) {
                        write_fields(&**inner, out)?;
                        continue;
                    }
                    // A non-pointer IntOrString is always on the wire; unset it is Go's zero.
                    if wellknown::is_zero_int_or_string(&**inner)
                        && !go_shape::keeps_zero(type_name, name)
                    {
                        continue;
                    }
                } else if is_zero_scalar(&value) && !go_shape::keeps_zero(type_name, name) {
                    continue;
                }
                value_to_json(value)?
            }
            ReflectFieldRef::Repeated(repeated) => {
                if repeated.is_empty() {
                    continue;
                }
                let items: Result<Vec<Value>, String> =
                    repeated.into_iter().map(value_to_json).collect();
                Value::Array(items?)
            }
            ReflectFieldRef::Map(map) => {
                if map.is_empty() {
                    continue;
                }
                let mut object = Map::new();
                for (key, value) in &map {
                    let ReflectValueRef::String(key) = key else {
                        return Err(format!("{name}: map keys must be strings"));
                    };
                    object.insert(key.to_owned(), value_to_json(value)?);
                }
                Value::Object(object)
            }
        };
        if json.is_null() {
            continue;
        }
        out.insert(go_shape::json_name(type_name, name).to_owned(), json);
    }
    Ok(())
}

fn is_zero_scalar(value: &ReflectValueRef) -> bool {
    match value {
        ReflectValueRef::U32(v) => *v == 0,
        ReflectValueRef::U64(v) => *v == 0,
        ReflectValueRef::I32(v) => *v == 0,
        ReflectValueRef::I64(v) => *v == 0,
        ReflectValueRef::F32(v) => *v == 0.0,
        ReflectValueRef::F64(v) => *v == 0.0,
        ReflectValueRef::Bool(v) => !*v,
        ReflectValueRef::String(v) => v.is_empty(),
        ReflectValueRef::Bytes(v) => v.is_empty(),
        ReflectValueRef::Enum(_, v) => *v == 0,
        ReflectValueRef::Message(_) => false,
    }
}

fn value_to_json(value: ReflectValueRef) -> Result<Value, String> {
    Ok(match value {
        ReflectValueRef::U32(v) => Value::from(v),
        ReflectValueRef::U64(v) => Value::from(v),
        ReflectValueRef::I32(v) => Value::from(v),
        ReflectValueRef::I64(v) => Value::from(v),
        ReflectValueRef::F32(v) => float(f64::from(v))?,
        ReflectValueRef::F64(v) => float(v)?,
        ReflectValueRef::Bool(v) => Value::Bool(v),
        ReflectValueRef::String(v) => Value::String(v.to_owned()),
        ReflectValueRef::Bytes(v) => Value::String(base64::encode(v)),
        ReflectValueRef::Enum(descriptor, v) => {
            return Err(format!("unexpected enum {} = {v}", descriptor.name()));
        }
        ReflectValueRef::Message(m) => message_to_json(&*m)?,
    })
}

/// Go prints integral floats without a fraction (`10`, not `10.0`).
fn float(v: f64) -> Result<Value, String> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        return Ok(Value::from(v as i64));
    }
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| format!("{v} is not a JSON number"))
}
