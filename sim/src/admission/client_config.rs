//! How kube-apiserver validates a webhook's `clientConfig` (apiserver `util/webhook`
//! `ValidateWebhookURL`, `ValidateWebhookService`), with the URL parsed as Go's `net/url`
//! parses it, since its errors are part of the messages.

use serde_json::Value;

use crate::status::FieldCause;
use crate::validation::field::{self, child, quote};
use crate::validation::names::{port_errors, subdomain_errors};

/// The parts of a URL the validation looks at.
#[derive(Debug, Default, PartialEq, Eq)]
struct Url {
    scheme: String,
    host: String,
    /// The user information as written, when there is any.
    user: Option<String>,
    /// Unescaped.
    fragment: String,
    raw_query: String,
}

/// `url.Parse`, as far as the validation needs it; `Err` is Go's error text.
fn parse_url(raw: &str) -> Result<Url, String> {
    let (before_fragment, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    let mut url = parse_without_fragment(before_fragment)
        .map_err(|error| url_error(before_fragment, &error))?;
    url.fragment = unescape(fragment, Mode::Other).map_err(|error| url_error(raw, &error))?;
    Ok(url)
}

/// Go's `url.Error`: `parse "<url>": <reason>`.
fn url_error(url: &str, reason: &str) -> String {
    format!("parse {}: {reason}", quote(url))
}

fn parse_without_fragment(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == "*" {
        return Ok(url);
    }
    let (scheme, rest) = scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        url.raw_query = query.to_string();
        rest
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // An opaque URL (`https:host`): no host.
            return Ok(url);
        }
        if rest
            .split('/')
            .next()
            .is_some_and(|segment| segment.contains(':'))
        {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut path = rest;
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority = &rest[2..];
        let (authority, after) = match authority.find('/') {
            Some(slash) => (&authority[..slash], &authority[slash..]),
            None => (authority, ""),
        };
        path = after;
        let (user, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        url.host = parse_host(host)?;
        if let Some(user) = user {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c);
            if !user.chars().all(allowed) {
                return Err("net/url: invalid userinfo".into());
            }
            for part in user.split(':') {
                unescape(part, Mode::Other)?;
            }
            url.user = Some(user.to_string());
        }
    }
    unescape(path, Mode::Other)?;
    Ok(url)
}

/// `getScheme`: `[a-zA-Z][a-zA-Z0-9+.-]*:` or none.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (index, byte) in raw.bytes().enumerate() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if index > 0 => {}
            b':' if index == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..index], &raw[index + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// `parseHost`: an IP literal in brackets or a name, each with an optional `:port`. Colons in
/// a name split at the last one (the behaviour of the Go release kube-apiserver 1.32 pins).
fn parse_host(host: &str) -> Result<String, String> {
    let valid_port = |port: &str| {
        port.is_empty() || (port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))
    };
    match host.rfind('[') {
        Some(open) if open > 0 => Err("invalid IP-literal".into()),
        Some(_) => {
            let close = host.rfind(']').ok_or("missing ']' in host")?;
            let port = &host[close + 1..];
            if !valid_port(port) {
                return Err(format!("invalid port {} after host", quote(port)));
            }
            let literal = &host[1..close];
            let address = match literal.find("%25") {
                Some(zone) => &literal[..zone],
                None => literal,
            };
            let address = unescape(address, Mode::Host)?;
            if address.parse::<std::net::Ipv6Addr>().is_err() {
                if address.parse::<std::net::Ipv4Addr>().is_ok() {
                    return Err("invalid IP-literal".into());
                }
                return Err(format!(
                    "invalid host: ParseAddr({}): unable to parse IP",
                    quote(&address)
                ));
            }
            Ok(host.to_string())
        }
        None => {
            if let Some(colon) = host.rfind(':')
                && !valid_port(&host[colon..])
            {
                return Err(format!("invalid port {} after host", quote(&host[colon..])));
            }
            unescape(host, Mode::Host)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Other,
}

/// `unescape`: checks `%XX` escapes (in a host only for non-ASCII bytes, or `%25`) and, in a
/// host, that every ASCII character may appear there.
fn unescape(text: &str, mode: Mode) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .filter(|pair| pair.iter().all(u8::is_ascii_hexdigit));
                let Some(hex) = hex else {
                    let end = (index + 3).min(text.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        quote(&String::from_utf8_lossy(&bytes[index..end]))
                    ));
                };
                let digits = std::str::from_utf8(hex).unwrap_or("00");
                let value = u8::from_str_radix(digits, 16).unwrap_or(0);
                if mode == Mode::Host && value < 0x80 && digits != "25" {
                    return Err(format!(
                        "invalid URL escape {}",
                        quote(&text[index..index + 3])
                    ));
                }
                decoded.push(value);
                index += 3;
            }
            byte if mode == Mode::Host && byte < 0x80 && !host_byte(byte) => {
                return Err(format!(
                    "invalid character {} in host name",
                    quote(&(byte as char).to_string())
                ));
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&decoded).into_owned())
}

