//! The audit trail (ARCHITECTURE.md invariant 4): one record per reveal and
//! per change, committed before the answer leaves the server, refused (503)
//! when no required sink can write it.
//!
//! Records are append-only: this module has no update path and deletes only
//! through retention pruning. Each record carries the SHA-256 hash of the
//! previous one, so `strongroom-server audit verify` finds the first broken
//! link. Revealed values appear only as keyed HMAC-SHA256 fingerprints.

pub mod budget;
pub mod facts;
pub mod reading;
pub mod scope;
pub mod store;
mod writer;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// Records older than the retention period were pruned.
    Prune,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reveal => "reveal",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Prune => "prune",
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
    pub fingerprints: Vec<Fingerprint>,
    pub reason: Option<String>,
}

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

/// The key of the chain's HMACs. It is never stored in the database: who
/// can write the database cannot recompute a link without it.
#[derive(Clone)]
pub struct ChainKey(Vec<u8>);

impl ChainKey {
    pub fn new(key: Vec<u8>) -> Self {
        Self(key)
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

/// The prefix of keyed links (HMAC-SHA256 under the [`ChainKey`]).
pub const KEYED: &str = "k1:";

/// The link of a record: HMAC-SHA256 under the chain key over the previous
/// link, the sequence number and the stored bytes of the event.
pub fn keyed_chain_hash(key: &ChainKey, prev_hash: &str, seq: i64, stored: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    // Each kind of MAC under this key has its own label, so none can stand
    // in for another.
    mac.update(b"link\n");
    mac.update(prev_hash.as_bytes());
    mac.update(b"\n");
    mac.update(seq.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(stored.as_bytes());
    format!("{KEYED}{}", hex::encode(mac.finalize().into_bytes()))
}

/// A MAC of the chain's head (newest seq and link), updated with it: a
/// head set by hand (to hide records cut off the end) does not carry one.
pub fn head_mac(key: &ChainKey, seq: i64, hash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    mac.update(b"head\n");
    mac.update(seq.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(hash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A MAC of the boundary a pruning leaves (the last pruned record's seq
/// and link), so the first kept record's link can be checked against it.
pub fn boundary_mac(key: &ChainKey, seq: i64, hash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    mac.update(b"boundary\n");
    mac.update(seq.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(hash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The hash of the first record's predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The unkeyed link of records written before the chain was keyed:
/// SHA-256 over the previous hash, the sequence number and the event's JSON.
/// Anyone can recompute it, so `verify` accepts it only for an explicitly
/// allowed prefix of old records.
pub fn chain_hash(prev_hash: &str, seq: i64, event: &AuditEvent) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(event).expect("events always serialize"));
    hex::encode(h.finalize())
}

/// Checks a sequence of records in order; returns the first broken link.
/// Each link must be keyed under `key`, except records up to `unkeyed_until`
/// (records from before the chain was keyed, when explicitly accepted).
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut prev: String,
    mut expect_seq: i64,
    key: &ChainKey,
    unkeyed_until: i64,
) -> Result<(i64, String), ChainError> {
    for r in records {
        if r.seq != expect_seq {
            return Err(ChainError {
                seq: r.seq,
                problem: format!(
                    "expected record {expect_seq}, found {} (a record is missing)",
                    r.seq
                ),
            });
        }
        if r.prev_hash != prev {
            return Err(ChainError {
                seq: r.seq,
                problem: "its prev_hash does not match the previous record's hash".into(),
            });
        }
        let computed = if r.hash.starts_with(KEYED) {
            keyed_chain_hash(key, &r.prev_hash, r.seq, &r.stored)
        } else if r.seq <= unkeyed_until {
            chain_hash(&r.prev_hash, r.seq, &r.event)
        } else {
            return Err(ChainError {
                seq: r.seq,
                problem: "its link is not keyed (recomputed without the chain key?)".into(),
            });
        };
        if computed != r.hash {
            return Err(ChainError {
                seq: r.seq,
                problem: "its content does not match its hash (the record was changed, or the chain key differs)".into(),
            });
        }
        prev = r.hash.clone();
        expect_seq += 1;
    }
    Ok((expect_seq, prev))
}

/// The first broken link of the chain.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at record {seq}: {problem}")]
pub struct ChainError {
    pub seq: i64,
    pub problem: String,
}

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

    /// HMAC-SHA256 of `value` under the audit key, in hex.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(value);
        hex::encode(mac.finalize().into_bytes())
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

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            id: format!("id-{n}"),
            time: "2026-01-01T00:00:00.000000Z".into(),
            request_id: None,
            user: "oidc:alice@example.com".into(),
            groups: vec!["oidc:team-a-editors".into()],
            source_ip: None,
            user_agent: None,
            action: Action::Reveal,
            cluster: "local".into(),
            namespace: "team-a".into(),
            secret: "db".into(),
            keys: vec!["password".into()],
            outcome: Outcome::Allowed,
            status: Some(200),
            fingerprints: vec![],
            reason: None,
        }
    }

    fn key() -> ChainKey {
        ChainKey::new(b"chain-key".to_vec())
    }

    fn chain(n: u32) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|i| {
                let e = event(i);
                let stored = serde_json::to_string(&e).unwrap();
                let hash = keyed_chain_hash(&key(), &prev, i as i64, &stored);
                let r = AuditRecord {
                    seq: i as i64,
                    event: e,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    stored,
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify(c: &[AuditRecord]) -> Result<(i64, String), ChainError> {
        verify_chain(c, GENESIS_HASH.into(), 1, &key(), 0)
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert!(verify(&chain(5)).is_ok());
    }

    #[test]
    fn a_changed_record_is_found() {
        let mut c = chain(5);
        c[2].stored = c[2]
            .stored
            .replace("oidc:alice@example.com", "oidc:mallory@example.com");
        assert_eq!(verify(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn a_removed_record_is_found() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn links_recomputed_without_the_key_are_found() {
        // Unkeyed SHA-256 links, as anyone could recompute them.
        let mut c = chain(3);
        let mut prev = GENESIS_HASH.to_string();
        for r in &mut c {
            r.prev_hash = prev.clone();
            r.hash = chain_hash(&prev, r.seq, &r.event);
            prev = r.hash.clone();
        }
        assert_eq!(verify(&c).unwrap_err().seq, 1);
        // Accepted only where old, unkeyed records are explicitly allowed.
        assert!(verify_chain(&c, GENESIS_HASH.into(), 1, &key(), 3).is_ok());
        // Keyed, but under a guessed key.
        let other = ChainKey::new(b"guess".to_vec());
        let mut prev = GENESIS_HASH.to_string();
        for r in &mut c {
            r.prev_hash = prev.clone();
            r.hash = keyed_chain_hash(&other, &prev, r.seq, &r.stored);
            prev = r.hash.clone();
        }
        assert_eq!(verify(&c).unwrap_err().seq, 1);
        assert!(!format!("{other:?}").contains("guess"));
    }

    #[test]
    fn fingerprints_are_keyed_and_stable() {
        let a = Fingerprinter::new(b"k1".to_vec());
        let b = Fingerprinter::new(b"k2".to_vec());
        assert_eq!(a.fingerprint(b"v"), a.fingerprint(b"v"));
        assert_ne!(a.fingerprint(b"v"), a.fingerprint(b"w"));
        assert_ne!(a.fingerprint(b"v"), b.fingerprint(b"v"));
        assert!(!format!("{a:?}").contains("k1"));
    }
}
