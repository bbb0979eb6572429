//! Writing and reading audit records: the database sink (SQLite or
//! PostgreSQL, one hash chain shared by all replicas) and the stdout sink.
//!
//! [`AuditStore`] decides which sinks a record goes to and when a failure
//! refuses the request; the writes themselves (the group-commit writer task
//! and the stdout line) are in the sibling `writer` module.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::Mutex;

use super::{
    AuditEvent, AuditRecord, AuditSettings, ChainError, ChainKey, Fingerprinter, GENESIS_HASH,
    boundary_mac, head_mac, keyed_chain_hash, verify_chain,
    writer::{Writer, write_stdout},
};
use crate::infra::db::Db;

/// Why a record could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No required sink accepted the record: the request must be refused.
    #[error("the audit trail cannot be written: {0}")]
    Unavailable(String),
    /// The database failed while reading.
    #[error("the audit trail cannot be read: {0}")]
    Read(#[from] sqlx::Error),
    /// A query's parameter is out of its documented range.
    #[error("{message}")]
    InvalidQuery {
        /// The parameter.
        field: &'static str,
        /// What is wrong, for the person.
        message: &'static str,
    },
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS audit_records (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        time TEXT NOT NULL,
        username TEXT NOT NULL,
        namespace TEXT NOT NULL,
        secret TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        event TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_records_secret ON audit_records (namespace, secret, seq)",
    "CREATE INDEX IF NOT EXISTS audit_records_user ON audit_records (username, seq)",
    "CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)",
    // Where older versions kept the fingerprint key (now read once, to move
    // it out of the database: see `legacy_fingerprint_key`).
    "CREATE TABLE IF NOT EXISTS audit_key (id INTEGER PRIMARY KEY, key TEXT NOT NULL)",
    // Where the kept chain starts after pruning: the last pruned record's
    // seq and link, MACed under the chain key.
    "CREATE TABLE IF NOT EXISTS audit_boundary (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL)",
    // The head's MAC under the chain key, updated with the head.
    "CREATE TABLE IF NOT EXISTS audit_head_mac (id INTEGER PRIMARY KEY, mac TEXT NOT NULL)",
    // One row the preflight rewrites: proof that a write can be committed.
    "CREATE TABLE IF NOT EXISTS audit_probe (id INTEGER PRIMARY KEY, at TEXT NOT NULL)",
];

const PROBE: &str = "INSERT INTO audit_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at";

/// Filters for reading the trail.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this user's records.
    pub user: Option<String>,
    /// Only records about this namespace.
    pub namespace: Option<String>,
    /// Only records about this secret.
    pub secret: Option<String>,
    /// Only this action (`reveal`, `create`, `update`, `delete`).
    pub action: Option<String>,
    /// Only this outcome (`allowed`, `denied`, `failed`).
    pub outcome: Option<String>,
    /// RFC 3339 lower bound (inclusive).
    pub since: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    pub until: Option<String>,
    /// Only records with a smaller sequence number (the next page).
    pub before: Option<i64>,
    /// Page size (1-1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl AuditQuery {
    /// The page size: 100 unless asked, and only within the documented bounds.
    pub fn page_size(&self) -> Result<i64, AuditError> {
        match self.limit {
            None => Ok(100),
            Some(n @ 1..=1000) => Ok(n),
            Some(_) => Err(AuditError::InvalidQuery {
                field: "limit",
                message: "limit must be between 1 and 1000",
            }),
        }
    }
}

/// The audit trail. Cheap to clone: clones share the writer.
#[derive(Clone)]
pub struct AuditStore {
    db: Db,
    settings: AuditSettings,
    fingerprinter: Fingerprinter,
    /// Serialises this replica's writes to the chain; replicas serialise on
    /// the head row.
    write_lock: Arc<Mutex<()>>,
    /// The writer task: records that arrive while a commit is in progress
    /// are committed together by the next one (group commit), so concurrent
    /// requests share one fsync. Each request still waits for its own
    /// record's commit.
    writer: Writer,
    /// The key of the chain's links.
    chain: ChainKey,
    /// How many refusals each user may have recorded individually.
    refusals: super::budget::RefusalBudget,
}

impl AuditStore {
    /// The per-user bound on individually recorded refusals.
    pub(in crate::domain) fn refusals(&self) -> &super::budget::RefusalBudget {
        &self.refusals
    }

