//! apimachinery's `util/validation` checks of names and label parts, with its messages
//! (v1.32): each returns the problems found, empty when the value is valid.

use super::field;
use crate::status::FieldCause;

const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_EXAMPLES: [&str; 3] = ["MyName", "my.name", "123-abc"];
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FORMAT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FORMAT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_FORMAT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

/// `RegexError`, with its `',  or '` spacing (clients compare these texts).
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{message} (e.g. {}regex used for validation is '{format}')",
        examples.join(" or ")
    )
}

/// `MaxLenError`.
fn max_length_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`: a qualified name's name part, and a non-empty
/// label value.
fn is_qualified_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `IsQualifiedName` (label keys, annotation keys): an optional DNS-1123 subdomain prefix and
/// `/`, then a name of at most 63 characters.
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    subdomain_errors(prefix)
                        .into_iter()
                        .map(|message| format!("prefix part {message}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MESSAGE,
                    QUALIFIED_NAME_FORMAT,
                    &QUALIFIED_NAME_EXAMPLES
                )
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push(format!("name part {}", max_length_error(63)));
    }
    if !is_qualified_name_part(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MESSAGE,
                QUALIFIED_NAME_FORMAT,
                &QUALIFIED_NAME_EXAMPLES
            )
        ));
    }
    errors
}

/// `IsValidLabelValue`: empty, or at most 63 characters of the qualified-name alphabet.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_length_error(63));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(regex_error(
            LABEL_VALUE_MESSAGE,
            LABEL_VALUE_FORMAT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

fn is_dns_label(label: &str, first: fn(u8) -> bool) -> bool {
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&head), Some(&last)) => {
            first(head) && alphanumeric(last) && bytes.iter().all(|&b| alphanumeric(b) || b == b'-')
        }
        _ => false,
    }
}

/// `IsDNS1123Subdomain`: at most 253 characters, dot-separated lower-case labels.
pub fn subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push(max_length_error(253));
    }
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !value
        .split('.')
        .all(|label| is_dns_label(label, alphanumeric))
    {
        errors.push(regex_error(
            SUBDOMAIN_MESSAGE,
            SUBDOMAIN_FORMAT,
            &["example.com"],
        ));
    }
    errors
}

/// `IsDNS1035Label`: at most 63 characters, starting with a letter.
pub fn dns1035_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_length_error(63));
    }
    if !is_dns_label(value, |b| b.is_ascii_lowercase()) {
        errors.push(regex_error(
            DNS1035_MESSAGE,
            DNS1035_FORMAT,
            &["my-name", "abc-123"],
        ));
    }
    errors
}

/// `IsValidPortNum`.
pub fn port_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// `IsFullyQualifiedName` (webhook names): a subdomain of at least three dot-separated parts.
pub fn fully_qualified_name_errors(path: &str, name: &str) -> Vec<FieldCause> {
    if name.is_empty() {
        return vec![field::required(path, "")];
    }
    let errors = subdomain_errors(name);
    if !errors.is_empty() {
        return vec![field::invalid(path, &field::quote(name), &errors.join(","))];
    }
    if name.split('.').count() < 3 {
        return vec![field::invalid(
            path,
            &field::quote(name),
            "should be a domain with at least three segments separated by dots",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        assert!(qualified_name_errors("app.kubernetes.io/name").is_empty());
        assert!(qualified_name_errors("a").is_empty());
        assert_eq!(
            qualified_name_errors("/name"),
            ["prefix part must be non-empty"]
        );
        assert!(qualified_name_errors("a/b/c")[0].starts_with("a qualified name must consist"));
        let errors = qualified_name_errors("");
        assert_eq!(errors[0], "name part must be non-empty");
        assert!(errors[1].starts_with("name part must consist"));
        assert_eq!(
            qualified_name_errors(&"x".repeat(64)),
            ["name part must be no more than 63 characters"]
        );
        assert!(
            qualified_name_errors("Bad_Prefix/x")[0]
                .starts_with("prefix part a lowercase RFC 1123 subdomain")
        );
    }

    #[test]
    fn label_values_and_dns_names() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("My_value-1.2").is_empty());
        assert_eq!(
            label_value_errors(&"x".repeat(64)),
            ["must be no more than 63 characters"]
        );
        assert_eq!(label_value_errors("a b").len(), 1);
        assert!(subdomain_errors("a.b-c.d").is_empty());
        assert_eq!(subdomain_errors("a..b").len(), 1);
        assert!(dns1035_label_errors("v1beta1").is_empty());
        assert_eq!(dns1035_label_errors("1v").len(), 1);
        assert_eq!(port_errors(0).len(), 1);
        assert!(port_errors(443).is_empty());
    }

    #[test]
    fn fully_qualified_names_need_three_segments() {
        assert!(fully_qualified_name_errors("n", "a.b.c").is_empty());
        assert_eq!(
            fully_qualified_name_errors("n", "a.b")[0].to_string(),
            "n: Invalid value: \"a.b\": should be a domain with at least three segments separated by dots"
        );
        assert_eq!(
            fully_qualified_name_errors("n", "")[0].to_string(),
            "n: Required value"
        );
        assert!(
            fully_qualified_name_errors("n", "A.b.c")[0]
                .to_string()
                .contains("a lowercase RFC 1123 subdomain")
        );
    }
}
