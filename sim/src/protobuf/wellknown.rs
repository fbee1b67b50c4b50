//! Messages whose JSON form is not an object of their fields: Go types with their own
//! `MarshalJSON` (Time, Quantity, IntOrString, raw JSON holders, CRD schema unions, ...).

use ::protobuf::MessageDyn;
use ::protobuf::reflect::{MessageDescriptor, ReflectValueBox, ReflectValueRef};
use serde_json::Value;

use super::{access, decode, duration, encode};

const TIME: &str = "apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "apimachinery.pkg.apis.meta.v1.Duration";
const FIELDS_V1: &str = "apimachinery.pkg.apis.meta.v1.FieldsV1";
const VERBS: &str = "apimachinery.pkg.apis.meta.v1.Verbs";
const QUANTITY: &str = "apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "apimachinery.pkg.util.intstr.IntOrString";
const RAW_EXTENSION: &str = "apimachinery.pkg.runtime.RawExtension";
const APIEXT: &str = "apiextensions_apiserver.pkg.apis.apiextensions.v1.";
const EXTRA_VALUES: [&str; 3] = [
    "api.authentication.v1.ExtraValue",
    "api.authorization.v1.ExtraValue",
    "api.certificates.v1.ExtraValue",
];

/// The JSON of a special message, or `None` for an ordinary one. `Value::Null` means "omit".
pub(crate) fn to_json(message: &dyn MessageDyn) -> Option<Result<Value, String>> {
    let descriptor = message.descriptor_dyn();
    let name = descriptor.full_name();
    Some(match name {
        TIME => time_to_json(message, false),
        MICRO_TIME => time_to_json(message, true),
        DURATION => Ok(Value::String(duration::format(
            access::int(message, "duration").unwrap_or(0),
        ))),
        // Go's zero Quantity prints as "0".
        QUANTITY => Ok(Value::String(
            access::string(message, "string")
                .filter(|s| !s.is_empty())
                .unwrap_or("0")
                .to_owned(),
        )),
        INT_OR_STRING => int_or_string_to_json(message),
        FIELDS_V1 => raw_json(access::bytes(message, "Raw")),
        RAW_EXTENSION => raw_json(access::bytes(message, "raw")),
        VERBS => strings(message, "items"),
        _ if EXTRA_VALUES.contains(&name) => strings(message, "items"),
        _ => match name.strip_prefix(APIEXT) {
            Some("JSON") => raw_json(access::bytes(message, "raw")),
            Some("JSONSchemaPropsOrArray") => schema_or_array_to_json(message),
            Some("JSONSchemaPropsOrBool") => schema_or_bool_to_json(message),
            Some("JSONSchemaPropsOrStringArray") => schema_or_strings_to_json(message),
            _ => return None,
        },
    })
}

/// Whether a present IntOrString is Go's zero value (what a non-pointer field holds when unset).
pub(crate) fn is_zero_int_or_string(message: &dyn MessageDyn) -> bool {
    message.descriptor_dyn().full_name() == INT_OR_STRING
        && access::int(message, "type").unwrap_or(0) == 0
        && access::int(message, "intVal").unwrap_or(0) == 0
}

