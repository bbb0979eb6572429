//! Creating a secret from one of the forms: generic literals and files, an
//! env file, docker-registry, TLS, basic-auth, ssh-auth. The data is built
//! with the same rules kubectl uses, written as `data` (never
//! `stringData`), and the creation is audited.

use std::collections::BTreeMap;

use axum::{extract::State, http::StatusCode};

use crate::http::extract::{Json, Path};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::api::{ObjectMeta, PostParams};
use strongroom_app::{
    api::{CreateSecretRequest, SecretDetail, SecretInput},
    secrets::{rules, typed},
};

use super::{
    NamespacePath, check_path, decode_b64, kube_error, list::describe, reveal::refuse,
    secrets_path, tls,
};
use crate::{
    AppState,
    audit::{Action, Outcome, context::RequestFacts},
    auth::CurrentUser,
    http::AppError,
};

/// Builds the `type` and `data` of a secret from form input, validated.
pub fn build(input: &SecretInput) -> Result<(String, BTreeMap<String, Vec<u8>>), AppError> {
    let to_err = |e: rules::RuleError| AppError::invalid(e.field, e.message);
    let (type_, entries): (&str, Vec<(String, Vec<u8>)>) = match input {
        SecretInput::Generic { entries } => {
            let entries = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    Ok((
                        e.key.clone(),
                        decode_b64(&format!("data.{i}.value"), &e.value)?,
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            (typed::TYPE_OPAQUE, entries)
        }
        SecretInput::EnvFile { file } => {
            let bytes = decode_b64("envFile", file)?;
            (
                typed::TYPE_OPAQUE,
                rules::parse_env_file(&bytes).map_err(to_err)?,
            )
        }
        SecretInput::DockerRegistry {
            server,
            username,
            password,
            email,
        } => {
            if username.is_empty() {
                return Err(AppError::invalid("username", "a username is required"));
            }
            if password.is_empty() {
                return Err(AppError::invalid("password", "a password is required"));
            }
            let json = typed::docker_config_json(server, username, password, email);
            (
                typed::TYPE_DOCKER_CONFIG_JSON,
                vec![(".dockerconfigjson".into(), json)],
            )
        }
        SecretInput::Tls { cert, key } => {
            tls::check_pair(cert.as_bytes(), key.as_bytes()).map_err(|e| {
                let field = if matches!(e, tls::TlsError::BadCertificate) {
                    "cert"
                } else {
                    "key"
                };
                AppError::invalid(field, e.to_string())
            })?;
            (
                typed::TYPE_TLS,
                vec![
                    ("tls.crt".into(), cert.as_bytes().to_vec()),
                    ("tls.key".into(), key.as_bytes().to_vec()),
                ],
            )
        }
        SecretInput::BasicAuth { username, password } => {
            if username.is_empty() && password.is_empty() {
                return Err(AppError::invalid(
                    "username",
                    "give a username, a password, or both",
                ));
            }
            let mut v = Vec::new();
            if !username.is_empty() {
                v.push(("username".to_string(), username.as_bytes().to_vec()));
            }
            if !password.is_empty() {
                v.push(("password".to_string(), password.as_bytes().to_vec()));
            }
            (typed::TYPE_BASIC_AUTH, v)
        }
        SecretInput::SshAuth { private_key } => {
            if private_key.trim().is_empty() {
                return Err(AppError::invalid(
                    "privateKey",
                    "the private key is required",
                ));
            }
            (
                typed::TYPE_SSH_AUTH,
                vec![("ssh-privatekey".into(), private_key.as_bytes().to_vec())],
            )
        }
    };
    let data = rules::check_data(&entries).map_err(to_err)?;
    Ok((type_.to_string(), data))
}

/// Checks labels and annotations with the API server's rules.
pub fn check_metadata(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Result<(), AppError> {
    for (k, v) in labels {
        rules::check_qualified_name(k)
            .map_err(|m| AppError::invalid("labels", format!("label {k:?}: {m}")))?;
        rules::check_label_value(v)
            .map_err(|m| AppError::invalid("labels", format!("label {k:?}: {m}")))?;
    }
    for k in annotations.keys() {
        rules::check_qualified_name(k)
            .map_err(|m| AppError::invalid("annotations", format!("annotation {k:?}: {m}")))?;
    }
    if annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration") {
        return Err(AppError::invalid(
            "annotations",
            "the last-applied-configuration annotation would copy values into metadata",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/namespaces/{ns}/secrets", tag = "secrets",
    params(NamespacePath),
    request_body = CreateSecretRequest,
    responses((status = 201, description = "Created (and audited); the answer carries no values", body = SecretDetail)))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(NamespacePath { ns }): Path<NamespacePath>,
    Json(req): Json<CreateSecretRequest>,
) -> Result<(StatusCode, Json<SecretDetail>), AppError> {
    check_path(&ns, None)?;
    rules::check_name(&req.name).map_err(|m| AppError::invalid("name", m))?;
    check_metadata(&req.labels, &req.annotations)?;
    let (type_, data) = build(&req.input)?;
    let keys: Vec<String> = data.keys().cloned().collect();
    // Refuse before changing anything if the change could not be audited.
    state.audit.preflight().await.map_err(refuse)?;

    let audit_id = uuid::Uuid::now_v7().to_string();
    let kube = state.kube.for_user(&user).with_audit_id(&audit_id);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(req.name.clone()),
            namespace: Some(ns.clone()),
            labels: (!req.labels.is_empty()).then(|| req.labels.clone()),
            annotations: (!req.annotations.is_empty()).then(|| req.annotations.clone()),
            ..Default::default()
        },
        type_: Some(type_),
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        immutable: req.immutable.then_some(true),
        ..Default::default()
    };
    let body = serde_json::to_vec(&secret).map_err(|e| AppError::internal(e.to_string()))?;
    let request = kube::core::Request::new(secrets_path(&ns))
        .create(&PostParams::default(), body)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let result: Result<Secret, _> = kube.call(request).await;
    let (outcome, status) = Outcome::of(&result, 201);
    let event = facts.event(
        &audit_id,
        state.audit.cluster(),
        &user,
        Action::Create,
        &ns,
        &req.name,
        keys,
        outcome,
        status,
        vec![],
        None,
    );
    state.audit.append(event).await.map_err(refuse)?;
    let created = result.map_err(|e| {
        kube_error(
            e,
            &user,
            "create",
            &format!("secret {}", req.name),
            Some(&ns),
        )
    })?;
    tracing::info!(audit.id = %audit_id, user.name = %user.username, secret.namespace = %ns, secret.name = %req.name, "created");
    Ok((StatusCode::CREATED, Json(describe(&ns, created))))
}
