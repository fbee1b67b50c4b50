//! JSON patch (RFC 6902, `application/json-patch+json`): kube-rs `Patch::Json`,
//! `kubectl patch --type=json`.

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
    json_patch::patch(&mut patched, &operations)
        .map_err(|_| PatchError::Invalid(NOT_APPLIED.to_owned()))?;
    Ok(patched)
}