    /// Opens the trail: creates the tables. The keys come from outside the
    /// database (configuration, a file, a Kubernetes Secret).
    pub async fn open(
        db: Db,
        settings: AuditSettings,
        keys: AuditKeys,
    ) -> Result<Self, sqlx::Error> {
        macro_rules! setup {
            ($pool:expr) => {{
                for stmt in SCHEMA {
                    sqlx::query(stmt).execute($pool).await?;
                }
                sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING")
                    .bind(GENESIS_HASH)
                    .execute($pool)
                    .await?;
            }};
        }
        match &db {
            Db::Sqlite(p) => setup!(p),
            Db::Postgres(p) => setup!(p),
        }
        let AuditKeys { fingerprint, chain } = keys;
        let key = fingerprint;
        let write_lock = Arc::new(Mutex::new(()));
        let writer = Writer::spawn(db.clone(), write_lock.clone(), chain.clone());
        Ok(Self {
            db,
            settings,
            fingerprinter: Fingerprinter::new(key),
            chain,
            write_lock,
            writer,
            refusals: Default::default(),
        })
    }

    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.fingerprinter
    }

    pub fn cluster(&self) -> &str {
        &self.settings.cluster
    }

    /// Checks, before a change is made, that a required sink can commit a
    /// write (a lock held elsewhere, a full disk, a database that is down
    /// all fail here): a change is refused up front rather than made
    /// unaudited. The probe commits one small row, so it proves more than
    /// a lock can be taken.
    pub async fn preflight(&self) -> Result<(), AuditError> {
        if !(self.settings.database && self.settings.database_required) {
            return Ok(());
        }
        // Spawned, so that a probe outlived by its timeout still finishes
        // (and rolls back) instead of leaving a pooled connection inside an
        // open write transaction that would block every later write.
        let db = self.db.clone();
        let now = chrono::Utc::now().to_rfc3339();
        let probe = tokio::spawn(async move {
            match db {
                Db::Sqlite(p) => {
                    let mut conn = p.acquire().await?;
                    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                    let wrote = async {
                        sqlx::query(PROBE).bind(&now).execute(&mut *conn).await?;
                        sqlx::query("COMMIT").execute(&mut *conn).await
                    }
                    .await;
                    if wrote.is_err() {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    }
                    wrote.map(|_| ())
                }
                Db::Postgres(p) => sqlx::query(PROBE).bind(&now).execute(&p).await.map(|_| ()),
            }
        });
        let probe = async {
            probe
                .await
                .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("probe failed: {e}"))))
        };
        match tokio::time::timeout(self.settings.timeout, probe).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError::Unavailable(format!("database: {e}"))),
            Err(_) => Err(AuditError::Unavailable(format!(
                "database: no answer within {:?}",
                self.settings.timeout
            ))),
        }
    }

    /// Appends one record to every configured sink; succeeds only when every
    /// required sink committed it. The caller must not answer before this
    /// returns, and must refuse the request (503) when it fails.
    pub(in crate::domain) async fn append(
        &self,
        event: AuditEvent,
    ) -> Result<AuditRecord, AuditError> {
        let mut failures = Vec::new();
        let mut record = None;
        if self.settings.database {
            match tokio::time::timeout(self.settings.timeout, self.writer.commit(&event)).await {
                Ok(Ok(r)) => record = Some(r),
                Ok(Err(e)) => {
                    crate::infra::metrics::audit_write("database", false);
                    tracing::error!(error = %e, audit.id = %event.id, "audit database sink failed");
                    if self.settings.database_required {
                        failures.push(format!("database: {e}"));
                    }
                }
                Err(_) => {
                    crate::infra::metrics::audit_write("database", false);
                    tracing::error!(audit.id = %event.id, "audit database sink timed out");
                    if self.settings.database_required {
                        failures.push("database: timed out".into());
                    }
                }
            }
            if record.is_some() {
                crate::infra::metrics::audit_write("database", true);
            }
        }
        let record = record.unwrap_or_else(|| AuditRecord {
            seq: 0,
            event: event.clone(),
            prev_hash: String::new(),
            hash: String::new(),
            stored: String::new(),
        });
        if self.settings.stdout {
            let written = write_stdout(&record);
            crate::infra::metrics::audit_write("stdout", written.is_ok());
            if let Err(e) = written
                && self.settings.stdout_required
            {
                failures.push(format!("stdout: {e}"));
            }
        }
        if failures.is_empty() {
            Ok(record)
        } else {
            Err(AuditError::Unavailable(failures.join("; ")))
        }
    }

    /// Deletes the records older than `cutoff` (RFC 3339), by sequence
    /// number: every record up to the newest one older than the cutoff. The
    /// boundary (that record's seq and link) is kept, MACed, so `verify`
    /// can check where the kept chain starts, and the pruning is itself a
    /// new record naming the boundary. This is the only delete path.
    pub async fn prune(&self, cutoff: &str, event: super::AuditEvent) -> Result<u64, AuditError> {
        let last = "SELECT seq, hash, prev_hash, event FROM audit_records WHERE seq = (SELECT MAX(seq) FROM audit_records WHERE time < $1)";
        let (boundary, deleted) = {
            let _guard = self.write_lock.lock().await;
            macro_rules! prune {
                ($pool:expr) => {{
                    let mut tx = $pool.begin().await?;
                    let row: Option<(i64, String, String, String)> = sqlx::query_as(last)
                        .bind(cutoff)
                        .fetch_optional(&mut *tx)
                        .await?;
                    // Sign nothing the trail does not vouch for: the boundary
                    // record's own link must verify, and its event's time
                    // (not the searchable column) must be before the cutoff.
                    let row = match row {
                        Some((seq, hash, prev, event)) => {
                            let sound = keyed_chain_hash(&self.chain, &prev, seq, &event) == hash
                                && serde_json::from_str::<AuditEvent>(&event)
                                    .is_ok_and(|e| e.time.as_str() < cutoff);
                            if !sound {
                                return Err(AuditError::Unavailable(format!(
                                    "not pruning: record {seq} does not verify (the trail may have been tampered with; run audit verify)"
                                )));
                            }
                            Some((seq, hash))
                        }
                        None => None,
                    };
                    let mut deleted = 0;
                    if let Some((seq, hash)) = &row {
                        deleted = sqlx::query("DELETE FROM audit_records WHERE seq <= $1")
                            .bind(*seq)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        sqlx::query("INSERT INTO audit_boundary (id, seq, hash, mac) VALUES (1, $1, $2, $3)
                                     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac")
                            .bind(*seq)
                            .bind(hash)
                            .bind(boundary_mac(&self.chain, *seq, hash))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    (row, deleted)
                }};
            }
            match &self.db {
                Db::Sqlite(p) => prune!(p),
                Db::Postgres(p) => prune!(p),
            }
        };
        let mut event = event;
        event.reason = Some(match boundary {
            Some((seq, hash)) => format!(
                "pruned {deleted} records older than {cutoff}: up to record {seq} (link {hash})"
            ),
            None => format!("pruned nothing: no record is older than {cutoff}"),
        });
        self.append(event).await?;
        Ok(deleted)
    }

    /// Records matching `q`, newest first.
    pub async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, AuditError> {
        let limit = q.page_size().unwrap_or(100);
        let sql = "SELECT seq, event, prev_hash, hash FROM audit_records
             WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR namespace = $2) AND ($3 IS NULL OR secret = $3)
               AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR outcome = $5) AND ($6 IS NULL OR time >= $6)
               AND ($7 IS NULL OR time < $7) AND ($8 IS NULL OR seq < $8)
             ORDER BY seq DESC LIMIT $9";
        macro_rules! run {
            ($pool:expr) => {
                sqlx::query(sql)
                    .bind(&q.user)
                    .bind(&q.namespace)
                    .bind(&q.secret)
                    .bind(&q.action)
                    .bind(&q.outcome)
                    .bind(&q.since)
                    .bind(&q.until)
                    .bind(q.before)
                    .bind(limit)
                    .fetch_all($pool)
                    .await?
                    .into_iter()
                    .map(row_to_record)
                    .collect::<Result<Vec<_>, _>>()?
            };
        }
        Ok(match &self.db {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        })
    }

    /// The number of records.
    pub async fn count(&self) -> Result<i64, AuditError> {
        let sql = "SELECT COUNT(*) AS n FROM audit_records";
        Ok(match &self.db {
            Db::Sqlite(p) => sqlx::query(sql).fetch_one(p).await?.try_get("n")?,
            Db::Postgres(p) => sqlx::query(sql).fetch_one(p).await?.try_get("n")?,
        })
    }

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

