//! Restarting the workloads that use a secret after its values changed,
//! the way `kubectl rollout restart` does: a strategic merge patch that
//! sets the pod template's `kubectl.kubernetes.io/restartedAt` annotation
//! to the current time in Go's `time.RFC3339` form, so either tool's
//! restart reads the same.
//!
//! Each restart is a change: its audit record (action `restart`, the
//! secret, the changed keys, the workload as the reason) is prepared with a
//! committed probe before Kubernetes is asked, and the result says
//! `done` only once the record is committed. Before anything is patched,
//! each named workload is read again as the user and must still use the
//! secret; a request naming one that does not is refused whole (422). A
//! paused Deployment is not patched (kubectl refuses it too).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use strongroom_app::{
    api::usage::{
        RestartOutcome, RestartRequest, RestartResponse, RestartResult, WorkloadKind, WorkloadRef,
    },
    secrets::rules,
};

use super::analysis::Referrer;
use crate::{
    domain::{
        KubeFailure,
        audit::{AuditScope, Outcome},
        secrets::{SecretsError, change::MAX_REMOVED_KEYS, record_change, settle},
    },
    infra::cluster::{
        KubeError, UserKube,
        workloads::{Restartable, WorkloadsApi},
    },
};

/// The most workloads one request may restart.
pub const MAX_WORKLOADS: usize = 50;

/// The answer to a restart request. Its results exist only once each
/// restart's record is committed (or the restart was refused, which is
/// recorded too): only [`restart`] makes one.
#[derive(Debug)]
pub struct RestartReport {
    results: Vec<RestartResult>,
}

impl RestartReport {
    /// The wire form, for the edge to send.
    pub fn into_answer(self) -> RestartResponse {
        RestartResponse {
            results: self.results,
        }
    }
}

/// `time.Now().Format(time.RFC3339)` as kubectl writes it: local time,
/// whole seconds, `Z` for UTC or the offset (`+02:00`).
pub fn restarted_at_now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What reading a named workload again said.
enum Check {
    /// It exists and uses the secret.
    Uses,
    /// It exists and does not use the secret.
    DoesNotUse,
    /// A paused Deployment: its controller would not roll the pods, so,
    /// like `kubectl rollout restart`, it is not restarted.
    Paused,
    /// Kubernetes refused or failed the read.
    Failed(KubeError),
}

async fn uses_secret<K: Restartable + Referrer>(
    api: &WorkloadsApi<'_>,
    name: &str,
    secret: &str,
) -> Check {
    match api.get::<K>(name).await {
        Ok(object) if object.uses(secret).is_empty() => Check::DoesNotUse,
        Ok(_) => Check::Uses,
        Err(e) => Check::Failed(e),
    }
}

async fn check(api: &WorkloadsApi<'_>, workload: &WorkloadRef, secret: &str) -> Check {
    match workload.kind {
        WorkloadKind::Deployment => match api.get::<Deployment>(&workload.name).await {
            Ok(d) if d.uses(secret).is_empty() => Check::DoesNotUse,
            Ok(d) if d.spec.paused == Some(true) => Check::Paused,
            Ok(_) => Check::Uses,
            Err(e) => Check::Failed(e),
        },
        WorkloadKind::StatefulSet => uses_secret::<StatefulSet>(api, &workload.name, secret).await,
        WorkloadKind::DaemonSet => uses_secret::<DaemonSet>(api, &workload.name, secret).await,
        // Refused by `validate` before any call.
        _ => Check::DoesNotUse,
    }
}

async fn patch(api: &WorkloadsApi<'_>, workload: &WorkloadRef, at: &str) -> Result<(), KubeError> {
    match workload.kind {
        WorkloadKind::Deployment => api
            .restart::<Deployment>(&workload.name, at)
            .await
            .map(drop),
        WorkloadKind::StatefulSet => api
            .restart::<StatefulSet>(&workload.name, at)
            .await
            .map(drop),
        WorkloadKind::DaemonSet => api.restart::<DaemonSet>(&workload.name, at).await.map(drop),
        _ => Err(KubeError::Config(format!(
            "{} cannot be restarted",
            workload.kind.plural()
        ))),
    }
}