/// The ASCII bytes Go leaves unescaped in a host.
fn host_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&byte)
}

const FORM: &str = "; desired format: https://host[/path]";

/// `ValidateWebhookURL` with `forceHttps`.
pub fn validate_url(path: &str, raw: &str) -> Vec<FieldCause> {
    let url = match parse_url(raw) {
        Ok(url) => url,
        Err(error) => {
            return vec![field::required(
                path,
                &format!("url must be a valid URL: {error}{FORM}"),
            )];
        }
    };
    let mut errors = Vec::new();
    if url.scheme != "https" {
        errors.push(field::invalid(
            path,
            &quote(&url.scheme),
            &format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if url.host.is_empty() {
        errors.push(field::invalid(
            path,
            &quote(&url.host),
            &format!("host must be specified{FORM}"),
        ));
    }
    if let Some(user) = &url.user {
        errors.push(field::invalid(
            path,
            &quote(user),
            "user information is not permitted in the URL",
        ));
    }
    if !url.fragment.is_empty() {
        errors.push(field::invalid(
            path,
            &quote(&url.fragment),
            "fragments are not permitted in the URL",
        ));
    }
    if !url.raw_query.is_empty() {
        errors.push(field::invalid(
            path,
            &quote(&url.raw_query),
            "query parameters are not permitted in the URL",
        ));
    }
    errors
}

/// `ValidateWebhookService`, called as kube-apiserver calls it: with the service's name and
/// namespace swapped, so a missing name is reported as `service.namespace: Required value:
/// service namespace is required` (and the other way round).
pub fn validate_service(path: &str, service: &Value) -> Vec<FieldCause> {
    let text = |name: &str| service.get(name).and_then(Value::as_str);
    let (as_namespace, as_name) = (text("name").unwrap_or(""), text("namespace").unwrap_or(""));
    let mut errors = Vec::new();
    if as_name.is_empty() {
        errors.push(field::required(
            &child(path, "name"),
            "service name is required",
        ));
    }
    if as_namespace.is_empty() {
        errors.push(field::required(
            &child(path, "namespace"),
            "service namespace is required",
        ));
    }
    // Defaulting has set the port when it was absent.
    let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
    let problems = port_errors(port);
    if !problems.is_empty() {
        errors.push(field::invalid(
            &child(path, "port"),
            &port.to_string(),
            &format!("port is not valid: {}", problems.join(", ")),
        ));
    }
    let Some(url_path) = text("path") else {
        return errors;
    };
    let path = child(path, "path");
    if url_path.is_empty() || url_path == "/" {
        return errors;
    }
    let invalid = |detail: &str| field::invalid(&path, &quote(url_path), detail);
    if url_path == "//" {
        errors.push(invalid("segment[0] may not be empty"));
        return errors;
    }
    if !url_path.starts_with('/') {
        errors.push(invalid("must start with a '/'"));
    }
    // Go drops the first byte whatever it is, and one trailing '/'.
    let mut segments = url_path.get(1..).unwrap_or("");
    segments = segments.strip_suffix('/').unwrap_or(segments);
    for (index, segment) in segments.split('/').enumerate() {
        if segment.is_empty() {
            errors.push(invalid(&format!("segment[{index}] may not be empty")));
            continue;
        }
        for failure in subdomain_errors(segment) {
            errors.push(invalid(&format!("segment[{index}]: {failure}")));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url_messages(raw: &str) -> Vec<String> {
        validate_url("u", raw)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn urls_are_parsed_and_refused_as_go_does() {
        for accepted in [
            "https://x",
            "https://host?",
            "https://host#",
            "https://[::1]:443/x",
            "https://host:80:90",
            "HTTPS://Host/",
            "https://[fe80::1%25en0]/",
            "https://ho~st.com",
        ] {
            assert!(
                url_messages(accepted).is_empty(),
                "{accepted}: {:?}",
                url_messages(accepted)
            );
        }
        let form = "; desired format: https://host[/path]";
        for (raw, expected) in [
            (
                "http://x",
                format!("u: Invalid value: \"http\": 'https' is the only allowed URL scheme{form}"),
            ),
            (
                "https:///path",
                format!("u: Invalid value: \"\": host must be specified{form}"),
            ),
            (
                "https://user:pw@host/p",
                "u: Invalid value: \"user:pw\": user information is not permitted in the URL"
                    .to_string(),
            ),
            (
                "https://host?a=b",
                "u: Invalid value: \"a=b\": query parameters are not permitted in the URL"
                    .to_string(),
            ),
            (
                "https://host#frag%20x",
                "u: Invalid value: \"frag x\": fragments are not permitted in the URL".to_string(),
            ),
            (
                "https://a b",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://a b\": invalid character \" \" in host name{form}"
                ),
            ),
            (
                "https://host:port",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://host:port\": invalid port \":port\" after host{form}"
                ),
            ),
            (
                "https://[::1",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://[::1\": missing ']' in host{form}"
                ),
            ),
            (
                "https://[1.2.3.4]",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://[1.2.3.4]\": invalid IP-literal{form}"
                ),
            ),
            (
                "://x",
                format!(
                    "u: Required value: url must be a valid URL: parse \"://x\": missing protocol scheme{form}"
                ),
            ),
            (
                "https://host/%zz",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://host/%zz\": invalid URL escape \"%zz\"{form}"
                ),
            ),
            (
                "https://exa\tmple",
                format!(
                    "u: Required value: url must be a valid URL: parse \"https://exa\\tmple\": net/url: invalid control character in URL{form}"
                ),
            ),
            (
                "1https://x",
                format!(
                    "u: Required value: url must be a valid URL: parse \"1https://x\": first path segment in URL cannot contain colon{form}"
                ),
            ),
            (
                "https:opaque",
                format!("u: Invalid value: \"\": host must be specified{form}"),
            ),
        ] {
            assert_eq!(url_messages(raw), [expected], "{raw}");
        }
        assert_eq!(url_messages("x").len(), 2, "no scheme and no host");
        assert_eq!(
            url_messages("https://h@").len(),
            2,
            "no host, and user information"
        );
    }

    #[test]
    fn services_are_checked_with_name_and_namespace_swapped() {
        let messages = |service: Value| -> Vec<String> {
            validate_service("s", &service)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert!(
            messages(json!({"name": "n", "namespace": "ns", "port": 443, "path": "/a/b.c/"}))
                .is_empty()
        );
        assert_eq!(
            messages(json!({"namespace": "ns"})),
            ["s.namespace: Required value: service namespace is required"]
        );
        assert_eq!(
            messages(json!({"name": "n", "port": 0, "path": "x//Y/"})),
            [
                "s.name: Required value: service name is required",
                "s.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
                "s.path: Invalid value: \"x//Y/\": must start with a '/'",
                "s.path: Invalid value: \"x//Y/\": segment[0] may not be empty",
                "s.path: Invalid value: \"x//Y/\": segment[1] may not be empty",
                "s.path: Invalid value: \"x//Y/\": segment[2]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ]
        );
    }
}
