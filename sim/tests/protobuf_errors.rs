//! Bad bodies give errors that say what is wrong, and nothing panics.

use serde_json::json;
use sim::protobuf::{ProtobufError, decode_body, encode_body};

fn valid_body() -> Vec<u8> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}});
    encode_body(&pod).expect("encodes")
}

/// Hand-built `k8s\0` + runtime.Unknown: typeMeta (1), raw (2), contentEncoding (3), contentType (4).
fn envelope(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    encoding: &str,
    content_type: &str,
) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
        out.push(number << 3 | 2);
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
    }
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, api_version.as_bytes());
    field(&mut type_meta, 2, kind.as_bytes());
    let mut body = b"k8s\0".to_vec();
    field(&mut body, 1, &type_meta);
    field(&mut body, 2, raw);
    field(&mut body, 3, encoding.as_bytes());
    field(&mut body, 4, content_type.as_bytes());
    body
}

#[test]
fn empty_body() {
    assert!(matches!(decode_body(b""), Err(ProtobufError::Empty)));
}

#[test]
fn missing_magic() {
    let err = decode_body(br#"{"kind":"Pod"}"#).expect_err("JSON is not protobuf");
    assert!(matches!(err, ProtobufError::MissingMagic));
    assert!(err.to_string().contains("magic"), "{err}");
    assert!(matches!(
        decode_body(b"k8s"),
        Err(ProtobufError::MissingMagic)
    ));
}

#[test]
fn truncated_envelopes() {
    let body = valid_body();
    for len in 4..body.len() {
        let err = decode_body(&body[..len]).expect_err("truncated");
        assert!(
            matches!(
                err,
                ProtobufError::MalformedEnvelope(_)
                    | ProtobufError::MissingTypeMeta(_)
                    | ProtobufError::MalformedMessage { .. }
            ),
            "{len}: {err}"
        );
    }
    assert!(matches!(
        decode_body(b"k8s\0"),
        Err(ProtobufError::MalformedEnvelope(_))
    ));
    assert!(matches!(
        decode_body(b"k8s\0\x0a\xff"),
        Err(ProtobufError::MalformedEnvelope(_))
    ));
}

#[test]
fn unknown_kind_names_kind_and_api_version() {
    let err = decode_body(&envelope("example.com/v1", "Widget", b"", "", "")).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        r#"unsupported kind "Widget" (apiVersion "example.com/v1") in protobuf body"#
    );
    let err =
        encode_body(&json!({"apiVersion": "v2", "kind": "Pod"})).expect_err("unknown version");
    assert!(
        matches!(err, ProtobufError::UnsupportedKind { .. }),
        "{err}"
    );
}

#[test]
fn missing_type_meta() {
    assert!(matches!(
        decode_body(&envelope("v1", "", b"", "", "")),
        Err(ProtobufError::MissingTypeMeta(_))
    ));
    assert!(matches!(
        decode_body(&envelope("", "Pod", b"", "", "")),
        Err(ProtobufError::MissingTypeMeta(_))
    ));
}

#[test]
fn content_encoding_and_type() {
    let err = decode_body(&envelope("v1", "Pod", b"", "gzip", "")).expect_err("gzip");
    assert_eq!(
        err.to_string(),
        r#"protobuf envelope contentEncoding "gzip" is not supported"#
    );
    let err = decode_body(&envelope("v1", "Pod", b"", "", "application/json")).expect_err("json");
    assert!(
        matches!(err, ProtobufError::UnsupportedContentType(_)),
        "{err}"
    );
    // Go's client writes both as empty strings; that and the explicit protobuf type are fine.
    let ok = envelope("v1", "Pod", b"", "", "application/vnd.kubernetes.protobuf");
    assert_eq!(
        decode_body(&ok).expect("decodes"),
        json!({"apiVersion": "v1", "kind": "Pod"})
    );
}

#[test]
fn garbage_raw_bytes() {
    for raw in [&b"\xff\xff\xff\xff"[..], b"\x0a\x05ab", b"\x0f", b"\x0a"] {
        let err = decode_body(&envelope("v1", "Pod", raw, "", "")).expect_err("garbage");
        assert!(
            err.to_string()
                .starts_with("malformed message for kind Pod: "),
            "{err}"
        );
    }
    // Well-formed protobuf whose values Go could not print: IntOrString type 7 as a Service
    // targetPort (spec=2 > ports=1 > targetPort=4 > type=1), raw JSON that is not JSON.
    let bad_port = b"\x12\x06\x0a\x04\x22\x02\x08\x07";
    let err = decode_body(&envelope("v1", "Service", bad_port, "", "")).expect_err("type 7");
    assert!(err.to_string().contains("impossible type 7"), "{err}");
    // ManagedFieldsEntry (metadata=1 > managedFields=17 > fieldsV1=7 > Raw=1) holding "{".
    let bad_raw = b"\x0a\x07\x8a\x01\x04\x3a\x02\x0a\x00";
    let _ = decode_body(&envelope("v1", "Pod", bad_raw, "", ""));
    let bad_raw = b"\x0a\x08\x8a\x01\x05\x3a\x03\x0a\x01{";
    let err = decode_body(&envelope("v1", "Pod", bad_raw, "", "")).expect_err("bad raw JSON");
    assert!(err.to_string().contains("raw JSON"), "{err}");
}

#[test]
fn encode_rejects_bad_objects() {
    assert!(matches!(
        encode_body(&json!([1])),
        Err(ProtobufError::InvalidObject(_))
    ));
    assert!(matches!(
        encode_body(&json!({"kind": "Pod"})),
        Err(ProtobufError::InvalidObject(_))
    ));
    let err =
        encode_body(&json!({"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwrk": true}}))
            .expect_err("misspelt");
    assert_eq!(
        err.to_string(),
        "cannot encode kind Pod as protobuf: spec: hostNetwrk: unknown field in PodSpec"
    );
    for bad in [
        json!({"spec": {"priority": "high"}}),
        json!({"spec": {"priority": 1.5}}),
        json!({"spec": {"priority": 4_000_000_000_u64}}),
        json!({"metadata": {"creationTimestamp": "yesterday"}}),
        json!({"spec": {"containers": {"name": "c"}}}),
    ] {
        let mut pod = bad;
        pod["apiVersion"] = json!("v1");
        pod["kind"] = json!("Pod");
        assert!(
            matches!(encode_body(&pod), Err(ProtobufError::Encode { .. })),
            "{pod}"
        );
    }
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}});
    assert!(matches!(
        encode_body(&secret),
        Err(ProtobufError::Encode { .. })
    ));
}

/// Deterministic pseudo-random bodies: random bytes, mutated valid bodies, random raw messages.
#[test]
fn random_bodies_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = valid_body();
    let kinds = [
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "Secret"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("batch/v1", "CronJob"),
    ];
    for round in 0..3000 {
        let len = (next() % 96) as usize;
        let random: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let body = match round % 3 {
            0 => [b"k8s\0".as_slice(), &random].concat(),
            1 => {
                let mut body = valid.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % body.len();
                    body[at] = next() as u8;
                }
                body
            }
            _ => {
                let (api_version, kind) = kinds[(next() as usize) % kinds.len()];
                envelope(api_version, kind, &random, "", "")
            }
        };
        // Either outcome is fine; a panic or a hang is not.
        if let Ok(value) = decode_body(&body) {
            assert!(value.is_object());
        }
    }
}
