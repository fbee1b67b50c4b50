//! The minimal view of a pod-creating object that the webhook decodes on every request: the
//! metadata decisions read and each container's name and image, borrowed from the request text
//! where it has no escapes; every other field is skipped unread. Decoding the whole
//! `k8s-openapi` object (resources, probes, env…) was a quarter of the webhook's CPU per request
//! (BENCHMARKS.md). This is the one place that mirrors Kubernetes' JSON shape by hand; the tests
//! check that it yields the same [`Workload`] as the `k8s-openapi` types for the same objects.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Deserialize;

use super::{ContainerList, DeclaredContainer, Workload, WorkloadKind};

/// Decodes `text` as an object of `kind`; `None` when it does not decode (the caller then
/// decodes the typed object for an error naming the field).
pub(super) fn decode(kind: WorkloadKind, text: &str) -> Option<Workload> {
    let (metadata, spec) = match kind {
        WorkloadKind::Pod => parts::<PodSpecView>(text, Some)?,
        WorkloadKind::CronJob => {
            parts::<CronJobSpecView>(text, |spec| spec.job_template?.spec?.template?.spec)?
        }
        WorkloadKind::Deployment
        | WorkloadKind::ReplicaSet
        | WorkloadKind::StatefulSet
        | WorkloadKind::DaemonSet
        | WorkloadKind::Job
        | WorkloadKind::ReplicationController => {
            parts::<TemplateSpecView>(text, |spec| spec.template?.spec)?
        }
    };
    let containers = spec.map(PodSpecView::into_declared).unwrap_or_default();
    Some(Workload::new(kind, metadata.into_meta(), containers))
}

/// The metadata and the pod spec of an object whose `spec` is an `S`.
fn parts<'a, S: Deserialize<'a>>(
    text: &'a str,
    pod_spec: impl FnOnce(S) -> Option<PodSpecView<'a>>,
) -> Option<(MetaView<'a>, Option<PodSpecView<'a>>)> {
    let object: ObjectView<'a, S> = serde_json::from_str(text).ok()?;
    Some((
        object.metadata.unwrap_or_default(),
        object.spec.and_then(pod_spec),
    ))
}

#[derive(Deserialize)]
struct ObjectView<'a, S> {
    #[serde(borrow)]
    metadata: Option<MetaView<'a>>,
    spec: Option<S>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaView<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    uid: Option<Text<'a>>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

impl MetaView<'_> {
    fn into_meta(self) -> ObjectMeta {
        ObjectMeta {
            name: self.name.map(Text::into_owned),
            namespace: self.namespace.map(Text::into_owned),
            uid: self.uid.map(Text::into_owned),
            labels: self.labels,
            owner_references: self.owner_references,
            ..ObjectMeta::default()
        }
    }
}

/// `spec` of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or ReplicationController.
#[derive(Deserialize)]
struct TemplateSpecView<'a> {
    #[serde(borrow)]
    template: Option<PodTemplateView<'a>>,
}

#[derive(Deserialize)]
struct PodTemplateView<'a> {
    #[serde(borrow)]
    spec: Option<PodSpecView<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpecView<'a> {
    #[serde(borrow)]
    job_template: Option<JobTemplateView<'a>>,
}

#[derive(Deserialize)]
struct JobTemplateView<'a> {
    #[serde(borrow)]
    spec: Option<TemplateSpecView<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpecView<'a> {
    #[serde(borrow)]
    init_containers: Option<Vec<ContainerView<'a>>>,
    #[serde(borrow)]
    containers: Option<Vec<ContainerView<'a>>>,
    #[serde(borrow)]
    ephemeral_containers: Option<Vec<ContainerView<'a>>>,
}

impl PodSpecView<'_> {
    fn into_declared(self) -> Vec<DeclaredContainer> {
        let lists = [
            (ContainerList::Init, self.init_containers),
            (ContainerList::Main, self.containers),
            (ContainerList::Ephemeral, self.ephemeral_containers),
        ];
        lists
            .into_iter()
            .flat_map(|(list, containers)| {
                containers
                    .into_iter()
                    .flatten()
                    .map(move |container| DeclaredContainer {
                        list,
                        name: container.name.map(Text::into_owned).unwrap_or_default(),
                        image: container.image.map(Text::into_owned),
                    })
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct ContainerView<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    image: Option<Text<'a>>,
}

/// A string borrowed from the text unless it has escapes (serde borrows a bare `Cow` field but
/// not one inside an `Option`).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Text<'_> {
    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

#[cfg(test)]
mod tests;
