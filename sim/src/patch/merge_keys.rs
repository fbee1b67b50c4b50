//! How the fields of the built-in kinds merge: the `patchStrategy`/`patchMergeKey` struct tags
//! that strategic merge patch reads, and the `+listType`/`+listMapKey`/`+structType`/`+mapType`
//! markers that server-side apply reads, from the Go types in k8s.io/api (core/v1, apps/v1,
//! batch/v1, admissionregistration/v1, …) and k8s.io/apimachinery (meta/v1 ObjectMeta,
//! LabelSelector, OwnerReference). The list was cross-checked against the merge strategies
//! k8s-openapi 0.29 generates from the same OpenAPI document (`DeepMerge` impls, v1_33).
//!
//! A small type graph keeps it short: PodSpec is described once and reached from every workload.
//! Only fields that do not merge the default way are listed. The default — what a field that is
//! absent here gets — is: objects merge key by key, lists are replaced whole (atomic).

/// How a list merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced whole.
    Atomic,
    /// Primitive items merged as a set (`patchStrategy:"merge"` on `[]string`, `+listType=set`).
    Set,
    /// Object items merged by these key fields. For strategic merge the first one is the
    /// `patchMergeKey`; server-side apply uses all of them (`+listMapKey`).
    Map(&'static [&'static str]),
}

/// A field that does not merge the default way.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field {
    /// An object of a described type.
    Object(&'static Type),
    /// A list. `smp` is how strategic merge patch merges it, `ssa` how server-side apply does
    /// (they differ where a Go field has only one kind of marker); `item` describes the items.
    List {
        smp: ListKind,
        ssa: ListKind,
        item: Option<&'static Type>,
    },
}

/// An object type: its non-default fields. `atomic` objects are one value for server-side apply
/// (`+structType=atomic`, `+mapType=atomic`); strategic merge still merges them key by key.
#[derive(Debug)]
pub(crate) struct Type {
    pub atomic: bool,
    pub fields: &'static [(&'static str, Field)],
}

impl Type {
    pub(crate) fn field(&self, name: &str) -> Option<Field> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, kind)| *kind)
    }
}

/// A list merged by key by both patch kinds.
const fn keyed(keys: &'static [&'static str], item: Option<&'static Type>) -> Field {
    Field::List {
        smp: ListKind::Map(keys),
        ssa: ListKind::Map(keys),
        item,
    }
}

/// A primitive list merged as a set by both patch kinds.
const SET: Field = Field::List {
    smp: ListKind::Set,
    ssa: ListKind::Set,
    item: None,
};

/// A list with a `+listType` marker but no `patchStrategy` tag: atomic for strategic merge.
const fn apply_only(ssa: ListKind) -> Field {
    Field::List {
        smp: ListKind::Atomic,
        ssa,
        item: None,
    }
}

/// A list with a `patchMergeKey` tag but `+listType=atomic`.
const fn patch_only(keys: &'static [&'static str]) -> Field {
    Field::List {
        smp: ListKind::Map(keys),
        ssa: ListKind::Atomic,
        item: None,
    }
}

const fn object(fields: &'static [(&'static str, Field)]) -> Type {
    Type {
        atomic: false,
        fields,
    }
}

/// `+structType=atomic` / `+mapType=atomic`: LabelSelector, LocalObjectReference,
/// ObjectReference, TypedLocalObjectReference, OwnerReference, NodeSelector, the env
/// `*KeySelector`/`*FieldSelector` refs, and the `selector`/`nodeSelector` string maps.
pub(crate) static ATOMIC: Type = Type {
    atomic: true,
    fields: &[],
};

const ATOM: Field = Field::Object(&ATOMIC);

/// `conditions` lists: `patchMergeKey:"type"`, `+listMapKey=type` (Deployment, ReplicaSet,
/// StatefulSet, DaemonSet, ReplicationController, Pod, Node, Namespace, PVC, Service, HPA, PDB).
const CONDITIONS: Field = keyed(&["type"], None);

