//! The audit trail's hash chain: how each record's link is computed (keyed
//! HMAC-SHA256 under the [`ChainKey`], or the unkeyed SHA-256 of records
//! written before the chain was keyed), the MACs of the chain's head and of
//! a pruning boundary, and checking a run of records link by link.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{AuditEvent, AuditRecord};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Action, Outcome};

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
            before: vec![],
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
}
