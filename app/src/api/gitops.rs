//! Secrets that belong in Git (issue 16): sealing for the sealed-secrets
//! controller, exporting for SOPS, and secrets a controller owns.
//!
//! - `GET /api/v1/sealing/certificate` answers the controller's
//!   [`SealingCertificate`], fetched as the signed-in user.
//! - `POST /api/v1/namespaces/{ns}/sealed-secrets` seals a new secret from
//!   the create form ([`SealNewRequest`]); `POST …/secrets/{name}/seal`
//!   seals an existing one ([`SealRequest`]). Both answer a [`Sealed`].
//! - `POST /api/v1/namespaces/{ns}/sops` and `POST …/secrets/{name}/sops`
//!   export for SOPS ([`SopsNewRequest`], [`SopsRequest`]) and answer an
//!   [`Exported`].
//! - `GET …/secrets/{name}/source` answers the [`SourceObject`] a
//!   controller-owned secret comes from.
//!
//! Nothing here carries a plain value out: only ciphertext, key names and
//! public certificate data.

use serde::{Deserialize, Serialize};

use super::CreateSecretRequest;

/// Where a SealedSecret may be unsealed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SealScope {
    /// Only as this name in this namespace (the default).
    #[default]
    Strict,
    /// Under any name in this namespace.
    NamespaceWide,
    /// Under any name in any namespace.
    ClusterWide,
}

impl SealScope {
    pub const ALL: [SealScope; 3] = [
        SealScope::Strict,
        SealScope::NamespaceWide,
        SealScope::ClusterWide,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SealScope::Strict => "strict",
            SealScope::NamespaceWide => "namespace-wide",
            SealScope::ClusterWide => "cluster-wide",
        }
    }

    pub fn parse(s: &str) -> Option<SealScope> {
        SealScope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What the scope means, for a person choosing one.
    pub fn explain(self) -> &'static str {
        match self {
            SealScope::Strict => "unseals only with this name in this namespace",
            SealScope::NamespaceWide => "unseals under any name in this namespace",
            SealScope::ClusterWide => "unseals under any name in any namespace",
        }
    }
}

/// The certificate values are sealed to: public data only.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealingCertificate {
    /// SHA-256 of the certificate (DER), as `AB:CD:…`.
    pub fingerprint: String,
    pub subject: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until it expires.
    pub days_left: i64,
    /// The RSA key's size.
    pub bits: usize,
    /// Where it came from: `controller kube-system/sealed-secrets-controller`
    /// or `pasted`.
    pub source: String,
    /// The certificate itself (PEM), to keep for offline sealing.
    pub pem: String,
}

/// Seal an existing secret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRequest {
    #[serde(default)]
    pub scope: SealScope,
    /// A certificate (PEM) to seal to; when absent, the controller's,
    /// fetched as the signed-in user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Also create the SealedSecret in the cluster, as the signed-in user.
    #[serde(default)]
    pub create: bool,
    /// Why, when the namespace asks for a reason before values leave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Seal a new secret from the create form: nothing is written to the
/// cluster unless `create` asks for the SealedSecret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealNewRequest {
    #[serde(default)]
    pub scope: SealScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default)]
    pub create: bool,
    pub secret: CreateSecretRequest,
}

/// A SealedSecret, safe to commit.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The SealedSecret manifest (YAML).
    pub yaml: String,
    pub scope: SealScope,
    pub keys: Vec<String>,
    pub certificate: SealingCertificate,
    /// Whether the SealedSecret was created in the cluster.
    pub created: bool,
    pub audit_id: String,
}

/// Export an existing secret for SOPS.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopsRequest {
    /// age recipients (`age1…`), one or more.
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Export a new secret from the create form for SOPS.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopsNewRequest {
    pub recipients: Vec<String>,
    pub secret: CreateSecretRequest,
}

/// A SOPS-encrypted Secret manifest, safe to commit.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    /// The manifest (YAML), values encrypted, metadata readable.
    pub yaml: String,
    pub recipients: Vec<String>,
    pub keys: Vec<String>,
    pub audit_id: String,
}

/// What manages a secret, when something does.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretOwner {
    pub kind: OwnerKind,
    /// The managing object's name (a release, a SealedSecret, …).
    pub name: String,
    /// Its API group/version and kind, when it is an object
    /// (`bitnami.com/v1alpha1`, `SealedSecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_kind: Option<String>,
}

/// The kinds of manager Strongroom knows.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerKind {
    SealedSecret,
    ExternalSecret,
    HelmRelease,
    CertManager,
    ServiceAccount,
    /// Another controller (an ownerReference with `controller: true`).
    Controller,
}

impl SecretOwner {
    /// A short label for a list row ("SealedSecret db").
    pub fn label(&self) -> String {
        let what = match self.kind {
            OwnerKind::SealedSecret => "SealedSecret",
            OwnerKind::ExternalSecret => "ExternalSecret",
            OwnerKind::HelmRelease => "Helm release",
            OwnerKind::CertManager => "cert-manager Certificate",
            OwnerKind::ServiceAccount => "ServiceAccount",
            OwnerKind::Controller => self.object_kind.as_deref().unwrap_or("controller"),
        };
        format!("{what} {}", self.name)
    }

    /// What happens to a change made here, for the warning before an edit
    /// or a delete.
    pub fn warning(&self) -> String {
        match self.kind {
            OwnerKind::SealedSecret => format!(
                "The SealedSecret {} owns this secret: the sealed-secrets controller puts back the sealed values, so an edit made here is reverted. Re-seal the new values and commit the SealedSecret instead. Deleting this secret makes the controller create it again.",
                self.name
            ),
            OwnerKind::ExternalSecret => format!(
                "The ExternalSecret {} owns this secret: External Secrets overwrites it from the external store at its next refresh. Change the value in the store instead.",
                self.name
            ),
            OwnerKind::HelmRelease => format!(
                "The Helm release {} manages this secret: the next helm upgrade puts back the chart's values, and an edit made here breaks the release's three-way merge.",
                self.name
            ),
            OwnerKind::CertManager => format!(
                "cert-manager's Certificate {} writes this secret: it reissues the certificate and overwrites an edit.",
                self.name
            ),
            OwnerKind::ServiceAccount => format!(
                "This is the token of the ServiceAccount {}: the control plane fills it in, and deleting it revokes the token.",
                self.name
            ),
            OwnerKind::Controller => format!(
                "{} owns this secret as its controller: it may revert an edit made here, and deleting the secret breaks the link.",
                self.label()
            ),
        }
    }
}

/// `GET …/secrets/{name}/source`: the object a controller-owned secret comes
/// from, read as the signed-in user (its public parts only).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceObject {
    pub owner: SecretOwner,
    /// Whether the user may read the object; when not, nothing else is set.
    pub readable: bool,
    /// Its status conditions, as `Type=Status: message`.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// For a SealedSecret: its scope and sealed keys; for an
    /// ExternalSecret: its store and refresh interval.
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// A sentence when the object could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