/// Builds a special message from JSON, or `None` if `descriptor` is an ordinary message.
pub(crate) fn from_json(
    descriptor: &MessageDescriptor,
    value: &Value,
) -> Option<Result<Box<dyn MessageDyn>, String>> {
    let name = descriptor.full_name();
    let mut message = descriptor.new_instance();
    let target = &mut *message;
    let filled = match name {
        TIME | MICRO_TIME => parse_time(value).and_then(|(seconds, nanos)| {
            access::set(target, "seconds", ReflectValueBox::I64(seconds))?;
            access::set(target, "nanos", ReflectValueBox::I32(nanos))
        }),
        DURATION => as_str(value)
            .and_then(duration::parse)
            .and_then(|ns| access::set(target, "duration", ReflectValueBox::I64(ns))),
        QUANTITY => quantity_text(value)
            .and_then(|s| access::set(target, "string", ReflectValueBox::String(s))),
        INT_OR_STRING => int_or_string_from_json(target, value),
        FIELDS_V1 => raw_bytes(value).and_then(|raw| access::set(target, "Raw", raw)),
        RAW_EXTENSION => raw_bytes(value).and_then(|raw| access::set(target, "raw", raw)),
        _ if name == VERBS || EXTRA_VALUES.contains(&name) => push_strings(target, "items", value),
        _ => match name.strip_prefix(APIEXT) {
            Some("JSON") => raw_bytes(value).and_then(|raw| access::set(target, "raw", raw)),
            Some("JSONSchemaPropsOrArray") => schema_or_array_from_json(target, value),
            Some("JSONSchemaPropsOrBool") => schema_or_bool_from_json(target, value),
            Some("JSONSchemaPropsOrStringArray") => schema_or_strings_from_json(target, value),
            _ => return None,
        },
    };
    Some(filled.map(|()| message))
}

/// Go's `metav1.Time` marshals as RFC 3339 in UTC to the second; `MicroTime` with six decimals.
/// An empty message is Go's zero time, which marshals as `null`.
fn time_to_json(message: &dyn MessageDyn, micro: bool) -> Result<Value, String> {
    let Some(seconds) = access::int(message, "seconds") else {
        return Ok(Value::Null);
    };
    let nanos = access::int(message, "nanos").unwrap_or(0);
    let ts = jiff::Timestamp::new(seconds, 0).map_err(|e| format!("time out of range: {e}"))?;
    if ts.to_zoned(jiff::tz::TimeZone::UTC).year() < 0 {
        return Err(format!("time out of range: {seconds} seconds"));
    }
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micro {
        let micros = nanos.clamp(0, 999_999_999) / 1000;
        Ok(Value::String(format!("{base}.{micros:06}Z")))
    } else {
        Ok(Value::String(format!("{base}Z")))
    }
}

fn parse_time(value: &Value) -> Result<(i64, i32), String> {
    let text = as_str(value)?;
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|e| format!("invalid RFC 3339 time {text:?}: {e}"))?;
    Ok((ts.as_second(), ts.subsec_nanosecond()))
}

fn int_or_string_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    match access::int(message, "type").unwrap_or(0) {
        0 => Ok(Value::from(access::int(message, "intVal").unwrap_or(0))),
        1 => Ok(Value::String(
            access::string(message, "strVal")
                .unwrap_or_default()
                .to_owned(),
        )),
        other => Err(format!("IntOrString has impossible type {other}")),
    }
}

fn int_or_string_from_json(target: &mut dyn MessageDyn, value: &Value) -> Result<(), String> {
    match value {
        Value::String(s) => {
            access::set(target, "type", ReflectValueBox::I64(1))?;
            access::set(target, "strVal", ReflectValueBox::String(s.clone()))
        }
        Value::Number(n) => {
            let int = n
                .as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| format!("IntOrString {n} is not a 32-bit integer"))?;
            access::set(target, "type", ReflectValueBox::I64(0))?;
            access::set(target, "intVal", ReflectValueBox::I32(int))
        }
        other => Err(format!(
            "IntOrString must be a number or a string, got {other}"
        )),
    }
}

/// Raw JSON holders (RawExtension, FieldsV1, apiextensions JSON): empty means `null`.
fn raw_json(raw: Option<&[u8]>) -> Result<Value, String> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        // Go clients embed JSON here; a nested protobuf object is not worth the recursion risk.
        return Err("embedded protobuf objects in raw fields are not supported".to_owned());
    }
    serde_json::from_slice(raw).map_err(|e| format!("embedded raw JSON is invalid: {e}"))
}

fn raw_bytes(value: &Value) -> Result<ReflectValueBox, String> {
    serde_json::to_vec(value)
        .map(ReflectValueBox::Bytes)
        .map_err(|e| e.to_string())
}

