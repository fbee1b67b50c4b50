//! Whether a child (a ReplicaSet or Pod made by a controller) was made by an admitted owner
//! (policy-semantics §5).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{Workload, WorkloadKind};

/// The users that Kubernetes controllers act as. A child is only trusted when one of these
/// created it: anyone else can write an ownerReference.
#[derive(Clone, Debug)]
pub struct ControllerIdentities {
    exact: Vec<String>,
    /// `(prefix, suffix)` pairs, e.g. any `system:serviceaccount:kube-system:*-controller`.
    patterns: Vec<(String, String)>,
}

impl Default for ControllerIdentities {
    fn default() -> Self {
        ControllerIdentities {
            exact: vec!["system:kube-controller-manager".into()],
            patterns: vec![(
                "system:serviceaccount:kube-system:".into(),
                "-controller".into(),
            )],
        }
    }
}

impl ControllerIdentities {
    /// Identities given as names, where one `*` stands for any non-empty run of characters.
    pub fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let mut identities = ControllerIdentities {
            exact: Vec::new(),
            patterns: Vec::new(),
        };
        for pattern in patterns {
            match pattern.split_once('*') {
                Some((prefix, suffix)) => identities.patterns.push((prefix.into(), suffix.into())),
                None => identities.exact.push(pattern.into()),
            }
        }
        identities
    }

    pub fn contains(&self, user: &str) -> bool {
        self.exact.iter().any(|name| name == user)
            || self.patterns.iter().any(|(prefix, suffix)| {
                user.len() > prefix.len() + suffix.len()
                    && user.starts_with(prefix.as_str())
                    && user.ends_with(suffix.as_str())
            })
    }
}

/// The outcome of the child check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildCheck {
    /// No controller claims the object: it has no controller ownerReference, or a person (not a
    /// controller identity) sent it, as `kubectl create job --from=cronjob/…` and `kubectl
    /// debug` do. Evaluated as usual, which is the normal path: no warning.
    Unclaimed,
    /// Made by an admitted controller: not re-evaluated.
    Approved {
        owner_kind: WorkloadKind,
        owner_name: String,
    },
    /// A controller identity's claim to the child failed a condition (a forged or changed
    /// owner, an image not in the template): evaluated, with this warning.
    Refused { warning: String },
}

/// The controller ownerReference of an object, if any.
pub fn controller_reference(metadata: &ObjectMeta) -> Option<&OwnerReference> {
    metadata
        .owner_references
        .iter()
        .flatten()
        .find(|reference| reference.controller == Some(true))
}

/// The pure part of policy-semantics §5. `owner` is the object named by the child's controller
/// reference as found in the child's namespace (`None` when it does not exist); the caller
/// looks it up.
pub fn check_child(
    child: &Workload,
    child_namespace: &str,
    owner: Option<&Workload>,
    user: &str,
    identities: &ControllerIdentities,
) -> ChildCheck {
    let Some(reference) = controller_reference(child.metadata()) else {
        return ChildCheck::Unclaimed;
    };
    // Only a controller can claim to have made the object; a person's request is evaluated
    // like any other, so there is nothing to warn about.
    if !identities.contains(user) {
        return ChildCheck::Unclaimed;
    }
    let refused = |reason: String| ChildCheck::Refused {
        warning: format!(
            "evaluated although owned by {} {:?}: {reason}",
            reference.kind, reference.name
        ),
    };
    let Some(owner_kind) = WorkloadKind::from_type(&reference.api_version, &reference.kind) else {
        return refused(format!(
            "{} ({}) is not a pod-creating kind",
            reference.kind, reference.api_version
        ));
    };
    let Some(owner) = owner else {
        return refused(format!(
            "the owner does not exist in namespace {child_namespace:?}"
        ));
    };
    let owner_meta = owner.metadata();
    let same_object = owner.kind() == owner_kind
        && owner_meta.name.as_deref() == Some(reference.name.as_str())
        && owner_meta
            .namespace
            .as_deref()
            .is_none_or(|namespace| namespace == child_namespace);
    if !same_object {
        return refused(format!(
            "the owner does not exist in namespace {child_namespace:?}"
        ));
    }
    if owner_meta.uid.as_deref() != Some(reference.uid.as_str()) {
        return refused(format!(
            "the owner's uid is {:?}, not {:?}",
            owner_meta.uid.as_deref().unwrap_or(""),
            reference.uid
        ));
    }
    let template_images = owner.image_strings();
    if let Some(stray) = child
        .image_strings()
        .into_iter()
        .find(|image| !template_images.contains(image))
    {
        return refused(format!(
            "image {stray:?} is not in the owner's pod template"
        ));
    }
    ChildCheck::Approved {
        owner_kind,
        owner_name: reference.name.clone(),
    }
}
