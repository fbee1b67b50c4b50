//! The simulated cluster (see ../shared/docs/architecture.md): a Kubernetes API server emulator
//! that kubectl and kube-rs use unchanged. `sim/README.md` lists what is emulated and what is
//! deliberately not.

pub mod admission;
pub mod allocation;
pub mod api;
pub mod auth;
pub mod catalogue;
pub mod controllers;
pub mod defaulting;
pub mod go_json;
pub mod kubeconfig;
pub mod kubelet;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod validation;

pub use server::{ClusterOptions, Config, INITIAL_NAMESPACES, Simulator, StartError};
