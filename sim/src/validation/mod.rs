//! kube-apiserver's validation vocabulary, shared by the kinds the simulator validates: field
//! errors printed as apimachinery prints them (`field`) and the name checks of
//! `k8s.io/apimachinery/pkg/util/validation` (`names`).

pub mod field;
pub mod names;
