//! `ContainerAdmissionPolicy`: the resource (`crd`), its compiled form (`compile`, with the
//! `paths` matcher and the `candidates` index) and how it decides (`evaluate`).

pub mod candidates;
pub mod compile;
pub mod crd;
pub mod evaluate;
pub mod explain;
pub mod paths;
pub mod reason;

use std::path::Path;

pub use compile::{CompiledPolicy, InvalidPolicy, PolicyError, PolicySet, compile_policy};
pub use crd::{
    ContainerAdmissionPolicy, ContainerAdmissionPolicySpec, ContainerAdmissionPolicyStatus,
    Enforcement,
};
pub use evaluate::{Decision, EvaluationInput, ImageDecision, Verdict, evaluate};
pub use reason::Reason;

use crate::manifest::{self, Document, ManifestError};

pub const API_GROUP: &str = "containersecurity.tigera.io";
pub const KIND: &str = "ContainerAdmissionPolicy";

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{origin}: {error}")]
    Invalid {
        origin: manifest::Origin,
        error: PolicyError,
    },
    #[error("{origin}: expected a {KIND} ({API_GROUP}), found {found}")]
    WrongKind {
        origin: manifest::Origin,
        found: String,
    },
}

/// Reads policies from files or directories for offline use. Unlike the webhook, which keeps
/// invalid policies to reject what they could apply to, an offline run refuses them outright:
/// the first invalid policy is an error naming its file, document and field.
pub fn read_policies(paths: &[impl AsRef<Path>]) -> Result<PolicySet, PolicyLoadError> {
    let mut policies = Vec::new();
    for path in paths {
        for document in manifest::read_documents(path.as_ref())? {
            let policy = decode_policy(&document)?;
            compile_policy(&policy).map_err(|error| PolicyLoadError::Invalid {
                origin: document.origin.clone(),
                error,
            })?;
            policies.push(policy);
        }
    }
    Ok(PolicySet::compile(&policies))
}

/// Decodes one document as a ContainerAdmissionPolicy, checking its kind and group first.
pub fn decode_policy(document: &Document) -> Result<ContainerAdmissionPolicy, PolicyLoadError> {
    let (api_version, kind) = document.type_meta()?;
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    if kind != KIND || group != API_GROUP {
        return Err(PolicyLoadError::WrongKind {
            origin: document.origin.clone(),
            found: format!("{kind} ({api_version})"),
        });
    }
    Ok(document.decode()?)
}
