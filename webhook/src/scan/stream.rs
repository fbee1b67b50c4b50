//! Decoding one scan-results document while it is parsed: each `images:` entry becomes an index
//! record as soon as it has been read, so a file of 10^5 results never exists as one tree.
//! Everything else in the document is small (a `VulnerabilityReport`, a `List` of them, or a
//! stray key) and is kept as a JSON value for `file.rs` to judge.
//!
//! Each entry is read into a small JSON value and decoded from it, as the whole document used
//! to be, so that error messages are the same whatever the format (no parser positions or
//! snippets) and name the entry's index and field.

use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{ScanIndex, ScanRecord, ScanResult, ScanStatus};
use crate::image::ImageRef;
use crate::timestamp;

/// The key of our format's list.
pub const IMAGES: &str = "images";

/// ```yaml
/// - image: gcr.io/company/production-repository/api:1.2
///   status: Pass
///   lastScan: "2026-11-25T10:00:00Z"
/// ```
/// Unknown keys are refused so that a misspelt `lastScan` is not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImageEntry {
    image: ImageRef,
    status: ScanStatus,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    last_scan: Option<Timestamp>,
}

/// What a document's top level turned out to be.
#[derive(Debug)]
pub enum Root {
    /// An empty document (or `null`): skipped.
    Null,
    /// Not a mapping: "a sequence", "a string", ….
    Other(&'static str),
    /// A mapping. `images` tells whether its `images` list was streamed into the index; `rest`
    /// holds every other key (and `images` itself when `apiVersion` or `kind` came first, since
    /// such a document is not in our format).
    Mapping {
        rest: Map<String, Value>,
        images: bool,
    },
}

/// Why the document was refused, found by this module rather than by the parser.
#[derive(Debug)]
pub enum Rejection {
    /// A field's value is wrong; `field` is its path, such as `images[3].status`.
    Field { field: String, message: String },
    /// `images` came before `apiVersion`/`kind`: the document is neither format.
    Ambiguous { key: String },
}

/// Where streamed entries go, and the rejection that stopped the stream, if any. A rejection is
/// passed to the parser as an opaque error (it ends parsing), and read back from here.
pub struct Sink<'a> {
    pub index: &'a mut ScanIndex,
    pub rejection: Option<Rejection>,
}

impl Sink<'_> {
    fn reject<E: de::Error>(&mut self, rejection: Rejection) -> E {
        self.rejection = Some(rejection);
        E::custom("the scan-results document was refused")
    }

    fn reject_field<E: de::Error>(&mut self, field: String, message: String) -> E {
        self.reject(Rejection::Field { field, message })
    }
}

/// Reads a whole document: deserialize it with any serde `Deserializer`.
pub struct DocumentSeed<'s, 'a> {
    pub sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = Root;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Root, D::Error> {
        deserializer.deserialize_any(DocumentVisitor { sink: self.sink })
    }
}

struct DocumentVisitor<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_, '_> {
    type Value = Root;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scan-results document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root, A::Error> {
        let mut rest = Map::new();
        let mut images = false;
        while let Some(key) = map.next_key::<String>()? {
            let typed = rest.contains_key("apiVersion") || rest.contains_key("kind");
            if key == IMAGES && !typed {
                if images {
                    let message = <serde_json::Error as de::Error>::duplicate_field(IMAGES);
                    return Err(self.sink.reject_field(key, message.to_string()));
                }
                map.next_value_seed(ImagesSeed {
                    sink: &mut *self.sink,
                })?;
                images = true;
            } else if images && (key == "apiVersion" || key == "kind") {
                return Err(self.sink.reject(Rejection::Ambiguous { key }));
            } else {
                let value = map.next_value::<Value>()?;
                rest.insert(key, value);
            }
        }
        Ok(Root::Mapping { rest, images })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Root, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Root::Other("a sequence"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Root, E> {
        Ok(Root::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Root, E> {
        Ok(Root::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Root, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Root, E> {
        Ok(Root::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Root, E> {
        Ok(Root::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Root, E> {
        Ok(Root::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Root, E> {
        Ok(Root::Other("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Root, E> {
        Ok(Root::Other("a string"))
    }
}

/// The `images` list, entry by entry.
struct ImagesSeed<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for ImagesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ImagesSeed<'_, '_> {
    /// `images` is not a list: the message serde_json gives for the same value.
    fn wrong_type<E: de::Error>(self, found: de::Unexpected) -> Result<(), E> {
        let message = <serde_json::Error as de::Error>::invalid_type(found, &self);
        Err(self.sink.reject_field(IMAGES.into(), message.to_string()))
    }
}

impl<'de> Visitor<'de> for ImagesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            match decode_entry(value) {
                Ok(record) => self.sink.index.insert(record),
                Err((path, message)) => {
                    let field = format!("{IMAGES}[{position}]{path}");
                    return Err(self.sink.reject_field(field, message));
                }
            }
            position += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.wrong_type(de::Unexpected::Map)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Unit)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Unit)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Signed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Unsigned(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.wrong_type(de::Unexpected::Str(value))
    }
}

/// One entry, or the path inside it (`""`, `.status`) and message of what is wrong.
fn decode_entry(value: Value) -> Result<ScanRecord, (String, String)> {
    let entry: ImageEntry = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path();
        let path = match path.iter().next() {
            None => String::new(),
            Some(serde_path_to_error::Segment::Seq { .. }) => path.to_string(),
            Some(_) => format!(".{path}"),
        };
        (path, error.into_inner().to_string())
    })?;
    Ok(ScanRecord {
        image: entry.image,
        result: ScanResult {
            status: entry.status,
            last_scan: entry.last_scan,
        },
    })
}
