//! Revealing values: the only answer that carries them. The audit record
//! (with an HMAC fingerprint of each value) is committed first; when it
//! cannot be, the answer is 503 and no value leaves the server.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};

use crate::http::extract::{Json, Path};
use base64::Engine;
use strongroom_app::api::{RevealRequest, RevealResponse, RevealedValue};

use super::{SecretPath, check_path, get_secret, kube_error};
use crate::{
    AppState,
    audit::{Action, Fingerprint, Outcome, context::RequestFacts, store::AuditError},
    auth::CurrentUser,
    config::RateLimit,
    http::AppError,
};

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets/{name}/reveal", tag = "secrets",
    params(SecretPath),
    request_body = RevealRequest,
    responses((status = 200, description = "The values, sent only after the reveal's audit record is committed", body = RevealResponse)))]
pub async fn reveal(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<RevealRequest>,
) -> Result<Response, AppError> {
    check_path(&ns, Some(&name))?;
    let audit_id = uuid::Uuid::now_v7().to_string();
    let reason = req
        .reason
        .clone()
        .map(|r| r.chars().take(500).collect::<String>())
        .filter(|r| !r.trim().is_empty());
    if reason.is_none() && state.config.reveal_reason_namespaces.contains(&ns) {
        return Err(AppError::invalid(
            "reason",
            format!(
                "Namespace {ns} asks for a reason before values are revealed; say why you need them."
            ),
        ));
    }
    let event = |keys: Vec<String>, outcome, status, fingerprints| {
        facts.event(
            &audit_id,
            state.audit.cluster(),
            &user,
            Action::Reveal,
            &ns,
            &name,
            keys,
            outcome,
            status,
            fingerprints,
            reason.clone(),
        )
    };
    // Over the per-user rate: refused before Kubernetes is asked, and the
    // refusal itself is recorded.
    if let (Some(limiter), RateLimit(Some(rate))) =
        (&state.reveal_limiter, state.config.reveal_rate_limit)
        && let Err(not_until) = limiter.check_key(&user.username)
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let mut record = event(req.keys.clone(), Outcome::Denied, Some(429), vec![]);
        record.reason = Some(format!(
            "rate limited: more than {} reveals per {}",
            rate.count,
            humantime::format_duration(rate.period),
        ));
        state.audit.append(record).await.map_err(refuse)?;
        let seconds = wait.as_secs().max(1);
        return Ok(AppError::TooManyRequests {
            message: format!(
                "You have revealed many values in a short time; try again in {seconds} seconds."
            ),
            retry_after: seconds,
        }
        .into_response());
    }
    // The audit id travels to the API server too, so its own audit event
    // (with impersonatedUser) can be joined with ours.
    let kube = state.kube.for_user(&user).with_audit_id(&audit_id);
    let secret = match get_secret(&kube, &ns, &name).await {
        Ok(s) => s,
        Err(e) => {
            let (outcome, status) = Outcome::of_error(&e);
            state
                .audit
                .append(event(req.keys.clone(), outcome, status, vec![]))
                .await
                .map_err(refuse)?;
            return Err(kube_error(
                e,
                &user,
                "get",
                &format!("secret {name}"),
                Some(&ns),
            ));
        }
    };
    let resource_version = secret.metadata.resource_version.clone().unwrap_or_default();
    let data = secret.data.unwrap_or_default();
    let wanted: Vec<String> = if req.keys.is_empty() {
        data.keys().cloned().collect()
    } else {
        req.keys.clone()
    };
    if let Some(missing) = wanted.iter().find(|k| !data.contains_key(*k)) {
        state
            .audit
            .append(event(wanted.clone(), Outcome::Failed, Some(404), vec![]))
            .await
            .map_err(refuse)?;
        return Err(AppError::NotFound(format!(
            "The secret {name} has no key {missing:?}."
        )));
    }
    let fp = state.audit.fingerprinter();
    let fingerprints = wanted
        .iter()
        .map(|k| Fingerprint {
            key: k.clone(),
            hmac: fp.fingerprint(&data[k].0),
        })
        .collect();
    let record = state
        .audit
        .append(event(
            wanted.clone(),
            Outcome::Allowed,
            Some(200),
            fingerprints,
        ))
        .await
        .map_err(refuse)?;
    tracing::info!(audit.id = %record.event.id, user.name = %user.username, secret.namespace = %ns, secret.name = %name, keys = ?wanted, "revealed");
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
    Ok(Json(RevealResponse {
        audit_id: record.event.id,
        resource_version,
        values,
    })
    .into_response())
}

/// No audit, no answer.
pub fn refuse(e: AuditError) -> AppError {
    tracing::error!(error = %e, "request refused: audit trail unavailable");
    AppError::Unavailable("The audit trail cannot be written right now, so this request was refused and nothing was revealed or changed. Please try again shortly.".into())
}
