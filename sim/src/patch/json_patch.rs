//! JSON patch (RFC 6902, `application/json-patch+json`): kube-rs `Patch::Json`,
//! `kubectl patch --type=json`.

use json_patch::{AddOperation, PatchOperation};
use serde_json::Value;

use super::PatchError;

/// What kube-apiserver says when an operation cannot be applied: evanphx/json-patch's own error
/// goes into a generic 422 whose message replaces it (`NewGenericServerResponse`).
pub(crate) const NOT_APPLIED: &str =
    "the server rejected our request due to an error in our request";

/// Applies the operations in order; none of them takes effect when one fails.
pub(crate) fn apply(original: &Value, patch: Value) -> Result<Value, PatchError> {
    // A malformed operation list is 400 (`jsonpatch.DecodePatch` fails before anything runs).
    let operations: json_patch::Patch =
        serde_json::from_value(patch).map_err(|error| PatchError::BadRequest(error.to_string()))?;
    let mut patched = original.clone();
    for operation in operations.0 {
        let operation = as_evanphx_applies_it(&patched, operation);
        json_patch::patch(&mut patched, &[operation])
            .map_err(|_| PatchError::Invalid(NOT_APPLIED.to_owned()))?;
    }
    Ok(patched)
}

/// evanphx/json-patch v4 (kube-apiserver's) replaces a key an object does not have by adding
/// it: its object lookup cannot tell a missing key from a null one. RFC 6902 says that is an
/// error, and the json_patch crate follows the RFC.
fn as_evanphx_applies_it(document: &Value, operation: PatchOperation) -> PatchOperation {
    let PatchOperation::Replace(replace) = operation else {
        return operation;
    };
    let path = replace.path.as_str();
    let missing_key = path.rsplit_once('/').is_some_and(|(parent, key)| {
        let key = key.replace("~1", "/").replace("~0", "~");
        document
            .pointer(parent)
            .and_then(Value::as_object)
            .is_some_and(|object| !object.contains_key(&key))
    });
    if missing_key {
        PatchOperation::Add(AddOperation {
            path: replace.path,
            value: replace.value,
        })
    } else {
        PatchOperation::Replace(replace)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replacing_a_key_an_object_lacks_adds_it_as_kube_apiserver_does() {
        let original = json!({"data": {"a": "1"}});
        let patch = json!([{"op": "replace", "path": "/data/missing", "value": "x"}]);
        assert_eq!(
            apply(&original, patch).unwrap(),
            json!({"data": {"a": "1", "missing": "x"}})
        );
        // A missing parent, a missing array element and a failed test stay errors.
        for patch in [
            json!([{"op": "replace", "path": "/nothing/here", "value": "x"}]),
            json!([{"op": "replace", "path": "/data/a/0", "value": "x"}]),
            json!([{"op": "test", "path": "/data/a", "value": "2"}]),
        ] {
            assert!(apply(&original, patch.clone()).is_err(), "{patch}");
        }
    }
}
