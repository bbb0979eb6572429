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

use crate::infra::cluster::KubeError;

/// Whether a 403 refused Strongroom's own impersonation rather than the
/// user: with constrained impersonation (the chart's mode on Kubernetes
/// 1.36+) the backend may act for users on Secrets only, so lists of
/// workloads and restarts are refused before the user's RBAC is asked. The
/// person must hear that, not "not visible to you".
pub fn refused_impersonation(e: &KubeError) -> bool {
    matches!(e, KubeError::Api { code: 403, message, .. } if message.contains("cannot impersonate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(message: &str) -> KubeError {
        KubeError::Api {
            code: 403,
            reason: "Forbidden".into(),
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn a_refusal_of_the_backends_impersonation_is_told_from_the_users_rbac() {
        assert!(refused_impersonation(&forbidden(
            r#"pods is forbidden: User "system:serviceaccount:strongroom:strongroom" cannot impersonate-on:user-info:list resource "pods" in API group "" in the namespace "team-a""#
        )));
        assert!(!refused_impersonation(&forbidden(
            r#"pods is forbidden: User "oidc:carol@example.com" cannot list resource "pods" in API group "" in the namespace "team-a""#
        )));
        assert!(
            !refused_impersonation(&forbidden(
                r#"deployments.apps "impersonate-me" is forbidden: User "oidc:bob@example.com" cannot get resource "deployments""#
            )),
            "a workload's name is not the backend's refusal"
        );
        assert!(!refused_impersonation(&KubeError::Unreachable(
            "impersonate".into()
        )));
    }
}
