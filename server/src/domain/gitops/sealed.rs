//! Sealing for Git in the format of bitnami-labs/sealed-secrets: pure
//! functions, no I/O.
//!
//! Each value is sealed on its own (as `kubeseal` does): a fresh 32-byte
//! session key encrypts the value with AES-256-GCM (zero nonce: the key is
//! used once), and RSA-OAEP with SHA-256 encrypts the session key to the
//! controller's public key, with the scope's label (`ns/name`, `ns` or
//! nothing) so the controller refuses to unseal it under another name. The
//! sealed value is `len(rsa) as u16 BE ‖ rsa ‖ gcm`, base64-encoded.

use std::collections::BTreeMap;

use aes_gcm::{Aes256Gcm, KeyInit, aead::Aead};
use base64::Engine;
use chrono::{DateTime, Utc};
use rsa::{Oaep, RsaPublicKey, pkcs1::DecodeRsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use strongroom_app::api::gitops::{SealScope, SealingCertificate};

use super::{GitopsError, SecretParts};

/// The annotations that carry a SealedSecret's scope.
pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";

/// Annotations a sealed template never carries: kubectl and kubecfg keep a
/// copy of the whole object, values included, in them.
const STRIPPED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

/// The smallest RSA key accepted (the controller makes 4096-bit keys).
const MIN_RSA_BITS: usize = 2048;

/// A controller's sealing key, read from its certificate.
#[derive(Clone)]
pub struct SealingKey {
    key: RsaPublicKey,
    /// What the person is shown about the certificate.
    pub info: SealingCertificate,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("fingerprint", &self.info.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Reads the sealing key out of `pem` (the controller's `cert.pem`, or a
/// certificate the person pasted). Refuses anything but one valid, current
/// certificate with an RSA key of at least 2048 bits. `source` says where
/// the certificate came from.
pub fn sealing_key(pem: &str, source: &str, now: DateTime<Utc>) -> Result<SealingKey, GitopsError> {
    let bad = |m: String| GitopsError::invalid("certificate", m);
    if pem.len() > 64 * 1024 {
        return Err(bad("the certificate is larger than 64 KiB".into()));
    }
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| bad("this is not a PEM certificate (-----BEGIN CERTIFICATE-----)".into()))?;
    if block.label != "CERTIFICATE" {
        return Err(bad(format!(
            "this PEM block is a {:?}, not a CERTIFICATE",
            block.label
        )));
    }
    let cert = block
        .parse_x509()
        .map_err(|_| bad("the certificate cannot be read".into()))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(bad(
            "the certificate's key is not an RSA key; the sealed-secrets controller seals to RSA keys"
                .into(),
        ));
    }
    let key = RsaPublicKey::from_pkcs1_der(&spki.subject_public_key.data)
        .map_err(|_| bad("the certificate's RSA key cannot be read".into()))?;
    let bits = rsa::traits::PublicKeyParts::size(&key) * 8;
    if bits < MIN_RSA_BITS {
        return Err(bad(format!(
            "the certificate's RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed"
        )));
    }
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let at = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    if now.timestamp() > not_after {
        return Err(bad(format!(
            "the certificate expired on {}; fetch the controller's current certificate",
            at(not_after)
        )));
    }
    if now.timestamp() < not_before {
        return Err(bad(format!(
            "the certificate is not valid before {}",
            at(not_before)
        )));
    }
    let fingerprint = Sha256::digest(block.contents.as_slice())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(SealingKey {
        key,
        info: SealingCertificate {
            fingerprint,
            subject: cert.subject().to_string(),
            not_before: at(not_before),
            not_after: at(not_after),
            days_left: (not_after - now.timestamp()).div_euclid(86_400),
            bits,
            source: source.to_string(),
            pem: pem.trim().to_string() + "\n",
        },
    })
}

/// The RSA-OAEP label of a scope: what binds a sealed value to where it may
/// be unsealed.
pub fn label(scope: SealScope, ns: &str, name: &str) -> Vec<u8> {
    match scope {
        SealScope::Strict => format!("{ns}/{name}").into_bytes(),
        SealScope::NamespaceWide => ns.as_bytes().to_vec(),
        SealScope::ClusterWide => Vec::new(),
    }
}

/// Seals one value to `key` under `label`.
pub fn seal_value(
    key: &SealingKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, GitopsError> {
    let mut session = [0u8; 32];
    rand::fill(&mut session);
    let mut rng = rsa::rand_core::OsRng;
    let padding = Oaep::new_with_label::<Sha256, _>(&String::from_utf8_lossy(label));
    let wrapped = key
        .key
        .encrypt(&mut rng, padding, &session)
        .map_err(|_| GitopsError::invalid("certificate", "sealing to this key failed"))?;
    let len = u16::try_from(wrapped.len())
        .map_err(|_| GitopsError::invalid("certificate", "the RSA key is too large"))?;
    let gcm = Aes256Gcm::new((&session).into());
    let sealed = gcm
        .encrypt(&[0u8; 12].into(), plaintext)
        .map_err(|_| GitopsError::invalid("data", "a value could not be sealed"))?;
    let mut out = Vec::with_capacity(2 + wrapped.len() + sealed.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&sealed);
    Ok(out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SealedSecret {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
    spec: Spec,
}

#[derive(Serialize)]
struct Meta {
    name: String,
    namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    encrypted_data: BTreeMap<String, String>,
    template: Template,
}

#[derive(Serialize)]
struct Template {
    metadata: Meta,
    #[serde(rename = "type")]
    type_: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    immutable: bool,
}

/// The scope's annotations on a SealedSecret and its template (as kubeseal
/// writes them), with `annotations` minus the ones that copy values.
fn scoped_annotations(
    scope: SealScope,
    annotations: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = annotations
        .iter()
        .filter(|(k, _)| {
            !STRIPPED.contains(&k.as_str()) && *k != NAMESPACE_WIDE && *k != CLUSTER_WIDE
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match scope {
        SealScope::Strict => {}
        SealScope::NamespaceWide => {
            out.insert(NAMESPACE_WIDE.into(), "true".into());
        }
        SealScope::ClusterWide => {
            out.insert(CLUSTER_WIDE.into(), "true".into());
        }
    }
    out
}

/// The SealedSecret (as a JSON value, for the API server) sealing `plain`
/// to `key` under `scope`.
pub fn sealed_secret(
    key: &SealingKey,
    scope: SealScope,
    plain: &SecretParts<'_>,
) -> Result<serde_json::Value, GitopsError> {
    let label = label(scope, plain.namespace, plain.name);
    let encrypted_data = plain
        .data
        .iter()
        .map(|(k, v)| {
            let sealed = seal_value(key, &label, v)?;
            Ok((
                k.clone(),
                base64::engine::general_purpose::STANDARD.encode(sealed),
            ))
        })
        .collect::<Result<_, GitopsError>>()?;
    let scoped = scoped_annotations(scope, &BTreeMap::new());
    let object = SealedSecret {
        api_version: "bitnami.com/v1alpha1",
        kind: "SealedSecret",
        metadata: Meta {
            name: plain.name.into(),
            namespace: plain.namespace.into(),
            labels: BTreeMap::new(),
            annotations: scoped,
        },
        spec: Spec {
            encrypted_data,
            template: Template {
                metadata: Meta {
                    name: plain.name.into(),
                    namespace: plain.namespace.into(),
                    labels: plain.labels.clone(),
                    annotations: scoped_annotations(scope, plain.annotations),
                },
                type_: plain.type_.into(),
                immutable: plain.immutable,
            },
        },
    };
    serde_json::to_value(object).map_err(|e| GitopsError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use rsa::{RsaPrivateKey, pkcs8::DecodePrivateKey};

    use super::*;

    const CERT: &str = include_str!("testdata/sealing.pem");
    const KEY: &str = include_str!("testdata/sealing.key");

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-06-01T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// Opens a sealed value the way the controller does.
    fn open(private: &RsaPrivateKey, label: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let len = u16::from_be_bytes([sealed[0], sealed[1]]) as usize;
        let (wrapped, body) = sealed[2..].split_at(len);
        let padding = Oaep::new_with_label::<Sha256, _>(&String::from_utf8_lossy(label));
        let session = private.decrypt(padding, wrapped).ok()?;
        let gcm = Aes256Gcm::new_from_slice(&session).ok()?;
        gcm.decrypt(&[0u8; 12].into(), body).ok()
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_own_label() {
        let key = sealing_key(CERT, "pasted", now()).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let value = b"\x00binary\xffvalue";
        let strict = label(SealScope::Strict, "team-a", "db");
        let sealed = seal_value(&key, &strict, value).unwrap();
        assert_eq!(open(&private, &strict, &sealed).unwrap(), value);
        assert!(open(&private, &label(SealScope::Strict, "team-b", "db"), &sealed).is_none());
        assert!(open(&private, b"team-a", &sealed).is_none());
        // Two seals of one value differ (a fresh session key each time).
        assert_ne!(sealed, seal_value(&key, &strict, value).unwrap());
    }

    #[test]
    fn labels_follow_the_scope() {
        assert_eq!(label(SealScope::Strict, "a", "b"), b"a/b");
        assert_eq!(label(SealScope::NamespaceWide, "a", "b"), b"a");
        assert_eq!(label(SealScope::ClusterWide, "a", "b"), b"");
    }

    #[test]
    fn a_wrong_expired_or_non_rsa_certificate_is_refused_naming_the_field() {
        for (pem, when, needle) in [
            ("hello", now(), "not a PEM certificate"),
            (
                include_str!("../secrets/certs/testdata/leaf.key"),
                now(),
                "not a CERTIFICATE",
            ),
            (CERT, now() + chrono::Duration::days(365 * 20), "expired on"),
            (include_str!("testdata/ec.pem"), now(), "not an RSA key"),
        ] {
            let err = sealing_key(pem, "pasted", when).unwrap_err();
            let GitopsError::Invalid { field, message } = err else {
                panic!("{err:?}")
            };
            assert_eq!(field.as_deref(), Some("certificate"));
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn the_template_never_carries_the_last_applied_copy_and_names_the_scope() {
        let key = sealing_key(CERT, "pasted", now()).unwrap();
        let data = BTreeMap::from([("k".to_string(), b"v".to_vec())]);
        let annotations = BTreeMap::from([
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "{\"data\":{\"k\":\"dg==\"}}".to_string(),
            ),
            ("team".to_string(), "a".to_string()),
        ]);
        let labels = BTreeMap::new();
        let plain = SecretParts {
            namespace: "team-a",
            name: "db",
            type_: "Opaque",
            data: &data,
            labels: &labels,
            annotations: &annotations,
            immutable: false,
        };
        let v = sealed_secret(&key, SealScope::NamespaceWide, &plain).unwrap();
        let text = v.to_string();
        assert!(!text.contains("last-applied"), "{text}");
        assert_eq!(v["metadata"]["annotations"][NAMESPACE_WIDE], "true");
        assert_eq!(
            v["spec"]["template"]["metadata"]["annotations"][NAMESPACE_WIDE],
            "true"
        );
        assert_eq!(
            v["spec"]["template"]["metadata"]["annotations"]["team"],
            "a"
        );
        assert!(v["spec"]["encryptedData"]["k"].as_str().unwrap().len() > 300);
    }
}
