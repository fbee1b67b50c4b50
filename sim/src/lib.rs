//! The simulated cluster (see ../shared/docs/architecture.md).
