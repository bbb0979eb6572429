//! Writing and reading audit records: the database sink (SQLite or
//! PostgreSQL, one hash chain shared by all replicas) and the stdout sink.
//!
//! [`AuditStore`] decides which sinks a record goes to and when a failure
//! refuses the request; the writes themselves (the group-commit writer task
//! and the stdout line) are in the sibling `writer` module.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::Mutex;

use super::{
    AuditEvent, AuditRecord, AuditSettings, ChainError, Fingerprinter, GENESIS_HASH, verify_chain,
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
    "CREATE TABLE IF NOT EXISTS audit_key (id INTEGER PRIMARY KEY, key TEXT NOT NULL)",
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
    /// How many refusals each user may have recorded individually.
    refusals: super::budget::RefusalBudget,
}

impl AuditStore {
    /// The per-user bound on individually recorded refusals.
    pub(in crate::domain) fn refusals(&self) -> &super::budget::RefusalBudget {
        &self.refusals
    }

    /// Opens the trail: creates the tables, and the HMAC key when none is
    /// configured (stored in the database so every replica shares it).
    pub async fn open(
        db: Db,
        settings: AuditSettings,
        configured_key: Option<String>,
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
                let mut fresh = [0u8; 32];
                rand::rng().fill_bytes(&mut fresh);
                sqlx::query("INSERT INTO audit_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
                    .bind(hex::encode(fresh))
                    .execute($pool)
                    .await?;
                let stored: String = sqlx::query("SELECT key FROM audit_key WHERE id = 1").fetch_one($pool).await?.try_get("key")?;
                stored
            }};
        }
        let stored = match &db {
            Db::Sqlite(p) => setup!(p),
            Db::Postgres(p) => setup!(p),
        };
        let key = match configured_key {
            Some(k) => k.into_bytes(),
            None => hex::decode(stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        };
        let write_lock = Arc::new(Mutex::new(()));
        let writer = Writer::spawn(db.clone(), write_lock.clone());
        Ok(Self {
            db,
            settings,
            fingerprinter: Fingerprinter::new(key),
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

    /// Deletes records older than `cutoff` (RFC 3339) and records the
    /// pruning itself as a new record, so the trail shows that it happened,
    /// when, and how much went. This is the only delete path. `verify`
    /// checks the chain from the oldest kept record on.
    pub async fn prune(&self, cutoff: &str, event: super::AuditEvent) -> Result<u64, AuditError> {
        let sql = "DELETE FROM audit_records WHERE time < $1";
        let deleted = {
            let _guard = self.write_lock.lock().await;
            match &self.db {
                Db::Sqlite(p) => sqlx::query(sql)
                    .bind(cutoff)
                    .execute(p)
                    .await?
                    .rows_affected(),
                Db::Postgres(p) => sqlx::query(sql)
                    .bind(cutoff)
                    .execute(p)
                    .await?
                    .rows_affected(),
            }
        };
        let mut event = event;
        event.reason = Some(format!("pruned {deleted} records older than {cutoff}"));
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

    /// Verifies the whole chain, oldest first; returns the number of records.
    pub async fn verify(&self) -> Result<Result<i64, ChainError>, AuditError> {
        let mut prev = GENESIS_HASH.to_string();
        let mut next_seq = 1i64;
        // After pruning, the chain continues from the oldest kept record.
        let first =
            "SELECT seq, event, prev_hash, hash FROM audit_records ORDER BY seq ASC LIMIT 1";
        let first: Vec<AuditRecord> = match &self.db {
            Db::Sqlite(p) => sqlx::query(first)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(row_to_record)
                .collect::<Result<_, _>>()?,
            Db::Postgres(p) => sqlx::query(first)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(row_to_record)
                .collect::<Result<_, _>>()?,
        };
        if let Some(r) = first.first() {
            prev = r.prev_hash.clone();
            next_seq = r.seq;
        }
        loop {
            let sql = "SELECT seq, event, prev_hash, hash FROM audit_records WHERE seq >= $1 ORDER BY seq ASC LIMIT 1000";
            let batch: Vec<AuditRecord> = match &self.db {
                Db::Sqlite(p) => sqlx::query(sql)
                    .bind(next_seq)
                    .fetch_all(p)
                    .await?
                    .into_iter()
                    .map(row_to_record)
                    .collect::<Result<_, _>>()?,
                Db::Postgres(p) => sqlx::query(sql)
                    .bind(next_seq)
                    .fetch_all(p)
                    .await?
                    .into_iter()
                    .map(row_to_record)
                    .collect::<Result<_, _>>()?,
            };
            if batch.is_empty() {
                return Ok(Ok(next_seq - 1));
            }
            match verify_chain(&batch, prev, next_seq) {
                Ok((seq, hash)) => {
                    next_seq = seq;
                    prev = hash;
                }
                Err(e) => return Ok(Err(e)),
            }
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
    })
}
