//! Answers about a person's rights, remembered for a few seconds so that
//! paging and page views do not ask the API server again each time. They
//! only spare questions: every Kubernetes call is still made as the person,
//! so a stale answer can show or hide a link, never grant anything.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use lru::LruCache;

use crate::infra::cluster::UserKube;

/// At most `capacity` answers, each used for `ttl`; when full, the answer
/// used least recently makes room (so many people, or one person with many
/// group sets, cost re-asking the API server, never memory).
pub struct Recent<V> {
    ttl: Duration,
    capacity: usize,
    /// Unbounded to the crate (its bounded form allocates for the whole
    /// capacity up front); [`Recent::put`] keeps it within `capacity`.
    answers: Mutex<LruCache<String, (Instant, V)>>,
}

impl<V: Clone> Recent<V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Recent {
            ttl,
            capacity: capacity.max(1),
            answers: Mutex::new(LruCache::unbounded()),
        }
    }

    /// The answer for `key`, if it is fresh (an expired one is dropped).
    pub fn get(&self, key: &str) -> Option<V> {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        match answers.get(key) {
            Some((at, v)) if at.elapsed() < self.ttl => Some(v.clone()),
            Some(_) => {
                answers.pop(key);
                None
            }
            None => None,
        }
    }

    /// Remembers `value` for `key`.
    pub fn put(&self, key: String, value: V) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if !answers.contains(&key) && answers.len() >= self.capacity {
            answers.pop_lru();
        }
        answers.put(key, (Instant::now(), value));
    }

    /// The key for the person `kube` acts as, and `what` about them: their
    /// username and groups (identity values hold no control characters, and
    /// `what` is a namespace or a fixed word, so newlines keep the parts
    /// apart).
    pub fn key(kube: &UserKube, what: &str) -> String {
        let user = kube.user();
        format!("{}\n{}\n{what}", user.username, user.groups.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_the_least_recently_used_makes_room() {
        let recent = Recent::new(Duration::from_millis(50), 2);
        recent.put("a".into(), 1);
        recent.put("b".into(), 2);
        assert_eq!(recent.get("a"), Some(1));
        recent.put("c".into(), 3);
        assert_eq!(
            (recent.get("a"), recent.get("b"), recent.get("c")),
            (Some(1), None, Some(3)),
            "b, used least recently, made room for c"
        );
        recent.put("a".into(), 4);
        assert_eq!(recent.get("a"), Some(4), "a known key is refreshed");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            (recent.get("a"), recent.get("c")),
            (None, None),
            "answers expire"
        );
    }
}
