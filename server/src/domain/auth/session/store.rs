//! The session store behind the cookie, in Strongroom's database: rows
//! keyed by the SHA-256 of the session id, data sealed under a key derived
//! from the id, saves that never re-create a deleted session, and the rows
//! this replica used in the last few seconds remembered in memory.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use lru::LruCache;

use tower_sessions::{
    Expiry, SessionManagerLayer, SessionStore,
    cookie::SameSite,
    session::{Id, Record},
    session_store,
};

use super::cookie_name;
use crate::infra::db::Db;

/// The session store behind the cookie, in Strongroom's database.
///
/// Two things set it apart from a plain key-value store (invariant 5):
/// - **Sign-out sticks.** `save` only updates a session that exists; it
///   never re-creates one. A slow request that renews a session's idle
///   timer after `/auth/logout` deleted it finds nothing to update, so a
///   stolen cookie stays dead.
/// - **The table is not worth stealing.** Rows are keyed by the SHA-256 of
///   the session id, never the id (the cookie's value) itself, and a
///   session's data (the user, the IdP's tokens) is sealed with AES-256-GCM
///   under a key derived from the id: only the cookie's holder can open it.
///
/// A request reads its session once; the rows this replica read or wrote in
/// the last few seconds are remembered ([`Remembered`]), so a burst of
/// requests (a page's calls, a run of reveals) costs the database one read.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    recent: Arc<Remembered>,
}

/// Sessions remembered at most (a few seconds' worth of active sessions;
/// the least recently used makes room).
const REMEMBERED_SESSIONS: usize = 1024;

/// The largest sealed row remembered (a signed-in session with its IdP
/// tokens is a few KiB): at most 16 MiB in all.
const REMEMBERED_BYTES: usize = 16 * 1024;

/// The session rows this replica read or wrote within `ttl`, exactly as the
/// table holds them: sealed, keyed by the id's hash. A sign-out here
/// forgets the row before it answers, and a read that was under way when a
/// session was deleted is not remembered, so a signed-out session is never
/// served from memory on the replica that signed it out. Another replica
/// may serve it from memory for at most `ttl` after it read it (SECURITY.md,
/// "Remembered answers"). Only signed-in sessions are remembered.
pub struct Remembered {
    ttl: Duration,
    rows: Mutex<Rows>,
}

struct Rows {
    /// Unbounded to the crate; [`Remembered::remember`] keeps it within
    /// [`REMEMBERED_SESSIONS`].
    by_hash: LruCache<String, Row>,
    /// Deletions so far: a read remembers its row only if none happened
    /// while it was under way.
    deletions: u64,
}

/// Taken before a read or write of the table: when it began, and the
/// deletions before it.
#[derive(Clone, Copy)]
struct Ticket {
    at: Instant,
    deletions: u64,
}

#[derive(Clone)]
struct Row {
    /// When the read or write that gave it began.
    at: Instant,
    data: String,
    expiry: i64,
}

