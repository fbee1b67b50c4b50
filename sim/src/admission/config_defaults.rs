//! The admissionregistration.k8s.io/v1 defaults of webhook configurations
//! (`SetObjectDefaults_ValidatingWebhookConfiguration` and `..._MutatingWebhookConfiguration`),
//! which kube-apiserver applies as it decodes a request, so they are stored and shown by
//! `kubectl get -o yaml`. Explicit nulls count as unset, as when Go decodes into pointers.

use serde_json::{Map, Value, json};

/// Defaults every `webhooks[]` entry of a configuration; `mutating` adds `reinvocationPolicy`.
pub fn default_configuration(configuration: &mut Value, mutating: bool) {
    let webhooks = configuration
        .get_mut("webhooks")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for webhook in webhooks {
        apply_defaults(webhook);
        if mutating && let Some(fields) = webhook.as_object_mut() {
            default(fields, "reinvocationPolicy", json!("Never"));
        }
    }
}

/// The defaults of one validating webhook (`SetDefaults_ValidatingWebhook`, `_Rule`,
/// `_ServiceReference`); a mutating one also gets `reinvocationPolicy`.
pub fn apply_defaults(webhook: &mut Value) {
    let Some(fields) = webhook.as_object_mut() else {
        return;
    };
    default(fields, "failurePolicy", json!("Fail"));
    default(fields, "matchPolicy", json!("Equivalent"));
    default(fields, "namespaceSelector", json!({}));
    default(fields, "objectSelector", json!({}));
    default(fields, "timeoutSeconds", json!(10));
    if let Some(rules) = fields.get_mut("rules").and_then(Value::as_array_mut) {
        for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
            default(rule, "scope", json!("*"));
        }
    }
    if let Some(service) = fields
        .get_mut("clientConfig")
        .and_then(|config| config.get_mut("service"))
        .and_then(Value::as_object_mut)
    {
        default(service, "port", json!(443));
    }
}

fn default(fields: &mut Map<String, Value>, key: &str, value: Value) {
    if fields.get(key).is_none_or(Value::is_null) {
        fields.insert(key.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_null_fields_get_the_v1_defaults_and_set_ones_stay() {
        let mut configuration = json!({"webhooks": [
            {"name": "a.b.c", "timeoutSeconds": null, "failurePolicy": "Ignore",
             "clientConfig": {"service": {"name": "s", "namespace": "n"}},
             "rules": [{"operations": ["CREATE"]}, {"scope": "Cluster"}]},
            {"name": "d.e.f", "clientConfig": {"url": "https://x"}},
        ]});
        default_configuration(&mut configuration, true);
        let first = &configuration["webhooks"][0];
        assert_eq!(first["failurePolicy"], "Ignore");
        assert_eq!(first["matchPolicy"], "Equivalent");
        assert_eq!(first["timeoutSeconds"], 10);
        assert_eq!(first["namespaceSelector"], json!({}));
        assert_eq!(first["objectSelector"], json!({}));
        assert_eq!(first["reinvocationPolicy"], "Never");
        assert_eq!(first["clientConfig"]["service"]["port"], 443);
        assert_eq!(first["rules"][0]["scope"], "*");
        assert_eq!(first["rules"][1]["scope"], "Cluster");
        let second = &configuration["webhooks"][1];
        assert_eq!(second["failurePolicy"], "Fail");
        assert!(second["clientConfig"].get("service").is_none());

        let mut not_object = json!([1]);
        apply_defaults(&mut not_object);
        assert_eq!(not_object, json!([1]));

        let mut validating = json!({"webhooks": [{"name": "a.b.c"}]});
        default_configuration(&mut validating, false);
        assert!(
            validating["webhooks"][0]
                .get("reinvocationPolicy")
                .is_none()
        );
    }
}
