//! Changing a secret (add, replace or remove keys; labels; annotations) and
//! deleting it. Updates are based on the resourceVersion the user saw: a
//! concurrent change is a conflict, never a silent overwrite.

use axum::extract::State;

use crate::http::extract::{Json, Path};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::api::{DeleteParams, PostParams, Preconditions};
use strongroom_app::{
    api::{DeleteSecretRequest, SecretDetail, UpdateSecretRequest},
    secrets::rules,
};

use super::{
    SecretPath, check_path, create::check_metadata, decode_b64, get_secret, kube_error,
    list::describe, reveal::refuse, secrets_path,
};
use crate::{
    AppState,
    audit::{Action, Outcome, context::RequestFacts},
    auth::CurrentUser,
    http::AppError,
};

#[utoipa::path(patch, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    request_body = UpdateSecretRequest,
    responses((status = 200, description = "Changed (and audited)", body = SecretDetail)))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<UpdateSecretRequest>,
) -> Result<Json<SecretDetail>, AppError> {
    check_path(&ns, Some(&name))?;
    let mut changed_keys: Vec<String> = req
        .set
        .iter()
        .map(|e| e.key.clone())
        .chain(req.remove.iter().cloned())
        .collect();
    changed_keys.sort();
    changed_keys.dedup();
    for (i, k) in req.set.iter().map(|e| &e.key).enumerate() {
        rules::check_key(k).map_err(|m| AppError::invalid(format!("set.{i}.key"), m))?;
    }
    check_metadata(
        &req.labels.clone().unwrap_or_default(),
        &req.annotations.clone().unwrap_or_default(),
    )?;
    state.audit.preflight().await.map_err(refuse)?;

    let audit_id = uuid::Uuid::now_v7().to_string();
    let kube = state.kube.for_user(&user).with_audit_id(&audit_id);
    let record = |outcome, status| {
        facts.event(
            &audit_id,
            state.audit.cluster(),
            &user,
            Action::Update,
            &ns,
            &name,
            changed_keys.clone(),
            outcome,
            status,
            vec![],
            None,
        )
    };
    let mut secret = match get_secret(&kube, &ns, &name).await {
        Ok(s) => s,
        Err(e) => {
            let (outcome, status) = Outcome::of_error(&e);
            state
                .audit
                .append(record(outcome, status))
                .await
                .map_err(refuse)?;
            return Err(kube_error(
                e,
                &user,
                "update",
                &format!("secret {name}"),
                Some(&ns),
            ));
        }
    };
    if secret.metadata.resource_version.as_deref() != Some(req.resource_version.as_str()) {
        state
            .audit
            .append(record(Outcome::Failed, Some(409)))
            .await
            .map_err(refuse)?;
        return Err(AppError::Conflict(format!(
            "The secret {name} was changed by someone else since you loaded it. Reload to see the current version; your input is kept."
        )));
    }
    let mut data = secret.data.take().unwrap_or_default();
    for k in &req.remove {
        data.remove(k);
    }
    for (i, e) in req.set.iter().enumerate() {
        data.insert(
            e.key.clone(),
            ByteString(decode_b64(&format!("set.{i}.value"), &e.value)?),
        );
    }
    let entries: Vec<(String, Vec<u8>)> =
        data.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    rules::check_data(&entries).map_err(|e| AppError::invalid(e.field, e.message))?;
    secret.data = Some(data);
    secret.string_data = None;
    if let Some(labels) = req.labels.clone() {
        secret.metadata.labels = Some(labels);
    }
    if let Some(annotations) = req.annotations.clone() {
        secret.metadata.annotations = Some(annotations);
    }
    // The resourceVersion we checked stays in metadata: the API server
    // refuses the write (409) if anything changed in between.
    let body = serde_json::to_vec(&secret).map_err(|e| AppError::internal(e.to_string()))?;
    let request = kube::core::Request::new(secrets_path(&ns))
        .replace(&name, &PostParams::default(), body)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let result: Result<Secret, _> = kube.call(request).await;
    let (outcome, status) = Outcome::of(&result, 200);
    state
        .audit
        .append(record(outcome, status))
        .await
        .map_err(refuse)?;
    let updated =
        result.map_err(|e| kube_error(e, &user, "update", &format!("secret {name}"), Some(&ns)))?;
    tracing::info!(audit.id = %audit_id, user.name = %user.username, secret.namespace = %ns, secret.name = %name, keys = ?changed_keys, "updated");
    Ok(Json(describe(&ns, updated)))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{ns}/secrets/{name}", tag = "secrets",
    params(SecretPath),
    request_body = DeleteSecretRequest,
    responses((status = 200, description = "Deleted (and audited)", body = Deleted)))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Json(req): Json<DeleteSecretRequest>,
) -> Result<Json<Deleted>, AppError> {
    check_path(&ns, Some(&name))?;
    if req.confirm != name {
        return Err(AppError::invalid(
            "confirm",
            format!("type the secret's name, {name}, to confirm"),
        ));
    }
    state.audit.preflight().await.map_err(refuse)?;
    let audit_id = uuid::Uuid::now_v7().to_string();
    let kube = state.kube.for_user(&user).with_audit_id(&audit_id);
    let params = DeleteParams {
        preconditions: req.resource_version.clone().map(|rv| Preconditions {
            resource_version: Some(rv),
            uid: None,
        }),
        ..Default::default()
    };
    let request = kube::core::Request::new(secrets_path(&ns))
        .delete(&name, &params)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let result = kube.call_raw(request).await;
    let (outcome, status) = Outcome::of(&result, 200);
    let event = facts.event(
        &audit_id,
        state.audit.cluster(),
        &user,
        Action::Delete,
        &ns,
        &name,
        vec![],
        outcome,
        status,
        vec![],
        None,
    );
    state.audit.append(event).await.map_err(refuse)?;
    result.map_err(|e| kube_error(e, &user, "delete", &format!("secret {name}"), Some(&ns)))?;
    tracing::info!(audit.id = %audit_id, user.name = %user.username, secret.namespace = %ns, secret.name = %name, "deleted");
    Ok(Json(Deleted {
        deleted: name,
        audit_id,
    }))
}

/// The answer to a delete.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The name of the deleted secret.
    deleted: String,
    /// The id of the delete's audit record.
    #[serde(rename = "auditId")]
    audit_id: String,
}
