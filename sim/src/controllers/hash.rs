//! `pod-template-hash` and `controller-revision-hash` values: fnv-1a (32-bit) of the template plus
//! the collision count, rendered as kube-controller-manager does (`rand.SafeEncodeString` of the
//! decimal hash). kube-controller-manager hashes Go's spew dump of the template; we hash its
//! canonical JSON (keys sorted), which is as stable, though the values differ from a real
//! cluster's.

use serde::Serialize;

/// kube's `rand.SafeEncodeString` alphabet: no vowels, no look-alike characters.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// Each character of `text` mapped onto the safe alphabet (what `SafeEncodeString` does).
pub fn safe_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| ALPHANUMS[usize::from(byte) % ALPHANUMS.len()] as char)
        .collect()
}

/// The hash of a pod template, with the collision count appended as kube does (4 bytes, little
/// endian) when there is one.
pub fn template_hash<T: Serialize>(template: &T, collision_count: Option<i32>) -> String {
    // serde_json's maps are sorted (no `preserve_order`), so equal templates give equal bytes.
    let mut bytes = serde_json::to_value(template)
        .map(|value| value.to_string().into_bytes())
        .unwrap_or_default();
    if let Some(count) = collision_count {
        bytes.extend_from_slice(&count.to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn hashes_are_stable_safe_and_change_with_template_and_collisions() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let b = json!({"spec": {"containers": [{"image": "nginx", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}});
        let hash = template_hash(&a, None);
        assert_eq!(hash, template_hash(&b, None));
        assert!(hash.bytes().all(|byte| ALPHANUMS.contains(&byte)));
        assert!(!hash.is_empty() && hash.len() <= 10);
        assert_ne!(hash, template_hash(&a, Some(1)));
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}});
        assert_ne!(hash, template_hash(&c, None));
        // "0" is byte 48, 48 % 27 = 21 → '4'.
        assert_eq!(safe_encode("0"), "4");
    }
}
