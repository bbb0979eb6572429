//! Who uses a secret, and restarting them after its values change
//! (issue 17, items 1 and 2).
//!
//! - [`analysis`]: pure functions from Kubernetes objects to the references
//!   they make (tested without a cluster).
//! - [`scan`]: lists the namespace's workloads as the signed-in user, in
//!   pages, with a cap per kind and bounded concurrency; kinds the user may
//!   not list are named, never left out silently.
//! - [`restart`]: restarts named Deployments, StatefulSets and DaemonSets
//!   the way `kubectl rollout restart` does, after checking again that each
//!   uses the secret; each restart is a change with its own audit record.
//!
//! Errors are [`SecretsError`]s: these are operations of a secret's page.
//!
//! [`SecretsError`]: crate::domain::secrets::SecretsError

pub mod analysis;
pub mod restart;
pub mod scan;
