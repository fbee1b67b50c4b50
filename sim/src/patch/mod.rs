//! `PATCH` as kube-apiserver answers it: JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply, on objects stored as `serde_json::Value` in their JSON form.
//!
//! Who sends what (kubectl v1.32, captured in `tests/data/patch/`): `kubectl label`/`annotate`
//! send merge patches, and so does `kubectl scale` (to the `scale` subresource); client-side
//! `kubectl apply` (three-way, with `$setElementOrder` directives and the last-applied
//! annotation), `kubectl set image` and `kubectl debug` send strategic merge patches; `kubectl
//! apply --server-side` sends an apply patch (a JSON body), then, when the object carries the
//! last-applied annotation, a second one as `kubectl-last-applied`; kube-rs sends any of the four.
//!
//! On a create by apply (`current == None`) the caller checks the result against the URL with
//! [`check_name`]; on the other paths `apply_patch` checks it against the stored object.
//!
//! The order of checks is kube-apiserver's: media type (415), patch options (422), the stored
//! object (404, except for apply, which creates), then the body (400/422/409).

mod apply;
mod fieldpath;
mod json_patch;
mod managed_fields;
mod merge;
mod merge_keys;
mod strategic;
mod typed;

use serde_json::{Value, json};

pub use managed_fields::record_managed_fields;
pub use merge_keys::merge_key;

/// The four patch media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// From the request's `Content-Type`; parameters (`; charset=utf-8`) are ignored.
    /// `application/apply-patch+json` is accepted as apply too, although kube-apiserver only
    /// serves `+yaml` (JSON bodies are YAML, which is what kube-rs sends).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// What the caller knows about the object's type.
pub struct PatchTarget<'a> {
    /// e.g. `apps/v1`.
    pub api_version: &'a str,
    /// e.g. `Deployment`.
    pub kind: &'a str,
    /// Built-in kinds use strategic merge with their merge keys; custom resources do not support
    /// strategic merge (kube-apiserver answers 415 UnsupportedMediaType for them).
    pub builtin: bool,
}

/// One `PATCH` request.
pub struct PatchRequest<'a> {
    pub patch_type: PatchType,
    pub body: &'a [u8],
    /// `?fieldManager=`: required for apply; for the other types it names the `Update` entry
    /// written to `managedFields` (kube-apiserver falls back to the User-Agent's product: pass
    /// that here to do the same; with `None` managedFields are left as they are).
    pub field_manager: Option<&'a str>,
    /// `?force=true` (apply only).
    pub force: bool,
    /// The time written to `managedFields`.
    pub now: jiff::Timestamp,
}

/// Why a patch was refused. [`PatchError::code`] and [`PatchError::status`] give kube-apiserver's
/// answer.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// 400 BadRequest: a malformed body (undecodable JSON/YAML, a merge patch that is not an
    /// object, an apply configuration of another kind, a strategic patch item without its merge
    /// key, a name changed by the patch). kube-apiserver answers some of the last kind with 500;
    /// the emulator blames the request.
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid: a JSON patch operation that cannot be applied — a failed `test`, a path that
    /// does not exist — which kube-apiserver reports only as "the server rejected our request due
    /// to an error in our request" (`NewGenericServerResponse(422)`); invalid patch options
    /// (`PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for
    /// apply patch`); a strategic patch with lists of lists or keys outside `$retainKeys`.
    #[error("{0}")]
    Invalid(String),
    /// 415 UnsupportedMediaType: strategic merge patch on a custom resource.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 409 Conflict: server-side apply would change fields another manager owns, e.g.
    /// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:
    /// .spec.replicas`. `fields` holds (manager, field path) pairs.
    #[error("{message}")]
    Conflict {
        message: String,
        fields: Vec<(String, String)>,
    },
    /// 404 NotFound: a non-apply patch of an object that does not exist (the caller words it).
    #[error("not found")]
    NotFound,
}

impl PatchError {
    /// The HTTP status code kube-apiserver answers with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::UnsupportedMediaType(_) => 415,
            PatchError::Conflict { .. } => 409,
            PatchError::NotFound => 404,
        }
    }

    /// The `reason` of the Status.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            PatchError::Conflict { .. } => "Conflict",
            PatchError::NotFound => "NotFound",
        }
    }

    /// A `metav1.Status` body; conflicts list their fields as `FieldManagerConflict` causes
    /// (named by manager only: upstream adds ` using <apiVersion>` for updaters, as the message
    /// does).
    pub fn status(&self) -> Value {
        let details = match self {
            PatchError::Conflict { fields, .. } => {
                let causes: Vec<Value> = fields
                    .iter()
                    .map(|(manager, field)| {
                        json!({
                            "reason": "FieldManagerConflict",
                            "message": format!("conflict with {manager:?}"),
                            "field": field,
                        })
                    })
                    .collect();
                json!({ "causes": causes })
            }
            _ => json!({}),
        };
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "details": details,
            "code": self.code(),
        })
    }
}

