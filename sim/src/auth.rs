//! Who is calling: bearer tokens mapped to Kubernetes user identities.
//!
//! The emulator does not authorize, but admission webhooks see `userInfo`, and our webhook
//! treats controller identities differently (policy-semantics §5). So every request is
//! attributed: a request without credentials is the cluster admin (what `kubectl` with the
//! written kubeconfig is), a known bearer token is the identity it was issued for, and an
//! unknown token is refused with 401 as kube-apiserver does.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use crate::status::ApiError;

/// `authentication.k8s.io/v1 UserInfo`, as sent in `AdmissionReview.request.userInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl UserInfo {
    /// kubeadm's admin user, what a person with the cluster's kubeconfig is.
    pub fn admin() -> UserInfo {
        UserInfo {
            username: "kubernetes-admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// `system:serviceaccount:<namespace>:<name>` with the groups kube-apiserver gives it.
    pub fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uuid::Uuid::new_v4().to_string(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    /// A built-in controller of kube-controller-manager running with
    /// `--use-service-account-credentials`, e.g. `controller("replicaset")` is
    /// `system:serviceaccount:kube-system:replicaset-controller`.
    pub fn controller(name: &str) -> UserInfo {
        UserInfo::service_account("kube-system", &format!("{name}-controller"))
    }

    /// A kubelet: `system:node:<node>` in group `system:nodes`.
    pub fn node(name: &str) -> UserInfo {
        UserInfo {
            username: format!("system:node:{name}"),
            uid: String::new(),
            groups: vec!["system:nodes".into(), "system:authenticated".into()],
        }
    }
}

/// The bearer tokens this server has issued.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: RwLock<HashMap<String, Issued>>,
}

#[derive(Debug)]
struct Issued {
    user: UserInfo,
    /// Tokens from a TokenRequest expire; those handed to components do not.
    expires: Option<jiff::Timestamp>,
}

impl Tokens {
    /// A new token that authenticates as `user`.
    pub fn issue(&self, user: &UserInfo) -> String {
        self.insert(user, None)
    }

    /// A token that authenticates as `user` until `expires` (what a TokenRequest returns).
    pub fn issue_until(&self, user: &UserInfo, expires: jiff::Timestamp) -> String {
        self.insert(user, Some(expires))
    }

    fn insert(&self, user: &UserInfo, expires: Option<jiff::Timestamp>) -> String {
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        if let Ok(mut issued) = self.issued.write() {
            // Expired tokens are dropped here, so the map does not grow without bound.
            let now = jiff::Timestamp::now();
            issued.retain(|_, entry| entry.expires.is_none_or(|at| at > now));
            issued.insert(
                token.clone(),
                Issued {
                    user: user.clone(),
                    expires,
                },
            );
        }
        token
    }

    /// The caller of a request, from its `Authorization` header.
    pub fn identify(&self, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(UserInfo::admin());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix("Bearer "))
            .map(str::trim);
        let now = jiff::Timestamp::now();
        let known = token.and_then(|token| {
            self.issued.read().ok().and_then(|issued| {
                issued
                    .get(token)
                    .filter(|entry| entry.expires.is_none_or(|at| at > now))
                    .map(|entry| entry.user.clone())
            })
        });
        known.ok_or_else(ApiError::unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn requests_are_attributed_to_the_identity_their_token_was_issued_for() {
        let tokens = Tokens::default();
        let controller = UserInfo::controller("replicaset");
        assert_eq!(
            controller.username,
            "system:serviceaccount:kube-system:replicaset-controller"
        );
        let token = tokens.issue(&controller);
        let mut headers = HeaderMap::new();
        assert_eq!(tokens.identify(&headers).ok(), Some(UserInfo::admin()));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert_eq!(tokens.identify(&headers).ok(), Some(controller));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer forged"));
        assert_eq!(tokens.identify(&headers).map_err(|e| e.code), Err(401));
    }

    #[test]
    fn an_expired_token_no_longer_authenticates() {
        let tokens = Tokens::default();
        let account = UserInfo::service_account("default", "default");
        let now = jiff::Timestamp::now();
        let live = tokens.issue_until(&account, now + jiff::SignedDuration::from_secs(600));
        let expired = tokens.issue_until(&account, now - jiff::SignedDuration::from_secs(1));
        let identify = |token: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
            tokens.identify(&headers).map_err(|e| e.code)
        };
        assert_eq!(identify(&live), Ok(account));
        assert_eq!(identify(&expired), Err(401));
    }
}