impl std::fmt::Debug for Remembered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remembered")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Remembered {
    fn new(ttl: Duration) -> Self {
        Remembered {
            ttl,
            rows: Mutex::new(Rows {
                by_hash: LruCache::unbounded(),
                deletions: 0,
            }),
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Taken before reading or writing the table: [`Self::remember`] with
    /// it does nothing if a session was deleted meanwhile.
    fn ticket(&self) -> Ticket {
        Ticket {
            at: Instant::now(),
            deletions: self.rows().deletions,
        }
    }

    /// The row of `hash`, if remembered within `ttl`.
    fn get(&self, hash: &str) -> Option<Row> {
        let mut rows = self.rows();
        match rows.by_hash.get(hash) {
            Some(row) if row.at.elapsed() < self.ttl => Some(row.clone()),
            Some(_) => {
                rows.by_hash.pop(hash);
                None
            }
            None => None,
        }
    }

    /// Remembers the row of `hash` as a read or write that began at
    /// `ticket` found or left it: not if a session was deleted since, nor
    /// a row of more than [`REMEMBERED_BYTES`]. Rows past their time are
    /// dropped first.
    fn remember(&self, ticket: Ticket, hash: String, data: String, expiry: i64) {
        if self.ttl.is_zero() || data.len() > REMEMBERED_BYTES {
            return;
        }
        let mut rows = self.rows();
        if rows.deletions != ticket.deletions {
            return;
        }
        while rows
            .by_hash
            .peek_lru()
            .is_some_and(|(_, row)| row.at.elapsed() >= self.ttl)
        {
            rows.by_hash.pop_lru();
        }
        if !rows.by_hash.contains(&hash) && rows.by_hash.len() >= REMEMBERED_SESSIONS {
            rows.by_hash.pop_lru();
        }
        let at = ticket.at;
        rows.by_hash.put(hash, Row { at, data, expiry });
    }

    /// Forgets `hash`: its next read goes to the table.
    fn forget(&self, hash: &str) {
        self.rows().by_hash.pop(hash);
    }

    /// Forgets `hash`, which was just deleted, and voids every read under
    /// way (it may be a read of that row).
    fn deleted(&self, hash: &str) {
        let mut rows = self.rows();
        rows.deletions = rows.deletions.wrapping_add(1);
        rows.by_hash.pop(hash);
    }
}

const SESSION_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS strongroom_sessions (
    id_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    -- Unix milliseconds.
    expiry_date BIGINT NOT NULL)";

/// What the store keeps of a session id: its SHA-256, hex.
pub fn id_hash(id: &Id) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl Store {
    /// A store in the given database, with its table created if missing,
    /// that remembers the rows it used for `remember` (zero: never).
    /// (Sessions of the tower-sessions table older versions used are left
    /// behind: everyone signs in once more after the upgrade.)
    pub async fn new(db: &Db, remember: Duration) -> Result<Self, sqlx::Error> {
        match db {
            Db::Sqlite(p) => sqlx::query(SESSION_SCHEMA).execute(p).await.map(drop)?,
            Db::Postgres(p) => sqlx::query(SESSION_SCHEMA).execute(p).await.map(drop)?,
        }
        Ok(Store {
            db: db.clone(),
            recent: Arc::new(Remembered::new(remember)),
        })
    }

    /// Makes the next load of session `id` read the table, not memory:
    /// before a change to a session that another replica may have changed
    /// in the last few seconds (a renewal, new IdP tokens).
    pub fn forget(&self, id: &Id) {
        self.recent.forget(&id_hash(id));
    }

    async fn execute(&self, sql: &str, binds: &[SqlValue<'_>]) -> Result<u64, sqlx::Error> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match b {
                        SqlValue::Text(t) => q.bind(*t),
                        SqlValue::Int(i) => q.bind(*i),
                    };
                }
                q.execute($pool).await.map(|r| r.rows_affected())
            }};
        }
        match &self.db {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        }
    }

    /// Deletes expired sessions now.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let now = millis(time::OffsetDateTime::now_utc());
        self.execute(
            "DELETE FROM strongroom_sessions WHERE expiry_date < $1",
            &[SqlValue::Int(now)],
        )
        .await
    }

    /// Deletes expired sessions now and then, in the background.
    pub fn spawn_expiry_sweeper(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                if let Err(error) = store.delete_expired().await {
                    tracing::warn!(%error, "could not delete expired sessions");
                }
            }
        });
    }

    /// The cookie settings of ARCHITECTURE.md invariant 5.
    pub fn layer(self, secure: bool, idle_timeout: Duration) -> SessionManagerLayer<Store> {
        let idle = time::Duration::try_from(idle_timeout).unwrap_or(time::Duration::minutes(30));
        SessionManagerLayer::new(self)
            // `__Host-` makes browsers refuse the cookie unless it is Secure,
            // host-only and for path `/`, so a sibling subdomain cannot plant one.
            .with_name(cookie_name(secure))
            .with_secure(secure)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
    }
}

/// Unix milliseconds: sessions expire to the millisecond (a second's
/// truncation would end a 1 s idle timeout early).
fn millis(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A bound SQL parameter.
enum SqlValue<'a> {
    Text(&'a str),
    Int(i64),
}

/// The AEAD key of a session's data: SHA-256 of a label and the id. The
/// table holds SHA-256 of the id alone, from which this cannot be computed.
fn data_key(id: &Id) -> ring::aead::LessSafeKey {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"strongroom session data\n");
    h.update(id.to_string().as_bytes());
    let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &h.finalize())
        .expect("a 32-byte key");
    ring::aead::LessSafeKey::new(key)
}

