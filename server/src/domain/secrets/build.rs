//! Building a secret's `type` and `data` from one of the forms (generic
//! literals and files, an env file, docker-registry, TLS, basic-auth,
//! ssh-auth) with the same rules kubectl uses, and checking labels and
//! annotations with the API server's rules.

use std::collections::BTreeMap;

use strongroom_app::{
    api::SecretInput,
    secrets::{rules, typed},
};

use super::{SecretsError, decode_b64, tls};

/// Builds the `type` and `data` of a secret from form input, validated.
pub fn build(input: &SecretInput) -> Result<(String, BTreeMap<String, Vec<u8>>), SecretsError> {
    let to_err = |e: rules::RuleError| SecretsError::invalid(e.field, e.message);
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
                .collect::<Result<Vec<_>, SecretsError>>()?;
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
                return Err(SecretsError::invalid("username", "a username is required"));
            }
            if password.is_empty() {
                return Err(SecretsError::invalid("password", "a password is required"));
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
                SecretsError::invalid(field, e.to_string())
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
                return Err(SecretsError::invalid(
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
                return Err(SecretsError::invalid(
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
) -> Result<(), SecretsError> {
    for (k, v) in labels {
        rules::check_qualified_name(k)
            .map_err(|m| SecretsError::invalid("labels", format!("label {k:?}: {m}")))?;
        rules::check_label_value(v)
            .map_err(|m| SecretsError::invalid("labels", format!("label {k:?}: {m}")))?;
    }
    for k in annotations.keys() {
        rules::check_qualified_name(k)
            .map_err(|m| SecretsError::invalid("annotations", format!("annotation {k:?}: {m}")))?;
    }
    if annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration") {
        return Err(SecretsError::invalid(
            "annotations",
            "the last-applied-configuration annotation would copy values into metadata",
        ));
    }
    Ok(())
}
