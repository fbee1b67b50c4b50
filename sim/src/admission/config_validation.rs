//! What the simulator refuses in webhook configurations it cannot honour: `matchConditions`
//! are CEL expressions, which it does not evaluate. Storing them would make matching silently
//! wrong, so creates and updates that set them are `Invalid`, naming the field.

use serde_json::Value;

use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

pub fn refuse_unsupported(info: &ResourceInfo, name: &str, object: &Value) -> Result<(), ApiError> {
    let causes: Vec<FieldCause> = object
        .get("webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, webhook)| {
            webhook
                .get("matchConditions")
                .and_then(Value::as_array)
                .is_some_and(|conditions| !conditions.is_empty())
        })
        .map(|(index, _)| FieldCause {
            reason: "FieldValueForbidden",
            field: format!("webhooks[{index}].matchConditions"),
            what: "Forbidden".into(),
            detail: "matchConditions (CEL expressions) are not supported by the simulated cluster"
                .into(),
        })
        .collect();
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(info, name, &causes))
    }
}
