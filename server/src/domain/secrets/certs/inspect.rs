//! One secret's certificates, as the signed-in user: a GET of the secret
//! (so the user's `get` decides), the certificates read on the server, and
//! an `inspect` audit record committed before the answer. The record
//! carries keyed fingerprints of every value of the secret, so later
//! records show whether a value changed in between.

use serde::Serialize;
use strongroom_app::api::certs::SecretCertificates;

use super::parse::{self, Clock, Selection};
use crate::{
    domain::{
        audit::{AuditScope, Audited, Outcome},
        secrets::{SecretsError, check_path},
    },
    infra::cluster::UserKube,
};

/// A secret's certificates. Only [`inspect`] makes one, and only inside an
/// [`Audited`] answer.
pub struct Inspected(SecretCertificates);

impl Inspected {
    /// What the answer says (for logs and tests: public data only).
    pub fn certificates(&self) -> &SecretCertificates {
        &self.0
    }
}

impl std::fmt::Debug for Inspected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected")
            .field(
                "keys",
                &self.0.keys.iter().map(|k| &k.key).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Serialize for Inspected {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Reads the certificates of `ns/name` as the handle's user. A refusal
/// (403, 404) is recorded as denied or failed; an inspection is recorded
/// (action `inspect`, the keys that were read, fingerprints of all the
/// secret's values) before the answer is built. Certificates expiring
/// within `warning_days` are `expiring-soon`.
pub async fn inspect(
    kube: &UserKube,
    scope: AuditScope,
    warning_days: u32,
    ns: &str,
    name: &str,
) -> Result<Audited<Inspected>, SecretsError> {
    check_path(ns, Some(name))?;
    let user = kube.user().username.clone();
    let kube = kube.with_audit_id(scope.id());
    let (secret, mut scope) = crate::domain::secrets::get_or_record(&kube, scope, ns, name).await?;
    let type_ = secret.type_.clone().unwrap_or_else(|| "Opaque".into());
    let data = secret.data.unwrap_or_default();
    let clock = Clock {
        now: chrono::Utc::now(),
        warning_days,
    };
    let keys = parse::certificates_of(Selection::Inspect, &type_, &data, clock);
    scope.set_keys(keys.iter().map(|k| k.key.clone()).collect());
    let fingerprints = scope.fingerprint_all(data.iter().map(|(k, v)| (k, v.0.as_slice())));
    let receipt = scope
        .record(Outcome::Allowed, Some(200), fingerprints)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    tracing::info!(audit.id = %receipt.id(), user.name = %user, secret.namespace = %ns, secret.name = %name, keys = keys.len(), "certificates inspected");
    let answer = Inspected(SecretCertificates {
        namespace: ns.to_string(),
        name: name.to_string(),
        audit_id: receipt.id().to_string(),
        warning_days,
        keys,
    });
    Ok(Audited::new(receipt, answer))
}
