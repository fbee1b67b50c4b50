//! Container image references, parsed and normalised the way the Docker distribution reference
//! library (`ParseNormalizedNamed`) does, so that `imagePath` regexes and scan lookups see the
//! registry and repository the container runtime will actually pull from.
//!
//! Grammar: `[registry/]path[:tag][@digest]`. Normalised form: `registry/path[:tag][@digest]`
//! with Docker Hub defaults applied and `:latest` added when there is neither tag nor digest
//! (policy-semantics §3).

use std::fmt;
use std::str::FromStr;

use crate::quote::{self, quote, quote_kept};

const DEFAULT_REGISTRY: &str = "docker.io";
/// Docker Hub's old name; Trivy still writes it.
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// distribution's `NameTotalLengthMax`, applied to the normalised `registry/path`.
const NAME_MAX_LEN: usize = 255;
const TAG_MAX_LEN: usize = 128;
const MIN_DIGEST_HEX: usize = 32;

/// A parsed, normalised image reference. Equality and hashing compare the normalised form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `registry/path[:tag][@digest]`; every accessor is a slice of it.
    normalised: String,
    registry_end: usize,
    path_end: usize,
    tag_end: Option<usize>,
    digest_start: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {}: {reason}", quote_kept(reference, *length))]
pub struct ImageRefError {
    /// The reference as given, or of a long one only its start (`quote::shown`): no error
    /// keeps a copy of megabytes.
    pub reference: String,
    /// The reference's length in bytes.
    pub length: usize,
    pub reason: String,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<ImageRef, ImageRefError> {
        parse_reference(reference).map_err(|reason| ImageRefError {
            reference: quote::shown(reference).to_string(),
            length: reference.len(),
            reason,
        })
    }

    /// `docker.io`, `gcr.io`, `localhost:5000`, `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.normalised[..self.registry_end]
    }

    /// The repository path inside the registry: `library/nginx`.
    pub fn path(&self) -> &str {
        &self.normalised[self.registry_end + 1..self.path_end]
    }

    /// `registry/path`, without tag or digest.
    pub fn name(&self) -> &str {
        &self.normalised[..self.path_end]
    }

    /// The explicit tag, or `latest` when the reference had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag_end
            .map(|end| &self.normalised[self.path_end + 1..end])
    }

    /// `algorithm:hex`, e.g. `sha256:…`.
    pub fn digest(&self) -> Option<&str> {
        self.digest_start.map(|start| &self.normalised[start..])
    }

    /// `registry/path[:tag][@digest]`, e.g. `docker.io/library/nginx:latest`.
    pub fn normalised(&self) -> &str {
        &self.normalised
    }

    /// `registry/path:tag` (a prefix of [`normalised`](Self::normalised)); `None` for a
    /// digest-only reference.
    pub fn tagged(&self) -> Option<&str> {
        self.tag_end.map(|end| &self.normalised[..end])
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalised)
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(reference: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(reference)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.normalised)
    }
}

