//! The audit trail (ARCHITECTURE.md invariant 4): one record per reveal and
//! per change, committed before the answer leaves the server, refused (503)
//! when no required sink can write it.
//!
//! Records are append-only: this module has no update path and deletes only
//! through retention pruning. Each record carries the SHA-256 hash of the
//! previous one, so `strongroom-server audit verify` finds the first broken
//! link. Revealed values appear only as keyed HMAC-SHA256 fingerprints.
//! The chain's links and MACs are computed and checked in `chain`.

pub mod budget;
mod chain;
pub mod facts;
pub mod reading;
pub mod scope;
pub mod store;
mod writer;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use chain::{
    ChainError, ChainKey, GENESIS_HASH, KEYED, boundary_mac, chain_hash, head_mac,
    keyed_chain_hash, verify_chain,
};
pub use scope::{AuditScope, Audited, Receipt};
pub use store::{AuditError, AuditStore};

/// Prunes records older than `retention` now and then (hourly), when a
/// retention is configured. Each pruning is itself an audit record.
pub fn spawn_retention(audit: AuditStore, retention: Duration) {
    if retention.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let Ok(age) = chrono::Duration::from_std(retention) else {
                return;
            };
            let cutoff =
                (chrono::Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            match audit
                .prune(&cutoff, system_event(audit.cluster(), Action::Prune))
                .await
            {
                Ok(n) => tracing::info!(pruned = n, %cutoff, "audit retention"),
                Err(error) => tracing::error!(%error, "audit retention failed"),
            }
        }
    });
}

/// Writes the chain's head to stdout every `every` as one JSON line
/// (`{"audit_anchor": {...}}`): logs shipped elsewhere then hold anchors
/// that no one with only database access can rewrite.
pub fn spawn_anchors(audit: AuditStore, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match audit.head().await {
                Ok((seq, link)) => {
                    let line = serde_json::json!({"audit_anchor": {
                        "cluster": audit.cluster(),
                        "seq": seq,
                        "link": link,
                        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }});
                    println!("{line}");
                }
                Err(error) => tracing::warn!(%error, "cannot read the audit head for an anchor"),
            }
        }
    });
}

/// An event done by Strongroom itself (not on behalf of a user).
pub fn system_event(cluster: &str, action: Action) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        request_id: None,
        user: "strongroom".into(),
        groups: vec![],
        source_ip: None,
        user_agent: None,
        action,
        cluster: cluster.to_string(),
        namespace: String::new(),
        secret: String::new(),
        keys: vec![],
        outcome: Outcome::Allowed,
        status: None,
        fingerprints: vec![],
        before: vec![],
        reason: None,
    }
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Reveal,
    Create,
    Update,
    Delete,
    /// A workload was restarted (like `kubectl rollout restart`) after the
    /// secret's values changed; `reason` names the workload, `keys` the
    /// changed keys.
    Restart,
    /// Records older than the retention period were pruned.
    Prune,
    /// A proposed change was compared with the current values (which keys
    /// it would change): recorded like a reveal, since it tells whether a
    /// value is a given one.
    Compare,
    /// Certificates in a secret (or a namespace's, with no secret name) were
    /// read and their public data shown.
    Inspect,
    /// Values were sealed for Git (a SealedSecret): from the create form
    /// (fingerprints of what was sealed) or from an existing secret, which
    /// is recorded like a reveal, since the values left the cluster.
    Seal,
    /// Values were exported as a SOPS-encrypted manifest (same rules as
    /// `Seal`).
    Export,
    /// Access to values in an approval namespace was asked for (`keys`,
    /// and the request's id, duration and reason in `reason`).
    Request,
    /// An access request was approved (`user` is the approver).
    Approve,
    /// An access request was denied.
    Deny,
    /// An access request was withdrawn, or an approval ended early.
    Revoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reveal => "reveal",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Restart => "restart",
            Action::Prune => "prune",
            Action::Compare => "compare",
            Action::Inspect => "inspect",
            Action::Seal => "seal",
            Action::Export => "export",
            Action::Request => "request",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Revoke => "revoke",
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Kubernetes allowed it and it happened.
    Allowed,
    /// Kubernetes refused it (403).
    Denied,
    /// It failed for another reason (not found, conflict, invalid, unavailable).
    Failed,
}

impl Outcome {
    /// The outcome of a Kubernetes call and the status to record: `ok_status`
    /// on success, 403 as denied, anything else as failed.
    pub fn of<T>(
        result: &Result<T, crate::infra::cluster::KubeError>,
        ok_status: u16,
    ) -> (Outcome, Option<u16>) {
        match result {
            Ok(_) => (Outcome::Allowed, Some(ok_status)),
            Err(e) => Outcome::of_error(e),
        }
    }

    /// The outcome of a Kubernetes call that failed.
    pub fn of_error(e: &crate::infra::cluster::KubeError) -> (Outcome, Option<u16>) {
        match e.status() {
            Some(403) => (Outcome::Denied, Some(403)),
            status => (Outcome::Failed, status),
        }
    }
}

