//! core/v1 defaults (kube v1.32 `pkg/apis/core/v1/defaults.go` and the generated walk in
//! `zz_generated.defaults.go`): pods, pod templates and everything inside a pod spec, services,
//! secrets, replication controllers, endpoints.

use serde_json::{Value, json};

use super::fields::{
    Object, child, child_or_empty, default_unset, default_zero, is_unset, items, text,
};

/// `SetObjectDefaults_Pod`: the pod spec's defaults plus those only a Pod (not a template) gets.
pub fn pod(object: &mut Object) {
    if let Some(spec) = child(object, "spec") {
        pod_only(spec);
        pod_spec(spec);
    }
}

/// `SetDefaults_Pod`: limits without requests become requests, service links are on, and on
/// the host network ports listen on the host too.
fn pod_only(spec: &mut Object) {
    for key in ["containers", "initContainers"] {
        for container in items(spec, key) {
            requests_from_limits(container);
        }
    }
    default_unset(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&json!(true)) {
        for key in ["containers", "initContainers"] {
            for container in items(spec, key) {
                for port in items(container, "ports") {
                    if super::fields::is_zero(port, "hostPort")
                        && let Some(container_port) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".into(), container_port);
                    }
                }
            }
        }
    }
}

fn requests_from_limits(container: &mut Object) {
    let Some(resources) = child(container, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if let Some(requests) = child_or_empty(resources, "requests") {
        for (name, quantity) in limits {
            requests.entry(name).or_insert(quantity);
        }
    }
}

/// A `PodTemplateSpec` inside a workload: its spec's defaults, and the template's
/// `metadata.creationTimestamp`, which Go always writes (`null`).
pub fn pod_template(template: &mut Object) {
    if let Some(metadata) = child_or_empty(template, "metadata") {
        metadata.entry("creationTimestamp").or_insert(Value::Null);
    }
    if let Some(spec) = child(template, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and the defaults of what a pod spec holds.
pub fn pod_spec(spec: &mut Object) {
    default_zero(spec, "dnsPolicy", json!("ClusterFirst"));
    default_zero(spec, "restartPolicy", json!("Always"));
    default_unset(spec, "securityContext", json!({}));
    default_unset(spec, "terminationGracePeriodSeconds", json!(30));
    default_zero(spec, "schedulerName", json!("default-scheduler"));
    service_account_conversion(spec);
    for volume in items(spec, "volumes") {
        self::volume(volume);
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for container in items(spec, key) {
            self::container(container);
        }
    }
}

/// The v1 conversion: the deprecated `serviceAccount` fills an empty `serviceAccountName`, and
/// is always written back as a copy of it.
fn service_account_conversion(spec: &mut Object) {
    if text(spec, "serviceAccountName").is_empty() {
        let deprecated = text(spec, "serviceAccount").to_string();
        if !deprecated.is_empty() {
            spec.insert("serviceAccountName".into(), json!(deprecated));
        }
    }
    let name = text(spec, "serviceAccountName").to_string();
    if name.is_empty() {
        spec.remove("serviceAccount");
    } else {
        spec.insert("serviceAccount".into(), json!(name));
    }
}

/// `SetDefaults_Container` and its ports, env, resources, probes and lifecycle handlers.
fn container(container: &mut Object) {
    if super::fields::is_zero(container, "imagePullPolicy") {
        let policy = if image_tag(text(container, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    default_zero(
        container,
        "terminationMessagePath",
        json!("/dev/termination-log"),
    );
    default_zero(container, "terminationMessagePolicy", json!("File"));
    // A non-pointer struct: Go writes it even when empty.
    default_unset(container, "resources", json!({}));
    for port in items(container, "ports") {
        default_zero(port, "protocol", json!("TCP"));
    }
    for env in items(container, "env") {
        if let Some(field_ref) = child(env, "valueFrom").and_then(|from| child(from, "fieldRef")) {
            default_zero(field_ref, "apiVersion", json!("v1"));
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = child(container, key) {
            self::probe(probe);
        }
    }
    if let Some(lifecycle) = child(container, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(http_get) =
                child(lifecycle, key).and_then(|handler| child(handler, "httpGet"))
            {
                self::http_get(http_get);
            }
        }
    }
}

/// The tag `parsers.ParseImageName` finds: `latest` when the reference has neither tag nor
/// digest.
pub fn image_tag(image: &str) -> &str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A ':' after the last '/' separates the tag; one before it is a registry port.
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if digest.is_some() => "",
        None => "latest",
    }
}

fn probe(probe: &mut Object) {
    default_zero(probe, "timeoutSeconds", json!(1));
    default_zero(probe, "periodSeconds", json!(10));
    default_zero(probe, "successThreshold", json!(1));
    default_zero(probe, "failureThreshold", json!(3));
    if let Some(http_get) = child(probe, "httpGet") {
        self::http_get(http_get);
    }
    if let Some(grpc) = child(probe, "grpc") {
        default_unset(grpc, "service", json!(""));
    }
}

fn http_get(action: &mut Object) {
    default_zero(action, "path", json!("/"));
    default_zero(action, "scheme", json!("HTTP"));
}

/// The volume sources a pod volume may have; one without any is an emptyDir.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// File modes as Go writes them: 0644.
const DEFAULT_MODE: i64 = 0o644;

fn volume(volume: &mut Object) {
    if VOLUME_SOURCES.iter().all(|source| is_unset(volume, source)) {
        volume.insert("emptyDir".into(), json!({}));
    }
    if let Some(host_path) = child(volume, "hostPath") {
        default_unset(host_path, "type", json!(""));
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = child(volume, key) {
            default_unset(source, "defaultMode", json!(DEFAULT_MODE));
        }
    }
    if let Some(downward) = child(volume, "downwardAPI") {
        downward_items(downward);
    }
    if let Some(projected) = child(volume, "projected") {
        for source in items(projected, "sources") {
            if let Some(downward) = child(source, "downwardAPI") {
                downward_items(downward);
            }
            if let Some(token) = child(source, "serviceAccountToken") {
                default_unset(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(iscsi) = child(volume, "iscsi") {
        default_zero(iscsi, "iscsiInterface", json!("default"));
    }
    if let Some(rbd) = child(volume, "rbd") {
        default_zero(rbd, "pool", json!("rbd"));
        default_zero(rbd, "user", json!("admin"));
        default_zero(rbd, "keyring", json!("/etc/ceph/keyring"));
    }
    if let Some(azure_disk) = child(volume, "azureDisk") {
        default_unset(azure_disk, "cachingMode", json!("ReadWrite"));
        default_unset(azure_disk, "fsType", json!("ext4"));
        default_unset(azure_disk, "readOnly", json!(false));
        default_unset(azure_disk, "kind", json!("Shared"));
    }
    if let Some(scale_io) = child(volume, "scaleIO") {
        default_zero(scale_io, "storageMode", json!("ThinProvisioned"));
        default_zero(scale_io, "fsType", json!("xfs"));
    }
    if let Some(claim) = child(volume, "ephemeral").and_then(|e| child(e, "volumeClaimTemplate")) {
        if let Some(metadata) = child_or_empty(claim, "metadata") {
            metadata.entry("creationTimestamp").or_insert(Value::Null);
        }
        if let Some(spec) = child(claim, "spec") {
            claim_spec(spec);
        }
    }
}

fn downward_items(source: &mut Object) {
    for item in items(source, "items") {
        if let Some(field_ref) = child(item, "fieldRef") {
            default_zero(field_ref, "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub fn claim_spec(spec: &mut Object) {
    default_unset(spec, "volumeMode", json!("Filesystem"));
    // A non-pointer struct: Go writes it even when empty.
    default_unset(spec, "resources", json!({}));
}

/// A PersistentVolumeClaim template (StatefulSet `volumeClaimTemplates`): Go writes its
/// `creationTimestamp` and its status, whose phase defaults to Pending.
pub fn claim_template(claim: &mut Object) {
    if let Some(metadata) = child_or_empty(claim, "metadata") {
        metadata.entry("creationTimestamp").or_insert(Value::Null);
    }
    if let Some(spec) = child(claim, "spec") {
        claim_spec(spec);
    }
    if let Some(status) = child_or_empty(claim, "status") {
        default_zero(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_Service`.
pub fn service(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    default_zero(spec, "sessionAffinity", json!("None"));
    match text(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|config| config.pointer("/clientIP/timeoutSeconds"))
                .is_some_and(|timeout| !timeout.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    default_zero(spec, "type", json!("ClusterIP"));
    for port in items(spec, "ports") {
        default_zero(port, "protocol", json!("TCP"));
        if super::fields::is_zero(port, "targetPort")
            && let Some(number) = port.get("port").cloned()
        {
            port.insert("targetPort".into(), number);
        }
    }
    let kind = text(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible = matches!(kind.as_str(), "LoadBalancer" | "NodePort")
        || (kind == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_zero(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_unset(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default_unset(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// What the Service registry allocates on create: the ClusterIP and the IP families. A headless
/// Service without a selector is dual-stack as kube-apiserver makes it; ExternalName gets none.
pub fn service_create(object: &mut Object, service_ip: impl FnOnce() -> String) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    if text(spec, "type") == "ExternalName" {
        return;
    }
    if is_unset(spec, "clusterIP") || text(spec, "clusterIP").is_empty() {
        let ip = service_ip();
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
    } else if is_unset(spec, "clusterIPs") {
        let ip = text(spec, "clusterIP").to_string();
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    let headless_without_selector = text(spec, "clusterIP") == "None"
        && spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(|selector| selector.is_empty());
    if headless_without_selector {
        default_unset(spec, "ipFamilyPolicy", json!("RequireDualStack"));
        default_unset(spec, "ipFamilies", json!(["IPv4", "IPv6"]));
    } else {
        default_unset(spec, "ipFamilyPolicy", json!("SingleStack"));
        default_unset(spec, "ipFamilies", json!(["IPv4"]));
    }
}

/// On update the Service registry keeps what it allocated when the new object leaves it out
/// (what `kubectl apply` of a manifest without `clusterIP` relies on).
pub fn service_update(current: &Object, updated: &mut Object) {
    let Some(old_spec) = current.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(spec) = child(updated, "spec") else {
        return;
    };
    if text(old_spec, "type") == "ExternalName" || text(spec, "type") == "ExternalName" {
        return;
    }
    for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if super::fields::is_zero(spec, key)
            && let Some(value) = old_spec.get(key)
        {
            spec.insert(key.into(), value.clone());
        }
    }
}

pub fn secret(object: &mut Object) {
    default_zero(object, "type", json!("Opaque"));
}

pub fn endpoints(object: &mut Object) {
    for subset in items(object, "subsets") {
        for port in items(subset, "ports") {
            default_zero(port, "protocol", json!("TCP"));
        }
    }
}

/// `SetDefaults_ReplicationController`: the template's labels stand in for an empty selector
/// and empty object labels.
pub fn replication_controller(object: &mut Object) {
    let template_labels = template_labels(object).filter(|labels| !labels.is_empty());
    if let Some(labels) = template_labels {
        if let Some(spec) = child(object, "spec")
            && spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(|selector| selector.is_empty())
        {
            spec.insert("selector".into(), Value::Object(labels.clone()));
        }
        if let Some(metadata) = child_or_empty(object, "metadata")
            && metadata
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(|own| own.is_empty())
        {
            metadata.insert("labels".into(), Value::Object(labels));
        }
    }
    if let Some(spec) = child(object, "spec") {
        default_unset(spec, "replicas", json!(1));
        if let Some(template) = child(spec, "template") {
            pod_template(template);
        }
    }
}

/// `spec.template.metadata.labels`, when it is an object.
fn template_labels(object: &Object) -> Option<Object> {
    object
        .get("spec")?
        .get("template")?
        .get("metadata")?
        .get("labels")?
        .as_object()
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_are_found_as_kube_parses_them() {
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(image_tag("nginx:1.27"), "1.27");
        assert_eq!(image_tag("registry.local:5000/busybox"), "latest");
        assert_eq!(image_tag("registry.local:5000/busybox:latest"), "latest");
        assert_eq!(image_tag("busybox@sha256:abc"), "");
        assert_eq!(image_tag("busybox:1.36@sha256:abc"), "1.36");
    }

    #[test]
    fn a_volume_without_a_source_is_an_empty_dir() {
        let mut spec =
            json!({"volumes": [{"name": "e"}, {"name": "s", "secret": {"secretName": "x"}}]});
        pod_spec(spec.as_object_mut().unwrap());
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert!(spec["volumes"][1].get("emptyDir").is_none());
    }

    #[test]
    fn replication_controllers_take_selector_and_labels_from_the_template() {
        let mut rc = json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": []}}}});
        replication_controller(rc.as_object_mut().unwrap());
        assert_eq!(rc["spec"]["selector"], json!({"app": "rc"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "rc"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        let mut labelled = json!({"metadata": {"labels": {"own": "x"}}, "spec": {"selector": {"a": "b"}, "template": {"metadata": {"labels": {"app": "rc"}}}}});
        replication_controller(labelled.as_object_mut().unwrap());
        assert_eq!(labelled["spec"]["selector"], json!({"a": "b"}));
        assert_eq!(labelled["metadata"]["labels"], json!({"own": "x"}));
    }
}
