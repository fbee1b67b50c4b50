//! Which namespaces the API server sends to the webhook: upstream's opt-in label
//! (`IN_NAMESPACE_SELECTOR_KEY In IN_NAMESPACE_SELECTOR_VALUES`), plus an exclusion by name of
//! the namespaces the cluster and the webhook itself need to heal. A `failurePolicy: Fail`
//! webhook that covers those can deadlock: while it is down their pods cannot be recreated,
//! and so it cannot come back (the seed's caution; reference/k8s-admission.md §4).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::names::{check_label_key, check_label_value};
use super::{CRITICAL_NAMESPACES, NAMESPACE_NAME_LABEL};

/// A validated namespace selector for the workload webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceScope {
    key: String,
    values: Vec<String>,
    own_namespace: String,
    allow_critical: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("the namespace selector key is empty")]
    EmptyKey,
    #[error("the namespace selector values are empty")]
    EmptyValues,
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("invalid label value {value:?}: {reason}")]
    InvalidValue { value: String, reason: String },
    #[error(
        "refusing {value:?}: {value} is a critical Kubernetes namespace. If the webhook were \
         down (a crash, a node drain, a rollout), its pods - CoreDNS, kube-proxy, the CNI - \
         could not be recreated, and without them the webhook cannot come back: a deadlock. \
         Label only your application namespaces (--allow-critical-namespaces exists only to \
         demonstrate the deadlock)"
    )]
    Critical { value: String },
    #[error(
        "refusing {value:?}: it is the webhook's own namespace. If the webhook were down, its \
         own pods could not be recreated, because creating them would need the webhook: a \
         deadlock (--allow-critical-namespaces exists only to demonstrate it)"
    )]
    OwnNamespace { value: String },
}