/// The audit trail's two keys, neither stored in the database.
pub struct AuditKeys {
    /// The key of the values' fingerprints.
    pub fingerprint: Vec<u8>,
    /// The key of the chain's links.
    pub chain: ChainKey,
}

/// The fingerprint key older versions kept in the database, if any: read
/// once so it can move to where keys belong (and fingerprints stay
/// comparable across the upgrade), then deleted from the database.
pub async fn take_legacy_fingerprint_key(db: &Db) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let sql = "SELECT key FROM audit_key WHERE id = 1";
    macro_rules! take {
        ($pool:expr) => {{
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS audit_key (id INTEGER PRIMARY KEY, key TEXT NOT NULL)",
            )
            .execute($pool)
            .await?;
            let key: Option<(String,)> = sqlx::query_as(sql).fetch_optional($pool).await?;
            key
        }};
    }
    let key = match db {
        Db::Sqlite(p) => take!(p),
        Db::Postgres(p) => take!(p),
    };
    Ok(key.and_then(|(k,)| hex::decode(k).ok()))
}

/// Deletes the legacy fingerprint key once it lives elsewhere.
pub async fn forget_legacy_fingerprint_key(db: &Db) -> Result<(), sqlx::Error> {
    let create = "CREATE TABLE IF NOT EXISTS audit_key (id INTEGER PRIMARY KEY, key TEXT NOT NULL)";
    let sql = "DELETE FROM audit_key WHERE id = 1";
    match db {
        Db::Sqlite(p) => {
            sqlx::query(create).execute(p).await?;
            sqlx::query(sql).execute(p).await.map(drop)
        }
        Db::Postgres(p) => {
            sqlx::query(create).execute(p).await?;
            sqlx::query(sql).execute(p).await.map(drop)
        }
    }
}

fn row_to_record<R: Row>(row: R) -> Result<AuditRecord, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let event: String = row.try_get("event")?;
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        event: serde_json::from_str(&event).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        stored: event,
    })
}