/// Checks the request before Kubernetes is asked.
fn validate(req: &RestartRequest) -> Result<(), SecretsError> {
    if req.workloads.is_empty() {
        return Err(SecretsError::invalid(
            "workloads",
            "name at least one workload to restart",
        ));
    }
    if req.workloads.len() > MAX_WORKLOADS {
        return Err(SecretsError::invalid(
            "workloads",
            format!("restart at most {MAX_WORKLOADS} workloads at once"),
        ));
    }
    for (i, w) in req.workloads.iter().enumerate() {
        if !w.kind.restartable() {
            return Err(SecretsError::invalid(
                format!("workloads.{i}.kind"),
                format!(
                    "{} cannot be restarted here; only Deployments, StatefulSets and DaemonSets can",
                    w.kind.plural()
                ),
            ));
        }
        rules::check_name(&w.name)
            .map_err(|m| SecretsError::invalid(format!("workloads.{i}.name"), m))?;
        if req.workloads[..i].contains(w) {
            return Err(SecretsError::invalid(
                format!("workloads.{i}"),
                format!("{w} is named twice"),
            ));
        }
    }
    if req.keys.len() > MAX_REMOVED_KEYS {
        return Err(SecretsError::invalid(
            "keys",
            format!("name at most {MAX_REMOVED_KEYS} keys"),
        ));
    }
    for (i, k) in req.keys.iter().enumerate() {
        rules::check_key(k).map_err(|m| SecretsError::invalid(format!("keys.{i}"), m))?;
    }
    Ok(())
}

/// The result of a Kubernetes failure, in words: who was refused what.
fn failed(
    workload: &WorkloadRef,
    verb: &str,
    user: &str,
    ns: &str,
    e: &KubeError,
) -> (RestartOutcome, String) {
    let WorkloadRef { kind, name } = workload;
    if super::refused_impersonation(e) {
        return (
            RestartOutcome::Forbidden,
            format!(
                "Strongroom's own permissions do not let it {verb} {kind} {name} on your behalf (its impersonation is limited); ask your platform team."
            ),
        );
    }
    match e {
        KubeError::Api { code: 403, .. } => (
            RestartOutcome::Forbidden,
            format!("Kubernetes does not allow {user} to {verb} {kind} {name} in namespace {ns}."),
        ),
        KubeError::Api { code: 404, .. } => (
            RestartOutcome::NotFound,
            format!("{kind} {name} was not found in namespace {ns}."),
        ),
        KubeError::Api {
            code: 409, message, ..
        } => (
            RestartOutcome::Conflict,
            format!("Kubernetes answered {kind} {name}'s restart with a conflict: {message}"),
        ),
        KubeError::Api {
            code: 400 | 422,
            message,
            ..
        } => (
            RestartOutcome::Failed,
            format!("Kubernetes rejected the restart of {kind} {name}: {message}"),
        ),
        KubeError::Api { code, reason, .. } => (
            RestartOutcome::Failed,
            format!(
                "The Kubernetes API answered {code} {reason} for {kind} {name}; it may or may not have been restarted."
            ),
        ),
        KubeError::Unreachable(_) => (
            RestartOutcome::Failed,
            format!(
                "The Kubernetes API did not answer in time for {kind} {name}; it may or may not have been restarted."
            ),
        ),
        KubeError::Decode(_) | KubeError::Config(_) => (
            RestartOutcome::Failed,
            format!("{kind} {name} could not be restarted (an internal error, logged)."),
        ),
    }
}

fn result(workload: &WorkloadRef, outcome: RestartOutcome, message: String) -> RestartResult {
    RestartResult {
        kind: workload.kind,
        name: workload.name.clone(),
        outcome,
        message,
        restarted_at: None,
        audit_id: None,
    }
}

