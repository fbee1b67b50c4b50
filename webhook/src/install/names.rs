//! Kubernetes name syntax (apimachinery `validation.go`), checked before anything is written so
//! that `kubectl apply` never has to refuse what `manifests` printed. The messages are the API
//! server's own, so they read the same as a refusal by the cluster would.

const LABEL_NAME_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_FORMAT: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or \
     '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const DNS1123_SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower \
     case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
     character (e.g. 'example.com', regex used for validation is \
     '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_FORMAT: &str = "a lowercase RFC 1123 label must consist of lower case \
     alphanumeric characters or '-', and must start and end with an alphanumeric character \
     (e.g. 'my-name', or '123-abc', regex used for validation is \
     '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL_FORMAT: &str = "a DNS-1035 label must consist of lower case alphanumeric \
     characters or '-', start with an alphabetic character, and end with an alphanumeric \
     character (e.g. 'my-name', or 'abc-123', regex used for validation is \
     '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// A label key: `[prefix/]name`, the prefix a DNS subdomain (`IsQualifiedName`).
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".to_string());
        }
        check_dns1123_subdomain(prefix).map_err(|reason| format!("prefix part {reason}"))?;
    }
    if name.is_empty() {
        return Err("name part must be non-empty".to_string());
    }
    if name.len() > LABEL_NAME_MAX {
        return Err(format!(
            "name part must be no more than {LABEL_NAME_MAX} characters"
        ));
    }
    if !is_qualified_name_part(name) {
        return Err(format!("name part {QUALIFIED_NAME_FORMAT}"));
    }
    Ok(())
}

/// A label value: empty, or up to 63 characters of the qualified-name alphabet.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.len() > LABEL_NAME_MAX {
        return Err(format!("must be no more than {LABEL_NAME_MAX} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        return Err(format!(
            "a valid label {}",
            QUALIFIED_NAME_FORMAT.replace("(e.g. 'MyName',", "(e.g. 'MyValue',")
        ));
    }
    Ok(())
}

/// A namespace name (RFC 1123 label).
pub fn check_dns1123_label(name: &str) -> Result<(), String> {
    if name.len() > LABEL_NAME_MAX {
        return Err(format!("must be no more than {LABEL_NAME_MAX} characters"));
    }
    if !is_dns1123_label(name) {
        return Err(DNS1123_LABEL_FORMAT.to_string());
    }
    Ok(())
}

/// A Service name (RFC 1035 label: it must also start with a letter).
pub fn check_dns1035_label(name: &str) -> Result<(), String> {
    if name.len() > LABEL_NAME_MAX {
        return Err(format!("must be no more than {LABEL_NAME_MAX} characters"));
    }
    let starts_with_letter = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !starts_with_letter || !is_dns1123_label(name) {
        return Err(DNS1035_LABEL_FORMAT.to_string());
    }
    Ok(())
}

/// An object name such as a PriorityClass's (RFC 1123 subdomain).
pub fn check_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > SUBDOMAIN_MAX {
        return Err(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    if !name.split('.').all(is_dns1123_label) {
        return Err(DNS1123_SUBDOMAIN_FORMAT.to_string());
    }
    Ok(())
}

fn is_dns1123_label(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

fn is_qualified_name_part(part: &str) -> bool {
    let bytes = part.as_bytes();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_qualified_name_syntax() {
        for key in [
            "name",
            "apply-container-policies",
            "kubernetes.io/metadata.name",
            "example.com/Tier_1.a",
            "a",
        ] {
            assert_eq!(check_label_key(key), Ok(()), "{key}");
        }
        let long_name = "a".repeat(64);
        let cases = [
            ("", "name part must be non-empty"),
            ("example.com/", "name part must be non-empty"),
            ("/name", "prefix part must be non-empty"),
            ("-name", "name part must consist of"),
            ("name-", "name part must consist of"),
            ("na me", "name part must consist of"),
            (
                "Example.com/name",
                "prefix part a lowercase RFC 1123 subdomain",
            ),
            ("a/b/c", "name part must consist of"),
            (
                long_name.as_str(),
                "name part must be no more than 63 characters",
            ),
        ];
        for (key, expected) in cases {
            let error = check_label_key(key).unwrap_err();
            assert!(error.starts_with(expected), "{key}: {error}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert_eq!(check_label_value(""), Ok(()));
        assert_eq!(check_label_value("staging-test"), Ok(()));
        assert_eq!(check_label_value("Prod_1.x"), Ok(()));
        assert!(
            check_label_value("a/b")
                .unwrap_err()
                .starts_with("a valid label")
        );
        assert!(check_label_value("-x").is_err());
        assert_eq!(
            check_label_value(&"v".repeat(64)).unwrap_err(),
            "must be no more than 63 characters"
        );
    }

    #[test]
    fn namespace_and_service_names_are_dns_labels() {
        assert_eq!(check_dns1123_label("tigera-image-assurance"), Ok(()));
        assert_eq!(check_dns1123_label("1abc"), Ok(()));
        assert!(check_dns1123_label("Abc").is_err());
        assert!(check_dns1123_label("a.b").is_err());
        assert!(check_dns1123_label("").is_err());
        assert_eq!(check_dns1035_label("svc-1"), Ok(()));
        assert!(
            check_dns1035_label("1svc")
                .unwrap_err()
                .starts_with("a DNS-1035 label")
        );
    }
}