/// Deserialising parses, so a bad reference in a file is reported at its field.
impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn parse_reference(reference: &str) -> Result<ImageRef, String> {
    if reference.is_empty() {
        return Err("the reference is empty".into());
    }
    // An ASCII reference (nearly all) is checked byte by byte: `char::is_whitespace` on ASCII
    // is exactly space and `\t`..=`\r`.
    let has_whitespace = if reference.is_ascii() {
        reference
            .bytes()
            .any(|byte| matches!(byte, b' ' | b'\t'..=b'\r'))
    } else {
        reference.chars().any(char::is_whitespace)
    };
    if has_whitespace {
        return Err("contains whitespace".into());
    }
    // distribution refuses these because they are ambiguous with image IDs.
    if reference.len() == 64 && is_lower_hex(reference) {
        return Err("a 64-character hexadecimal string is an image ID, not a reference".into());
    }

    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if !rest[colon..].contains('/') => (&rest[..colon], Some(&rest[colon + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }

    let (registry, path) = split_registry(name);
    if registry != DEFAULT_REGISTRY {
        check_registry(registry)?;
    }
    check_path(path)?;
    let add_library = registry == DEFAULT_REGISTRY && !path.contains('/');
    let prefix_len = if add_library {
        OFFICIAL_REPOSITORY_PREFIX.len()
    } else {
        0
    };
    if registry.len() + 1 + prefix_len + path.len() > NAME_MAX_LEN {
        return Err(format!(
            "the repository name is longer than {NAME_MAX_LEN} characters"
        ));
    }

    let mut normalised = String::with_capacity(reference.len() + DEFAULT_REGISTRY.len() + 16);
    normalised.push_str(registry);
    let registry_end = normalised.len();
    normalised.push('/');
    if add_library {
        normalised.push_str(OFFICIAL_REPOSITORY_PREFIX);
    }
    normalised.push_str(path);
    let path_end = normalised.len();
    let tag = match (tag, digest) {
        (Some(tag), _) => Some(tag),
        (None, None) => Some(DEFAULT_TAG),
        (None, Some(_)) => None,
    };
    let tag_end = tag.map(|tag| {
        normalised.push(':');
        normalised.push_str(tag);
        normalised.len()
    });
    let digest_start = digest.map(|digest| {
        normalised.push('@');
        let start = normalised.len();
        normalised.push_str(digest);
        start
    });
    Ok(ImageRef {
        normalised,
        registry_end,
        path_end,
        tag_end,
        digest_start,
    })
}

/// distribution's `splitDockerDomain`: the first component is a registry when it contains
/// `.` or `:`, is `localhost`, or has uppercase letters (repository paths never do).
fn split_registry(name: &str) -> (&str, &str) {
    let Some((first, remainder)) = name.split_once('/') else {
        return (DEFAULT_REGISTRY, name);
    };
    let is_registry = first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|byte| byte.is_ascii_uppercase());
    if !is_registry {
        (DEFAULT_REGISTRY, name)
    } else if first == LEGACY_DEFAULT_REGISTRY {
        (DEFAULT_REGISTRY, remainder)
    } else {
        (first, remainder)
    }
}

/// `host[:port]` where host is a DNS name (`[a-zA-Z0-9-]` labels) or a bracketed IPv6 address.
fn check_registry(registry: &str) -> Result<(), String> {
    let invalid = || format!("registry host {} is invalid", quote(registry));
    let (host_ok, port) = if let Some(inner) = registry.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err(invalid());
        };
        let address_ok = !address.is_empty()
            && address
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() || byte == b':');
        match after {
            "" => (address_ok, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address_ok, Some(port)),
                None => return Err(invalid()),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (is_domain_name(host), Some(port)),
            None => (is_domain_name(registry), None),
        }
    };
    if !host_ok {
        return Err(invalid());
    }
    match port {
        Some(port) if port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()) => {
            Err(format!(
                "registry port {} in {} must be digits",
                quote(port),
                quote(registry)
            ))
        }
        _ => Ok(()),
    }
}

fn is_domain_name(host: &str) -> bool {
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && bytes
                        .iter()
                        .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
            }
            _ => false,
        }
    })
}

fn check_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(format!(
                "repository path {} has an empty component",
                quote(path)
            ));
        }
        if component.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return Err(format!("repository path {} must be lowercase", quote(path)));
        }
        if !is_path_component(component) {
            return Err(format!(
                "repository path component {} is invalid (expected lowercase letters \
                 and digits separated by `.`, `_`, `__` or dashes)",
                quote(component)
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let is_alnum = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut index = 0;
    loop {
        let start = index;
        while index < bytes.len() && is_alnum(&bytes[index]) {
            index += 1;
        }
        if index == start {
            return false;
        }
        if index == bytes.len() {
            return true;
        }
        let separator_start = index;
        while index < bytes.len() && !is_alnum(&bytes[index]) {
            index += 1;
        }
        let separator = &component[separator_start..index];
        let separator_ok =
            matches!(separator, "." | "_" | "__") || separator.bytes().all(|byte| byte == b'-');
        if !separator_ok {
            return false;
        }
    }
}

/// `[\w][\w.-]{0,127}` with ASCII `\w`, as in Go's RE2.
fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("nothing after `:` (expected a tag)".into());
    }
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = tag.as_bytes();
    let valid = bytes.len() <= TAG_MAX_LEN
        && bytes.first().is_some_and(|&byte| is_word(byte))
        && bytes
            .iter()
            .skip(1)
            .all(|&byte| is_word(byte) || byte == b'.' || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {} is invalid (expected at most {TAG_MAX_LEN} letters, digits, `_`, `.` \
             and `-`, not starting with `.` or `-`)",
            quote(tag)
        ))
    }
}

