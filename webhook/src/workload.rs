//! Pod-creating resources: where their pod spec lives, which images they would run, and whether
//! a child (a ReplicaSet or Pod made by a controller) was made by an admitted owner
//! (policy-semantics §4–§5).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, PodSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;

use crate::image::{ImageRef, ImageRefError};

/// The kinds whose objects create pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::ReplicaSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicationController,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::ReplicationController => "ReplicationController",
        }
    }

    /// The kind for an `apiVersion` and `kind`, if it creates pods. Older group versions
    /// (`apps/v1beta2`, `extensions/v1beta1`, `batch/v1beta1`) carry the same pod template.
    pub fn from_type(api_version: &str, kind: &str) -> Option<WorkloadKind> {
        let group = api_version.split_once('/').map_or("", |(group, _)| group);
        let workload = WorkloadKind::ALL.into_iter().find(|k| k.name() == kind)?;
        let group_ok = match workload {
            WorkloadKind::Pod | WorkloadKind::ReplicationController => group.is_empty(),
            WorkloadKind::Deployment | WorkloadKind::ReplicaSet | WorkloadKind::DaemonSet => {
                group == "apps" || group == "extensions"
            }
            WorkloadKind::StatefulSet => group == "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => group == "batch",
        };
        group_ok.then_some(workload)
    }

    /// Where the pod spec lives in objects of this kind, for messages.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pod-creating object, as the typed Kubernetes object it is (boxed: each is kilobytes).
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    Pod(Box<Pod>),
    Deployment(Box<Deployment>),
    ReplicaSet(Box<ReplicaSet>),
    StatefulSet(Box<StatefulSet>),
    DaemonSet(Box<DaemonSet>),
    Job(Box<Job>),
    CronJob(Box<CronJob>),
    ReplicationController(Box<ReplicationController>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    #[error("{kind} does not parse: field `{field}`: {message}")]
    Malformed {
        kind: WorkloadKind,
        field: String,
        message: String,
    },
    #[error("field `{field}`: {error}")]
    InvalidImage { field: String, error: ImageRefError },
    #[error("field `{field}`: a container must name an image")]
    MissingImage { field: String },
}

/// One container's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerImage {
    pub container: String,
    /// The reference as written.
    pub image: String,
    pub reference: ImageRef,
}

impl Workload {
    /// Decodes `value` as the typed object for `kind`.
    pub fn from_value(kind: WorkloadKind, value: &Value) -> Result<Workload, WorkloadError> {
        fn decode<T: serde::de::DeserializeOwned>(
            kind: WorkloadKind,
            value: &Value,
        ) -> Result<T, WorkloadError> {
            serde_path_to_error::deserialize(value).map_err(|error| WorkloadError::Malformed {
                kind,
                field: error.path().to_string(),
                message: error.into_inner().to_string(),
            })
        }
        Ok(match kind {
            WorkloadKind::Pod => Workload::Pod(decode(kind, value)?),
            WorkloadKind::Deployment => Workload::Deployment(decode(kind, value)?),
            WorkloadKind::ReplicaSet => Workload::ReplicaSet(decode(kind, value)?),
            WorkloadKind::StatefulSet => Workload::StatefulSet(decode(kind, value)?),
            WorkloadKind::DaemonSet => Workload::DaemonSet(decode(kind, value)?),
            WorkloadKind::Job => Workload::Job(decode(kind, value)?),
            WorkloadKind::CronJob => Workload::CronJob(decode(kind, value)?),
            WorkloadKind::ReplicationController => {
                Workload::ReplicationController(decode(kind, value)?)
            }
        })
    }

