//! Rows of PersistentVolumes and PersistentVolumeClaims, as kube-apiserver's printers fill them
//! (`printPersistentVolume`, `printPersistentVolumeClaim`). Quantities are shown as stored.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cells, age, text};

pub(super) fn cells(group: &str, resource: &str) -> Option<Cells> {
    let cells: Cells = match (group, resource) {
        ("", "persistentvolumes") => volume,
        ("", "persistentvolumeclaims") => claim,
        _ => return None,
    };
    Some(cells)
}

/// `helper.GetAccessModesAsString`: abbreviations in a fixed order, each once.
fn access_modes(object: &Value, pointer: &str) -> String {
    let modes: Vec<&str> = object
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.contains(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// A `resource.Quantity` as printed: Go's zero quantity prints `0`.
fn quantity(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(value)) => value.clone(),
        Some(Value::Number(value)) => value.to_string(),
        _ => "0".into(),
    }
}

/// The beta storage-class annotation wins over `spec.storageClassName`.
fn storage_class(object: &Value) -> String {
    match object
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
    {
        Some(class) => class.to_string(),
        None => text(object, "/spec/storageClassName"),
    }
}

fn unset_if_absent(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer).and_then(Value::as_str) {
        Some(value) => value.to_string(),
        None => "<unset>".into(),
    }
}

fn phase(object: &Value) -> String {
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".into()
    } else {
        text(object, "/status/phase")
    }
}

fn volume(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = if o.pointer("/spec/claimRef").is_some() {
        format!(
            "{}/{}",
            text(o, "/spec/claimRef/namespace"),
            text(o, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    vec![
        json!(text(o, "/metadata/name")),
        json!(quantity(o, "/spec/capacity/storage")),
        json!(access_modes(o, "/spec/accessModes")),
        json!(text(o, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase(o)),
        json!(claim),
        json!(storage_class(o)),
        json!(unset_if_absent(o, "/spec/volumeAttributesClassName")),
        json!(text(o, "/status/reason")),
        json!(age(o, "/metadata/creationTimestamp", now)),
        json!(unset_if_absent(o, "/spec/volumeMode")),
    ]
}

fn claim(o: &Value, now: Timestamp) -> Vec<Value> {
    let volume_name = text(o, "/spec/volumeName");
    // Capacity and access modes are the bound volume's, shown once bound.
    let (capacity, modes) = if volume_name.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(o, "/status/capacity/storage"),
            access_modes(o, "/status/accessModes"),
        )
    };
    vec![
        json!(text(o, "/metadata/name")),
        json!(phase(o)),
        json!(volume_name),
        json!(capacity),
        json!(modes),
        json!(storage_class(o)),
        json!(unset_if_absent(o, "/spec/volumeAttributesClassName")),
        json!(age(o, "/metadata/creationTimestamp", now)),
        json!(unset_if_absent(o, "/spec/volumeMode")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_abbreviate_access_modes_in_kubes_order() {
        let pv = json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "ns", "name": "c"}, "storageClassName": "fast", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let cells = volume(&pv, now);
        assert_eq!(
            cells[1..8],
            [
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("ns/c"),
                json!("fast"),
                json!("<unset>")
            ]
        );
        let pending =
            json!({"metadata": {"name": "c"}, "spec": {}, "status": {"phase": "Pending"}});
        assert_eq!(
            claim(&pending, now)[1..7],
            [
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unset>")
            ]
        );
    }
}
