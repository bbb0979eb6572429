//! Checking the audit trail: the whole chain from its start (the genesis
//! or the MACed pruning boundary) to its MACed head, heads published
//! earlier as anchors, and that the configured chain key signed the trail.

use super::{AuditError, AuditStore, row_to_record};
use crate::domain::audit::{
    AuditEvent, AuditRecord, ChainError, GENESIS_HASH, boundary_mac, head_mac, verify_chain,
};
use crate::infra::db::Db;

impl AuditStore {
    /// Verifies the whole chain, oldest first; returns the number of
    /// records. Removal is found at both ends: the oldest kept record must
    /// follow the genesis or the MACed pruning boundary, and the newest must
    /// be the chain's head. Records up to `unkeyed_until` may carry unkeyed
    /// links (written before the chain was keyed).
    pub async fn verify(&self, unkeyed_until: i64) -> Result<Result<i64, ChainError>, AuditError> {
        let mut prev = GENESIS_HASH.to_string();
        let mut next_seq = 1i64;
        let first =
            "SELECT seq, event, prev_hash, hash FROM audit_records ORDER BY seq ASC LIMIT 1";
        let boundary = "SELECT seq, hash, mac FROM audit_boundary WHERE id = 1";
        let head = "SELECT h.seq, h.hash, COALESCE(m.mac, '') FROM audit_head h LEFT JOIN audit_head_mac m ON m.id = 1 WHERE h.id = 1";
        macro_rules! ends {
            ($pool:expr) => {{
                let first: Option<AuditRecord> = sqlx::query(first)
                    .fetch_optional($pool)
                    .await?
                    .map(row_to_record)
                    .transpose()?;
                let boundary: Option<(i64, String, String)> =
                    sqlx::query_as(boundary).fetch_optional($pool).await?;
                let head: (i64, String, String) = sqlx::query_as(head).fetch_one($pool).await?;
                (first, boundary, head)
            }};
        }
        let (first, boundary, head) = match &self.db {
            Db::Sqlite(p) => ends!(p),
            Db::Postgres(p) => ends!(p),
        };
        // The head carries the chain key's MAC: one set by hand (to hide
        // records cut off the end) does not.
        if head.0 > 0 && head.2 != head_mac(&self.chain, head.0, &head.1) {
            return Ok(Err(ChainError {
                seq: head.0,
                problem: "the chain's head does not carry its MAC (it was set by hand)".into(),
            }));
        }
        if first.is_none()
            && let Some((seq, _, _)) = &boundary
            && head.0 <= *seq
        {
            return Ok(Err(ChainError {
                seq: *seq,
                problem: "the trail is empty but was pruned up to here (records were removed)"
                    .into(),
            }));
        }
        if let Some(r) = &first
            && r.seq != 1
        {
            // Records before it were pruned: it must start from the boundary
            // the last pruning recorded (and MACed).
            let sound = boundary.as_ref().is_some_and(|(seq, hash, mac)| {
                *seq == r.seq - 1
                    && *hash == r.prev_hash
                    && *mac == boundary_mac(&self.chain, *seq, hash)
            });
            if !sound {
                return Ok(Err(ChainError {
                    seq: r.seq,
                    problem: "the oldest record does not follow the recorded pruning boundary (records were removed from the start)".into(),
                }));
            }
            prev = r.prev_hash.clone();
            next_seq = r.seq;
        }
        loop {
            let sql = "SELECT seq, event, prev_hash, hash, username, namespace, secret, action, outcome, time FROM audit_records WHERE seq >= $1 ORDER BY seq ASC LIMIT 1000";
            type Row = (
                i64,
                String,
                String,
                String,
                String,
                String,
                String,
                String,
                String,
                String,
            );
            let rows: Vec<Row> = match &self.db {
                Db::Sqlite(p) => sqlx::query_as(sql).bind(next_seq).fetch_all(p).await?,
                Db::Postgres(p) => sqlx::query_as(sql).bind(next_seq).fetch_all(p).await?,
            };
            let mut batch = Vec::with_capacity(rows.len());
            for (seq, stored, prev_hash, hash, user, ns, secret, action, outcome, time) in rows {
                let event: AuditEvent = match serde_json::from_str(&stored) {
                    Ok(e) => e,
                    Err(_) => {
                        return Ok(Err(ChainError {
                            seq,
                            problem: "its event is not a record".into(),
                        }));
                    }
                };
                // The searchable columns say what the (linked) event says:
                // otherwise filtered views could hide a record.
                let outcome_now = serde_json::to_value(event.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                if user != event.user
                    || ns != event.namespace
                    || secret != event.secret
                    || action != event.action.as_str()
                    || outcome != outcome_now
                    || time != event.time
                {
                    return Ok(Err(ChainError {
                        seq,
                        problem:
                            "its searchable columns differ from its event (the record was changed)"
                                .into(),
                    }));
                }
                batch.push(AuditRecord {
                    seq,
                    event,
                    prev_hash,
                    hash,
                    stored,
                });
            }
            if batch.is_empty() {
                let last = next_seq - 1;
                // The newest record is the head: nothing was cut off the end.
                if first.is_some() && (head.0 != last || head.1 != prev) {
                    return Ok(Err(ChainError {
                        seq: head.0,
                        problem: format!(
                            "the chain ends at record {last} but its head is record {} (records were removed from the end)",
                            head.0
                        ),
                    }));
                }
                let kept = first.as_ref().map_or(0, |f| last - f.seq + 1);
                return Ok(Ok(kept));
            }
            match verify_chain(&batch, prev, next_seq, &self.chain, unkeyed_until) {
                Ok((seq, hash)) => {
                    next_seq = seq;
                    prev = hash;
                }
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// Checks heads published earlier (`audit_anchor` lines, oldest first):
    /// the chain never went back below one, and each kept anchored record
    /// still has its link. An anchor older than the pruning boundary can
    /// only be checked if it is the boundary itself.
    pub async fn check_anchors(
        &self,
        anchors: &[(i64, String)],
    ) -> Result<Result<(), String>, AuditError> {
        let (head_seq, _) = self.head().await?;
        for (seq, link) in anchors {
            if *seq > head_seq {
                return Ok(Err(format!(
                    "the head is record {head_seq}, but record {seq} was published earlier: the chain was rewound"
                )));
            }
            match self.link_at(*seq).await? {
                Some(found) if found == *link => {}
                Some(found) => {
                    return Ok(Err(format!(
                        "record {seq} has link {found}, but {link} was published earlier"
                    )));
                }
                None => {
                    let boundary = "SELECT seq, hash FROM audit_boundary WHERE id = 1";
                    let b: Option<(i64, String)> = match &self.db {
                        Db::Sqlite(p) => sqlx::query_as(boundary).fetch_optional(p).await?,
                        Db::Postgres(p) => sqlx::query_as(boundary).fetch_optional(p).await?,
                    };
                    let pruned = b.as_ref().is_some_and(|(bseq, _)| seq <= bseq);
                    if !pruned {
                        return Ok(Err(format!(
                            "record {seq} was published earlier but is gone (and was not pruned)"
                        )));
                    }
                    if let Some((bseq, bhash)) = b
                        && bseq == *seq
                        && bhash != *link
                    {
                        return Ok(Err(format!(
                            "the pruning boundary {seq} is not the published link"
                        )));
                    }
                }
            }
        }
        Ok(Ok(()))
    }

    /// Checks, before serving, that the configured chain key signed the
    /// trail's head: a wrong key would make every new link unverifiable,
    /// and a head set by hand means tampering. Either way, refuse to start.
    pub async fn check_key_matches(&self) -> Result<(), AuditError> {
        let head = "SELECT h.seq, h.hash, m.mac FROM audit_head h JOIN audit_head_mac m ON m.id = 1 WHERE h.id = 1";
        let signed: Option<(i64, String, String)> = match &self.db {
            Db::Sqlite(p) => sqlx::query_as(head).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(head).fetch_optional(p).await?,
        };
        match signed {
            Some((seq, hash, mac)) if seq > 0 && mac != head_mac(&self.chain, seq, &hash) => {
                Err(AuditError::Unavailable(
                    "the audit chain key does not match this audit trail (its head was signed with another key, or set by hand); run audit verify".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The link of record `seq`, if it is kept.
    pub async fn link_at(&self, seq: i64) -> Result<Option<String>, AuditError> {
        let sql = "SELECT hash FROM audit_records WHERE seq = $1";
        let row: Option<(String,)> = match &self.db {
            Db::Sqlite(p) => sqlx::query_as(sql).bind(seq).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(sql).bind(seq).fetch_optional(p).await?,
        };
        Ok(row.map(|(h,)| h))
    }

    /// The chain's head: the newest record's seq and link.
    pub async fn head(&self) -> Result<(i64, String), AuditError> {
        let sql = "SELECT seq, hash FROM audit_head WHERE id = 1";
        Ok(match &self.db {
            Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await?,
        })
    }
}
