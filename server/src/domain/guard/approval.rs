//! Access requests and their decisions, in the database every replica
//! shares. Every time that decides something (is a request still pending,
//! is an approval still open) is the database's clock, read in the same
//! statement, so replicas whose clocks disagree still agree on the answer.
//!
//! A decision is two steps: the request is claimed (`pending` → `deciding`,
//! in one conditional statement, so two approvers cannot both decide), the
//! decision's audit record is committed, and only then does it take effect
//! (`deciding` → `approved`/`denied`). A claim whose record cannot be
//! written is released; a claim left behind by a crash is released by the
//! next decision after a minute. Only `approved` rows grant anything.

use strongroom_app::api::guards::{AccessRequest, RequestStatus};

use crate::infra::db::Db;

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS access_requests (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        secret TEXT NOT NULL,
        keys TEXT NOT NULL,
        requester TEXT NOT NULL,
        requester_uid TEXT,
        requester_name TEXT,
        secret_uid TEXT,
        claim TEXT,
        reason TEXT NOT NULL,
        duration_secs BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        status TEXT NOT NULL,
        decided_by TEXT,
        decided_at BIGINT,
        comment TEXT,
        valid_until BIGINT)",
    "CREATE INDEX IF NOT EXISTS access_requests_by_requester
        ON access_requests (requester, namespace, secret)",
    "CREATE INDEX IF NOT EXISTS access_requests_by_status ON access_requests (status, expires_at)",
];

const COLUMNS: &str = "id, namespace, secret, keys, requester, requester_uid, requester_name, \
    secret_uid, reason, duration_secs, created_at, expires_at, status, decided_by, decided_at, \
    comment, valid_until";

/// One row, with the database's time of reading.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub namespace: String,
    pub secret: String,
    pub keys: String,
    pub requester: String,
    /// The requester's IdP subject: the same person under another
    /// username cannot approve their own request.
    pub requester_uid: Option<String>,
    pub requester_name: Option<String>,
    /// The secret's `metadata.uid` when it was asked for: an approval does
    /// not carry over to a secret deleted and made again under its name.
    pub secret_uid: Option<String>,
    pub reason: String,
    pub duration_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub valid_until: Option<i64>,
    pub now: i64,
}

impl Row {
    pub fn keys(&self) -> Vec<String> {
        serde_json::from_str(&self.keys).unwrap_or_default()
    }

    /// Where it stands at the database's time of reading.
    pub fn status(&self) -> RequestStatus {
        match self.status.as_str() {
            "pending" | "deciding" if self.expires_at > self.now => RequestStatus::Pending,
            "pending" | "deciding" => RequestStatus::Expired,
            "approved" if self.valid_until.is_some_and(|u| u > self.now) => RequestStatus::Approved,
            "approved" => RequestStatus::Expired,
            "denied" => RequestStatus::Denied,
            _ => RequestStatus::Revoked,
        }
    }

    /// The API's view, for `viewer`.
    pub fn view(&self, viewer: &str, can_decide: bool) -> AccessRequest {
        AccessRequest {
            id: self.id.clone(),
            namespace: self.namespace.clone(),
            secret: self.secret.clone(),
            keys: self.keys(),
            requester: self.requester.clone(),
            requester_name: self.requester_name.clone(),
            reason: self.reason.clone(),
            duration_seconds: self.duration_secs.max(0) as u64,
            status: self.status(),
            created: rfc3339(self.created_at),
            decide_by: rfc3339(self.expires_at),
            decided_by: self.decided_by.clone(),
            decided: self.decided_at.map(rfc3339),
            comment: self.comment.clone(),
            valid_until: self.valid_until.map(rfc3339),
            mine: self.requester == viewer,
            can_decide: can_decide && self.status() == RequestStatus::Pending,
        }
    }
}

/// Unix seconds as RFC 3339.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An open approval: the requester may reveal `keys` of the secret with
/// `secret_uid` until `until`.
#[derive(Clone, Debug)]
pub struct Grant {
    pub request: String,
    pub approver: String,
    pub keys: Vec<String>,
    pub secret_uid: Option<String>,
    pub until: i64,
}

/// What a new request holds.
pub struct NewRequest<'a> {
    pub namespace: &'a str,
    pub secret: &'a str,
    pub keys: &'a [String],
    pub requester: &'a str,
    pub requester_uid: Option<&'a str>,
    pub requester_name: Option<&'a str>,
    pub secret_uid: Option<&'a str>,
    pub reason: &'a str,
    pub duration_secs: i64,
    pub ttl_secs: i64,
}

/// Why a request cannot be decided.
#[derive(Debug)]
pub enum Undecidable {
    NotFound,
    /// Decided already (its status says how).
    Decided(RequestStatus),
    /// Nobody decided in time.
    Expired,
    /// Another approver is deciding it right now.
    Busy,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Undecidable {
    fn from(e: sqlx::Error) -> Self {
        Undecidable::Db(e)
    }
}

/// The store of access requests.
#[derive(Clone)]
pub struct Approvals {
    db: Db,
    /// The database's "now" in Unix seconds, as an SQL expression.
    now: &'static str,
}

macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}