// --- meta/v1 ---

/// ObjectMeta: `finalizers` `patchStrategy:"merge"` `+listType=set`; `ownerReferences`
/// `patchMergeKey:"uid"` `+listMapKey=uid` with atomic OwnerReference items.
static OBJECT_META: Type = object(&[
    ("finalizers", SET),
    ("ownerReferences", keyed(&["uid"], Some(&ATOMIC))),
]);

/// Any object: only its metadata is known. Custom resources and unlisted kinds use it.
pub(crate) static OBJECT: Type = object(&[("metadata", Field::Object(&OBJECT_META))]);

// --- core/v1 pod ---

static ENV_VAR_SOURCE: Type = object(&[
    ("configMapKeyRef", ATOM),
    ("fieldRef", ATOM),
    ("resourceFieldRef", ATOM),
    ("secretKeyRef", ATOM),
]);

static ENV_VAR: Type = object(&[("valueFrom", Field::Object(&ENV_VAR_SOURCE))]);

/// ResourceRequirements.claims: `+listType=map +listMapKey=name`, no patch tags.
static RESOURCE_REQUIREMENTS: Type = object(&[("claims", apply_only(ListKind::Map(&["name"])))]);

/// Container and EphemeralContainer: `env` by `name`; `ports` `patchMergeKey:"containerPort"`
/// but `+listMapKey=containerPort +listMapKey=protocol`; `volumeMounts` by `mountPath`;
/// `volumeDevices` by `devicePath`. `args`, `command`, `envFrom`, `resizePolicy` are atomic.
static CONTAINER: Type = object(&[
    ("env", keyed(&["name"], Some(&ENV_VAR))),
    ("ports", keyed(&["containerPort", "protocol"], None)),
    ("resources", Field::Object(&RESOURCE_REQUIREMENTS)),
    ("volumeDevices", keyed(&["devicePath"], None)),
    ("volumeMounts", keyed(&["mountPath"], None)),
]);

static NODE_AFFINITY: Type = object(&[("requiredDuringSchedulingIgnoredDuringExecution", ATOM)]);

/// Affinity: the pod (anti-)affinity term lists are atomic.
static AFFINITY: Type = object(&[("nodeAffinity", Field::Object(&NODE_AFFINITY))]);

static TOPOLOGY_SPREAD_CONSTRAINT: Type = object(&[("labelSelector", ATOM)]);

static PVC_SPEC: Type = object(&[
    ("dataSource", ATOM),
    ("dataSourceRef", ATOM),
    ("selector", ATOM),
]);

static PVC_TEMPLATE: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&PVC_SPEC)),
]);

static SECRET_REF: Type = object(&[("secretRef", ATOM)]);

static CSI_VOLUME: Type = object(&[("nodePublishSecretRef", ATOM)]);

static EPHEMERAL_VOLUME: Type = object(&[("volumeClaimTemplate", Field::Object(&PVC_TEMPLATE))]);

/// Volume sources whose secret references are atomic LocalObjectReferences.
static VOLUME: Type = object(&[
    ("cephfs", Field::Object(&SECRET_REF)),
    ("cinder", Field::Object(&SECRET_REF)),
    ("csi", Field::Object(&CSI_VOLUME)),
    ("ephemeral", Field::Object(&EPHEMERAL_VOLUME)),
    ("flexVolume", Field::Object(&SECRET_REF)),
    ("iscsi", Field::Object(&SECRET_REF)),
    ("rbd", Field::Object(&SECRET_REF)),
    ("scaleIO", Field::Object(&SECRET_REF)),
    ("storageos", Field::Object(&SECRET_REF)),
]);

