//! Revealing values: the only answer that carries them. The audit record
//! (with an HMAC fingerprint of each value) is committed first; when it
//! cannot be, the answer is an error and no value leaves the server.

use base64::Engine;
use serde::Serialize;
use strongroom_app::api::{RevealResponse, RevealedValue};

use super::{
    SecretsError, check_path, get_or_record,
    limit::{OverLimit, RevealLimit},
};
use crate::{
    domain::{
        audit::{AuditScope, Audited, Outcome},
        guard::{Admission, Gate},
    },
    infra::cluster::UserKube,
};

/// The most keys one reveal may name.
pub const MAX_REVEAL_KEYS: usize = 64;

/// What a reveal asks for.
#[derive(Clone, Debug, Default)]
pub struct RevealRequest {
    /// The keys to reveal; empty means all.
    pub keys: Vec<String>,
    /// Why, when the person says (at most 500 characters are kept).
    pub reason: Option<String>,
}

/// The rules a reveal is held to.
#[derive(Clone, Copy, Default)]
pub struct RevealPolicy<'a> {
    /// A reason must be given (the namespace asks for one).
    pub reason_required: bool,
    /// The per-user rate, when limited.
    pub limit: Option<&'a RevealLimit>,
    /// The namespace's step-up, approval and notification guards, when it
    /// has any (invariant 8).
    pub gate: Option<Gate<'a>>,
}

