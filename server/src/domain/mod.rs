//! The domain layer: what Strongroom does with secrets ([`secrets`]), how
//! they go to Git ([`gitops`]), who uses them ([`usage`]), who may ask ([`auth`]) and what is recorded
//! ([`audit`]).
//!
//! It knows neither axum nor `AppState` nor the raw CLI configuration: it
//! receives what it needs as values (an impersonated Kubernetes handle, an
//! audit scope, settings) and answers with its own error enums, which the
//! edge (`crate::web`) turns into HTTP answers in one place. It may use the
//! infrastructure layer (`crate::infra`); `server/tests/layers.rs` fails when
//! it imports the edge or axum.

pub mod audit;
pub mod auth;
pub mod gitops;
pub mod guard;
pub mod recent;
pub mod secrets;
pub mod usage;

use crate::infra::cluster::KubeError;

/// A Kubernetes call that failed, with what the person asked for: enough
/// for the edge to say who was refused what (and to log internals once).
#[derive(Debug, thiserror::Error)]
#[error("{user} could not {verb} {resource}: {source}")]
pub struct KubeFailure {
    /// The cause.
    pub source: KubeError,
    /// The username Kubernetes saw.
    pub user: String,
    /// The verb, as a person would say it (`get`, `update`, ...).
    pub verb: &'static str,
    /// What it was about (`secret db`, `secrets`, `namespaces`).
    pub resource: String,
    /// Where, if namespaced.
    pub namespace: Option<String>,
}

impl KubeFailure {
    /// A failure of `user` to `verb` `resource` (in `namespace`).
    pub fn new(
        source: KubeError,
        user: &str,
        verb: &'static str,
        resource: impl Into<String>,
        namespace: Option<&str>,
    ) -> Self {
        Self {
            source,
            user: user.to_string(),
            verb,
            resource: resource.into(),
            namespace: namespace.map(str::to_string),
        }
    }
}
