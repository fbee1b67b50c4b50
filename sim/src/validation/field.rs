//! Field errors as apimachinery's `field.Required`, `field.Invalid`, ... build them, with the bad
//! value printed as Go prints it (`field.Error.ErrorBody`: `%q` for strings, `%v` for numbers,
//! `%#v` for slices), so that messages match kube-apiserver's byte for byte.

use crate::status::FieldCause;

/// `parent.name`, or `name` at the root (a selector validated on its own).
pub fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[index]`.
pub fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// `field.Required`: `Required value` (`: detail` when there is one).
pub fn required(field: &str, detail: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueRequired",
        field: field.to_string(),
        what: "Required value".into(),
        detail: detail.to_string(),
    }
}

/// `field.Invalid` with a value already printed the Go way (see [`quote`], [`string_slice`]).
pub fn invalid(field: &str, printed: &str, detail: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        what: format!("Invalid value: {printed}"),
        detail: detail.to_string(),
    }
}

/// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> FieldCause {
    let listed: Vec<String> = supported.iter().map(|value| quote(value)).collect();
    FieldCause {
        reason: "FieldValueNotSupported",
        field: field.to_string(),
        what: format!("Unsupported value: {}", quote(value)),
        detail: format!("supported values: {}", listed.join(", ")),
    }
}

/// `field.Forbidden`.
pub fn forbidden(field: &str, detail: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueForbidden",
        field: field.to_string(),
        what: "Forbidden".into(),
        detail: detail.to_string(),
    }
}

/// `field.Duplicate` of a string value.
pub fn duplicate(field: &str, value: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueDuplicate",
        field: field.to_string(),
        what: format!("Duplicate value: {}", quote(value)),
        detail: String::new(),
    }
}

/// Go's `strconv.Quote` (what `%q` and `%#v` print for a string): printable characters as they
/// are, `\"`, `\\`, the C escapes, `\x..` for other control bytes and `\u....` beyond ASCII.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                quoted.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_go_printable(c) => quoted.push(c),
            c if (c as u32) <= 0xffff => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    quoted.push('"');
    quoted
}

/// An approximation of Go's `unicode.IsPrint` beyond ASCII: controls, format characters and
/// separators other than the space are not printable.
fn is_go_printable(c: char) -> bool {
    let format_character = matches!(c as u32,
        0x00ad | 0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x180e
        | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb);
    let separator = c.is_whitespace() && c != ' ';
    !(c.is_control() || format_character || separator)
}

/// `%#v` of a string slice of Go type `[]<element>`: `[]string{"a", "b"}`; `None` is a nil
/// slice, `[]string(nil)`.
pub fn string_slice(element: &str, values: Option<&[String]>) -> String {
    match values {
        None => format!("[]{element}(nil)"),
        Some(values) => {
            let items: Vec<String> = values.iter().map(|value| quote(value)).collect();
            format!("[]{element}{{{}}}", items.join(", "))
        }
    }
}

/// What `ErrorList.ToAggregate().Error()` prints: one message alone, several as `[a, b]`, each
/// message once.
pub fn aggregate(messages: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    match unique.as_slice() {
        [one] => (*one).clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("x\"y\\\n\t\u{1}"), "\"x\\\"y\\\\\\n\\t\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote("\u{200b}"), "\"\\u200b\"");
        assert_eq!(string_slice("string", None), "[]string(nil)");
        assert_eq!(string_slice("string", Some(&[])), "[]string{}");
        assert_eq!(
            string_slice(
                "admissionregistration.OperationType",
                Some(&["*".into(), "CREATE".into()])
            ),
            "[]admissionregistration.OperationType{\"*\", \"CREATE\"}"
        );
    }

    #[test]
    fn errors_render_like_field_error() {
        assert_eq!(required("a.b", "").to_string(), "a.b: Required value");
        assert_eq!(
            not_supported("s", "x", &["None", "NoneOnDryRun"]).to_string(),
            "s: Unsupported value: \"x\": supported values: \"None\", \"NoneOnDryRun\""
        );
        assert_eq!(
            duplicate("w[1].name", "a.b.c").to_string(),
            "w[1].name: Duplicate value: \"a.b.c\""
        );
        assert_eq!(forbidden("v", "no").to_string(), "v: Forbidden: no");
        assert_eq!(
            invalid("t", "31", "bad").to_string(),
            "t: Invalid value: 31: bad"
        );
        assert_eq!(child("", "key"), "key");
        assert_eq!(index(&child("a", "b"), 2), "a.b[2]");
        assert_eq!(aggregate(&["x".into()]), "x");
        assert_eq!(aggregate(&["x".into(), "y".into(), "x".into()]), "[x, y]");
    }
}