/// The session's data, sealed: base64 of a random nonce and the ciphertext.
fn encode(record: &Record) -> session_store::Result<String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut data = serde_json::to_vec(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let mut nonce = [0u8; ring::aead::NONCE_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| session_store::Error::Encode("no randomness".into()))?;
    data_key(&record.id)
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(id_hash(&record.id).as_bytes()),
            &mut data,
        )
        .map_err(|_| session_store::Error::Encode("cannot seal the session".into()))?;
    let mut sealed = nonce.to_vec();
    sealed.extend(data);
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// Opens what [`encode`] sealed for session `id`.
fn decode(
    id: &Id,
    stored: &str,
) -> session_store::Result<std::collections::HashMap<String, serde_json::Value>> {
    use base64::Engine;
    let fail = || session_store::Error::Decode("the session data does not open".into());
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .map_err(|_| fail())?;
    if sealed.len() < ring::aead::NONCE_LEN {
        return Err(fail());
    }
    let (nonce, rest) = sealed.split_at(ring::aead::NONCE_LEN);
    let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
    let mut rest = rest.to_vec();
    let plain = data_key(id)
        .open_in_place(
            nonce,
            ring::aead::Aad::from(id_hash(id).as_bytes()),
            &mut rest,
        )
        .map_err(|_| fail())?;
    serde_json::from_slice(plain).map_err(|e| session_store::Error::Decode(e.to_string()))
}

/// Whether `record` is a signed-in session (the only kind remembered: a
/// sign-in under way is read once or twice).
fn signed_in(record: &Record) -> bool {
    record.data.contains_key(super::USER_KEY)
}

