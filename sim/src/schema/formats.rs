//! String formats (apiextensions-apiserver `validation/formats.go`): formats kube does not
//! support are ignored, as kube strips them from the schema; of the supported ones the cheap
//! checks are made here (the UUIDs, `byte`, `date`, `date-time`, IP addresses, CIDRs, MACs,
//! `hostname`, `bsonobjectid`, colours). The rest (`email`, `uri`, ISBNs, credit cards, SSNs,
//! `duration`) are accepted unchecked.

use base64::Engine;

const SUPPORTED: [&str; 25] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
];

/// The format kube keeps for validation: `None` for unsupported ones (go-openapi's name
/// normalisation drops dashes).
pub fn supported(format: &str) -> Option<&str> {
    if format.is_empty() {
        return None;
    }
    let normalized = format.replace('-', "");
    SUPPORTED.contains(&normalized.as_str()).then_some(format)
}

fn uuid_version(text: &str, version: Option<char>) -> bool {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let dashes_ok = {
        // Dashes are optional but only where the canonical form has them.
        let mut position = 0;
        let mut ok = true;
        for c in text.chars() {
            if c == '-' {
                ok &= matches!(position, 8 | 12 | 16 | 20);
            } else {
                position += 1;
            }
        }
        ok
    };
    dashes_ok
        && hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && version.is_none_or(|v| hex.chars().nth(12) == Some(v))
        && (version.is_none()
            || version == Some('3')
            || matches!(hex.chars().nth(16), Some('8' | '9' | 'a' | 'b' | 'A' | 'B')))
}

fn hostname(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Whether `text` is valid in `format` (a supported format).
pub fn valid(format: &str, text: &str) -> bool {
    match format.replace('-', "").as_str() {
        "uuid" => uuid_version(text, None),
        "uuid3" => uuid_version(text, Some('3')),
        "uuid4" => uuid_version(text, Some('4')),
        "uuid5" => uuid_version(text, Some('5')),
        "byte" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok(),
        "date" => jiff::civil::Date::strptime("%Y-%m-%d", text).is_ok(),
        "datetime" => text.parse::<jiff::Timestamp>().is_ok(),
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.contains(':') && text.parse::<std::net::IpAddr>().is_ok(),
        "cidr" => text.split_once('/').is_some_and(|(ip, bits)| {
            let bits: Option<u8> = bits.parse().ok();
            match ip.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(_)) => bits.is_some_and(|b| b <= 32),
                Ok(std::net::IpAddr::V6(_)) => bits.is_some_and(|b| b <= 128),
                Err(_) => false,
            }
        }),
        "mac" => {
            let groups: Vec<&str> = text.split([':', '-']).collect();
            matches!(groups.len(), 6 | 8 | 20)
                && groups
                    .iter()
                    .all(|g| g.len() == 2 && g.chars().all(|c| c.is_ascii_hexdigit()))
        }
        "hostname" => hostname(text),
        "bsonobjectid" => text.len() == 24 && text.chars().all(|c| c.is_ascii_hexdigit()),
        "hexcolor" => {
            let digits = text.strip_prefix('#').unwrap_or(text);
            matches!(digits.len(), 3 | 6) && digits.chars().all(|c| c.is_ascii_hexdigit())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_formats_are_checked_and_others_ignored() {
        assert_eq!(supported("int64"), None);
        assert_eq!(supported("double"), None);
        assert_eq!(supported("date-time"), Some("date-time"));
        assert!(valid("uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!valid("uuid", "nope"));
        assert!(valid("uuid4", "0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!valid("uuid5", "0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(valid("ipv4", "10.0.0.1") && !valid("ipv4", "10.0.0"));
        assert!(valid("cidr", "10.0.0.0/8") && !valid("cidr", "10.0.0.0"));
        assert!(valid("date-time", "2024-01-02T03:04:05Z") && !valid("date-time", "yesterday"));
        assert!(valid("date", "2024-01-02") && !valid("date", "2024-13-02"));
    }
}
