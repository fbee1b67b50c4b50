//! JSON merge patch (RFC 7386, `application/merge-patch+json`), as kube-apiserver applies it with
//! evanphx/json-patch `MergePatch`: `kubectl label`/`annotate` and kube-rs `Patch::Merge`.

use serde_json::Value;

use super::PatchError;

/// Merges `patch` into `original`. The patch must be a JSON object: evanphx answers other
/// documents with `Invalid JSON Patch`, which kube-apiserver returns as 400.
pub(crate) fn apply(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    match patch {
        Value::Object(_) => {
            let mut merged = original.clone();
            json_patch::merge(&mut merged, patch);
            Ok(merged)
        }
        Value::Array(_) => Err(PatchError::BadRequest(
            "error decoding patch: json: cannot unmarshal array into Go value of type \
             map[string]interface {}"
                .to_owned(),
        )),
        _ => Err(PatchError::BadRequest("Invalid JSON Patch".to_owned())),
    }
}
