//! The conformance harness (see ../shared/docs/architecture.md): the Gherkin features in
//! `features/`, run by cucumber against a cluster backend (the in-process simulator, kind, or
//! k3s), with steps that talk to the cluster only through `kube::Client`.

pub mod backend;
pub mod commands;
pub mod context;
pub mod install;
pub mod runner;
pub mod steps;
pub mod wait;
pub mod warnings;
pub mod world;
