//! Admission: which validating webhooks kube-apiserver calls for a request, and calling them
//! (../shared/docs/reference/k8s-admission.md §1, §2, §5).

pub mod chain;
pub mod client;
pub mod client_config;
pub mod config_decode;
pub mod config_defaults;
pub mod config_validation;
pub mod endpoints;
pub mod matching;
pub mod review;
pub mod warnings;

use crate::auth::UserInfo;

/// Who makes a write, and the warnings collected for the response while it is handled.
#[derive(Debug)]
pub struct Caller {
    pub user: UserInfo,
    pub warnings: warnings::Warnings,
}

impl Caller {
    pub fn new(user: UserInfo) -> Caller {
        Caller {
            user,
            warnings: warnings::Warnings::default(),
        }
    }

    /// The cluster itself (seeding initial objects; in-process unit tests).
    pub fn admin() -> Caller {
        Caller::new(UserInfo::admin())
    }
}
