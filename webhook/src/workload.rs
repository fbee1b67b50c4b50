//! Pod-creating resources: where their pod spec lives, which images they would run, and whether
//! a child (a ReplicaSet or Pod made by a controller) was made by an admitted owner
//! (policy-semantics §4–§5).

use std::collections::{BTreeMap, HashMap};
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

    /// Every container of `initContainers`, `containers` and `ephemeralContainers`, in that
    /// order, as written.
    fn declared(&self) -> impl Iterator<Item = Declared<'_>> {
        let spec = self.pod_spec();
        let init = spec
            .and_then(|spec| spec.init_containers.as_deref())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, c)| Declared::new(ContainerList::Init, index, &c.name, &c.image));
        let main = spec
            .map(|spec| spec.containers.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, c)| Declared::new(ContainerList::Main, index, &c.name, &c.image));
        let ephemeral = spec
            .and_then(|spec| spec.ephemeral_containers.as_deref())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, c)| Declared::new(ContainerList::Ephemeral, index, &c.name, &c.image));
        init.chain(main).chain(ephemeral)
    }

    /// A declared container's image, parsed; the error names the field.
    fn parse(&self, declared: &Declared<'_>) -> Result<ContainerImage, WorkloadError> {
        // Written out only for an error: most images parse.
        let field = || {
            format!(
                "{}.{}[{}].image",
                self.kind().pod_spec_path(),
                declared.list.field(),
                declared.index
            )
        };
        let image = match declared.image {
            Some(image) if !image.is_empty() => image,
            _ => return Err(WorkloadError::MissingImage { field: field() }),
        };
        let reference = ImageRef::parse(image).map_err(|error| WorkloadError::InvalidImage {
            field: field(),
            error,
        })?;
        Ok(ContainerImage {
            container: declared.name.to_string(),
            image: image.to_string(),
            reference,
        })
    }

    /// Every image of `containers`, `initContainers` and `ephemeralContainers`, parsed.
    pub fn images(&self) -> Result<Vec<ContainerImage>, WorkloadError> {
        self.declared()
            .map(|declared| self.parse(&declared))
            .collect()
    }

    /// The images of this object sorted as policy-semantics §4 sorts an UPDATE from `old`: an
    /// image is new when its container (same list, same name) did not exist in `old` or had
    /// another image there. With no `old` (a CREATE) every image is new. Only new images are
    /// parsed: unchanged ones were admitted as they are.
    pub fn image_changes(&self, old: Option<&Workload>) -> Result<Vec<ImageChange>, WorkloadError> {
        let before = old.map(Workload::images_by_container);
        let mut changes = Vec::with_capacity(self.declared().count());
        for declared in self.declared() {
            changes.push(match &before {
                Some(before) if declared.is_in(before) => ImageChange::Unchanged {
                    container: declared.name.to_string(),
                    image: declared.image.unwrap_or_default().to_string(),
                },
                _ => ImageChange::New(self.parse(&declared)?),
            });
        }
        Ok(changes)
    }

    /// Whether an UPDATE from `old` brings an image new to the object (nothing is parsed).
    pub fn brings_new_images(&self, old: &Workload) -> bool {
        let before = old.images_by_container();
        self.declared().any(|declared| !declared.is_in(&before))
    }

    /// Each container's image as written, by list and name (a map: pods can be large, and an
    /// UPDATE compares every container).
    fn images_by_container(&self) -> HashMap<(ContainerList, &str), Option<&str>> {
        self.declared()
            .map(|declared| ((declared.list, declared.name), declared.image))
            .collect()
    }

    /// The raw image strings of the pod template, for the child check.
    fn image_strings(&self) -> Vec<&str> {
        self.declared()
            .filter_map(|declared| declared.image)
            .collect()
    }
}

/// The lists of a pod spec that hold containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ContainerList {
    Init,
    Main,
    Ephemeral,
}

impl ContainerList {
    fn field(self) -> &'static str {
        match self {
            ContainerList::Init => "initContainers",
            ContainerList::Main => "containers",
            ContainerList::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A container as written in a pod spec: its list, its index there, its name and image.
struct Declared<'a> {
    list: ContainerList,
    index: usize,
    name: &'a str,
    image: Option<&'a str>,
}

impl<'a> Declared<'a> {
    fn new(list: ContainerList, index: usize, name: &'a str, image: &'a Option<String>) -> Self {
        Declared {
            list,
            index,
            name,
            image: image.as_deref(),
        }
    }

    /// Whether the same container had the same image before (a container without an image
    /// never counts as unchanged: it is an error to be reported).
    fn is_in(&self, before: &HashMap<(ContainerList, &str), Option<&str>>) -> bool {
        self.image.is_some() && before.get(&(self.list, self.name)) == Some(&self.image)
    }
}

/// One container's image under admission, new to the object or not (policy-semantics §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageChange {
    /// To be evaluated: every image of a CREATE; on UPDATE, a new container or a changed image.
    New(ContainerImage),
    /// On UPDATE, the same container had this very image before: not judged again.
    Unchanged { container: String, image: String },
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
