//! The per-user reveal rate. One replica counts in memory (a GCRA limiter);
//! replicas sharing PostgreSQL count in one table, so a user cannot multiply
//! their allowance by spreading reveals over replicas. Each revealed key
//! counts: "Reveal all" on a secret of ten keys takes ten.

use std::{num::NonZeroU32, time::Duration};

use crate::infra::db::Db;

/// How many users the in-memory limiter holds before it forgets those whose
/// allowance is whole again (checked on each reveal past this size).
const FORGET_FROM: usize = 1024;

/// The most reveals one user may make in a period.
pub struct RevealLimit {
    count: u32,
    period: Duration,
    counter: Counter,
}

enum Counter {
    Memory(governor::DefaultKeyedRateLimiter<String>),
    /// A window per user, started by their first reveal in it.
    Shared(Db),
}

/// Why a reveal is over the limit.
#[derive(Debug)]
pub enum OverLimit {
    /// Try again after this long.
    Wait(Duration),
    /// The counter could not be read or written: refuse rather than let
    /// reveals through uncounted.
    Unavailable(String),
}

const SHARED_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS reveal_counts (
    username TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL)";

// One statement, so concurrent replicas cannot both pass on a stale count:
// a window older than the period starts again with this reveal.
const SHARED_TAKE: &str = "INSERT INTO reveal_counts (username, window_start, count) VALUES ($1, $2, $3)
    ON CONFLICT (username) DO UPDATE SET
        count = CASE WHEN reveal_counts.window_start <= $2 - $4 THEN $3 ELSE reveal_counts.count + $3 END,
        window_start = CASE WHEN reveal_counts.window_start <= $2 - $4 THEN $2 ELSE reveal_counts.window_start END
    RETURNING window_start, count";

impl RevealLimit {
    /// `count` reveals per `period` per user, counted in this process;
    /// `None` when that is no limit.
    pub fn in_memory(count: u32, period: Duration) -> Option<Self> {
        let every = period / count.max(1);
        let quota = governor::Quota::with_period(every)?.allow_burst(NonZeroU32::new(count)?);
        Some(Self {
            count,
            period,
            counter: Counter::Memory(governor::RateLimiter::keyed(quota)),
        })
    }

    /// `count` reveals per `period` per user, counted in `db` for every
    /// replica that uses it.
    pub async fn shared(count: u32, period: Duration, db: Db) -> Result<Option<Self>, sqlx::Error> {
        if count == 0 || period.is_zero() {
            return Ok(None);
        }
        match &db {
            Db::Sqlite(p) => sqlx::query(SHARED_SCHEMA).execute(p).await.map(drop)?,
            Db::Postgres(p) => sqlx::query(SHARED_SCHEMA).execute(p).await.map(drop)?,
        }
        Ok(Some(Self {
            count,
            period,
            counter: Counter::Shared(db),
        }))
    }

    /// How many reveals per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Takes `keys` reveals from `user`'s allowance, or says why not.
    fn take_in_memory(
        limiter: &governor::DefaultKeyedRateLimiter<String>,
        user: &str,
        n: NonZeroU32,
        period: Duration,
    ) -> Result<(), OverLimit> {
        match limiter.check_key_n(&user.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(OverLimit::Wait(not_until.wait_time_from(
                governor::clock::Clock::now(&governor::clock::DefaultClock::default()),
            ))),
            // More keys than a whole period allows.
            Err(_) => Err(OverLimit::Wait(period)),
        }
    }

    pub async fn take(&self, user: &str, keys: u32) -> Result<(), OverLimit> {
        let n = NonZeroU32::new(keys.max(1)).expect("at least one");
        match &self.counter {
            Counter::Memory(limiter) => {
                // Users whose allowance is whole again are forgotten, so
                // the limiter holds only those who revealed within a period.
                if limiter.len() >= FORGET_FROM {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
                Self::take_in_memory(limiter, user, n, self.period)
            }
            Counter::Shared(db) => {
                let now = chrono::Utc::now().timestamp_millis();
                let period = self.period.as_millis() as i64;
                macro_rules! take {
                    ($pool:expr) => {
                        sqlx::query_as::<_, (i64, i64)>(SHARED_TAKE)
                            .bind(user)
                            .bind(now)
                            .bind(i64::from(n.get()))
                            .bind(period)
                            .fetch_one($pool)
                            .await
                    };
                }
                let (start, count) = match db {
                    Db::Sqlite(p) => take!(p),
                    Db::Postgres(p) => take!(p),
                }
                .map_err(|e| OverLimit::Unavailable(e.to_string()))?;
                if count <= i64::from(self.count) {
                    Ok(())
                } else {
                    let left = (start + period - now).max(1000);
                    Err(OverLimit::Wait(Duration::from_millis(left as u64)))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_key_counts_in_memory_too() {
        let limit = RevealLimit::in_memory(4, Duration::from_secs(3600)).unwrap();
        assert!(limit.take("bob", 1).await.is_ok());
        assert!(limit.take("bob", 1).await.is_ok());
        assert!(matches!(
            limit.take("bob", 3).await,
            Err(OverLimit::Wait(_))
        ));
        assert!(
            limit.take("bob", 2).await.is_ok(),
            "the refused take used nothing"
        );
        assert!(limit.take("bob", 1).await.is_err());
        assert!(limit.take("alice", 4).await.is_ok(), "per user");
        assert!(matches!(
            limit.take("carol", 5).await,
            Err(OverLimit::Wait(_))
        ));
    }

    fn users_held(limit: &RevealLimit) -> usize {
        match &limit.counter {
            Counter::Memory(l) => l.len(),
            Counter::Shared(_) => unreachable!("in memory"),
        }
    }

    #[tokio::test]
    async fn users_whose_allowance_is_whole_are_forgotten() {
        let limit = RevealLimit::in_memory(2, Duration::from_millis(50)).unwrap();
        for i in 0..FORGET_FROM + 100 {
            limit.take(&format!("user-{i}"), 1).await.unwrap();
        }
        assert_eq!(users_held(&limit), FORGET_FROM + 100);
        tokio::time::sleep(Duration::from_millis(120)).await;
        limit.take("late", 1).await.unwrap();
        assert_eq!(users_held(&limit), 1, "only the user of the last reveal");
    }

    #[tokio::test]
    async fn a_limited_user_is_not_forgotten() {
        let limit = RevealLimit::in_memory(1, Duration::from_secs(3600)).unwrap();
        limit.take("bob", 1).await.unwrap();
        for i in 0..FORGET_FROM + 10 {
            limit.take(&format!("user-{i}"), 1).await.unwrap();
        }
        assert!(
            matches!(limit.take("bob", 1).await, Err(OverLimit::Wait(_))),
            "bob's used allowance survives the clean-up"
        );
    }
}