    pub fn kind(&self) -> WorkloadKind {
        match self {
            Workload::Pod(_) => WorkloadKind::Pod,
            Workload::Deployment(_) => WorkloadKind::Deployment,
            Workload::ReplicaSet(_) => WorkloadKind::ReplicaSet,
            Workload::StatefulSet(_) => WorkloadKind::StatefulSet,
            Workload::DaemonSet(_) => WorkloadKind::DaemonSet,
            Workload::Job(_) => WorkloadKind::Job,
            Workload::CronJob(_) => WorkloadKind::CronJob,
            Workload::ReplicationController(_) => WorkloadKind::ReplicationController,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Workload::Pod(o) => &o.metadata,
            Workload::Deployment(o) => &o.metadata,
            Workload::ReplicaSet(o) => &o.metadata,
            Workload::StatefulSet(o) => &o.metadata,
            Workload::DaemonSet(o) => &o.metadata,
            Workload::Job(o) => &o.metadata,
            Workload::CronJob(o) => &o.metadata,
            Workload::ReplicationController(o) => &o.metadata,
        }
    }

    /// The object's own labels (what `spec.selector` of a policy is matched against).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.metadata().labels.as_ref().unwrap_or(&EMPTY)
    }

    /// The spec of the pods this object creates (the Pod's own spec for a Pod).
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match self {
            Workload::Pod(o) => o.spec.as_ref(),
            Workload::Deployment(o) => o.spec.template.spec.as_ref(),
            Workload::ReplicaSet(o) => o.spec.template.as_ref()?.spec.as_ref(),
            Workload::StatefulSet(o) => o.spec.template.spec.as_ref(),
            Workload::DaemonSet(o) => o.spec.template.spec.as_ref(),
            Workload::Job(o) => o.spec.as_ref()?.template.spec.as_ref(),
            Workload::CronJob(o) => o.spec.job_template.spec.as_ref()?.template.spec.as_ref(),
            Workload::ReplicationController(o) => o.spec.as_ref()?.template.as_ref()?.spec.as_ref(),
        }
    }

    /// Every image of `containers`, `initContainers` and `ephemeralContainers`, parsed.
    pub fn images(&self) -> Result<Vec<ContainerImage>, WorkloadError> {
        let Some(spec) = self.pod_spec() else {
            return Ok(Vec::new());
        };
        let base = self.kind().pod_spec_path();
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| ("initContainers", &c.name, &c.image));
        let main = spec
            .containers
            .iter()
            .map(|c| ("containers", &c.name, &c.image));
        let ephemeral = spec
            .ephemeral_containers
            .iter()
            .flatten()
            .map(|c| ("ephemeralContainers", &c.name, &c.image));
        let mut images = Vec::new();
        let mut position = (None, 0);
        for (list, name, image) in init.chain(main).chain(ephemeral) {
            // The index within its own list, for the field path in errors.
            position = if position.0 == Some(list) {
                (Some(list), position.1 + 1)
            } else {
                (Some(list), 0)
            };
            let field = format!("{base}.{list}[{}].image", position.1);
            let image = match image.as_deref() {
                Some(image) if !image.is_empty() => image,
                _ => return Err(WorkloadError::MissingImage { field }),
            };
            let reference = ImageRef::parse(image)
                .map_err(|error| WorkloadError::InvalidImage { field, error })?;
            images.push(ContainerImage {
                container: name.clone(),
                image: image.to_string(),
                reference,
            });
        }
        Ok(images)
    }

    /// The raw image strings of the pod template, for the child check.
    fn image_strings(&self) -> Vec<&str> {
        let Some(spec) = self.pod_spec() else {
            return Vec::new();
        };
        let init = spec.init_containers.iter().flatten().map(|c| &c.image);
        let main = spec.containers.iter().map(|c| &c.image);
        let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| &c.image);
        init.chain(main)
            .chain(ephemeral)
            .filter_map(|image| image.as_deref())
            .collect()
    }
}

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
    /// No controller ownerReference: an object created directly, evaluated as usual.
    NotAChild,
    /// Made by an admitted controller: not re-evaluated.
    Approved {
        owner_kind: WorkloadKind,
        owner_name: String,
    },
    /// Claims an owner but a condition failed: evaluated, with this warning.
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
        return ChildCheck::NotAChild;
    };
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
    // Checked before the owner: only controller identities get their owner looked up at all.
    if !identities.contains(user) {
        return refused(format!("user {user:?} is not a Kubernetes controller"));
    }
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