/// PodSpec: containers/initContainers/ephemeralContainers, volumes
/// (`patchStrategy:"merge,retainKeys"`), imagePullSecrets, resourceClaims, schedulingGates by
/// `name`; hostAliases by `ip`; topologySpreadConstraints `patchMergeKey:"topologyKey"`
/// `+listMapKey=topologyKey +listMapKey=whenUnsatisfiable`; nodeSelector `+mapType=atomic`.
/// tolerations and readinessGates carry no tags: atomic.
static POD_SPEC: Type = object(&[
    ("affinity", Field::Object(&AFFINITY)),
    ("containers", keyed(&["name"], Some(&CONTAINER))),
    ("ephemeralContainers", keyed(&["name"], Some(&CONTAINER))),
    ("hostAliases", keyed(&["ip"], None)),
    ("imagePullSecrets", keyed(&["name"], Some(&ATOMIC))),
    ("initContainers", keyed(&["name"], Some(&CONTAINER))),
    ("nodeSelector", ATOM),
    ("resourceClaims", keyed(&["name"], None)),
    ("resources", Field::Object(&RESOURCE_REQUIREMENTS)),
    ("schedulingGates", keyed(&["name"], None)),
    (
        "topologySpreadConstraints",
        keyed(
            &["topologyKey", "whenUnsatisfiable"],
            Some(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
    ),
    ("volumes", keyed(&["name"], Some(&VOLUME))),
]);

/// PodStatus: conditions by `type`; podIPs by `ip`; hostIPs `patchMergeKey:"ip"` but
/// `+listType=atomic`; resourceClaimStatuses by `name`. Container statuses are atomic.
static POD_STATUS: Type = object(&[
    ("conditions", CONDITIONS),
    ("hostIPs", patch_only(&["ip"])),
    ("podIPs", keyed(&["ip"], None)),
    ("resourceClaimStatuses", keyed(&["name"], None)),
]);

static POD: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&POD_SPEC)),
    ("status", Field::Object(&POD_STATUS)),
]);

static POD_TEMPLATE_SPEC: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&POD_SPEC)),
]);

static POD_TEMPLATE: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("template", Field::Object(&POD_TEMPLATE_SPEC)),
]);

// --- workloads ---

/// Status types whose only non-default field is `conditions`.
static CONDITIONS_STATUS: Type = object(&[("conditions", CONDITIONS)]);

/// DeploymentSpec, ReplicaSetSpec, StatefulSetSpec, DaemonSetSpec, ReplicationControllerSpec,
/// JobSpec: a LabelSelector `selector` (a string map with `+mapType=atomic` for
/// ReplicationController) and a pod template. StatefulSet volumeClaimTemplates are atomic.
static WORKLOAD_SPEC: Type = object(&[
    ("selector", ATOM),
    ("template", Field::Object(&POD_TEMPLATE_SPEC)),
]);

static WORKLOAD: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&WORKLOAD_SPEC)),
    ("status", Field::Object(&CONDITIONS_STATUS)),
]);

/// UncountedTerminatedPods: `+listType=set` only.
static UNCOUNTED_TERMINATED_PODS: Type = object(&[
    ("failed", apply_only(ListKind::Set)),
    ("succeeded", apply_only(ListKind::Set)),
]);

/// JobStatus.conditions: `patchMergeKey:"type"` but `+listType=atomic`.
static JOB_STATUS: Type = object(&[
    ("conditions", patch_only(&["type"])),
    (
        "uncountedTerminatedPods",
        Field::Object(&UNCOUNTED_TERMINATED_PODS),
    ),
]);

static JOB: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&WORKLOAD_SPEC)),
    ("status", Field::Object(&JOB_STATUS)),
]);

static JOB_TEMPLATE_SPEC: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&WORKLOAD_SPEC)),
]);

static CRON_JOB_SPEC: Type = object(&[("jobTemplate", Field::Object(&JOB_TEMPLATE_SPEC))]);

/// CronJob: the pod template is at `spec.jobTemplate.spec.template`; `status.active` is atomic.
static CRON_JOB: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&CRON_JOB_SPEC)),
]);

// --- other core/v1 kinds ---

