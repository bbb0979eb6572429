//! Secrets as the signed-in user: list, detail, reveal, create, change,
//! delete. Each operation takes the impersonated Kubernetes handle (and,
//! when it reveals or changes something, an [`AuditScope`]) and answers with
//! a [`SecretsError`] or, for reveals and changes, an [`Audited`] answer:
//! values and change reports exist only after their record is committed.
//!
//! [`AuditScope`]: crate::domain::audit::AuditScope
//! [`Audited`]: crate::domain::audit::Audited

pub mod age;
pub mod build;
pub mod certs;
pub mod change;
pub mod create;
pub mod limit;
pub mod lineage;
pub mod list;
pub mod owner;
pub mod reveal;
pub mod tls;
pub mod view;

use base64::Engine;

use crate::{
    domain::{
        KubeFailure,
        audit::{AuditError, AuditScope, Outcome},
    },
    infra::cluster::UserKube,
};

/// How a secret operation can fail. Messages are for the person; none
/// carries a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The input breaks a rule; `field` names the form field.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// A key (or other part) the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The secret changed since the person loaded it.
    #[error("{0}")]
    Conflict(String),
    /// Kubernetes refused or failed the call (boxed: errors stay small).
    #[error(transparent)]
    Kube(Box<KubeFailure>),
    /// A list's continue token expired (410 from the API server).
    #[error("The list changed too much while paging; start again from the first page.")]
    ListExpired,
    /// Over the per-user reveal rate (recorded as denied).
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// Something Strongroom relies on for this request (the sealed-secrets
    /// controller, say) cannot be reached; the message says what to do.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state; the detail is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// Strongroom itself refuses (not Kubernetes): the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The namespace asks for a sign-in within `max_age`; the last one is
    /// older (or its time unknown).
    #[error("This namespace asks for a sign-in within the last {}: sign in again to continue.", humantime::format_duration(*max_age))]
    StepUpRequired { max_age: std::time::Duration },
    /// The namespace asks for a second person's approval, and there is no
    /// open approval for this (or these keys).
    #[error("{0}")]
    ApprovalRequired(String),
    /// The shared reveal counter cannot be read: refused, nothing revealed.
    #[error("the reveal rate cannot be checked right now; nothing was revealed")]
    LimitUnavailable,
    /// No required audit sink could commit: nothing was revealed or changed.
    #[error("the audit trail cannot be written: {0}")]
    AuditUnavailable(#[source] AuditError),
    /// The change was made in Kubernetes, but its record could not be
    /// committed. `audit_id` is the record's id, also in the API server's
    /// own audit log as the impersonated user's extra value.
    #[error("the {change} was made but its audit record {audit_id} could not be written: {source}")]
    NotRecorded {
        /// What was done, for the person (`secret db was created`).
        change: String,
        audit_id: String,
        #[source]
        source: AuditError,
    },
}

impl From<KubeFailure> for SecretsError {
    fn from(f: KubeFailure) -> Self {
        SecretsError::Kube(Box::new(f))
    }
}

impl SecretsError {
    /// An input error about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        SecretsError::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// Checks a namespace and (optionally) a secret name before they reach a URL.
pub fn check_path(ns: &str, name: Option<&str>) -> Result<(), SecretsError> {
    strongroom_app::secrets::rules::check_name(ns)
        .map_err(|m| SecretsError::invalid("namespace", m))?;
    if let Some(name) = name {
        strongroom_app::secrets::rules::check_name(name)
            .map_err(|m| SecretsError::invalid("name", m))?;
    }
    Ok(())
}

/// Reads `ns/name` (values included) as the handle's user, for an
/// operation whose record is `scope`: when Kubernetes refuses or fails, the
/// refusal is recorded (within the refusal budget) and the answer is the
/// error; otherwise the secret and the scope, still to be recorded.
pub(in crate::domain) async fn get_or_record(
    kube: &UserKube,
    scope: AuditScope,
    ns: &str,
    name: &str,
) -> Result<(k8s_openapi::api::core::v1::Secret, AuditScope), SecretsError> {
    match kube.secrets(ns).get(name).await {
        Ok(secret) => Ok((secret, scope)),
        Err(e) => {
            let (outcome, status) = Outcome::of_error(&e);
            scope
                .record_refusal(outcome, status)
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            let user = &kube.user().username;
            Err(KubeFailure::new(e, user, "get", format!("secret {name}"), Some(ns)).into())
        }
    }
}

fn decode_b64(field: &str, value: &str) -> Result<Vec<u8>, SecretsError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| SecretsError::invalid(field, "the value is not valid base64"))
}