/// `algorithm:hex` as the OCI image spec and go-digest validate it.
fn check_digest(digest: &str) -> Result<(), String> {
    if digest.is_empty() {
        return Err("nothing after `@` (expected a digest such as sha256:<64 hex digits>)".into());
    }
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(format!(
            "digest {} has no `algorithm:` prefix",
            quote(digest)
        ));
    };
    if !is_digest_algorithm(algorithm) {
        return Err(format!(
            "digest algorithm {} is invalid (expected lowercase letters and digits, \
             e.g. sha256)",
            quote(algorithm)
        ));
    }
    // Registered algorithms have a fixed length; go-digest rejects any other.
    let required_len = match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    let length_ok = match required_len {
        Some(len) => encoded.len() == len,
        None => encoded.len() >= MIN_DIGEST_HEX,
    };
    if length_ok && is_lower_hex(encoded) {
        return Ok(());
    }
    Err(match required_len {
        Some(len) => format!("{algorithm} digest must be {len} lowercase hexadecimal digits"),
        None => format!("digest must be at least {MIN_DIGEST_HEX} lowercase hexadecimal digits"),
    })
}

/// `[a-z0-9]+(?:[.+_-][a-z0-9]+)*`
fn is_digest_algorithm(algorithm: &str) -> bool {
    algorithm.split(['.', '+', '_', '-']).all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
    })
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn normalised(reference: &str) -> String {
        match ImageRef::parse(reference) {
            Ok(image) => image.normalised().to_string(),
            Err(error) => panic!("{error}"),
        }
    }

    fn refused<S: AsRef<str> + ?Sized>(reference: &S, fragment: &str) {
        let reference = reference.as_ref();
        match ImageRef::parse(reference) {
            Ok(image) => panic!("{reference:?} parsed as {image}"),
            Err(error) => {
                assert_eq!(error.reference, reference);
                assert!(error.reason.contains(fragment), "{reference:?}: {error}");
            }
        }
    }

    /// `registry | path | tag | digest`, for compact assertions.
    fn parts(reference: &str) -> String {
        let image = ImageRef::parse(reference).unwrap();
        let (registry, path) = (image.registry(), image.path());
        let (tag, digest) = (image.tag().unwrap_or("-"), image.digest().unwrap_or("-"));
        format!("{registry} | {path} | {tag} | {digest}")
    }

    /// One test per rule: each `reference => normalised form`.
    macro_rules! normalises {
        ($($name:ident: [$($reference:expr => $expected:expr),+ $(,)?];)*) => {$(
            #[test]
            fn $name() {
                $(assert_eq!(normalised(&$reference), $expected, "{:?}", $reference);)+
            }
        )*};
    }

    /// One test per invalid class: each reference is refused with a reason containing the text.
    macro_rules! refuses {
        ($($name:ident: $fragment:literal <- [$($reference:expr),+ $(,)?];)*) => {$(
            #[test]
            fn $name() {
                $(refused(&$reference, $fragment);)+
            }
        )*};
    }

    normalises! {
        a_bare_name_gets_docker_hub_library_and_latest: ["nginx" => "docker.io/library/nginx:latest"];
        a_two_component_name_is_a_docker_hub_user_repository: [
            "foo/bar:1" => "docker.io/foo/bar:1",
            "foo/bar/baz" => "docker.io/foo/bar/baz:latest",
        ];
        index_docker_io_becomes_docker_io: [
            "index.docker.io/x" => "docker.io/library/x:latest",
            "index.docker.io/library/x:1" => "docker.io/library/x:1",
            "index.docker.io/foo/bar" => "docker.io/foo/bar:latest",
        ];
        explicit_docker_io_single_component_gets_library: [
            "docker.io/nginx:1.25" => "docker.io/library/nginx:1.25",
            "docker.io/library/nginx" => "docker.io/library/nginx:latest",
        ];
        explicit_registries_are_kept_as_written: [
            "gcr.io/company/production-repository/api:1.2" => "gcr.io/company/production-repository/api:1.2",
            "registry.hub.docker.com/regisftm/website:v1.1.0" => "registry.hub.docker.com/regisftm/website:v1.1.0",
            "quay.io/app" => "quay.io/app:latest",
        ];
        every_registry_gets_latest_without_tag_or_digest: [
            "localhost/app" => "localhost/app:latest",
            "localhost:5000/app" => "localhost:5000/app:latest",
            "myhost:5000/app" => "myhost:5000/app:latest",
        ];
        // distribution reads `localhost:5000` as the Docker Hub image `localhost` tagged `5000`.
        a_bare_host_port_without_slash_is_a_name_and_tag: ["localhost:5000" => "docker.io/library/localhost:5000"];
        ipv6_registries_are_kept: ["[::1]:5000/app:1" => "[::1]:5000/app:1", "[fe80::1]/app" => "[fe80::1]/app:latest"];
        uppercase_registry_hosts_are_kept: ["Registry.Example.com/app" => "Registry.Example.com/app:latest"];
        a_digest_without_tag_gets_no_latest: [format!("nginx@{SHA}") => format!("docker.io/library/nginx@{SHA}")];
        tag_and_digest_are_both_kept: [format!("gcr.io/a/b:1.0@{SHA}") => format!("gcr.io/a/b:1.0@{SHA}")];
        path_separators_follow_the_grammar: ["a0/c_d/e__f/g-h/i---j" => "docker.io/a0/c_d/e__f/g-h/i---j:latest", "gcr.io/a.b" => "gcr.io/a.b:latest", "x.y" => "docker.io/library/x.y:latest"];
        tags_allow_word_characters_dots_and_dashes: ["app:V1.2_rc-3" => "docker.io/library/app:V1.2_rc-3", "app:_x" => "docker.io/library/app:_x"];
        other_digest_algorithms_need_at_least_32_hex_digits: [format!("a@b+c:{}", "f".repeat(32)) => format!("docker.io/library/a@b+c:{}", "f".repeat(32))];
        sha512_digests_need_128_hex_digits: [format!("a@sha512:{}", "0".repeat(128)) => format!("docker.io/library/a@sha512:{}", "0".repeat(128))];
        // "docker.io/library/" is 18 characters, so 237 more make exactly 255.
        names_of_255_characters_are_allowed: ["a".repeat(237) => format!("docker.io/library/{}:latest", "a".repeat(237))];
        a_64_hex_name_with_a_tag_is_a_repository: [format!("{}:1", "a".repeat(64)) => format!("docker.io/library/{}:1", "a".repeat(64))];
    }

    refuses! {
        rejects_empty: "the reference is empty" <- [""];
        rejects_whitespace_anywhere: "contains whitespace" <- [" nginx", "nginx ", "ngi nx", "nginx:1\t", "nginx\n", "a\u{a0}b"];
        rejects_uppercase_in_the_repository_path: "must be lowercase" <- ["Foo", "gcr.io/Company/api", "foo/Bar"];
        rejects_a_trailing_colon: "expected a tag" <- ["nginx:", "gcr.io/app:"];
        rejects_a_trailing_at: "expected a digest" <- ["nginx@", "nginx:1@"];
        rejects_invalid_tags: "is invalid" <- ["app:.x", "app:-x", "app:a+b", "app:1:2", "app:tä", format!("app:{}", "t".repeat(129))];
        rejects_digests_without_algorithm: "no `algorithm:` prefix" <- ["app@sha256", "app@0123"];
        rejects_invalid_digest_algorithms: "algorithm" <- [format!("a@SHA256:{}", "a".repeat(64)), format!("a@sha256+:{}", "a".repeat(64)), format!("a@:{}", "a".repeat(64))];
        rejects_sha256_digests_not_64_lowercase_hex: "64 lowercase" <- [format!("a@sha256:{}", "A".repeat(64)), format!("a@sha256:{}", "a".repeat(63)), format!("a@sha256:{}", "g".repeat(64)), format!("a@{SHA}@{SHA}")];
        rejects_short_digests_of_other_algorithms: "at least 32" <- [format!("a@md5:{}", "a".repeat(31))];
        rejects_sha512_digests_of_the_wrong_length: "128" <- [format!("a@sha512:{}", "0".repeat(64))];
        rejects_an_empty_name: "the repository name is empty" <- [":1", format!("@{SHA}")];
        rejects_empty_path_components: "empty component" <- ["a//b", "gcr.io/", "/app", "gcr.io/app/"];
        rejects_invalid_path_components: "is invalid" <- ["a..b", "a___b", "a-.b", "-a", "a-", "_a", "a.", "a/.b", "nginé"];
        rejects_invalid_registry_hosts: "registry host" <- ["-bad.io/a", "bad..io/a", "[::1/a", "[]:5000/a", "[::1]x/a", "b_d.io/a"];
        rejects_invalid_registry_ports: "must be digits" <- ["host:/app", "host:50a/app", "host:1:2/app"];
        rejects_64_hex_image_ids: "image ID" <- ["a".repeat(64)];
        rejects_names_longer_than_255_characters: "longer than 255" <- ["a".repeat(238)];
    }

    #[test]
    fn accessors_slice_the_normalised_form() {
        let image = ImageRef::parse("nginx").unwrap();
        assert_eq!(image.name(), "docker.io/library/nginx");
        assert_eq!(image.tagged(), Some("docker.io/library/nginx:latest"));
        assert_eq!(parts("nginx"), "docker.io | library/nginx | latest | -");
        assert_eq!(
            parts("localhost:5000/a/b"),
            "localhost:5000 | a/b | latest | -"
        );
        assert_eq!(parts("[::1]:5000/app:1"), "[::1]:5000 | app | 1 | -");
        // Like distribution, an uppercase first component can only be a host.
        assert_eq!(parts("Foo/bar"), "Foo | bar | latest | -");
    }

    #[test]
    fn registry_ports_and_tags_are_told_apart() {
        let parts = parts("registry.example.com:8443/team/app:2.0");
        assert_eq!(parts, "registry.example.com:8443 | team/app | 2.0 | -");
    }

    #[test]
    fn a_digest_only_reference_has_no_tag_and_no_tagged_form() {
        let image = ImageRef::parse(&format!("nginx@{SHA}")).unwrap();
        assert_eq!(
            (image.tag(), image.tagged(), image.digest()),
            (None, None, Some(SHA))
        );
    }

    #[test]
    fn tagged_is_the_normalised_form_without_digest() {
        let image = ImageRef::parse(&format!("gcr.io/a/b:1.0@{SHA}")).unwrap();
        assert_eq!((image.tag(), image.digest()), (Some("1.0"), Some(SHA)));
        assert_eq!(image.tagged(), Some("gcr.io/a/b:1.0"));
    }

    #[test]
    fn display_and_from_str_use_the_normalised_form() {
        let image: ImageRef = "nginx:1.25".parse().unwrap();
        assert_eq!(image.to_string(), "docker.io/library/nginx:1.25");
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for reference in [
            "nginx",
            "foo/bar:1",
            "index.docker.io/x",
            "localhost:5000/a",
        ] {
            let once = normalised(reference);
            assert_eq!(normalised(&once), once);
        }
    }

    #[test]
    fn serde_round_trips_and_reports_bad_references() {
        let image: ImageRef = serde_json::from_str("\"nginx\"").unwrap();
        let json = serde_json::to_string(&image).unwrap();
        assert_eq!(json, "\"docker.io/library/nginx:latest\"");
        let error = serde_json::from_str::<ImageRef>("\"Foo\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid image reference \"Foo\""),
            "{error}"
        );
    }

    #[test]
    fn error_display_names_the_reference_and_reason() {
        let error = ImageRef::parse("nginx:").unwrap_err().to_string();
        let expected = "invalid image reference \"nginx:\": nothing after `:` (expected a tag)";
        assert_eq!(error, expected);
    }

    #[test]
    fn a_huge_reference_is_neither_kept_nor_shown_whole() {
        let huge = format!("registry.example.com/{}:1.0 x", "a/".repeat(1 << 20));
        let error = ImageRef::parse(&huge).unwrap_err();
        assert!(error.reference.len() <= crate::quote::QUOTE_LIMIT);
        assert_eq!(error.length, huge.len());
        let shown = error.to_string();
        assert!(shown.len() < 1024, "{} bytes", shown.len());
        assert!(
            shown.ends_with(&format!("… ({} bytes): contains whitespace", huge.len())),
            "{shown}"
        );
        // The reasons quote the parts they name, cut as well.
        let path = format!("{}:1.0", "a//".repeat(1 << 20));
        let shown = ImageRef::parse(&path).unwrap_err().to_string();
        assert!(
            shown.len() < 2048 && shown.contains("has an empty component"),
            "{shown}"
        );
    }
}