/// ServiceSpec: ports `patchMergeKey:"port"` `+listMapKey=port +listMapKey=protocol`;
/// selector `+mapType=atomic`.
static SERVICE_SPEC: Type = object(&[
    ("ports", keyed(&["port", "protocol"], None)),
    ("selector", ATOM),
]);

static SERVICE: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&SERVICE_SPEC)),
    ("status", Field::Object(&CONDITIONS_STATUS)),
]);

/// ServiceAccount.secrets: `patchMergeKey:"name"`; imagePullSecrets is atomic.
static SERVICE_ACCOUNT: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("secrets", keyed(&["name"], Some(&ATOMIC))),
]);

static NODE_SPEC: Type = object(&[("podCIDRs", SET)]);

static NODE_STATUS: Type = object(&[
    ("addresses", keyed(&["type"], None)),
    ("conditions", CONDITIONS),
]);

static NODE: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&NODE_SPEC)),
    ("status", Field::Object(&NODE_STATUS)),
]);

static WITH_CONDITIONS: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("status", Field::Object(&CONDITIONS_STATUS)),
]);

static PVC: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&PVC_SPEC)),
    ("status", Field::Object(&CONDITIONS_STATUS)),
]);

static EVENT: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("involvedObject", ATOM),
    ("related", ATOM),
]);

// --- admissionregistration.k8s.io/v1 ---

/// ValidatingWebhook/MutatingWebhook: matchConditions by `name` (both markers).
static WEBHOOK: Type = object(&[
    ("matchConditions", keyed(&["name"], None)),
    ("namespaceSelector", ATOM),
    ("objectSelector", ATOM),
]);

/// Validating/MutatingWebhookConfiguration.webhooks: `patchMergeKey:"name"` `+listMapKey=name`.
static WEBHOOK_CONFIGURATION: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("webhooks", keyed(&["name"], Some(&WEBHOOK))),
]);

static MATCH_RESOURCES: Type = object(&[("namespaceSelector", ATOM), ("objectSelector", ATOM)]);

static POLICY_SPEC: Type = object(&[
    ("matchConditions", keyed(&["name"], None)),
    ("matchConstraints", Field::Object(&MATCH_RESOURCES)),
    ("variables", apply_only(ListKind::Map(&["name"]))),
]);

/// metav1.Condition lists with `+listType=map +listMapKey=type` and no patch tags.
static APPLY_CONDITIONS_STATUS: Type =
    object(&[("conditions", apply_only(ListKind::Map(&["type"])))]);

static VALIDATING_ADMISSION_POLICY: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&POLICY_SPEC)),
    ("status", Field::Object(&APPLY_CONDITIONS_STATUS)),
]);

static PARAM_REF: Type = object(&[("selector", ATOM)]);

static BINDING_SPEC: Type = object(&[
    ("matchResources", Field::Object(&MATCH_RESOURCES)),
    ("paramRef", Field::Object(&PARAM_REF)),
    ("validationActions", apply_only(ListKind::Set)),
]);

static VALIDATING_ADMISSION_POLICY_BINDING: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&BINDING_SPEC)),
]);

// --- other groups ---

/// CustomResourceDefinition: `spec.versions` is atomic; status conditions carry only list markers.
static CUSTOM_RESOURCE_DEFINITION: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("status", Field::Object(&APPLY_CONDITIONS_STATUS)),
]);

static SELECTOR_SPEC: Type = object(&[("selector", ATOM)]);

static POD_DISRUPTION_BUDGET: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&SELECTOR_SPEC)),
    ("status", Field::Object(&CONDITIONS_STATUS)),
]);

static NETWORK_POLICY_SPEC: Type = object(&[("podSelector", ATOM)]);

static NETWORK_POLICY: Type = object(&[
    ("metadata", Field::Object(&OBJECT_META)),
    ("spec", Field::Object(&NETWORK_POLICY_SPEC)),
]);