/// The opening of every change: refused before anything is sent when its
/// record could not be written (a committed probe row), then the handle
/// tagged with the record's id (the API server's audit log carries it).
/// Answers the record id, the tagged handle and the username.
pub(in crate::domain) async fn begin_change(
    kube: &UserKube,
    scope: &AuditScope,
) -> Result<(String, UserKube, String), SecretsError> {
    scope
        .preflight()
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    let audit_id = scope.id().to_string();
    let kube = kube.with_audit_id(&audit_id);
    let user = kube.user().username.clone();
    Ok((audit_id, kube, user))
}

/// What a change's record failing means: after a refusal Kubernetes
/// answered (4xx), nothing happened; after a change Kubernetes made, say
/// exactly that; when Kubernetes' answer never came (or was a 5xx), the
/// change may have been made, so say that.
pub(in crate::domain) fn unrecorded<T>(
    result: &Result<T, KubeFailure>,
    change: impl FnOnce() -> String,
    audit_id: &str,
    source: AuditError,
) -> SecretsError {
    let definitely_refused =
        matches!(result, Err(f) if f.source.status().is_some_and(|s| (400..500).contains(&s)));
    if definitely_refused {
        return SecretsError::AuditUnavailable(source);
    }
    let change = change();
    SecretsError::NotRecorded {
        change: if result.is_ok() {
            change
        } else {
            format!("{change} (possibly: Kubernetes did not say)")
        },
        audit_id: audit_id.to_string(),
        source,
    }
}

/// The end of every change: its record's fate (`recorded`) and Kubernetes'
/// answer (`result`) become the answer, or the honest error.
pub(in crate::domain) fn settle<T>(
    recorded: Result<Option<crate::domain::audit::Receipt>, AuditError>,
    result: Result<T, KubeFailure>,
    change: impl FnOnce() -> String,
    audit_id: &str,
) -> Result<(crate::domain::audit::Receipt, T), SecretsError> {
    let receipt = match recorded {
        Ok(receipt) => receipt,
        Err(e) => return Err(unrecorded(&result, change, audit_id, e)),
    };
    let done = result?;
    // A change Kubernetes made went through `record`, never the refusal
    // budget (see `record_change`), so it has a receipt.
    let receipt = receipt.expect("a change Kubernetes made is recorded in full");
    Ok((receipt, done))
}

/// Records a change's outcome: a refusal Kubernetes answered (4xx) goes
/// through the per-user refusal budget (and lists a bounded number of
/// keys, no fingerprints); anything that may have changed the secret is
/// recorded in full, with `after`, the fingerprints of the values the
/// change leaves (only when Kubernetes says it made it).
pub(in crate::domain) async fn record_change<T>(
    scope: AuditScope,
    result: &Result<T, crate::infra::cluster::KubeError>,
    ok_status: u16,
    after: Vec<crate::domain::audit::Fingerprint>,
) -> Result<Option<crate::domain::audit::Receipt>, AuditError> {
    let (outcome, status) = Outcome::of(result, ok_status);
    if matches!(status, Some(400..=499)) {
        scope.record_refusal(outcome, status).await.map(|()| None)
    } else {
        let after = if result.is_ok() { after } else { vec![] };
        scope.record(outcome, status, after).await.map(Some)
    }
}
