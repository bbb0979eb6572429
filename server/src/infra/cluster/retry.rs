//! When a read is tried again: the rule [`UserKube::call_raw`] follows when
//! the API server sheds load with 429 Too Many Requests.
//!
//! [`UserKube::call_raw`]: super::UserKube::call_raw

use std::time::Duration;

/// How reads answer an API server that is shedding load (429 Too Many
/// Requests, as API Priority and Fairness sends): wait as long as its
/// `Retry-After` says (or back off exponentially from 250 ms when it says
/// nothing) and try again, at most `attempts` more times, never waiting
/// longer than `max_wait` at once and never past the request timeout. When
/// the server asks for longer than `max_wait`, the person is told at once
/// rather than kept waiting. Writes are never retried: whether a refused
/// write took effect is for the person to decide, with the current state in
/// front of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRetry {
    /// Retries after the first attempt (0 turns retrying off).
    pub attempts: u32,
    /// The longest single wait.
    pub max_wait: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        Self {
            attempts: 3,
            max_wait: Duration::from_secs(2),
        }
    }
}

impl ReadRetry {
    /// How long to wait before retry number `retry` (0-based) after a 429
    /// that asked for `retry_after` seconds, or `None` to give up.
    pub(super) fn wait(
        &self,
        retry: u32,
        retry_after: Option<u64>,
        left: Duration,
    ) -> Option<Duration> {
        if retry >= self.attempts {
            return None;
        }
        let wait = match retry_after {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_millis(250)
                .saturating_mul(2u32.saturating_pow(retry))
                .min(self.max_wait),
        };
        (wait <= self.max_wait && wait < left).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_retries_honour_retry_after_within_the_cap_and_the_time_left() {
        let rule = ReadRetry {
            attempts: 3,
            max_wait: Duration::from_secs(2),
        };
        let plenty = Duration::from_secs(10);
        assert_eq!(rule.wait(0, Some(1), plenty), Some(Duration::from_secs(1)));
        assert_eq!(rule.wait(0, Some(0), plenty), Some(Duration::ZERO));
        // Longer than the cap: tell the person instead of holding them.
        assert_eq!(rule.wait(0, Some(3600), plenty), None);
        // Past the request's own timeout: give up.
        assert_eq!(rule.wait(0, Some(2), Duration::from_secs(1)), None);
        // No Retry-After: exponential backoff, capped.
        assert_eq!(rule.wait(0, None, plenty), Some(Duration::from_millis(250)));
        assert_eq!(rule.wait(1, None, plenty), Some(Duration::from_millis(500)));
        assert_eq!(rule.wait(2, None, plenty), Some(Duration::from_secs(1)));
        // Out of attempts.
        assert_eq!(rule.wait(3, Some(1), plenty), None);
        let off = ReadRetry {
            attempts: 0,
            ..rule
        };
        assert_eq!(off.wait(0, Some(1), plenty), None);
        let short = ReadRetry {
            attempts: 10,
            max_wait: Duration::from_millis(300),
        };
        assert_eq!(
            short.wait(5, None, plenty),
            Some(Duration::from_millis(300))
        );
    }
}