/// The session `id` of a stored row: `None` if its data does not open for
/// that id (not sealed for it, or tampered with).
fn opened(id: &Id, data: &str, expiry: i64) -> session_store::Result<Option<Record>> {
    Ok(Some(Record {
        id: *id,
        data: match decode(id, data) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "a stored session does not open; treated as none");
                return Ok(None);
            }
        },
        expiry_date: time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(expiry) * 1_000_000,
        )
        .map_err(|e| session_store::Error::Decode(e.to_string()))?,
    }))
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh id until one is free (a collision of 128 random bits is
        // not expected, but never overwrite someone else's session).
        loop {
            let data = encode(record)?;
            let hash = id_hash(&record.id);
            let ticket = self.recent.ticket();
            let inserted = self
                .execute(
                    "INSERT INTO strongroom_sessions (id_hash, data, expiry_date) VALUES ($1, $2, $3) ON CONFLICT (id_hash) DO NOTHING",
                    &[
                        SqlValue::Text(&hash),
                        SqlValue::Text(&data),
                        SqlValue::Int(millis(record.expiry_date)),
                    ],
                )
                .await
                .map_err(backend)?;
            if inserted == 1 {
                if signed_in(record) {
                    self.recent
                        .remember(ticket, hash, data, millis(record.expiry_date));
                }
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let hash = id_hash(&record.id);
        let ticket = self.recent.ticket();
        let updated = self
            .execute(
                "UPDATE strongroom_sessions SET data = $1, expiry_date = $2 WHERE id_hash = $3",
                &[
                    SqlValue::Text(&data),
                    SqlValue::Int(millis(record.expiry_date)),
                    SqlValue::Text(&hash),
                ],
            )
            .await
            .map_err(backend)?;
        if updated == 0 {
            // Deleted meanwhile (sign-out, expiry): it stays deleted.
            tracing::debug!("a save for a session that no longer exists was dropped");
            self.recent.forget(&hash);
        } else if signed_in(record) {
            self.recent
                .remember(ticket, hash, data, millis(record.expiry_date));
        } else {
            self.recent.forget(&hash);
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let hash = id_hash(id);
        let now = millis(time::OffsetDateTime::now_utc());
        if let Some(row) = self.recent.get(&hash)
            && row.expiry > now
        {
            return opened(id, &row.data, row.expiry);
        }
        let ticket = self.recent.ticket();
        macro_rules! fetch {
            ($pool:expr) => {
                sqlx::query_as::<_, (String, i64)>(
                    "SELECT data, expiry_date FROM strongroom_sessions WHERE id_hash = $1 AND expiry_date > $2",
                )
                .bind(&hash)
                .bind(now)
                .fetch_optional($pool)
                .await
            };
        }
        let row = match &self.db {
            Db::Sqlite(p) => fetch!(p),
            Db::Postgres(p) => fetch!(p),
        }
        .map_err(backend)?;
        let Some((data, expiry)) = row else {
            return Ok(None);
        };
        let record = opened(id, &data, expiry)?;
        if record.as_ref().is_some_and(signed_in) {
            self.recent.remember(ticket, hash, data, expiry);
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let hash = id_hash(id);
        let deleted = self
            .execute(
                "DELETE FROM strongroom_sessions WHERE id_hash = $1",
                &[SqlValue::Text(&hash)],
            )
            .await;
        // After the row is gone: forgotten, with the reads under way. When
        // there was no row (a stranger's cookie), nothing else is voided.
        match deleted {
            Ok(0) => self.recent.forget(&hash),
            _ => self.recent.deleted(&hash),
        }
        deleted.map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    #[test]
    fn remembered_rows_expire_and_a_deletion_voids_reads_under_way() {
        let recent = Remembered::new(Duration::from_millis(60));
        let ticket = recent.ticket();
        recent.remember(ticket, "a".into(), "sealed-a".into(), 1);
        assert_eq!(recent.get("a").map(|r| r.data), Some("sealed-a".into()));
        // A read of "b" began, then some session was deleted: "b" is not
        // remembered (it may be the deleted one).
        let before = recent.ticket();
        recent.forget("c");
        recent.remember(before, "c".into(), "sealed-c".into(), 1);
        assert!(recent.get("c").is_some(), "forgetting alone voids no read");
        let before = recent.ticket();
        recent.deleted("a");
        recent.remember(before, "b".into(), "sealed-b".into(), 1);
        assert!(recent.get("a").is_none(), "forgotten at once");
        assert!(recent.get("b").is_none(), "a read under way is void");
        recent.remember(recent.ticket(), "b".into(), "sealed-b".into(), 1);
        assert!(recent.get("b").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(recent.get("b").is_none(), "past its time");
        // A row past its time makes room for the next.
        recent.remember(recent.ticket(), "d".into(), "sealed-d".into(), 1);
        assert_eq!(recent.rows().by_hash.len(), 1, "only d is left");
        let big = "x".repeat(REMEMBERED_BYTES + 1);
        recent.remember(recent.ticket(), "e".into(), big, 1);
        assert!(recent.get("e").is_none(), "too big to remember");
        let never = Remembered::new(Duration::ZERO);
        never.remember(never.ticket(), "a".into(), "sealed".into(), 1);
        assert!(never.get("a").is_none(), "zero remembers nothing");
    }

    #[test]
    fn remembered_rows_are_bounded_and_their_debug_shows_no_data() {
        let recent = Remembered::new(Duration::from_secs(60));
        for i in 0..REMEMBERED_SESSIONS + 10 {
            recent.remember(recent.ticket(), format!("{i}"), "sealed".into(), 1);
        }
        assert_eq!(recent.rows().by_hash.len(), REMEMBERED_SESSIONS);
        assert!(recent.get("0").is_none(), "the least recently used left");
        assert!(!format!("{recent:?}").contains("sealed"));
    }

    #[test]
    fn session_data_opens_only_for_its_own_id() {
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: time::OffsetDateTime::now_utc(),
        };
        record.data.insert(
            "auth.user".into(),
            serde_json::json!({"tokens": {"refresh": "rt-secret"}}),
        );
        let sealed = encode(&record).unwrap();
        assert!(!sealed.contains("rt-secret"));
        assert_eq!(decode(&record.id, &sealed).unwrap(), record.data);
        assert!(
            decode(&Id::default(), &sealed).is_err(),
            "another id cannot open it"
        );
        let mut tampered = sealed.clone().into_bytes();
        tampered[20] ^= 1;
        assert!(decode(&record.id, &String::from_utf8(tampered).unwrap()).is_err());
    }
}
