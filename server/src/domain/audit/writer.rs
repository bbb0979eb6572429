//! Writing records to the sinks: the database sink's writer task, which
//! commits records in batches (group commit) so that concurrent requests
//! share one fsync while each still waits for its own record's commit, and
//! the stdout sink's line.
//!
//! [`AuditStore`](super::AuditStore) decides which sinks are written and
//! which failures refuse the request; this module only writes.

use std::{io::Write as _, sync::Arc};

use sqlx::Row;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{AuditEvent, AuditRecord, ChainKey, head_mac, keyed_chain_hash};
use crate::infra::db::Db;

/// The most records one transaction commits together.
const MAX_BATCH: usize = 256;

/// A record waiting for the writer, and where its fate is reported.
struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Result<AuditRecord, String>>,
}

/// Where records are handed to the writer task. Cheap to clone: clones
/// share the task.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer task on `db`. `lock` is the one that serialises
    /// this replica's writes to the chain; the task takes it per batch.
    pub(super) fn spawn(db: Db, lock: Arc<Mutex<()>>, key: ChainKey) -> Self {
        let (queue, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(db, lock, key, pending));
        Self { queue }
    }

    /// Hands the record to the writer and waits until it is committed.
    pub(super) async fn commit(&self, event: &AuditEvent) -> Result<AuditRecord, String> {
        let stopped = || "the audit writer has stopped".to_string();
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Pending {
                event: event.clone(),
                done,
            })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Writes `record` to stdout as one JSON line and flushes it.
pub(super) fn write_stdout(record: &AuditRecord) -> std::io::Result<()> {
    let line =
        serde_json::to_string(&serde_json::json!({ "audit": record })).expect("records serialize");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush())
}

fn outcome_str(o: super::Outcome) -> &'static str {
    match o {
        super::Outcome::Allowed => "allowed",
        super::Outcome::Denied => "denied",
        super::Outcome::Failed => "failed",
    }
}

/// The writer task: takes every record waiting (up to [`MAX_BATCH`]),
/// commits them in one transaction, then answers each. A failed commit fails
/// every record of its batch; none of them is answered as written.
async fn write_batches(
    db: Db,
    lock: Arc<Mutex<()>>,
    key: ChainKey,
    mut queue: mpsc::Receiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = {
            let _guard = lock.lock().await;
            let events: Vec<&AuditEvent> = batch.iter().map(|p| &p.event).collect();
            write_batch(&db, &key, &events).await
        };
        match result {
            Ok(records) => {
                for (pending, record) in batch.drain(..).zip(records) {
                    let _ = pending.done.send(Ok(record));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for pending in batch.drain(..) {
                    let _ = pending.done.send(Err(message.clone()));
                }
            }
        }
    }
}

/// Appends `events` to the chain in one transaction, in order.
async fn write_batch(
    db: &Db,
    key: &ChainKey,
    events: &[&AuditEvent],
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    macro_rules! insert_all {
        ($conn:expr, $head_sql:expr) => {{
            let head = sqlx::query($head_sql).fetch_one(&mut *$conn).await?;
            let mut seq: i64 = head.try_get("seq")?;
            let mut prev_hash: String = head.try_get("hash")?;
            let mut records = Vec::with_capacity(events.len());
            for event in events {
                seq += 1;
                // The link covers the bytes as stored, under the chain key.
                let json = serde_json::to_string(event).expect("events serialize");
                let hash = keyed_chain_hash(key, &prev_hash, seq, &json);
                sqlx::query(
                    "INSERT INTO audit_records (seq, id, time, username, namespace, secret, action, outcome, event, prev_hash, hash)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(seq)
                .bind(&event.id)
                .bind(&event.time)
                .bind(&event.user)
                .bind(&event.namespace)
                .bind(&event.secret)
                .bind(event.action.as_str())
                .bind(outcome_str(event.outcome))
                .bind(&json)
                .bind(&prev_hash)
                .bind(&hash)
                .execute(&mut *$conn)
                .await?;
                records.push(AuditRecord { seq, event: (*event).clone(), prev_hash: prev_hash.clone(), hash: hash.clone(), stored: json });
                prev_hash = hash;
            }
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(seq)
                .bind(&prev_hash)
                .execute(&mut *$conn)
                .await?;
            sqlx::query("INSERT INTO audit_head_mac (id, mac) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET mac = excluded.mac")
                .bind(head_mac(key, seq, &prev_hash))
                .execute(&mut *$conn)
                .await?;
            records
        }};
    }
    match db {
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            // IMMEDIATE takes the write lock up front; with WAL and
            // synchronous=FULL the COMMIT is on disk when it returns.
            sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            let result: Result<Vec<AuditRecord>, sqlx::Error> = async {
                Ok(insert_all!(
                    conn,
                    "SELECT seq, hash FROM audit_head WHERE id = 1"
                ))
            }
            .await;
            // A failed COMMIT is rolled back too: the connection goes back to
            // the pool outside any transaction.
            let committed = match result {
                Ok(r) => sqlx::query("COMMIT").execute(&mut *conn).await.map(|_| r),
                Err(e) => Err(e),
            };
            if committed.is_err() {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            committed
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // The head row lock serialises writers across replicas.
            let r = insert_all!(
                tx,
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            );
            tx.commit().await?;
            Ok(r)
        }
    }
}