fn quantity_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        // Go's Quantity also accepts bare numbers.
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("quantity must be a string, got {other}")),
    }
}

fn as_str(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, got {value}"))
}

fn strings(message: &dyn MessageDyn, name: &str) -> Result<Value, String> {
    access::repeated(message, name)
        .into_iter()
        .map(|v| match v {
            ReflectValueRef::String(s) => Ok(Value::String(s.to_owned())),
            _ => Err(format!("{name} must hold strings")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn push_strings(target: &mut dyn MessageDyn, name: &str, value: &Value) -> Result<(), String> {
    let Value::Array(items) = value else {
        return Err(format!("expected a list of strings, got {value}"));
    };
    for item in items {
        access::push(
            target,
            name,
            ReflectValueBox::String(as_str(item)?.to_owned()),
        )?;
    }
    Ok(())
}

fn schema_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    match access::message(message, "schema") {
        Some(schema) => decode::message_to_json(&*schema),
        None => Ok(Value::Null),
    }
}

/// Go: a non-empty list wins, else the single schema (or `null`).
fn schema_or_array_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    let schemas = access::repeated(message, "jSONSchemas");
    if schemas.is_empty() {
        return schema_to_json(message);
    }
    schemas
        .into_iter()
        .map(|v| match v {
            ReflectValueRef::Message(m) => decode::message_to_json(&*m),
            _ => Err("jSONSchemas must hold schemas".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Go: a schema wins, else the boolean.
fn schema_or_bool_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    if access::message(message, "schema").is_some() {
        return schema_to_json(message);
    }
    Ok(Value::Bool(
        access::boolean(message, "allows").unwrap_or(false),
    ))
}

/// Go: a non-empty string list wins, else the schema (or `null`).
fn schema_or_strings_to_json(message: &dyn MessageDyn) -> Result<Value, String> {
    if access::repeated(message, "property").is_empty() {
        return schema_to_json(message);
    }
    strings(message, "property")
}

fn schema_box(
    target: &dyn MessageDyn,
    field: &str,
    value: &Value,
) -> Result<ReflectValueBox, String> {
    let descriptor = target
        .descriptor_dyn()
        .field_by_name(field)
        .and_then(|f| match f.runtime_field_type() {
            ::protobuf::reflect::RuntimeFieldType::Singular(
                ::protobuf::reflect::RuntimeType::Message(d),
            )
            | ::protobuf::reflect::RuntimeFieldType::Repeated(
                ::protobuf::reflect::RuntimeType::Message(d),
            ) => Some(d),
            _ => None,
        })
        .ok_or_else(|| format!("{field} is not a schema field"))?;
    encode::json_to_message(&descriptor, value, false).map(ReflectValueBox::Message)
}

fn schema_or_array_from_json(target: &mut dyn MessageDyn, value: &Value) -> Result<(), String> {
    match value {
        Value::Array(items) => {
            for item in items {
                let schema = schema_box(target, "jSONSchemas", item)?;
                access::push(target, "jSONSchemas", schema)?;
            }
            Ok(())
        }
        other => {
            let schema = schema_box(target, "schema", other)?;
            access::set(target, "schema", schema)
        }
    }
}

fn schema_or_bool_from_json(target: &mut dyn MessageDyn, value: &Value) -> Result<(), String> {
    if let Value::Bool(allows) = value {
        return access::set(target, "allows", ReflectValueBox::Bool(*allows));
    }
    // Go sets Allows whenever a schema is given.
    access::set(target, "allows", ReflectValueBox::Bool(true))?;
    let schema = schema_box(target, "schema", value)?;
    access::set(target, "schema", schema)
}

fn schema_or_strings_from_json(target: &mut dyn MessageDyn, value: &Value) -> Result<(), String> {
    if value.is_array() {
        return push_strings(target, "property", value);
    }
    let schema = schema_box(target, "schema", value)?;
    access::set(target, "schema", schema)
}
