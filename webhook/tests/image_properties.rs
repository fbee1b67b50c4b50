//! Properties of image-reference parsing: it never panics, normalising is idempotent, and every
//! reference the grammar allows is accepted with the expected parts.

use image_assurance::image::ImageRef;
use proptest::prelude::*;

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, kept short.
fn path_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,5}(([._]|__|-{1,3})[a-z0-9]{1,5}){0,2}"
}

/// A first component that cannot be mistaken for a registry host (no `.`).
fn leading_path_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,5}((_|__|-{1,3})[a-z0-9]{1,5}){0,2}"
        .prop_filter("not localhost", |component| component != "localhost")
}

fn registry() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?){1,2}(:[0-9]{1,5})?",
        "localhost(:[0-9]{1,5})?",
        "[a-z][a-z0-9]{0,6}:[0-9]{1,5}",
        // Only a first component with `.` or `:` is a host, so an IPv6 address needs a colon.
        "\\[[0-9a-fA-F:]{0,6}:[0-9a-fA-F:]{0,6}\\](:[0-9]{1,5})?",
    ]
    .prop_filter("not a Docker Hub alias", |registry| {
        registry != "docker.io" && registry != "index.docker.io"
    })
}

fn tag() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"
}

fn digest() -> impl Strategy<Value = String> {
    prop_oneof![
        "sha256:[a-f0-9]{64}",
        "sha512:[a-f0-9]{128}",
        "[a-z0-9]{1,6}([.+_-][a-z0-9]{1,4}){0,2}:[a-f0-9]{32,70}".prop_filter(
            "registered algorithms have fixed lengths",
            |digest| !digest.starts_with("sha256:")
                && !digest.starts_with("sha384:")
                && !digest.starts_with("sha512:")
        ),
    ]
}

/// (reference, expected registry, expected path, tag, digest)
fn valid_reference()
-> impl Strategy<Value = (String, String, String, Option<String>, Option<String>)> {
    let with_registry = (registry(), prop::collection::vec(path_component(), 1..4)).prop_map(
        |(registry, components)| {
            let path = components.join("/");
            (format!("{registry}/{path}"), registry, path)
        },
    );
    let without_registry = (
        leading_path_component(),
        prop::collection::vec(path_component(), 0..3),
    )
        .prop_map(|(first, rest)| {
            let written = std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join("/");
            let path = if written.contains('/') {
                written.clone()
            } else {
                format!("library/{written}")
            };
            (written, "docker.io".to_string(), path)
        });
    let single_dotted = path_component().prop_map(|name| {
        // Without a `/` even a dotted name is a Docker Hub repository.
        (
            name.clone(),
            "docker.io".to_string(),
            format!("library/{name}"),
        )
    });
    (
        prop_oneof![with_registry, without_registry, single_dotted],
        prop::option::of(tag()),
        prop::option::of(digest()),
    )
        .prop_map(|((name, registry, path), tag, digest)| {
            let mut reference = name;
            if let Some(tag) = &tag {
                reference = format!("{reference}:{tag}");
            }
            if let Some(digest) = &digest {
                reference = format!("{reference}@{digest}");
            }
            (reference, registry, path, tag, digest)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let _ = ImageRef::parse(&text);
    }

    #[test]
    fn reference_like_strings_normalise_idempotently(
        text in "[a-zA-Z0-9.:/@_\\[\\] -]{0,40}"
    ) {
        if let Ok(image) = ImageRef::parse(&text) {
            let again = ImageRef::parse(image.normalised());
            prop_assert!(again.is_ok(), "{} did not reparse: {:?}", image, again);
            let again = again.unwrap();
            prop_assert_eq!(again.normalised(), image.normalised());
            prop_assert_eq!(&again, &image);
        }
    }

    #[test]
    fn generated_valid_references_parse_with_the_expected_parts(
        (reference, registry, path, tag, digest) in valid_reference()
    ) {
        let image = ImageRef::parse(&reference);
        prop_assert!(image.is_ok(), "{:?} was refused: {:?}", reference, image);
        let image = image.unwrap();
        prop_assert_eq!(image.registry(), registry.as_str());
        prop_assert_eq!(image.path(), path.as_str());
        prop_assert_eq!(image.digest(), digest.as_deref());
        let expected_tag = match (&tag, &digest) {
            (Some(tag), _) => Some(tag.as_str()),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        };
        prop_assert_eq!(image.tag(), expected_tag);
        let name = format!("{registry}/{path}");
        prop_assert_eq!(image.name(), name.as_str());
        if let Some(tagged) = image.tagged() {
            prop_assert!(image.normalised().starts_with(tagged));
        }
        prop_assert_eq!(ImageRef::parse(image.normalised()), Ok(image.clone()));
    }

    #[test]
    fn inserting_whitespace_into_a_valid_reference_is_refused(
        (reference, ..) in valid_reference(),
        position in any::<prop::sample::Index>(),
        space in prop::sample::select(vec![' ', '\t', '\n', '\u{a0}']),
    ) {
        let mut text = reference.clone();
        let at = position.index(text.len() + 1);
        text.insert(at, space);
        prop_assert!(ImageRef::parse(&text).is_err());
    }
}
