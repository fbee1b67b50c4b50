//! Facts about the Go structs behind the protobuf messages that the wire format does not carry
//! but the JSON form depends on. Found by comparing k8s-rs-pb's `.proto` files with k8s-openapi's
//! JSON field names (inline and renamed fields, `go_required`) and by reading what Go's encoder
//! (kubectl v1.32) leaves off the wire (`go_pointers`).

use super::{go_pointers, go_required};

/// Go fields embedded with `json:",inline"`: their fields belong to the parent's JSON object.
const INLINE: &[(&str, &str)] = &[
    (
        "api.admissionregistration.v1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    ("api.admissionregistration.v1.RuleWithOperations", "rule"),
    (
        "api.admissionregistration.v1alpha1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    (
        "api.admissionregistration.v1beta1.NamedRuleWithOperations",
        "ruleWithOperations",
    ),
    (
        "api.admissionregistration.v1beta1.RuleWithOperations",
        "rule",
    ),
    ("api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("api.core.v1.Probe", "handler"),
    ("api.core.v1.SecretEnvSource", "localObjectReference"),
    ("api.core.v1.SecretKeySelector", "localObjectReference"),
    ("api.core.v1.SecretProjection", "localObjectReference"),
    ("api.core.v1.Volume", "volumeSource"),
    ("api.networking.v1.IngressRule", "ingressRuleValue"),
    ("api.networking.v1beta1.IngressRule", "ingressRuleValue"),
    (
        "api.resource.v1alpha3.DeviceAllocationConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1alpha3.DeviceClaimConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1alpha3.DeviceClassConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceAllocationConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceClaimConfiguration",
        "deviceConfiguration",
    ),
    (
        "api.resource.v1beta1.DeviceClassConfiguration",
        "deviceConfiguration",
    ),
];

/// Fields whose `.proto` name is not their JSON name (message suffix, proto name, JSON name).
const RENAMED: &[(&str, &str, &str)] = &[
    ("ValidatingWebhookConfiguration", "Webhooks", "webhooks"),
    ("MutatingWebhookConfiguration", "Webhooks", "webhooks"),
    ("Validation", "Expression", "expression"),
    ("Variable", "Name", "name"),
    ("Variable", "Expression", "expression"),
    ("BoundObjectReference", "uID", "uid"),
    ("IngressClassParametersReference", "aPIGroup", "apiGroup"),
    ("JSONSchemaProps", "ref", "$ref"),
    ("JSONSchemaProps", "schema", "$schema"),
    (
        "JSONSchemaProps",
        "xKubernetesPreserveUnknownFields",
        "x-kubernetes-preserve-unknown-fields",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesEmbeddedResource",
        "x-kubernetes-embedded-resource",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesIntOrString",
        "x-kubernetes-int-or-string",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesListMapKeys",
        "x-kubernetes-list-map-keys",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesListType",
        "x-kubernetes-list-type",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesMapType",
        "x-kubernetes-map-type",
    ),
    (
        "JSONSchemaProps",
        "xKubernetesValidations",
        "x-kubernetes-validations",
    ),
];

pub(crate) fn is_inline(message: &str, field: &str) -> bool {
    INLINE.contains(&(message, field))
}

/// The JSON name of `field` in `message` (a full protobuf name such as `api.core.v1.Volume`).
pub(crate) fn json_name<'a>(message: &str, field: &'a str) -> &'a str {
    let short = message.rsplit('.').next().unwrap_or(message);
    RENAMED
        .iter()
        .find(|(m, proto, _)| *m == short && *proto == field)
        .map_or(field, |(_, _, json)| json)
}

/// Whether Go's JSON keeps a zero value of this scalar field: true for pointers (`*bool`,
/// `*int32`, `*IntOrString`, ...) and for fields without `omitempty`.
pub(crate) fn keeps_zero(message: &str, field: &str) -> bool {
    listed(go_pointers::POINTERS, message, field) || listed(go_required::REQUIRED, message, field)
}

fn listed(table: &[(&str, &[&str])], message: &str, field: &str) -> bool {
    table
        .binary_search_by(|(m, _)| (*m).cmp(message))
        .is_ok_and(|i| {
            table
                .get(i)
                .is_some_and(|(_, fields)| fields.contains(&field))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for table in [go_pointers::POINTERS, go_required::REQUIRED] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn renames_only_the_listed_fields() {
        let schema = "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        assert_eq!(json_name(schema, "ref"), "$ref");
        assert_eq!(json_name(schema, "type"), "type");
        assert_eq!(json_name("api.core.v1.Container", "name"), "name");
    }
}
