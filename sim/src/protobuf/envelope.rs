//! The `runtime.Unknown` envelope around every protobuf body:
//! `typeMeta{apiVersion=1, kind=2} = 1`, `raw = 2`, `contentEncoding = 3`, `contentType = 4`.

use ::protobuf::reflect::ReflectValueBox;

use super::{access, registry};

const UNKNOWN: &str = "apimachinery.pkg.runtime.Unknown";
const TYPE_META: &str = "apimachinery.pkg.runtime.TypeMeta";

pub(crate) struct Envelope {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) raw: Vec<u8>,
    pub(crate) content_encoding: String,
    pub(crate) content_type: String,
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Envelope, String> {
    let unknown = registry::message(UNKNOWN)?
        .parse_from_bytes(bytes)
        .map_err(|e| e.to_string())?;
    let unknown = &*unknown;
    let raw = access::bytes(unknown, "raw")
        .ok_or("no raw object")?
        .to_vec();
    let type_meta = access::message(unknown, "typeMeta");
    let type_field = |name| {
        type_meta
            .as_ref()
            .and_then(|t| access::string(&**t, name))
            .unwrap_or_default()
            .to_owned()
    };
    let text = |name| access::string(unknown, name).unwrap_or_default().to_owned();
    Ok(Envelope {
        api_version: type_field("apiVersion"),
        kind: type_field("kind"),
        raw,
        content_encoding: text("contentEncoding"),
        content_type: text("contentType"),
    })
}

pub(crate) fn encode(api_version: &str, kind: &str, raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut type_meta = registry::message(TYPE_META)?.new_instance();
    access::set(
        &mut *type_meta,
        "apiVersion",
        ReflectValueBox::String(api_version.to_owned()),
    )?;
    access::set(
        &mut *type_meta,
        "kind",
        ReflectValueBox::String(kind.to_owned()),
    )?;
    let mut unknown = registry::message(UNKNOWN)?.new_instance();
    access::set(
        &mut *unknown,
        "typeMeta",
        ReflectValueBox::Message(type_meta),
    )?;
    access::set(&mut *unknown, "raw", ReflectValueBox::Bytes(raw.to_vec()))?;
    unknown.write_to_bytes_dyn().map_err(|e| e.to_string())
}
