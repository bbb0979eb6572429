//! The database behind sessions and the audit trail: a SQLite file by
//! default, PostgreSQL when several replicas share state.

use std::time::Duration;

use sqlx::{
    ConnectOptions, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// TLS modes libpq (and so `sslmode` and `PGSSLMODE`) knows.
const TLS_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// How a PostgreSQL URL, with libpq's `PGSSLMODE` and `PGSSLROOTCERT`,
/// asks for TLS, checked before connecting: the driver takes an unknown
/// `PGSSLMODE` for `prefer`, and `prefer` gives in to anyone on the path who
/// declines TLS (and then asks for the password in clear text).
#[derive(Debug, PartialEq, Eq)]
pub struct PostgresTls {
    pub host: String,
    /// The mode in effect (`prefer` when none is set).
    pub mode: String,
    /// The CA bundle, when one is named and the mode checks it.
    pub root_cert: Option<String>,
}

impl PostgresTls {
    /// Reads `url` and the environment (`env`): refuses a `PGSSLMODE` that
    /// is not a mode, no mode at all for a database that is not on this
    /// machine, and a CA bundle that cannot be read.
    pub fn of(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("the PostgreSQL URL is invalid: {e}"))?;
        let param = |names: &[&str]| {
            parsed
                .query_pairs()
                .find(|(k, _)| names.contains(&k.as_ref()))
                .map(|(_, v)| v.into_owned())
        };
        let host = param(&["host"])
            .or_else(|| parsed.host_str().map(str::to_string))
            .unwrap_or_default();
        let from_env = env("PGSSLMODE").map(|m| m.to_ascii_lowercase());
        if let Some(mode) = &from_env
            && !TLS_MODES.contains(&mode.as_str())
        {
            return Err(format!(
                "PGSSLMODE={mode:?} is not a TLS mode: use one of {}",
                TLS_MODES.join(", ")
            ));
        }
        // The driver refuses an unknown sslmode in the URL itself.
        let explicit = param(&["sslmode", "ssl-mode"])
            .map(|m| m.to_ascii_lowercase())
            .or(from_env);
        let local = host.is_empty()
            || host.starts_with('/')
            || host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let Some(mode) = explicit.or_else(|| local.then(|| "prefer".to_string())) else {
            return Err(format!(
                "the PostgreSQL URL for {host} sets no TLS mode, and without one a connection \
                 falls back to plain text whenever someone on the path declines TLS: add \
                 sslmode=verify-full (and sslrootcert=CA-FILE, or PGSSLMODE and PGSSLROOTCERT), \
                 or sslmode=disable for a database on a network you trust"
            ));
        };
        let root_cert = param(&["sslrootcert", "ssl-root-cert", "ssl-ca"])
            .or_else(|| env("PGSSLROOTCERT"))
            .filter(|_| mode.starts_with("verify-"));
        if let Some(path) = &root_cert
            && let Err(e) = std::fs::File::open(path)
        {
            return Err(format!("cannot read the PostgreSQL CA bundle {path}: {e}"));
        }
        Ok(PostgresTls {
            host,
            mode,
            root_cert,
        })
    }
}

/// A connection pool to one of the supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Connects to `url` (`sqlite://...` or `postgres://...`).
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let tls = PostgresTls::of(url, |name| std::env::var(name).ok())
                .map_err(|e| sqlx::Error::Configuration(e.into()))?;
            tracing::info!(
                host = %tls.host,
                tls = %tls.mode,
                ca = tls.root_cert.as_deref().unwrap_or("(public roots)"),
                "connecting to PostgreSQL"
            );
            let options: PgConnectOptions = url.parse()?;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.clone())
                .await;
            return match pool {
                Ok(pool) => Ok(Db::Postgres(pool)),
                // The pool only says it gave up; one connection of our own
                // says why (refused, unknown host, certificate, password).
                Err(sqlx::Error::PoolTimedOut) => {
                    match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
                        Ok(Err(e)) => Err(e),
                        _ => Err(sqlx::Error::PoolTimedOut),
                    }
                }
                Err(e) => Err(e),
            };
        }
        let options: SqliteConnectOptions = url.parse()?;
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // WAL with synchronous=FULL: a committed transaction is on disk (the
        // audit trail's write-ahead promise), and readers do not block writers.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            // 512 KiB of page cache per connection (SQLite's default is
            // 2 MiB): sessions and the audit trail are written far more than
            // re-read, and a page not cached is a read from the system's
            // file cache, not the disk.
            .pragma("cache_size", "-512");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        }
    }

    /// Closes the pool: later queries fail at once (shutdown; tests that
    /// need a store that stops working).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PostgresTls;

    fn tls(url: &str, env: &[(&str, &str)]) -> Result<PostgresTls, String> {
        PostgresTls::of(url, |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_remote_database_needs_a_tls_mode_said_out_loud() {
        let err = tls("postgres://u:pw@db.example.com/x", &[]).unwrap_err();
        assert!(err.contains("db.example.com sets no TLS mode"), "{err}");
        assert!(!err.contains("pw"), "no password in the message: {err}");
        for url in [
            "postgres://u@db.example.com/x?sslmode=disable",
            "postgres://u@db.example.com/x?sslmode=require",
        ] {
            assert!(tls(url, &[]).is_ok(), "{url}");
        }
        let t = tls(
            "postgres://u@db.example.com/x",
            &[("PGSSLMODE", "Verify-Full")],
        )
        .unwrap();
        assert_eq!(t.mode, "verify-full");
        // On this machine the driver's default stays.
        for url in [
            "postgres://u@127.0.0.1:5432/x",
            "postgres://u@localhost/x",
            "postgres://u@[::1]/x",
            "postgres:///x?host=/run/postgresql",
        ] {
            assert_eq!(tls(url, &[]).unwrap().mode, "prefer", "{url}");
        }
    }

    #[test]
    fn an_unknown_pgsslmode_is_refused_not_taken_for_prefer() {
        for bad in ["verify_full", "verify-full ", "strict", ""] {
            let err = tls("postgres://u@127.0.0.1/x", &[("PGSSLMODE", bad)]).unwrap_err();
            assert!(err.contains("is not a TLS mode"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_url_wins_over_the_environment_and_the_ca_must_be_readable() {
        let t = tls(
            "postgres://u@db/x?sslmode=disable",
            &[
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/nonexistent"),
            ],
        )
        .unwrap();
        assert_eq!((t.mode.as_str(), t.root_cert), ("disable", None));
        let err = tls(
            "postgres://u@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("cannot read the PostgreSQL CA bundle /nonexistent/ca.crt"),
            "{err}"
        );
        let err = tls(
            "postgres://u@db/x",
            &[
                ("PGSSLMODE", "verify-ca"),
                ("PGSSLROOTCERT", "/nonexistent/env.crt"),
            ],
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent/env.crt"), "{err}");
    }
}