/// The 415 for a media type the resource does not take; custom resources take no strategic merge.
pub fn unsupported_media_type(builtin: bool) -> PatchError {
    let accepted = if builtin {
        "application/json-patch+json, application/merge-patch+json, \
         application/strategic-merge-patch+json, application/apply-patch+yaml"
    } else {
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    };
    PatchError::UnsupportedMediaType(format!(
        "the body of the request was in an unknown format - accepted media types include: \
         {accepted}"
    ))
}

/// kube-apiserver's `checkName`: the patched object must keep the name (and namespace) of the
/// URL. `apply_patch` checks this against the stored object; callers check a created one.
pub fn check_name(object: &Value, name: &str, namespace: Option<&str>) -> Result<(), PatchError> {
    let text = |field: &str| {
        object
            .get("metadata")
            .and_then(|metadata| metadata.get(field))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    if text("name") != name {
        return Err(PatchError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            text("name")
        )));
    }
    if let Some(namespace) = namespace.filter(|namespace| !namespace.is_empty()) {
        let own = text("namespace");
        if !own.is_empty() && own != namespace {
            return Err(PatchError::BadRequest(format!(
                "the namespace of the object ({own}) does not match the namespace on the URL \
                 ({namespace})"
            )));
        }
    }
    Ok(())
}

/// k8s.io/apiserver `ValidatePatchOptions` (422).
fn validate_options(request: &PatchRequest<'_>) -> Result<(), PatchError> {
    let manager = request.field_manager.unwrap_or_default();
    let mut errors = Vec::new();
    if request.patch_type == PatchType::Apply {
        if manager.is_empty() {
            errors.push("fieldManager: Required value: is required for apply patch".to_owned());
        }
    } else if request.force {
        errors.push("force: Forbidden: may not be specified for non-apply patch".to_owned());
    }
    if manager.len() > 128 {
        errors.push("fieldManager: Too long: may not be more than 128 bytes".to_owned());
    }
    if let Some((at, bad)) = manager.chars().enumerate().find(|(_, c)| c.is_control()) {
        errors.push(format!(
            "fieldManager: Invalid value: {manager:?}: invalid character U+{:04X} (at position {at})",
            u32::from(bad)
        ));
    }
    match errors.as_slice() {
        [] => Ok(()),
        [one] => Err(PatchError::Invalid(format!(
            "PatchOptions.meta.k8s.io \"\" is invalid: {one}"
        ))),
        many => Err(PatchError::Invalid(format!(
            "PatchOptions.meta.k8s.io \"\" is invalid: [{}]",
            many.join(", ")
        ))),
    }
}

/// Applies the patch to `current` (`None` when the object does not exist: only apply creates).
/// Returns the new object with `apiVersion`/`kind` set and `metadata.managedFields` maintained
/// (for apply always, for the other types when a field manager is given). Metadata bookkeeping
/// (resourceVersion, generation, uid, creationTimestamp) and preconditions are the caller's.
pub fn apply_patch(
    target: &PatchTarget<'_>,
    current: Option<&Value>,
    request: &PatchRequest<'_>,
) -> Result<Value, PatchError> {
    if request.patch_type == PatchType::StrategicMerge && !target.builtin {
        return Err(unsupported_media_type(false));
    }
    validate_options(request)?;
    if request.patch_type == PatchType::Apply {
        let manager = request.field_manager.unwrap_or_default();
        let object = apply::apply(target, current, request, manager)?;
        if let Some(current) = current {
            check_name(&object, name_of(current), Some(namespace_of(current)))?;
        }
        return Ok(object);
    }
    let Some(current) = current else {
        return Err(PatchError::NotFound);
    };
    let body: Value = serde_json::from_slice(request.body).map_err(|error| {
        // In Go's words, as kube-apiserver decodes it; a merge patch says what it was decoding.
        let message =
            crate::go_json::syntax_error(request.body).unwrap_or_else(|| error.to_string());
        PatchError::BadRequest(match request.patch_type {
            PatchType::Merge => format!("error decoding patch: {message}"),
            _ => message,
        })
    })?;
    let mut patched = match request.patch_type {
        PatchType::Json => json_patch::apply(current, body)?,
        PatchType::Merge => merge::apply(current, &body)?,
        _ => {
            let ty = merge_keys::root_type(target.api_version, target.kind, target.builtin);
            strategic::apply(current, body, ty)?
        }
    };
    let Some(object) = patched.as_object_mut() else {
        return Err(PatchError::BadRequest(
            "the patched object is not a JSON object".to_owned(),
        ));
    };
    // The typed decode restores the type whatever the patch did to these fields.
    object.insert(
        "apiVersion".to_owned(),
        Value::String(target.api_version.to_owned()),
    );
    object.insert("kind".to_owned(), Value::String(target.kind.to_owned()));
    check_name(&patched, name_of(current), Some(namespace_of(current)))?;
    if let Some(manager) = request.field_manager.filter(|m| !m.is_empty()) {
        record_managed_fields(target, Some(current), &mut patched, manager, request.now);
    }
    Ok(patched)
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}
