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

use crate::{
    domain::secrets::{SecretsError, check_path},
    infra::cluster::KubeError,
};

/// Checks the path of a usage or restart request: the secret's name, and a
/// namespace that is a DNS label (at most 63 characters, no dots), since
/// these operations answer even where the user may read nothing.
pub fn check_secret_path(ns: &str, secret: &str) -> Result<(), SecretsError> {
    check_path(ns, Some(secret))?;
    if ns.len() > 63 || ns.contains('.') {
        return Err(SecretsError::invalid(
            "namespace",
            "a namespace is a DNS label: at most 63 lowercase letters, digits and '-'",
        ));
    }
    Ok(())
}

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
    fn a_namespace_is_a_dns_label() {
        assert!(check_secret_path("team-a", "db.conf").is_ok());
        assert!(check_secret_path(&"a".repeat(63), "db").is_ok());
        assert!(check_secret_path(&"a".repeat(64), "db").is_err());
        assert!(check_secret_path("team.a", "db").is_err());
        assert!(check_secret_path("team-a", "Db").is_err());
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
