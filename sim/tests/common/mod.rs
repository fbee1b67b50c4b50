//! What the test binaries of `sim/tests` share: starting the simulator (an API server alone, or
//! a whole cluster, with or without a kubeconfig for the real kubectl), bounded polling, raw
//! requests, the objects the tests build and read, and the files they read. What only one
//! group of tests needs stays in its `*_support` module, which builds on this one.
//!
//! A test binary declares `mod common;` (and then its `*_support` modules). `kubectl_support`
//! is the exception: see there.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod api;
pub mod data;
pub mod kubectl;
pub mod objects;
pub mod patch;
pub mod poll;
pub mod start;