impl NamespaceScope {
    /// `values` are split on whitespace, as upstream's `IN_NAMESPACE_SELECTOR_VALUES="prod
    /// staging-test"`; duplicates are dropped. Values naming a critical namespace or
    /// `own_namespace` are refused unless `allow_critical`.
    pub fn new(
        key: &str,
        values: &str,
        own_namespace: &str,
        allow_critical: bool,
    ) -> Result<NamespaceScope, ScopeError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(ScopeError::EmptyKey);
        }
        check_label_key(key).map_err(|reason| ScopeError::InvalidKey {
            key: key.to_string(),
            reason,
        })?;
        let mut unique: Vec<String> = Vec::new();
        for value in values.split_whitespace() {
            check_label_value(value).map_err(|reason| ScopeError::InvalidValue {
                value: value.to_string(),
                reason,
            })?;
            if !unique.iter().any(|seen| seen == value) {
                unique.push(value.to_string());
            }
        }
        if unique.is_empty() {
            return Err(ScopeError::EmptyValues);
        }
        if !allow_critical {
            for value in &unique {
                if CRITICAL_NAMESPACES.contains(&value.as_str()) {
                    return Err(ScopeError::Critical {
                        value: value.clone(),
                    });
                }
                if value == own_namespace {
                    return Err(ScopeError::OwnNamespace {
                        value: value.clone(),
                    });
                }
            }
        }
        Ok(NamespaceScope {
            key: key.to_string(),
            values: unique,
            own_namespace: own_namespace.to_string(),
            allow_critical,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    pub fn own_namespace(&self) -> &str {
        &self.own_namespace
    }

    /// The values that name a critical namespace or the webhook's own (non-empty only when
    /// allowed): what the warning on `--allow-critical-namespaces` lists.
    pub fn critical_values(&self) -> Vec<&str> {
        self.values
            .iter()
            .map(String::as_str)
            .filter(|value| CRITICAL_NAMESPACES.contains(value) || *value == self.own_namespace)
            .collect()
    }

    /// The namespaces excluded by name: none when critical namespaces are allowed (the point of
    /// that flag is to let the deadlock happen), else the critical ones and the webhook's own.
    /// The exclusion also covers a critical namespace that merely carries the opt-in label.
    pub fn excluded_namespaces(&self) -> Vec<String> {
        if self.allow_critical {
            return Vec::new();
        }
        let mut excluded: Vec<String> = CRITICAL_NAMESPACES.iter().map(|s| s.to_string()).collect();
        if !excluded.contains(&self.own_namespace) {
            excluded.push(self.own_namespace.clone());
        }
        excluded
    }

    /// `{key In values}` and, unless critical namespaces are allowed,
    /// `{kubernetes.io/metadata.name NotIn excluded}`.
    pub fn label_selector(&self) -> LabelSelector {
        let mut expressions = vec![LabelSelectorRequirement {
            key: self.key.clone(),
            operator: "In".to_string(),
            values: Some(self.values.clone()),
        }];
        let excluded = self.excluded_namespaces();
        if !excluded.is_empty() {
            expressions.push(LabelSelectorRequirement {
                key: NAMESPACE_NAME_LABEL.to_string(),
                operator: "NotIn".to_string(),
                values: Some(excluded),
            });
        }
        LabelSelector {
            match_expressions: Some(expressions),
            match_labels: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "tigera-image-assurance";

    #[test]
    fn values_split_on_whitespace_and_deduplicate() {
        let scope = NamespaceScope::new("name", " prod\tstaging-test  prod\n", OWN, false).unwrap();
        assert_eq!(scope.key(), "name");
        assert_eq!(scope.values(), ["prod", "staging-test"]);
    }

    #[test]
    fn the_selector_opts_in_by_label_and_excludes_critical_namespaces_by_name() {
        let scope = NamespaceScope::new("name", "prod", OWN, false).unwrap();
        let expressions = scope.label_selector().match_expressions.unwrap();
        assert_eq!(expressions.len(), 2);
        assert_eq!(expressions[0].operator, "In");
        assert_eq!(expressions[1].key, "kubernetes.io/metadata.name");
        assert_eq!(expressions[1].operator, "NotIn");
        assert_eq!(
            expressions[1].values.as_deref().unwrap(),
            ["kube-system", "kube-public", "kube-node-lease", OWN]
        );
    }

    #[test]
    fn the_webhook_installed_in_a_critical_namespace_is_excluded_once() {
        let scope = NamespaceScope::new("name", "prod", "kube-system", false).unwrap();
        assert_eq!(
            scope.excluded_namespaces(),
            ["kube-system", "kube-public", "kube-node-lease"]
        );
    }

    #[test]
    fn critical_and_own_namespaces_are_refused_unless_allowed() {
        for value in ["kube-system", "kube-public", "kube-node-lease"] {
            let error = NamespaceScope::new("name", &format!("prod {value}"), OWN, false);
            assert_eq!(
                error,
                Err(ScopeError::Critical {
                    value: value.to_string()
                })
            );
        }
        let error = NamespaceScope::new("name", OWN, OWN, false).unwrap_err();
        assert!(
            error.to_string().contains("webhook's own namespace"),
            "{error}"
        );
        assert!(error.to_string().contains("deadlock"), "{error}");

        let scope = NamespaceScope::new("name", "kube-system prod", OWN, true).unwrap();
        assert_eq!(scope.critical_values(), ["kube-system"]);
        assert!(scope.excluded_namespaces().is_empty());
        assert_eq!(scope.label_selector().match_expressions.unwrap().len(), 1);
    }

    #[test]
    fn empty_and_malformed_input_is_refused() {
        assert_eq!(
            NamespaceScope::new(" ", "prod", OWN, false),
            Err(ScopeError::EmptyKey)
        );
        assert_eq!(
            NamespaceScope::new("name", "  ", OWN, false),
            Err(ScopeError::EmptyValues)
        );
        let error = NamespaceScope::new("bad key", "prod", OWN, false).unwrap_err();
        assert!(matches!(error, ScopeError::InvalidKey { .. }), "{error}");
        let error = NamespaceScope::new("name", "prod bad/value", OWN, false).unwrap_err();
        assert_eq!(
            error.to_string().split(':').next(),
            Some("invalid label value \"bad/value\"")
        );
    }
}
