//! Writing and reading audit records: the database sink (SQLite or
//! PostgreSQL, one hash chain shared by all replicas) and the stdout sink.
//!
//! [`AuditStore`] decides which sinks a record goes to and when a failure
//! refuses the request; the writes themselves (the group-commit writer task
//! and the stdout line) are in the sibling `writer` module. Checking the
//! chain is in the child `verify` module, and the trail's keys (which never
//! live in the database) in `keys`.

mod keys;
mod verify;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::Mutex;

pub use keys::{AuditKeys, forget_legacy_fingerprint_key, take_legacy_fingerprint_key};

use super::{
    AuditEvent, AuditRecord, AuditSettings, ChainKey, Fingerprinter, GENESIS_HASH, boundary_mac,
    keyed_chain_hash,
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
    // The changes alone, for the list's ages (`last_value_changes`): a
    // secret revealed thousands of times is not read record by record to
    // find its few changes (its WHERE is the query's, word for word).
    "CREATE INDEX IF NOT EXISTS audit_records_changes ON audit_records (namespace, secret, seq)
        WHERE outcome = 'allowed' AND action IN ('create', 'update')",
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

/// About how many bytes of stored events one secret's lineage reads.
pub const LINEAGE_BYTES: usize = 32 * 1024 * 1024;

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
    /// Only this action (`reveal`, `create`, `update`, `delete`, `compare`, `inspect`, `restart`).
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
            let started = std::time::Instant::now();
            let committed =
                tokio::time::timeout(self.settings.timeout, self.writer.commit(&event)).await;
            let took = started.elapsed();
            match committed {
                Ok(Ok(r)) => record = Some(r),
                Ok(Err(e)) => {
                    crate::infra::metrics::audit_write("database", false, took);
                    tracing::error!(error = %e, audit.id = %event.id, "audit database sink failed");
                    if self.settings.database_required {
                        failures.push(format!("database: {e}"));
                    }
                }
                Err(_) => {
                    crate::infra::metrics::audit_write("database", false, took);
                    tracing::error!(audit.id = %event.id, "audit database sink timed out");
                    if self.settings.database_required {
                        failures.push("database: timed out".into());
                    }
                }
            }
            if record.is_some() {
                crate::infra::metrics::audit_write("database", true, took);
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
            let started = std::time::Instant::now();
            let written = write_stdout(&record);
            crate::infra::metrics::audit_write("stdout", written.is_ok(), started.elapsed());
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

    /// The allowed records of `ns/secret` that saw or set its values
    /// (creates, changes, deletes, reveals, comparisons, inspections),
    /// newest first: at most `limit` records and about [`LINEAGE_BYTES`]
    /// of stored events, read as a stream. The flag says whether older
    /// records were left unread.
    pub async fn lineage(
        &self,
        ns: &str,
        secret: &str,
        limit: i64,
    ) -> Result<(Vec<AuditRecord>, bool), AuditError> {
        use futures::TryStreamExt;
        let sql = "SELECT seq, event, prev_hash, hash FROM audit_records
             WHERE namespace = $1 AND secret = $2 AND outcome = 'allowed'
               AND action IN ('create', 'update', 'delete', 'reveal', 'compare', 'inspect')
             ORDER BY seq DESC LIMIT $3";
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut cut = false;
        macro_rules! run {
            ($pool:expr) => {{
                let mut rows = sqlx::query(sql)
                    .bind(ns)
                    .bind(secret)
                    .bind(limit)
                    .fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    let record = row_to_record(row)?;
                    bytes += record.stored.len();
                    records.push(record);
                    if bytes > LINEAGE_BYTES {
                        cut = true;
                        break;
                    }
                }
            }};
        }
        match &self.db {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        }
        let cut = cut || records.len() as i64 >= limit;
        Ok((records, cut))
    }

    /// For each of `names` (secrets of `ns`) that has one: when its values
    /// last changed through Strongroom (RFC 3339), judged from each
    /// secret's newest 20 creates and changes (a secret whose newest 20
    /// changed only labels counts from its creation).
    pub async fn last_value_changes(
        &self,
        ns: &str,
        names: &[String],
    ) -> Result<std::collections::HashMap<String, String>, AuditError> {
        let mut found = std::collections::HashMap::new();
        if names.is_empty() {
            return Ok(found);
        }
        let sql = changes_sql(names.len());
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query(&sql).bind(ns);
                for name in names {
                    query = query.bind(name);
                }
                query
                    .fetch_all($pool)
                    .await?
                    .into_iter()
                    .map(|row| row.try_get::<String, _>("event"))
                    .collect::<Result<Vec<_>, _>>()?
            }};
        }
        let events = match &self.db {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        };
        for text in events {
            let Ok(event) = serde_json::from_str::<super::AuditEvent>(&text) else {
                continue;
            };
            if event.changes_values() && !found.contains_key(&event.secret) {
                found.insert(event.secret.clone(), event.time.clone());
            }
        }
        Ok(found)
    }

    /// How the database reads what [`Self::last_value_changes`] asks for
    /// `names` secrets (SQLite's `EXPLAIN QUERY PLAN`, one step a line).
    #[cfg(test)]
    async fn changes_plan(&self, names: usize) -> Vec<String> {
        let Db::Sqlite(p) = &self.db else {
            return Vec::new();
        };
        let sql = format!("EXPLAIN QUERY PLAN {}", changes_sql(names));
        let mut query = sqlx::query(&sql).bind("ns");
        for i in 0..names {
            query = query.bind(format!("s{i}"));
        }
        query
            .fetch_all(p)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect()
    }

    /// The number of records.
    pub async fn count(&self) -> Result<i64, AuditError> {
        let sql = "SELECT COUNT(*) AS n FROM audit_records";
        Ok(match &self.db {
            Db::Sqlite(p) => sqlx::query(sql).fetch_one(p).await?.try_get("n")?,
            Db::Postgres(p) => sqlx::query(sql).fetch_one(p).await?.try_get("n")?,
        })
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

/// The newest 20 allowed creates and changes of each of `names` secrets of
/// namespace `$1` (`$2`…), read through `audit_records_changes`.
fn changes_sql(names: usize) -> String {
    let list: Vec<String> = (0..names).map(|i| format!("${}", i + 2)).collect();
    format!(
        "SELECT secret, event FROM (
             SELECT secret, seq, event, ROW_NUMBER() OVER (PARTITION BY secret ORDER BY seq DESC) AS n
             FROM audit_records
             WHERE namespace = $1 AND secret IN ({}) AND outcome = 'allowed'
               AND action IN ('create', 'update')
         ) recent WHERE n <= 20 ORDER BY seq DESC",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lists_ages_read_only_changes_however_often_a_secret_was_revealed() {
        let dir = std::env::temp_dir().join(format!("strongroom-plan-{}", std::process::id()));
        let db = Db::connect(&format!("sqlite://{}/audit.db", dir.display()))
            .await
            .unwrap();
        let settings = AuditSettings {
            database: true,
            stdout: false,
            database_required: true,
            stdout_required: false,
            timeout: std::time::Duration::from_secs(5),
            cluster: "test".into(),
        };
        let keys = AuditKeys {
            fingerprint: b"test-fingerprint-key".to_vec(),
            chain: ChainKey::new(b"test-chain-key".to_vec()),
        };
        let store = AuditStore::open(db, settings, keys).await.unwrap();
        let plan = store.changes_plan(3).await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX audit_records_changes")),
            "{plan:?}"
        );
    }
}
