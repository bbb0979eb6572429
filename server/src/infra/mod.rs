//! The infrastructure layer: the impersonating Kubernetes access
//! ([`cluster`]), the database pools ([`db`]) and metrics. It imports
//! neither the domain nor the edge (`server/tests/layers.rs`).

pub mod cluster;
pub mod db;
pub mod metrics;
