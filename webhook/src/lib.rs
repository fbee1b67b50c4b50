//! Image assurance for Kubernetes: decides whether a pod-creating resource may be admitted,
//! according to `ContainerAdmissionPolicy` objects and image scan results.
//!
//! The library never reads global state: the clock, the scan source and the policy set are
//! passed in, so every decision can be reproduced offline (see `image-assurance evaluate`).

pub mod admission;
pub mod audit;
pub mod image;
pub mod install;
pub mod manifest;
pub mod policy;
pub mod quote;
pub mod scan;
pub mod selector;
pub mod server;
pub mod timestamp;
pub mod workload;
