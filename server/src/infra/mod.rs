//! The infrastructure layer: the impersonating Kubernetes access
//! ([`cluster`]), the database pools ([`db`]), metrics and the allocator's
//! settings ([`memory`]). It imports neither the domain nor the edge
//! (`server/tests/layers.rs`).

pub mod cluster;
pub mod db;
pub mod memory;
pub mod metrics;
