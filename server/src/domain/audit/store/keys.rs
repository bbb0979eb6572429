//! The audit trail's keys, which are never stored in the database, and the
//! one-time move of the fingerprint key older versions kept there.

use crate::domain::audit::ChainKey;
use crate::infra::db::Db;

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