impl Approvals {
    /// Opens the store, creating its table.
    pub async fn open(db: Db) -> Result<Self, sqlx::Error> {
        match &db {
            Db::Sqlite(p) => {
                for statement in SCHEMA {
                    sqlx::query(statement).execute(p).await?;
                }
            }
            // Replicas starting together would race on CREATE TABLE IF NOT
            // EXISTS (PostgreSQL's catalog is not idempotent under
            // concurrency): one at a time, under an advisory lock.
            Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7318472001)")
                    .execute(&mut *tx)
                    .await?;
                for statement in SCHEMA {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        let now = match db {
            Db::Sqlite(_) => "CAST(strftime('%s','now') AS INTEGER)",
            Db::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)",
        };
        Ok(Self { db, now })
    }

    fn select(&self, filter: &str) -> String {
        format!(
            "SELECT {COLUMNS}, {} AS now FROM access_requests WHERE {filter}",
            self.now
        )
    }

    /// Stores a new request, not yet decidable (`recording`) until its
    /// record is committed and [`Self::activate`] makes it pending; answers
    /// it as stored.
    pub async fn create(&self, r: NewRequest<'_>) -> Result<Row, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let keys = serde_json::to_string(r.keys).expect("strings serialize");
        let sql = format!(
            "INSERT INTO access_requests (id, namespace, secret, keys, requester, requester_uid, \
             requester_name, secret_uid, reason, duration_secs, created_at, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {now}, {now} + $11, 'recording')",
            now = self.now
        );
        on_pool!(&self.db, |p| sqlx::query(&sql)
            .bind(&id)
            .bind(r.namespace)
            .bind(r.secret)
            .bind(&keys)
            .bind(r.requester)
            .bind(r.requester_uid)
            .bind(r.requester_name)
            .bind(r.secret_uid)
            .bind(r.reason)
            .bind(r.duration_secs)
            .bind(r.ttl_secs)
            .execute(p)
            .await
            .map(drop))?;
        self.get(&id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// Makes a recorded request pending (decidable).
    pub async fn activate(&self, id: &str) -> Result<Row, sqlx::Error> {
        on_pool!(&self.db, |p| sqlx::query(
            "UPDATE access_requests SET status = 'pending' WHERE id = $1 AND status = 'recording'"
        )
        .bind(id)
        .execute(p)
        .await
        .map(drop))?;
        self.get(id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// Forgets a request whose record could not be written.
    pub async fn discard(&self, id: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.db, |p| sqlx::query(
            "DELETE FROM access_requests WHERE id = $1 AND status = 'recording'"
        )
        .bind(id)
        .execute(p)
        .await
        .map(drop))
    }

    /// `user`'s requests still waiting for a decision: how many in all, and
    /// the id of one for `ns/secret` if there is one.
    pub async fn waiting(
        &self,
        user: &str,
        ns: &str,
        secret: &str,
    ) -> Result<(i64, Option<String>), sqlx::Error> {
        let sql = format!(
            "{} ORDER BY created_at",
            self.select(&format!(
                "requester = $1 AND status IN ('pending', 'deciding') AND expires_at > {}",
                self.now
            ))
        );
        let rows = on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(user)
            .fetch_all(p)
            .await)?;
        let same = rows
            .iter()
            .find(|r| r.namespace == ns && r.secret == secret)
            .map(|r| r.id.clone());
        Ok((rows.len() as i64, same))
    }

    /// One request.
    pub async fn get(&self, id: &str) -> Result<Option<Row>, sqlx::Error> {
        let sql = self.select("id = $1");
        on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)
    }

    /// The open approvals of `user` for `ns/secret`, the one that ends
    /// last first (at most 20).
    pub async fn grants(
        &self,
        user: &str,
        ns: &str,
        secret: &str,
    ) -> Result<Vec<Grant>, sqlx::Error> {
        let sql = format!(
            "{} ORDER BY valid_until DESC LIMIT 20",
            self.select(&format!(
                "requester = $1 AND namespace = $2 AND secret = $3 AND status = 'approved' AND valid_until > {}",
                self.now
            ))
        );
        let rows = on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(user)
            .bind(ns)
            .bind(secret)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| Grant {
                keys: r.keys(),
                request: r.id,
                approver: r.decided_by.unwrap_or_default(),
                secret_uid: r.secret_uid,
                until: r.valid_until.unwrap_or_default(),
            })
            .collect())
    }

    /// Claims a pending request for a decision by `by` under `token` (the
    /// decision's record id; see the module's documentation); answers the
    /// request as it was.
    pub async fn claim(&self, id: &str, by: &str, token: &str) -> Result<Row, Undecidable> {
        let before = self.get(id).await?.ok_or(Undecidable::NotFound)?;
        let sql = format!(
            "UPDATE access_requests SET status = 'deciding', decided_by = $2, decided_at = {now}, \
             claim = $3 \
             WHERE id = $1 AND expires_at > {now} \
             AND (status = 'pending' OR (status = 'deciding' AND decided_at < {now} - 60))",
            now = self.now
        );
        let claimed = on_pool!(&self.db, |p| sqlx::query(&sql)
            .bind(id)
            .bind(by)
            .bind(token)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if claimed == 1 {
            return Ok(before);
        }
        let now = self.get(id).await?.ok_or(Undecidable::NotFound)?;
        Err(match now.status() {
            // Someone else holds the claim right now.
            RequestStatus::Pending => Undecidable::Busy,
            RequestStatus::Expired if matches!(now.status.as_str(), "pending" | "deciding") => {
                Undecidable::Expired
            }
            status => Undecidable::Decided(status),
        })
    }

    /// Puts a request claimed under `token` back (its decision's record
    /// failed).
    pub async fn release(&self, id: &str, token: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.db, |p| sqlx::query(
            "UPDATE access_requests SET status = 'pending', decided_by = NULL, decided_at = NULL, \
             claim = NULL WHERE id = $1 AND status = 'deciding' AND claim = $2"
        )
        .bind(id)
        .bind(token)
        .execute(p)
        .await
        .map(drop))
    }

    /// Makes the decision claimed under `token` take effect: `approved`
    /// (open from now for the request's duration) or `denied`. `None` when
    /// the claim is no longer this one's (another approver took over a
    /// claim older than a minute).
    pub async fn finish(
        &self,
        id: &str,
        token: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<Option<Row>, sqlx::Error> {
        let sql = format!(
            "UPDATE access_requests SET status = $2, decided_at = {now}, comment = $3, \
             valid_until = CASE WHEN $2 = 'approved' THEN {now} + duration_secs ELSE NULL END \
             WHERE id = $1 AND status = 'deciding' AND claim = $4",
            now = self.now
        );
        let status = if approve { "approved" } else { "denied" };
        let changed = on_pool!(&self.db, |p| sqlx::query(&sql)
            .bind(id)
            .bind(status)
            .bind(comment)
            .bind(token)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        if changed != 1 {
            return Ok(None);
        }
        self.get(id).await
    }

    /// Ends a pending or open request (`by` withdrew it, or an approver
    /// ended it); answers it, or why not.
    pub async fn revoke(
        &self,
        id: &str,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Row, Undecidable> {
        let sql = format!(
            "UPDATE access_requests SET status = 'revoked', decided_by = $2, decided_at = {now}, \
             comment = $3, valid_until = NULL \
             WHERE id = $1 AND ((status = 'pending' AND expires_at > {now}) \
             OR (status = 'approved' AND valid_until > {now}))",
            now = self.now
        );
        let changed = on_pool!(&self.db, |p| sqlx::query(&sql)
            .bind(id)
            .bind(by)
            .bind(comment)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        let row = self.get(id).await?.ok_or(Undecidable::NotFound)?;
        if changed == 1 {
            return Ok(row);
        }
        Err(match (row.status.as_str(), row.status()) {
            ("deciding", RequestStatus::Pending) => Undecidable::Busy,
            (_, RequestStatus::Expired) => Undecidable::Expired,
            (_, s) => Undecidable::Decided(s),
        })
    }

    /// The newest `limit` requests `user` made.
    pub async fn mine(&self, user: &str, limit: i64) -> Result<Vec<Row>, sqlx::Error> {
        let sql = format!(
            "{} ORDER BY created_at DESC, id DESC LIMIT $2",
            self.select("requester = $1")
        );
        on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(user)
            .bind(limit)
            .fetch_all(p)
            .await)
    }

    /// The oldest `limit` pending requests that someone other than `user`
    /// made.
    pub async fn pending_for_others(
        &self,
        user: &str,
        limit: i64,
    ) -> Result<Vec<Row>, sqlx::Error> {
        let sql = format!(
            "{} ORDER BY created_at, id LIMIT $2",
            self.select(&format!(
                "status IN ('pending', 'deciding') AND expires_at > {} AND requester <> $1",
                self.now
            ))
        );
        on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(user)
            .bind(limit)
            .fetch_all(p)
            .await)
    }

    /// The newest `limit` requests `user` decided.
    pub async fn decided_by(&self, user: &str, limit: i64) -> Result<Vec<Row>, sqlx::Error> {
        let sql = format!(
            "{} ORDER BY decided_at DESC, id DESC LIMIT $2",
            self.select("decided_by = $1 AND requester <> $1 AND status <> 'deciding'")
        );
        on_pool!(&self.db, |p| sqlx::query_as::<_, Row>(&sql)
            .bind(user)
            .bind(limit)
            .fetch_all(p)
            .await)
    }
}
