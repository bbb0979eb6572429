//! The server-side session: what is kept in it, under which keys, and the
//! stores that hold it (SQLite by default, PostgreSQL for several replicas).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer, SessionStore,
    cookie::SameSite,
    session::{Id, Record},
    session_store,
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::CurrentUser;
use crate::infra::db::Db;

/// The session store failed.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct SessionError(#[from] tower_sessions::session::Error);

/// Session key of the signed-in user.
pub const USER_KEY: &str = "auth.user";
/// Session key of the raw ID token, kept only as the hint for RP-initiated logout.
pub const ID_TOKEN_KEY: &str = "auth.id-token";
/// Session key of the pending login (state, nonce, PKCE verifier, return path).
pub const PENDING_LOGIN_KEY: &str = "oidc.pending-login";

/// What the session remembers about the signed-in user.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub user: CurrentUser,
    /// Unix seconds of sign-in, for the absolute lifetime.
    pub signed_in_at: i64,
    /// Unix seconds of the last time the session's idle timer was renewed.
    #[serde(default)]
    pub touched_at: i64,
    /// The fingerprint of the identity rules the user was signed in under
    /// ([`IdentityMapping::fingerprint`](super::identity::IdentityMapping::fingerprint)):
    /// a session from before a change of the rules (a required claim added,
    /// a prefix changed, a fix in the mapping itself) ends, rather than
    /// keeping an identity the current rules would refuse.
    #[serde(default)]
    pub mapping: String,
}

/// The signed-in user of a session, or `None`. A session past its absolute
/// lifetime, or signed in under other identity rules than `mapping`, is
/// destroyed here, whatever its idle timer says.
///
/// Activity renews the idle timer: the store only learns of it when the
/// session is saved, so a session in use is saved again once a quarter of
/// the idle timeout (at most a minute) has passed since the last renewal —
/// one write per minute per active session, not one per request. Only
/// requests that change nothing renew (`renew`): the session is saved after
/// the handler has answered, and a save that fails then would replace the
/// answer to a change that was made (and recorded) with an error.
pub async fn current_user(
    session: &Session,
    max_lifetime: Duration,
    idle_timeout: Duration,
    mapping: &str,
    renew: bool,
) -> Result<Option<CurrentUser>, SessionError> {
    let stored: Option<SessionUser> = session.get(USER_KEY).await?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    if stored.mapping != mapping {
        tracing::info!(user.name = %stored.user.username, "session ended: signed in under other identity rules");
        session.flush().await?;
        return Ok(None);
    }
    let age = chrono::Utc::now().timestamp() - stored.signed_in_at;
    if age < 0 || age as u64 > max_lifetime.as_secs() {
        session.flush().await?;
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp();
    let renew_every = (idle_timeout.as_secs() / 4).clamp(1, 60) as i64;
    if renew && now - stored.touched_at.max(stored.signed_in_at) >= renew_every {
        let touched = SessionUser {
            touched_at: now,
            ..stored.clone()
        };
        session.insert(USER_KEY, &touched).await?;
    }
    Ok(Some(stored.user))
}

/// The session store behind the cookie.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// A store in the given database, with its table created if missing.
    pub async fn new(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(pool) => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await?;
                Store::Sqlite(store)
            }
            Db::Postgres(pool) => {
                let store = PostgresStore::new(pool.clone());
                store.migrate().await?;
                Store::Postgres(store)
            }
        })
    }

    /// Deletes expired sessions now and then, in the background.
    pub fn spawn_expiry_sweeper(&self) {
        use tower_sessions::ExpiredDeletion;
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                let result = match &store {
                    Store::Sqlite(s) => s.delete_expired().await,
                    Store::Postgres(s) => s.delete_expired().await,
                };
                if let Err(error) = result {
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

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.create(record).await,
            Store::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.save(record).await,
            Store::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Sqlite(s) => s.load(id).await,
            Store::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete(id).await,
            Store::Postgres(s) => s.delete(id).await,
        }
    }
}

/// The session cookie's name. `__Host-` makes browsers refuse the cookie
/// unless it is Secure, host-only and for path `/`, so a sibling subdomain
/// cannot plant one; it needs HTTPS, so plain-HTTP local runs go without.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-strongroom"
    } else {
        "strongroom"
    }
}
