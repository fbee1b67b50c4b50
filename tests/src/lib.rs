//! The conformance harness (see ../shared/docs/architecture.md).
