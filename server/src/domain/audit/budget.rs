//! A bound on what refusals can write. Every reveal or change that happens
//! is recorded, always; but a person with no rights could otherwise fill the
//! audit store (and with it stop everyone, since a full store refuses all
//! reveals and changes) just by being refused over and over. So each user's
//! refusals are recorded one by one up to [`PER_MINUTE`] a minute; beyond
//! that they are counted, and the count goes into the user's next recorded
//! refusal. The bound is per replica.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Refusals recorded individually per user and minute.
pub const PER_MINUTE: u32 = 20;

/// Users tracked at once; the oldest windows go first beyond this.
const MAX_USERS: usize = 10_000;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    recorded: u32,
    /// Refusals not recorded individually since the last recorded one.
    unrecorded: u64,
}

/// Per-user refusal windows. Cheap to clone: clones share the windows.
#[derive(Clone, Default)]
pub struct RefusalBudget {
    windows: Arc<Mutex<HashMap<String, Window>>>,
}

/// What to do with one refusal.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Record it; `unrecorded` earlier refusals of this user were only
    /// counted (say so in the record).
    Record { unrecorded: u64 },
    /// Only count it.
    Count,
}

impl RefusalBudget {
    /// Decides for one refusal of `user` at `now`.
    pub fn refusal(&self, user: &str, now: Instant) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_USERS && !windows.contains_key(user) {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= MAX_USERS
                && let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone())
            {
                windows.remove(&oldest);
            }
        }
        let w = windows.entry(user.to_string()).or_insert(Window {
            started: now,
            recorded: 0,
            unrecorded: 0,
        });
        if now.duration_since(w.started) >= WINDOW {
            w.started = now;
            w.recorded = 0;
        }
        if w.recorded < PER_MINUTE {
            w.recorded += 1;
            let unrecorded = std::mem::take(&mut w.unrecorded);
            Decision::Record { unrecorded }
        } else {
            w.unrecorded += 1;
            Decision::Count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_beyond_the_budget_are_counted_into_the_next_record() {
        let budget = RefusalBudget::default();
        let t0 = Instant::now();
        for _ in 0..PER_MINUTE {
            assert_eq!(
                budget.refusal("eve", t0),
                Decision::Record { unrecorded: 0 }
            );
        }
        for _ in 0..5 {
            assert_eq!(budget.refusal("eve", t0), Decision::Count);
        }
        // Someone else has their own budget.
        assert_eq!(
            budget.refusal("bob", t0),
            Decision::Record { unrecorded: 0 }
        );
        // A minute later eve's next refusal is recorded with the count.
        let later = t0 + WINDOW;
        assert_eq!(
            budget.refusal("eve", later),
            Decision::Record { unrecorded: 5 }
        );
        assert_eq!(
            budget.refusal("eve", later),
            Decision::Record { unrecorded: 0 }
        );
    }

    #[test]
    fn the_number_of_users_tracked_is_bounded() {
        let budget = RefusalBudget::default();
        let t0 = Instant::now();
        for i in 0..MAX_USERS + 10 {
            budget.refusal(&format!("user-{i}"), t0);
        }
        assert!(budget.windows.lock().unwrap().len() <= MAX_USERS);
    }
}
