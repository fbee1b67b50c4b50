//! What the stored RBAC objects allow, for access reviews (the emulator never refuses a
//! request; see README). After kube-apiserver's authorizers: `system:masters` may do
//! everything (the privileged-group authorizer), then RBAC's rule matching
//! (plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/apis/rbac/v1/evaluation_helpers.go).

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::SharedState;
use crate::auth::UserInfo;
use crate::store::ObjectKey;

const RBAC: &str = "rbac.authorization.k8s.io";

/// The attributes of an access review (`resourceAttributes` or `nonResourceAttributes`).
#[derive(Clone, Debug, Default)]
pub struct Attributes {
    pub verb: String,
    /// A resource request; otherwise `path` is a non-resource URL.
    pub resource_request: bool,
    pub namespace: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub path: String,
}

/// Whether `user` may do what `attributes` describe.
pub fn allows(state: &SharedState, user: &UserInfo, attributes: &Attributes) -> bool {
    if user.groups.iter().any(|group| group == "system:masters") {
        return true;
    }
    let cluster_bindings: Vec<ClusterRoleBinding> = decoded(state, "clusterrolebindings", None);
    for binding in cluster_bindings {
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        if binding.role_ref.kind == "ClusterRole"
            && subjects.iter().any(|s| subject_matches(s, user, ""))
            && cluster_role_rules(state, &binding.role_ref.name)
                .iter()
                .any(|rule| rule_allows(rule, attributes))
        {
            return true;
        }
    }
    if !attributes.resource_request || attributes.namespace.is_empty() {
        return false;
    }
    let namespace = attributes.namespace.as_str();
    let bindings: Vec<RoleBinding> = decoded(state, "rolebindings", Some(namespace));
    bindings.iter().any(|binding| {
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        if !subjects.iter().any(|s| subject_matches(s, user, namespace)) {
            return false;
        }
        let rules = match binding.role_ref.kind.as_str() {
            "ClusterRole" => cluster_role_rules(state, &binding.role_ref.name),
            "Role" => object::<Role>(state, "roles", namespace, &binding.role_ref.name)
                .and_then(|role| role.rules)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        rules.iter().any(|rule| rule_allows(rule, attributes))
    })
}

fn decoded<T: DeserializeOwned>(
    state: &SharedState,
    resource: &str,
    namespace: Option<&str>,
) -> Vec<T> {
    let (objects, _) = state.store.list(RBAC, resource, namespace);
    objects
        .iter()
        .filter_map(|object| serde_json::from_value(Value::clone(object)).ok())
        .collect()
}

fn object<T: DeserializeOwned>(
    state: &SharedState,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Option<T> {
    let object = state
        .store
        .get(&ObjectKey::new(RBAC, resource, namespace, name))?;
    serde_json::from_value(Value::clone(&object)).ok()
}

/// A ClusterRole's rules. Aggregated ClusterRoles have only the rules stored in them (no
/// aggregation controller runs).
fn cluster_role_rules(state: &SharedState, name: &str) -> Vec<PolicyRule> {
    object::<ClusterRole>(state, "clusterroles", "", name)
        .and_then(|role| role.rules)
        .unwrap_or_default()
}

/// `appliesToUser`: a ServiceAccount subject without a namespace takes the binding's.
fn subject_matches(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.username,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .unwrap_or(binding_namespace);
            user.username == format!("system:serviceaccount:{namespace}:{}", subject.name)
        }
        _ => false,
    }
}

/// `RuleAllows` of rbac/v1's evaluation helpers.
fn rule_allows(rule: &PolicyRule, attributes: &Attributes) -> bool {
    if !has(&rule.verbs, &attributes.verb) {
        return false;
    }
    if !attributes.resource_request {
        return rule
            .non_resource_urls
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|url| url_matches(url, &attributes.path));
    }
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    let resources = rule.resources.as_deref().unwrap_or_default();
    let names = rule.resource_names.as_deref().unwrap_or_default();
    has(groups, &attributes.group)
        && resources.iter().any(|resource| {
            resource == "*"
                || *resource == combined
                || (!attributes.subresource.is_empty()
                    && resource.strip_prefix("*/") == Some(attributes.subresource.as_str()))
        })
        && (names.is_empty() || names.contains(&attributes.name))
}

fn has(values: &[String], wanted: &str) -> bool {
    values.iter().any(|value| value == "*" || value == wanted)
}

fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        _ if rule == path => true,
        Some(prefix) => path.starts_with(prefix),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let strings = |values: &[&str]| Some(values.iter().map(|v| v.to_string()).collect());
        PolicyRule {
            verbs: values(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            resource_names: if names.is_empty() {
                None
            } else {
                strings(names)
            },
            non_resource_urls: None,
        }
    }

    fn values(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn request(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            namespace: "default".into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names_as_rbac_does() {
        let pods = rule(&["get", "list"], &[""], &["pods"], &[]);
        assert!(rule_allows(&pods, &request("get", "", "pods", "", "web")));
        assert!(!rule_allows(&pods, &request("create", "", "pods", "", "")));
        assert!(!rule_allows(&pods, &request("get", "apps", "pods", "", "")));
        assert!(
            !rule_allows(&pods, &request("get", "", "pods", "log", "web")),
            "a subresource is named on its own"
        );
        let logs = rule(&["get"], &[""], &["*/log"], &[]);
        assert!(rule_allows(
            &logs,
            &request("get", "", "pods", "log", "web")
        ));
        let named = rule(&["*"], &["*"], &["configmaps"], &["settings"]);
        assert!(rule_allows(
            &named,
            &request("update", "", "configmaps", "", "settings")
        ));
        assert!(!rule_allows(
            &named,
            &request("update", "", "configmaps", "", "other")
        ));
        assert!(
            !rule_allows(&named, &request("list", "", "configmaps", "", "")),
            "resourceNames never match a request without a name"
        );
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_a_trailing_star() {
        assert!(url_matches("/healthz", "/healthz"));
        assert!(url_matches("/healthz/*", "/healthz/etcd"));
        assert!(url_matches("*", "/metrics"));
        assert!(!url_matches("/healthz", "/healthz/etcd"));
    }
}
