//! Certificates held in secrets: public data only (issue 17, item 3).
//!
//! The server reads PEM certificates out of a secret's values and answers
//! with what anyone holding the certificate could see (subject, names,
//! issuer, dates, fingerprint). Private keys and values never appear here.

use serde::{Deserialize, Serialize};

/// Where a certificate stands in time.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertStatus {
    /// Valid now and beyond the warning window.
    Valid,
    /// Valid now, but it expires within the warning window.
    ExpiringSoon,
    /// Its not-after is in the past.
    Expired,
    /// Its not-before is in the future.
    NotYetValid,
}

impl CertStatus {
    /// A short label for a person.
    pub fn label(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::ExpiringSoon => "expiring soon",
            CertStatus::Expired => "expired",
            CertStatus::NotYetValid => "not yet valid",
        }
    }

    /// The stable wire name (`expiring-soon`), for `data-*` attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::ExpiringSoon => "expiring-soon",
            CertStatus::Expired => "expired",
            CertStatus::NotYetValid => "not-yet-valid",
        }
    }
}

/// One X.509 certificate's public facts.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Its place in the key's chain or bundle, from 0 (the first PEM block).
    pub position: usize,
    /// The subject's distinguished name (`O=Example, CN=example.com`).
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    /// Subject alternative names: DNS names.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Subject alternative names: IP addresses.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// Subject alternative names: e-mail addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Subject alternative names: URIs.
    #[serde(default)]
    pub uris: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (rounded down; negative once expired).
    pub days_left: i64,
    pub status: CertStatus,
    /// Its basic constraints say it is a certificate authority.
    pub is_ca: bool,
    /// Subject and issuer are the same name.
    pub self_signed: bool,
    /// SHA-256 of the DER encoding, upper-case hex pairs joined by `:`
    /// (what `openssl x509 -fingerprint -sha256` prints).
    pub sha256_fingerprint: String,
}

/// The certificates of one key of a secret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateKey {
    /// The key's name (`tls.crt`, `ca.crt`).
    pub key: String,
    /// Each certificate of the key, in the order they are stored (a chain:
    /// leaf first; a bundle: as given).
    pub certificates: Vec<CertificateInfo>,
    /// For `tls.crt` of a `kubernetes.io/tls` secret: whether `tls.key`
    /// belongs to the first certificate. `None` when there is no key to
    /// compare (or it cannot be read; `note` says which).
    #[serde(default)]
    pub key_matches: Option<bool>,
    /// What could not be read, for a person ("not a PEM certificate").
    /// Never contains any of the value.
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/v1/namespaces/{ns}/secrets/{name}/certificates`: the
/// certificates a secret holds, sent after the inspection's audit record.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretCertificates {
    pub namespace: String,
    pub name: String,
    /// The id of the inspection's audit record.
    pub audit_id: String,
    /// Certificates that expire within this many days are `expiring-soon`.
    pub warning_days: u32,
    /// Keys holding (or, like `tls.crt`, meant to hold) certificates; other
    /// keys are left out.
    pub keys: Vec<CertificateKey>,
}

/// One certificate of a namespace-wide scan.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringCertificate {
    /// The secret's name.
    pub secret: String,
    /// The key holding the certificate.
    pub key: String,
    /// Its place in the key's chain or bundle, from 0.
    pub position: usize,
    pub subject: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (rounded down; negative once expired).
    pub days_left: i64,
    pub status: CertStatus,
}

/// `GET /api/v1/namespaces/{ns}/certificates`: the certificates of the
/// namespace that expired or expire within `within_days`, soonest first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceCertificates {
    pub namespace: String,
    /// The window: certificates expiring within this many days are listed.
    pub within_days: u32,
    /// Expired and expiring certificates, sorted by `not_after`.
    pub items: Vec<ExpiringCertificate>,
    /// How many secrets were read.
    pub scanned_secrets: usize,
    /// How many certificates were found in them (listed or not).
    pub certificates: usize,
    /// The scan stopped before the end of the namespace (bounded work).
    pub truncated: bool,
    /// For a person: why the scan is partial ("first 5000 secrets scanned").
    #[serde(default)]
    pub note: Option<String>,
    /// When the secrets were read (RFC 3339); answers are cached briefly.
    pub scanned_at: String,
    /// The id of the scan's audit record.
    pub audit_id: String,
}