/// A fingerprint of one revealed value: HMAC-SHA256 under the audit key, so
/// two records show whether the same value was seen without storing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub key: String,
    pub hmac: String,
}

/// One audit record, before it is chained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id, also sent to the API server as an `Impersonate-Extra` value.
    pub id: String,
    /// RFC 3339 time with microseconds, UTC.
    pub time: String,
    pub request_id: Option<String>,
    pub user: String,
    pub groups: Vec<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: Action,
    pub cluster: String,
    pub namespace: String,
    pub secret: String,
    pub keys: Vec<String>,
    pub outcome: Outcome,
    /// The Kubernetes status code, when Kubernetes answered.
    pub status: Option<u16>,
    /// Keyed fingerprints of the values the operation saw or left: the
    /// revealed or compared values, and after a create or change every
    /// value the secret then holds (at most [`MAX_FINGERPRINTS`]).
    pub fingerprints: Vec<Fingerprint>,
    /// For a change: every value the secret held before it (at most
    /// [`MAX_FINGERPRINTS`]), so a change made outside Strongroom since the
    /// last record shows. Absent from older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<Fingerprint>,
    pub reason: Option<String>,
}

impl AuditEvent {
    /// Whether this record changed the secret's values: a create, or a
    /// change whose values before and after differ (for older records
    /// without fingerprints: one that set or removed keys).
    pub fn changes_values(&self) -> bool {
        match self.action {
            Action::Create => true,
            Action::Update if self.before.is_empty() && self.fingerprints.is_empty() => {
                !self.keys.is_empty()
            }
            Action::Update => self.before != self.fingerprints,
            _ => false,
        }
    }
}

/// The most fingerprints one record holds in `fingerprints` and in
/// `before` (keys in name order): a secret with more keys has the rest
/// untracked.
pub const MAX_FINGERPRINTS: usize = 1000;

/// A record as stored: the event plus its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
    /// The event exactly as stored (its JSON text): what the hash covers, so
    /// that a field added to events later does not break older records.
    #[serde(skip)]
    pub stored: String,
}

/// The mark of fingerprints scoped to their secret and key
/// ([`Fingerprinter::scoped`]); older records hold unmarked ones, which
/// are never compared with these.
pub const SCOPED: &str = "s1:";

/// Keyed fingerprints of values.
#[derive(Clone)]
pub struct Fingerprinter {
    key: Vec<u8>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter([redacted])")
    }
}

impl Fingerprinter {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// HMAC-SHA256 of `value` under the audit key, in hex (the scheme of
    /// older records: the same value has the same fingerprint everywhere).
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(value);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The fingerprint of the value of `key` in secret `ns/secret`: an
    /// HMAC-SHA256 under the audit key of the four, each length-prefixed,
    /// marked `s1:`. Scoped to the secret and key, so equal values in two
    /// secrets (or two keys) do not show as equal, and a fingerprint put
    /// into the trail through one secret says nothing about another.
    pub fn scoped(&self, ns: &str, secret: &str, key: &str, value: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in [ns.as_bytes(), secret.as_bytes(), key.as_bytes(), value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        format!("{SCOPED}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// Where audit records go and which must succeed.
#[derive(Clone, Debug)]
pub struct AuditSettings {
    /// Write to the database (SQLite or PostgreSQL).
    pub database: bool,
    /// Write JSON lines to stdout.
    pub stdout: bool,
    /// The database sink must succeed.
    pub database_required: bool,
    /// The stdout sink must succeed.
    pub stdout_required: bool,
    /// A sink that takes longer counts as failed.
    pub timeout: Duration,
    /// The cluster name recorded in each event.
    pub cluster: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_and_stable() {
        let a = Fingerprinter::new(b"k1".to_vec());
        let b = Fingerprinter::new(b"k2".to_vec());
        assert_eq!(a.fingerprint(b"v"), a.fingerprint(b"v"));
        assert_ne!(a.fingerprint(b"v"), a.fingerprint(b"w"));
        assert_ne!(a.fingerprint(b"v"), b.fingerprint(b"v"));
        assert!(!format!("{a:?}").contains("k1"));
    }

    #[test]
    fn scoped_fingerprints_differ_across_secrets_and_keys() {
        let f = Fingerprinter::new(b"k1".to_vec());
        let one = f.scoped("team-a", "db", "password", b"v");
        assert!(one.starts_with(SCOPED));
        assert_eq!(one, f.scoped("team-a", "db", "password", b"v"));
        assert_ne!(one, f.scoped("team-b", "db", "password", b"v"));
        assert_ne!(one, f.scoped("team-a", "api", "password", b"v"));
        assert_ne!(one, f.scoped("team-a", "db", "token", b"v"));
        assert_ne!(one, f.scoped("team-a", "db", "password", b"w"));
        // Length prefixes: moving bytes between parts changes the result.
        assert_ne!(
            f.scoped("a", "bc", "k", b"v"),
            f.scoped("ab", "c", "k", b"v")
        );
        assert_ne!(
            one,
            Fingerprinter::new(b"k2".to_vec()).scoped("team-a", "db", "password", b"v")
        );
    }
}
