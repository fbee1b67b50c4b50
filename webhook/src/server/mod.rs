pub mod caches;
pub mod metrics;
pub mod tls;