/// The described type of a kind. Custom resources (`builtin == false`) and kinds not listed get
/// [`OBJECT`]: only their metadata merges specially. RBAC rules and subjects, Endpoints subsets,
/// ConfigMap and Secret data need nothing beyond the defaults.
pub(crate) fn root_type(api_version: &str, kind: &str, builtin: bool) -> &'static Type {
    if !builtin {
        return &OBJECT;
    }
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    match (group, kind) {
        ("", "Pod") => &POD,
        ("", "PodTemplate") => &POD_TEMPLATE,
        ("", "ReplicationController") => &WORKLOAD,
        ("", "Service") => &SERVICE,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "Node") => &NODE,
        ("", "Namespace" | "ComponentStatus") => &WITH_CONDITIONS,
        ("", "PersistentVolumeClaim") => &PVC,
        ("", "Event") => &EVENT,
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => &WORKLOAD,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
        ) => &WEBHOOK_CONFIGURATION,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            &VALIDATING_ADMISSION_POLICY
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            &VALIDATING_ADMISSION_POLICY_BINDING
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => &CUSTOM_RESOURCE_DEFINITION,
        ("autoscaling", "HorizontalPodAutoscaler") => &WITH_CONDITIONS,
        ("policy", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("networking.k8s.io", "NetworkPolicy") => &NETWORK_POLICY,
        _ => &OBJECT,
    }
}

/// The strategic-merge `patchMergeKey` of the list at `path` (dotted field names, list items
/// left out, e.g. `spec.template.spec.containers.env`) in a built-in kind; `Some("")` for a
/// primitive list merged as a set, `None` for an atomic list or an unknown path.
pub fn merge_key(api_version: &str, kind: &str, path: &str) -> Option<&'static str> {
    let mut current = root_type(api_version, kind, true);
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = current.field(name)?;
        let last = names.peek().is_none();
        match (field, last) {
            (Field::Object(next), false) => current = next,
            (Field::List { smp, .. }, true) => {
                return match smp {
                    ListKind::Map(keys) => keys.first().copied(),
                    ListKind::Set => Some(""),
                    ListKind::Atomic => None,
                };
            }
            (
                Field::List {
                    item: Some(next), ..
                },
                false,
            ) => current = next,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_template_lists_resolve_through_every_workload() {
        for (api_version, kind, template) in [
            ("apps/v1", "Deployment", "spec.template.spec"),
            ("apps/v1", "StatefulSet", "spec.template.spec"),
            ("apps/v1", "DaemonSet", "spec.template.spec"),
            ("apps/v1", "ReplicaSet", "spec.template.spec"),
            ("batch/v1", "Job", "spec.template.spec"),
            ("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec"),
            ("v1", "ReplicationController", "spec.template.spec"),
            ("v1", "PodTemplate", "template.spec"),
            ("v1", "Pod", "spec"),
        ] {
            let at = |rest: &str| merge_key(api_version, kind, &format!("{template}.{rest}"));
            assert_eq!(at("containers"), Some("name"), "{kind}");
            assert_eq!(at("initContainers.env"), Some("name"), "{kind}");
            assert_eq!(at("containers.ports"), Some("containerPort"), "{kind}");
            assert_eq!(at("containers.volumeMounts"), Some("mountPath"), "{kind}");
            assert_eq!(at("volumes"), Some("name"), "{kind}");
            assert_eq!(at("tolerations"), None, "{kind}");
        }
    }

    #[test]
    fn metadata_lists_merge_in_every_kind() {
        assert_eq!(
            merge_key("v1", "ConfigMap", "metadata.finalizers"),
            Some("")
        );
        assert_eq!(
            merge_key("apps/v1", "Deployment", "metadata.ownerReferences"),
            Some("uid")
        );
        assert_eq!(
            merge_key("rbac.authorization.k8s.io/v1", "ClusterRole", "rules"),
            None
        );
        assert_eq!(
            merge_key(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "webhooks"
            ),
            Some("name")
        );
    }
}
