//! Request and response types of the JSON API under `/api/v1`, shared by the
//! server (which produces them) and the browser client (which consumes them).

use serde::{Deserialize, Serialize};

pub mod certs;
pub mod gitops;
pub mod guards;
pub mod history;
pub mod usage;

/// The base path of the versioned JSON API.
pub const API_BASE: &str = "/api/v1";

/// Every state-changing API request must carry this header (with any value).
/// Browsers cannot add custom headers to cross-site form posts, so together
/// with the `Origin` check it stops cross-site request forgery.
pub const CSRF_HEADER: &str = "x-strongroom-csrf";

/// The body of every error response of the API.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A stable, machine-readable code such as `unauthenticated` or `forbidden`.
    pub code: String,
    /// A sentence for a person. Never contains secret values or internals.
    pub message: String,
    /// The field the error is about, for form validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /api/v1/me`: who the signed-in user is, as Kubernetes sees them.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The username sent as `Impersonate-User`.
    pub username: String,
    /// The groups sent as `Impersonate-Group`.
    pub groups: Vec<String>,
    /// A display name from the ID token, when it has one.
    pub name: Option<String>,
    /// Namespaces where the user may list secrets.
    pub namespaces: Vec<String>,
    /// Whether the user belongs to the configured auditors group.
    pub auditor: bool,
    /// Seconds after which a copied value is cleared from the clipboard.
    #[serde(default = "default_clipboard_clear")]
    pub clipboard_clear_seconds: u64,
    /// Seconds after which revealed values are hidden again.
    #[serde(default = "default_rehide")]
    pub reveal_rehide_seconds: u64,
    /// Whether the user is in an approver group (they see the approvals page).
    #[serde(default)]
    pub approver: bool,
    /// The guards of the namespaces that have any, by namespace.
    #[serde(default)]
    pub guards: BTreeMap<String, guards::NamespaceGuards>,
    /// Namespaces the user may see but that were not checked up front
    /// (too many): `namespaces` is empty, and `GET /api/v1/namespaces?name=`
    /// finds them.
    #[serde(default)]
    pub unchecked_namespaces: usize,
}

/// `GET /api/v1/namespaces?name=`: namespaces whose name contains a part,
/// where the user may list secrets.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceSearch {
    /// Matching namespaces where the user may list secrets, in name order.
    pub namespaces: Vec<String>,
    /// The guards of those that have any.
    #[serde(default)]
    pub guards: BTreeMap<String, guards::NamespaceGuards>,
    /// Namespaces whose name matches.
    pub matching: usize,
    /// How many of those were checked (a search checks a bounded number;
    /// a longer name narrows it).
    pub checked: usize,
}

fn default_clipboard_clear() -> u64 {
    30
}

fn default_rehide() -> u64 {
    60
}

use std::collections::BTreeMap;

/// One row of a secret list: metadata only, never values.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// Number of keys; `None` when the list call could not tell (metadata-only lists).
    pub keys: Option<usize>,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The age of its values and its rotation policy.
    #[serde(default)]
    pub age: history::RotationAge,
    /// What manages it (a SealedSecret, an ExternalSecret, a Helm release…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<gitops::SecretOwner>,
}

/// `GET /api/v1/namespaces/{ns}/secrets`: one page of secrets.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretPage {
    pub items: Vec<SecretSummary>,
    /// Pass as `continue` to get the next page; absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
    /// Secrets on this page hidden by the default filter (Helm releases, service-account tokens).
    pub hidden: usize,
    /// For a name search: how much of the namespace this answer read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searched: Option<Searched>,
}

/// How far one answer to a name search read. The API server cannot match
/// part of a name, so a search reads the namespace's list in order for a
/// bounded time and answers with what it found; `continue` reads on.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Searched {
    /// Secrets this answer compared with the name.
    pub read: u64,
    /// Secrets after the last one read, when the API server says (it does
    /// not under a label or type filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// A key of a secret and the size of its value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub name: String,
    pub size: usize,
}

