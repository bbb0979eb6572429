//! Answers about a person's rights, remembered for a few seconds so that
//! paging and page views do not ask the API server again each time. They
//! only spare questions: every Kubernetes call is still made as the person,
//! so a stale answer can show or hide a link, never grant anything.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::infra::cluster::UserKube;

/// At most `capacity` answers, each used for `ttl`; when full, expired ones
/// are dropped and, if none has expired, a new answer is not kept.
pub struct Recent<V> {
    ttl: Duration,
    capacity: usize,
    answers: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Recent<V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Recent {
            ttl,
            capacity,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key`, if it is fresh.
    pub fn get(&self, key: &str) -> Option<V> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Remembers `value` for `key`.
    pub fn put(&self, key: String, value: V) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        if answers.len() >= self.capacity {
            let ttl = self.ttl;
            answers.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        if answers.len() < self.capacity || answers.contains_key(&key) {
            answers.insert(key, (Instant::now(), value));
        }
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
    fn answers_expire_and_the_cache_stays_bounded() {
        let recent = Recent::new(Duration::from_millis(50), 2);
        recent.put("a".into(), 1);
        recent.put("b".into(), 2);
        recent.put("c".into(), 3);
        assert_eq!((recent.get("a"), recent.get("c")), (Some(1), None));
        recent.put("a".into(), 4);
        assert_eq!(recent.get("a"), Some(4), "a known key is refreshed");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(recent.get("a"), None);
        recent.put("c".into(), 3);
        assert_eq!(recent.get("c"), Some(3), "expired answers make room");
    }
}
