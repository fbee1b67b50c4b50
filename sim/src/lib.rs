//! The simulated cluster (see ../shared/docs/architecture.md): a Kubernetes API server emulator
//! that kubectl and kube-rs use unchanged.

pub mod patch;
pub mod protobuf;