/// Restarts the workloads `req` names, which must use the secret
/// `ns/secret`, as the handle's user. `new_scope` makes one audit scope
/// per workload (action `restart` on this secret).
pub async fn restart(
    kube: &UserKube,
    mut new_scope: impl FnMut() -> AuditScope,
    ns: &str,
    secret: &str,
    req: &RestartRequest,
) -> Result<RestartReport, SecretsError> {
    super::check_secret_path(ns, secret)?;
    validate(req)?;
    let user = kube.user().username.clone();
    let scopes: Vec<AuditScope> = req
        .workloads
        .iter()
        .map(|w| {
            let mut scope = new_scope();
            scope.set_keys(req.keys.clone());
            scope.set_reason(Some(w.to_string()));
            scope
        })
        .collect();
    // No change that cannot be recorded: refused before Kubernetes is asked.
    scopes[0]
        .preflight()
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    // A restart is recorded in the secret's history, with the keys said to
    // have changed: only someone who may read the secret may put it there.
    let may_get = kube
        .can_i_on("get", "secrets", ns, Some(secret))
        .await
        .map_err(|e| {
            KubeFailure::new(
                e,
                &user,
                "check access to",
                format!("secret {secret}"),
                Some(ns),
            )
        })?;
    if !may_get {
        let mut scopes = scopes;
        let mut scope = scopes.swap_remove(0);
        scope.set_reason(Some(format!(
            "restart refused: the user may not get secret {secret}"
        )));
        scope
            .record_refusal(Outcome::Denied, Some(403))
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        let forbidden = KubeError::forbidden();
        return Err(KubeFailure::new(
            forbidden,
            &user,
            "get",
            format!("secret {secret}"),
            Some(ns),
        )
        .into());
    }

    // Each workload read again as the user: it must still use the secret.
    let mut checks = Vec::with_capacity(req.workloads.len());
    for (w, scope) in req.workloads.iter().zip(&scopes) {
        let tagged = kube.with_audit_id(scope.id());
        checks.push(check(&tagged.workloads(ns), w, secret).await);
    }
    let strays: Vec<&WorkloadRef> = req
        .workloads
        .iter()
        .zip(&checks)
        .filter(|(_, c)| matches!(c, Check::DoesNotUse))
        .map(|(w, _)| w)
        .collect();
    if !strays.is_empty() {
        // Nothing is restarted; what was asked of Kubernetes is recorded.
        for ((w, scope), c) in req.workloads.iter().zip(scopes).zip(&checks) {
            let (outcome, status) = match c {
                Check::Uses | Check::Paused => continue,
                Check::DoesNotUse => (Outcome::Failed, Some(422)),
                Check::Failed(e) => Outcome::of_error(e),
            };
            let mut scope = scope;
            if matches!(c, Check::DoesNotUse) {
                scope.set_reason(Some(format!("{w}: does not use the secret")));
            }
            scope
                .record_refusal(outcome, status)
                .await
                .map_err(SecretsError::AuditUnavailable)?;
        }
        let names: Vec<String> = strays.iter().map(|w| w.to_string()).collect();
        return Err(SecretsError::invalid(
            "workloads",
            format!(
                "{} {} not use secret {secret}, so nothing was restarted. Reload the page to see who uses it now.",
                names.join(", "),
                if names.len() == 1 { "does" } else { "do" }
            ),
        ));
    }

    let mut results = Vec::with_capacity(req.workloads.len());
    for ((w, scope), c) in req.workloads.iter().zip(scopes).zip(checks) {
        if let Check::Paused = c {
            // Nothing was asked to change: no record, like any unchanged
            // workload of a refused request.
            drop(scope);
            results.push(result(
                w,
                RestartOutcome::Failed,
                format!(
                    "{w} is paused, so its pods would not be renewed; resume it first (kubectl rollout resume {}/{} -n {ns}).",
                    w.kind.kubectl_name(),
                    w.name
                ),
            ));
            continue;
        }
        if let Check::Failed(e) = c {
            let (outcome, status) = Outcome::of_error(&e);
            scope
                .record_refusal(outcome, status)
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            let (outcome, message) = failed(w, "read", &user, ns, &e);
            results.push(result(w, outcome, message));
            continue;
        }
        if let Err(e) = scope.preflight().await {
            tracing::error!(error = %e, workload = %w, "restart refused: audit trail unavailable");
            results.push(result(
                w,
                RestartOutcome::Failed,
                format!("The audit trail cannot be written right now, so {w} was not restarted."),
            ));
            continue;
        }
        let audit_id = scope.id().to_string();
        let tagged = kube.with_audit_id(&audit_id);
        let at = restarted_at_now();
        let patched = patch(&tagged.workloads(ns), w, &at).await;
        let recorded = record_change(scope, &patched, 200, vec![]).await;
        let kube_error = patched
            .as_ref()
            .err()
            .map(|e| failed(w, "patch", &user, ns, e));
        let patched = patched.map_err(|e| {
            KubeFailure::new(
                e,
                &user,
                "patch",
                format!("{} {}", w.kind.kubectl_name(), w.name),
                Some(ns),
            )
        });
        match settle(
            recorded,
            patched,
            || format!("restart of {w} was made"),
            &audit_id,
        ) {
            Ok((receipt, ())) => {
                tracing::info!(audit.id = %audit_id, user.name = %user, secret.namespace = %ns, secret.name = %secret, workload = %w, keys = ?req.keys, "restarted");
                results.push(RestartResult {
                    restarted_at: Some(at),
                    audit_id: Some(receipt.id().to_string()),
                    ..result(w, RestartOutcome::Done, format!("{w} was restarted."))
                });
            }
            Err(SecretsError::NotRecorded {
                change,
                audit_id,
                source,
            }) => {
                tracing::error!(error = %source, audit.id = %audit_id, "a restart was made but its audit record could not be written");
                results.push(RestartResult {
                    restarted_at: Some(at),
                    audit_id: None,
                    ..result(
                        w,
                        RestartOutcome::Failed,
                        format!(
                            "The {change} in Kubernetes, but its audit record could not be written. Tell your platform team the reference {audit_id} (the API server's own audit log has it); do not repeat the request."
                        ),
                    )
                });
            }
            Err(SecretsError::AuditUnavailable(source)) => {
                tracing::error!(error = %source, workload = %w, "a refused restart could not be recorded");
                let (outcome, message) = kube_error.unwrap_or((
                    RestartOutcome::Failed,
                    format!("{w} could not be restarted."),
                ));
                results.push(result(
                    w,
                    outcome,
                    format!("{message} (Its refusal could not be recorded.)"),
                ));
            }
            Err(_) => {
                let (outcome, message) = kube_error.unwrap_or((
                    RestartOutcome::Failed,
                    format!("{w} could not be restarted."),
                ));
                results.push(result(w, outcome, message));
            }
        }
    }
    Ok(RestartReport { results })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(workloads: &[(WorkloadKind, &str)], keys: &[&str]) -> RestartRequest {
        RestartRequest {
            workloads: workloads
                .iter()
                .map(|(kind, name)| WorkloadRef {
                    kind: *kind,
                    name: name.to_string(),
                })
                .collect(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn field(e: SecretsError) -> Option<String> {
        match e {
            SecretsError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_restartable_kinds_with_sound_names_are_taken() {
        assert!(validate(&req(&[(WorkloadKind::Deployment, "web")], &["password"])).is_ok());
        assert_eq!(
            field(validate(&req(&[], &[])).unwrap_err()).as_deref(),
            Some("workloads")
        );
        assert_eq!(
            field(
                validate(&req(
                    &[(WorkloadKind::StatefulSet, "db"), (WorkloadKind::Pod, "p")],
                    &[]
                ))
                .unwrap_err()
            )
            .as_deref(),
            Some("workloads.1.kind")
        );
        assert_eq!(
            field(validate(&req(&[(WorkloadKind::DaemonSet, "Bad_Name")], &[])).unwrap_err())
                .as_deref(),
            Some("workloads.0.name")
        );
        assert_eq!(
            field(
                validate(&req(
                    &[
                        (WorkloadKind::Deployment, "web"),
                        (WorkloadKind::Deployment, "web")
                    ],
                    &[]
                ))
                .unwrap_err()
            )
            .as_deref(),
            Some("workloads.1")
        );
        assert_eq!(
            field(validate(&req(&[(WorkloadKind::Deployment, "web")], &["a b"])).unwrap_err())
                .as_deref(),
            Some("keys.0")
        );
    }

    #[test]
    fn the_timestamp_has_kubectls_shape() {
        let at = restarted_at_now();
        let parsed = chrono::DateTime::parse_from_rfc3339(&at).expect("RFC 3339");
        assert_eq!(
            parsed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            at,
            "whole seconds, Z for UTC: {at}"
        );
        assert!(!at.contains('.'), "{at}");
    }

    #[test]
    fn failures_say_who_was_refused_what() {
        let w = WorkloadRef {
            kind: WorkloadKind::Deployment,
            name: "web".into(),
        };
        let api = |code: u16| KubeError::Api {
            code,
            reason: "R".into(),
            message: "m".into(),
            retry_after: None,
        };
        let (o, m) = failed(&w, "patch", "oidc:bob", "team-a", &api(403));
        assert_eq!(o, RestartOutcome::Forbidden);
        assert_eq!(
            m,
            "Kubernetes does not allow oidc:bob to patch Deployment web in namespace team-a."
        );
        assert_eq!(
            failed(&w, "read", "u", "n", &api(404)).0,
            RestartOutcome::NotFound
        );
        assert_eq!(
            failed(&w, "patch", "u", "n", &api(409)).0,
            RestartOutcome::Conflict
        );
        assert_eq!(
            failed(&w, "patch", "u", "n", &api(500)).0,
            RestartOutcome::Failed
        );
    }
}
