//! Admission: which validating webhooks kube-apiserver calls for a request
//! (../shared/docs/reference/k8s-admission.md §1, §5).

pub mod label_selector;
pub mod matching;
