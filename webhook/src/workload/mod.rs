//! Pod-creating resources: where their pod spec lives, which images they would run (sorted
//! into new and unchanged on UPDATE, policy-semantics §4), and whether a child was made by an
//! admitted owner (`children`, §5).
//!
//! A [`Workload`] keeps what decisions read of the object: its kind, the identifying part of its
//! metadata, and each container's list, name and image. It is decoded from the `k8s-openapi`
//! type of its kind, or, on the webhook's hot path, through the minimal view of `view`, which
//! skips everything else and is tested to give the same `Workload`.

mod children;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, PodSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

pub use children::{ChildCheck, ControllerIdentities, check_child, controller_reference};

use crate::image::{ImageRef, ImageRefError};

/// The kinds whose objects create pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// Where objects of this kind are served (`apps/v1` `deployments`, …).
    pub fn api_resource(self) -> kube::core::ApiResource {
        let (group, plural) = match self {
            WorkloadKind::Pod => ("", "pods"),
            WorkloadKind::ReplicationController => ("", "replicationcontrollers"),
            WorkloadKind::Deployment => ("apps", "deployments"),
            WorkloadKind::ReplicaSet => ("apps", "replicasets"),
            WorkloadKind::StatefulSet => ("apps", "statefulsets"),
            WorkloadKind::DaemonSet => ("apps", "daemonsets"),
            WorkloadKind::Job => ("batch", "jobs"),
            WorkloadKind::CronJob => ("batch", "cronjobs"),
        };
        let gvk = kube::core::GroupVersionKind::gvk(group, "v1", self.name());
        kube::core::ApiResource::from_gvk_with_plural(&gvk, plural)
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

/// A pod-creating object: its kind, the metadata decisions read (name, namespace, uid, labels,
/// owner references) and the containers of the pods it creates.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    kind: WorkloadKind,
    metadata: ObjectMeta,
    containers: Vec<DeclaredContainer>,
}

/// A container as written in a pod spec: its list, its name and its image.
#[derive(Clone, Debug, PartialEq)]
struct DeclaredContainer {
    list: ContainerList,
    name: String,
    image: Option<String>,
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

/// Objects of the `k8s-openapi` types, as decisions see them.
macro_rules! from_typed {
    ($($type:ident => $kind:ident, |$object:ident| $spec:expr;)*) => {$(
        impl From<$type> for Workload {
            fn from($object: $type) -> Workload {
                let spec: Option<&PodSpec> = $spec;
                let containers = spec.map(declared_containers).unwrap_or_default();
                Workload::new(WorkloadKind::$kind, $object.metadata, containers)
            }
        }
    )*};
}

from_typed! {
    Pod => Pod, |o| o.spec.as_ref();
    Deployment => Deployment, |o| o.spec.template.spec.as_ref();
    ReplicaSet => ReplicaSet, |o| o.spec.template.as_ref().and_then(|t| t.spec.as_ref());
    StatefulSet => StatefulSet, |o| o.spec.template.spec.as_ref();
    DaemonSet => DaemonSet, |o| o.spec.template.spec.as_ref();
    Job => Job, |o| o.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    CronJob => CronJob, |o| o.spec.job_template.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    ReplicationController => ReplicationController, |o| o
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref()?.spec.as_ref());
}

/// `initContainers`, `containers` and `ephemeralContainers`, in that order.
fn declared_containers(spec: &PodSpec) -> Vec<DeclaredContainer> {
    let declared = |list, name: &String, image: &Option<String>| DeclaredContainer {
        list,
        name: name.clone(),
        image: image.clone(),
    };
    let init = spec.init_containers.iter().flatten();
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    init.map(|c| declared(ContainerList::Init, &c.name, &c.image))
        .chain(
            spec.containers
                .iter()
                .map(|c| declared(ContainerList::Main, &c.name, &c.image)),
        )
        .chain(ephemeral.map(|c| declared(ContainerList::Ephemeral, &c.name, &c.image)))
        .collect()
}

impl Workload {
    /// Keeps of `metadata` only what decisions read, so that every way of decoding an object
    /// gives the same `Workload`.
    fn new(kind: WorkloadKind, metadata: ObjectMeta, containers: Vec<DeclaredContainer>) -> Self {
        let metadata = ObjectMeta {
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
            labels: metadata.labels,
            owner_references: metadata.owner_references,
            ..ObjectMeta::default()
        };
        Workload {
            kind,
            metadata,
            containers,
        }
    }

    /// Decodes `value` as the typed object for `kind`; an error names the failing field.
    pub fn from_value(kind: WorkloadKind, value: &Value) -> Result<Workload, WorkloadError> {
        fn decode<T: serde::de::DeserializeOwned + Into<Workload>>(
            kind: WorkloadKind,
            value: &Value,
        ) -> Result<Workload, WorkloadError> {
            let typed: T = serde_path_to_error::deserialize(value).map_err(|error| {
                WorkloadError::Malformed {
                    kind,
                    field: error.path().to_string(),
                    message: error.into_inner().to_string(),
                }
            })?;
            Ok(typed.into())
        }
        match kind {
            WorkloadKind::Pod => decode::<Pod>(kind, value),
            WorkloadKind::Deployment => decode::<Deployment>(kind, value),
            WorkloadKind::ReplicaSet => decode::<ReplicaSet>(kind, value),
            WorkloadKind::StatefulSet => decode::<StatefulSet>(kind, value),
            WorkloadKind::DaemonSet => decode::<DaemonSet>(kind, value),
            WorkloadKind::Job => decode::<Job>(kind, value),
            WorkloadKind::CronJob => decode::<CronJob>(kind, value),
            WorkloadKind::ReplicationController => decode::<ReplicationController>(kind, value),
        }
    }

    /// Decodes the JSON text of an object of `kind` (what an AdmissionReview carries) through
    /// the minimal view, reading only what decisions need; an object the view cannot read is
    /// decoded again as its typed object, for an error that names the field.
    pub fn from_json(kind: WorkloadKind, text: &str) -> Result<Workload, WorkloadError> {
        if let Some(workload) = view::decode(kind, text) {
            return Ok(workload);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|error| WorkloadError::Malformed {
                kind,
                field: ".".to_string(),
                message: error.to_string(),
            })?;
        Workload::from_value(kind, &value)
    }

    pub fn kind(&self) -> WorkloadKind {
        self.kind
    }

    /// Name, namespace, uid, labels and owner references; nothing else is kept.
    pub fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    /// The object's own labels (what `spec.selector` of a policy is matched against).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.metadata.labels.as_ref().unwrap_or(&EMPTY)
    }

    /// Every container of `initContainers`, `containers` and `ephemeralContainers`, in that
    /// order, as written, with its index in its list.
    fn declared(&self) -> impl Iterator<Item = Declared<'_>> {
        let mut next_index = [0usize; 3];
        self.containers.iter().map(move |container| {
            let slot = container.list as usize;
            let index = next_index[slot];
            next_index[slot] += 1;
            Declared {
                list: container.list,
                index,
                name: &container.name,
                image: container.image.as_deref(),
            }
        })
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
        let mut changes = Vec::with_capacity(self.containers.len());
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
    pub(crate) fn image_strings(&self) -> Vec<&str> {
        self.declared()
            .filter_map(|declared| declared.image)
            .collect()
    }
}

/// The lists of a pod spec that hold containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ContainerList {
    Init = 0,
    Main = 1,
    Ephemeral = 2,
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

impl Declared<'_> {
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