/// Revealed values. Only [`reveal`] makes them, and only inside an
/// [`Audited`] answer.
pub struct Revealed(RevealResponse);

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field(
                "keys",
                &self.0.values.iter().map(|v| &v.key).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Serialize for Revealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Reveals `req.keys` of `ns/name` as the handle's user. Every outcome that
/// reaches the rate limit or Kubernetes is recorded in `scope`: a refusal
/// (rate limit, 403, 404) as denied or failed, a reveal with the
/// fingerprints of the values; the values are returned only after that
/// record is committed.
pub async fn reveal(
    kube: &UserKube,
    mut scope: AuditScope,
    policy: RevealPolicy<'_>,
    ns: &str,
    name: &str,
    req: RevealRequest,
) -> Result<Audited<Revealed>, SecretsError> {
    check_path(ns, Some(name))?;
    // What goes into the record is bounded and well-formed: real key names,
    // and not more than a person picks one by one ("Reveal all" sends none).
    if req.keys.len() > MAX_REVEAL_KEYS {
        return Err(SecretsError::invalid(
            "keys",
            format!("ask for at most {MAX_REVEAL_KEYS} keys at once, or for none to reveal all"),
        ));
    }
    for (i, key) in req.keys.iter().enumerate() {
        strongroom_app::secrets::rules::check_key(key)
            .map_err(|m| SecretsError::invalid(format!("keys.{i}"), m))?;
    }
    scope.set_keys(req.keys.clone());
    let user = kube.user().username.clone();
    // Each named key counts ("Reveal all" is charged for the rest of its
    // keys once they are known).
    let asked = u32::try_from(req.keys.len()).unwrap_or(u32::MAX).max(1);
    let (scope, mut admission) = admit(scope, policy, ns, req.reason, asked).await?;
    // The audit id travels to the API server too, so its own audit event
    // (with impersonatedUser) can be joined with ours.
    let kube = kube.with_audit_id(scope.id());
    let (secret, mut scope) = get_or_record(&kube, scope, ns, name).await?;
    let resource_version = secret.metadata.resource_version.clone().unwrap_or_default();
    let uid = secret.metadata.uid.clone();
    let data = secret.data.unwrap_or_default();
    let req_was_all = req.keys.is_empty();
    let wanted: Vec<String> = if req.keys.is_empty() {
        data.keys().cloned().collect()
    } else {
        req.keys
    };
    scope.set_keys(wanted.clone());
    if req_was_all
        && let Some(limit) = policy.limit
        && wanted.len() > 1
        && let Err(over) = limit
            .take(&user, u32::try_from(wanted.len() - 1).unwrap_or(u32::MAX))
            .await
    {
        return Err(rate_limited(scope, limit, over).await);
    }
    if let Some(missing) = wanted.iter().find(|k| !data.contains_key(*k)) {
        let message = format!("The secret {name} has no key {missing:?}.");
        scope
            .record_refusal(Outcome::Failed, Some(404))
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        return Err(SecretsError::NotFound(message));
    }
    let scope = admission.cover(scope, &wanted, uid.as_deref()).await?;
    let scope = admission.announce_first(scope, "reveal").await?;
    let event = admission.event(&scope, "reveal");
    let fingerprints = wanted
        .iter()
        .map(|k| scope.fingerprint(k, &data[k].0))
        .collect();
    let receipt = scope
        .record(Outcome::Allowed, Some(200), fingerprints)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    tracing::info!(audit.id = %receipt.id(), user.name = %user, secret.namespace = %ns, secret.name = %name, keys = ?wanted, "revealed");
    admission.announce_after(&receipt, event);
    let values = wanted
        .into_iter()
        .map(|key| {
            let bytes = &data[&key].0;
            RevealedValue {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
                text: String::from_utf8(bytes.clone()).ok(),
                size: bytes.len(),
                key,
            }
        })
        .collect();
    let answer = Revealed(RevealResponse {
        audit_id: receipt.id().to_string(),
        resource_version,
        values,
    });
    Ok(Audited::new(receipt, answer))
}

/// The rules every disclosure of values (a reveal, a seal or an export of
/// an existing secret) passes before Kubernetes is asked: the namespace's
/// reason rule (the reason, at most 500 characters, goes into the record),
/// its step-up and approval guards, and the per-user rate, charged `asked`
/// keys. A refusal by the rate or for want of an approval is recorded. The
/// [`Admission`] checks the keys against the approval once they are known.
pub(in crate::domain) async fn admit<'a>(
    mut scope: AuditScope,
    policy: RevealPolicy<'a>,
    ns: &str,
    reason: Option<String>,
    asked: u32,
) -> Result<(AuditScope, Admission<'a>), SecretsError> {
    let reason = reason
        .map(|r| r.chars().take(500).collect::<String>())
        .filter(|r| !r.trim().is_empty());
    if reason.is_none() && policy.reason_required {
        return Err(SecretsError::invalid(
            "reason",
            format!(
                "Namespace {ns} asks for a reason before values are revealed; say why you need them."
            ),
        ));
    }
    scope.set_reason(reason);
    let (scope, admission) = Admission::check(policy.gate, scope).await?;
    // Over the per-user rate: refused before Kubernetes is asked, and the
    // refusal itself is recorded.
    if let Some(limit) = policy.limit {
        let user = scope.username().to_string();
        if let Err(over) = limit.take(&user, asked).await {
            return Err(rate_limited(scope, limit, over).await);
        }
    }
    Ok((scope, admission))
}

/// Records a reveal refused by the rate limit (as denied, 429) and says how
/// long to wait; a counter that cannot be read refuses too (503).
pub(in crate::domain) async fn rate_limited(
    mut scope: AuditScope,
    limit: &RevealLimit,
    over: OverLimit,
) -> SecretsError {
    let wait = match over {
        OverLimit::Wait(wait) => wait,
        OverLimit::Unavailable(cause) => {
            tracing::error!(error = %cause, "the shared reveal counter is unavailable");
            return SecretsError::LimitUnavailable;
        }
    };
    crate::infra::metrics::reveal_rate_limited();
    scope.set_reason(Some(format!(
        "rate limited: more than {} reveals per {}",
        limit.count(),
        humantime::format_duration(limit.period()),
    )));
    if let Err(e) = scope.record_refusal(Outcome::Denied, Some(429)).await {
        return SecretsError::AuditUnavailable(e);
    }
    let seconds = wait.as_secs().max(1);
    SecretsError::RateLimited {
        message: format!(
            "You have revealed many values in a short time; try again in {seconds} seconds."
        ),
        retry_after: seconds,
    }
}