/// `GET /api/v1/namespaces/{ns}/secrets/{name}`: metadata only.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDetail {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub keys: Vec<KeyInfo>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub immutable: bool,
    /// `Kind/name` of each owner.
    pub owners: Vec<String>,
    pub created: Option<String>,
    pub resource_version: String,
    pub uid: Option<String>,
    /// What manages it (a SealedSecret, an ExternalSecret, a Helm release…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<gitops::SecretOwner>,
}

/// `POST .../reveal`: which keys to reveal (all when empty), and a reason
/// when the namespace asks for one.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealRequest {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One revealed value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedValue {
    pub key: String,
    /// The value as stored, base64-encoded (what `{.data}` shows).
    #[cfg_attr(feature = "ssr", schema(format = Byte))]
    pub base64: String,
    /// The decoded value when it is UTF-8 text; `None` for binary values.
    pub text: Option<String>,
    pub size: usize,
}

impl std::fmt::Debug for RevealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealedValue")
            .field("key", &self.key)
            .field("size", &self.size)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// The answer to a reveal.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealResponse {
    pub audit_id: String,
    pub resource_version: String,
    pub values: Vec<RevealedValue>,
}

/// A key and its value (base64) in a create or update request.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataEntry {
    pub key: String,
    /// The value, base64-encoded so binary values travel intact.
    #[cfg_attr(feature = "ssr", schema(format = Byte))]
    pub value: String,
}

impl std::fmt::Debug for DataEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataEntry")
            .field("key", &self.key)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// What kind of secret to create and its inputs.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecretInput {
    /// `kubectl create secret generic` from literals and files.
    Generic { entries: Vec<DataEntry> },
    /// `kubectl create secret generic --from-env-file` (base64 of the file).
    EnvFile {
        #[cfg_attr(feature = "ssr", schema(format = Byte))]
        file: String,
    },
    /// `kubectl create secret docker-registry`.
    DockerRegistry {
        server: String,
        username: String,
        password: String,
        email: String,
    },
    /// `kubectl create secret tls` (PEM text).
    Tls { cert: String, key: String },
    /// `kubernetes.io/basic-auth`.
    BasicAuth { username: String, password: String },
    /// `kubernetes.io/ssh-auth`.
    SshAuth { private_key: String },
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            SecretInput::Generic { .. } => "generic",
            SecretInput::EnvFile { .. } => "env-file",
            SecretInput::DockerRegistry { .. } => "docker-registry",
            SecretInput::Tls { .. } => "tls",
            SecretInput::BasicAuth { .. } => "basic-auth",
            SecretInput::SshAuth { .. } => "ssh-auth",
        };
        write!(f, "SecretInput::{kind}([redacted])")
    }
}

/// `POST /api/v1/namespaces/{ns}/secrets`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSecretRequest {
    /// The secret's name (a DNS subdomain name).
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
            max_length = 253,
            example = "api-credentials"
        )
    )]
    pub name: String,
    pub input: SecretInput,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub immutable: bool,
}

/// `PATCH /api/v1/namespaces/{ns}/secrets/{name}`: changes based on a
/// resourceVersion; a concurrent change is a conflict.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSecretRequest {
    pub resource_version: String,
    /// Keys to add or replace.
    #[serde(default)]
    pub set: Vec<DataEntry>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// New labels (replacing all), when given.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// New annotations (replacing all), when given.
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `DELETE /api/v1/namespaces/{ns}/secrets/{name}`: the name typed again.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSecretRequest {
    pub confirm: String,
    #[serde(default)]
    pub resource_version: Option<String>,
}

/// One record of the audit trail, as the API returns it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub time: String,
    pub user: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub source_ip: Option<String>,
    pub action: String,
    pub namespace: String,
    pub secret: String,
    #[serde(default)]
    pub keys: Vec<String>,
    pub outcome: String,
    pub status: Option<u16>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A page of audit records, newest first.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<i64>,
}
