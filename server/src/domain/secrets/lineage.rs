//! What changed when, per key (issue 17, item 4), from the audit trail's
//! keyed fingerprints alone: Strongroom never stores a value, but each
//! create and change records the fingerprints of the values it leaves (and
//! a change those it found), and each reveal, comparison and inspection
//! those it saw. Walking a secret's records in order then tells, for each
//! key, when its value last changed and by whom, and where a value differs
//! from the last one recorded with no change through Strongroom to explain
//! it: a change made outside Strongroom, noticed at that record.

use std::collections::BTreeMap;

use strongroom_app::api::history::{KeyChange, KeyChangeKind, KeyHistory, KeyState};

use super::{SecretsError, age::RotationPolicy, check_path};
use crate::{
    domain::{
        KubeFailure,
        audit::{
            Action, AuditRecord, AuditStore, Fingerprint, Fingerprinter, MAX_FINGERPRINTS, SCOPED,
        },
    },
    infra::cluster::UserKube,
};

/// How many of a secret's newest records a history reads.
pub const MAX_RECORDS: i64 = 5000;
/// How many changes an answer lists (newest first).
pub const MAX_CHANGES: usize = 500;

/// A key's value as the trail knows it.
#[derive(Clone, Debug, Default)]
struct Known {
    /// Its fingerprint, when a record holds one.
    fingerprint: Option<String>,
    /// The last change of its value.
    last_change: Option<KeyChange>,
}

/// The walk over one secret's records.
#[derive(Default)]
struct Walk<'a> {
    viewer: &'a str,
    keys: BTreeMap<String, Known>,
    /// Whether `keys` is the secret's whole key set (after a create, a
    /// change or an inspection; not after reveals alone).
    whole: bool,
    /// Each change with the number of the record it comes from.
    changes: Vec<(usize, KeyChange)>,
    /// The number of the record being walked.
    at: usize,
    /// The viewer's last reveal of each key: fingerprint and time.
    revealed: BTreeMap<String, (String, String)>,
    /// The last change of any value (removals included).
    last_value_change: Option<String>,
}

/// Whether two fingerprints can be compared: both of the same scheme
/// (scoped, or of older records).
fn comparable(a: &str, b: &str) -> bool {
    a.starts_with(SCOPED) == b.starts_with(SCOPED)
}

/// Whether a record's fingerprints stop at the cap: the secret may have
/// more keys than they name.
fn capped(fingerprints: &[Fingerprint]) -> bool {
    fingerprints.len() >= MAX_FINGERPRINTS
}

fn as_map(fingerprints: &[Fingerprint]) -> BTreeMap<String, String> {
    fingerprints
        .iter()
        .map(|f| (f.key.clone(), f.hmac.clone()))
        .collect()
}

impl<'a> Walk<'a> {
    fn new(viewer: &'a str) -> Self {
        Self {
            viewer,
            ..Default::default()
        }
    }

    fn change(&mut self, r: &AuditRecord, key: &str, kind: KeyChangeKind) -> KeyChange {
        let outside = kind.outside();
        let change = KeyChange {
            key: key.to_string(),
            change: kind,
            user: (!outside).then(|| r.event.user.clone()),
            time: r.event.time.clone(),
            noticed_at: outside.then(|| format!("{} by {}", r.event.action.as_str(), r.event.user)),
            audit_id: r.event.id.clone(),
        };
        self.changes.push((self.at, change.clone()));
        self.last_value_change = Some(r.event.time.clone());
        change
    }

    /// Compares values seen by `r` with the known ones: a difference no
    /// record explains was made outside Strongroom. `whole` says that `seen`
    /// is every key the secret has.
    fn observe(&mut self, r: &AuditRecord, seen: &BTreeMap<String, String>, whole: bool) {
        for (key, fingerprint) in seen {
            match self.keys.get(key).map(|k| k.fingerprint.clone()) {
                Some(Some(known)) if comparable(&known, fingerprint) && &known != fingerprint => {
                    let change = self.change(r, key, KeyChangeKind::ChangedOutside);
                    self.keys.insert(
                        key.clone(),
                        Known {
                            fingerprint: Some(fingerprint.clone()),
                            last_change: Some(change),
                        },
                    );
                }
                Some(_) => {
                    if let Some(k) = self.keys.get_mut(key) {
                        k.fingerprint = Some(fingerprint.clone());
                    }
                }
                None if self.whole => {
                    let change = self.change(r, key, KeyChangeKind::AddedOutside);
                    self.keys.insert(
                        key.clone(),
                        Known {
                            fingerprint: Some(fingerprint.clone()),
                            last_change: Some(change),
                        },
                    );
                }
                None => {
                    self.keys.insert(
                        key.clone(),
                        Known {
                            fingerprint: Some(fingerprint.clone()),
                            last_change: None,
                        },
                    );
                }
            }
        }
        if whole {
            if self.whole {
                let gone: Vec<String> = self
                    .keys
                    .keys()
                    .filter(|k| !seen.contains_key(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    self.change(r, &key, KeyChangeKind::RemovedOutside);
                    self.keys.remove(&key);
                }
            }
            self.whole = true;
        }
    }

    fn record(&mut self, r: &AuditRecord) {
        let e = &r.event;
        match e.action {
            Action::Create => {
                self.keys.clear();
                let after = as_map(&e.fingerprints);
                // Older creates have no fingerprints: their keys were added,
                // values unknown.
                let added: Vec<(String, Option<String>)> = if after.is_empty() {
                    e.keys.iter().map(|k| (k.clone(), None)).collect()
                } else {
                    after.into_iter().map(|(k, f)| (k, Some(f))).collect()
                };
                for (key, fingerprint) in added {
                    let change = self.change(r, &key, KeyChangeKind::Added);
                    self.keys.insert(
                        key,
                        Known {
                            fingerprint,
                            last_change: Some(change),
                        },
                    );
                }
                self.whole = !e.fingerprints.is_empty() && !capped(&e.fingerprints);
            }
            Action::Update if e.fingerprints.is_empty() && e.before.is_empty() => {
                // An older change record: which keys were set or removed,
                // not how.
                for key in &e.keys {
                    let change = self.change(r, key, KeyChangeKind::Changed);
                    let known = self.keys.entry(key.clone()).or_default();
                    known.fingerprint = None;
                    known.last_change = Some(change);
                }
                self.whole = false;
            }
            Action::Update => {
                let before = as_map(&e.before);
                let after = as_map(&e.fingerprints);
                let is_capped = capped(&e.before) || capped(&e.fingerprints);
                self.observe(r, &before, !is_capped);
                // With a capped side, keys past the smaller last key named
                // may have only moved out of (or into) the cap's window.
                let bound = is_capped
                    .then(|| before.keys().last().min(after.keys().last()).cloned())
                    .flatten();
                let keys: std::collections::BTreeSet<&String> = before
                    .keys()
                    .chain(after.keys())
                    .filter(|k| bound.as_ref().is_none_or(|b| *k <= b))
                    .collect();
                for key in keys {
                    let kind = match (before.get(key), after.get(key)) {
                        (None, Some(_)) => KeyChangeKind::Added,
                        (Some(_), None) => KeyChangeKind::Removed,
                        (Some(b), Some(a)) if a != b && comparable(a, b) => KeyChangeKind::Changed,
                        _ => continue,
                    };
                    let change = self.change(r, key, kind);
                    if kind == KeyChangeKind::Removed {
                        self.keys.remove(key);
                    } else {
                        self.keys.insert(
                            key.clone(),
                            Known {
                                fingerprint: after.get(key).cloned(),
                                last_change: Some(change),
                            },
                        );
                    }
                }
                self.whole = !is_capped;
            }
            Action::Delete => {
                let keys: Vec<String> = self.keys.keys().cloned().collect();
                for key in keys {
                    self.change(r, &key, KeyChangeKind::Removed);
                }
                self.keys.clear();
                self.whole = false;
            }
            Action::Reveal | Action::Compare => {
                let seen = as_map(&e.fingerprints);
                self.observe(r, &seen, false);
                if e.action == Action::Reveal && e.user == self.viewer {
                    for (key, fingerprint) in seen {
                        self.revealed.insert(key, (fingerprint, e.time.clone()));
                    }
                }
            }
            Action::Inspect => {
                let seen = as_map(&e.fingerprints);
                self.observe(r, &seen, !seen.is_empty() && !capped(&e.fingerprints));
            }
            _ => {}
        }
    }
}

/// The history of a secret's keys from its `records` (oldest first), as
/// `viewer` sees it; `now` holds the fingerprints of the values the secret
/// holds now (its keys are the current keys).
pub fn history(
    records: &[AuditRecord],
    viewer: &str,
    now: &BTreeMap<String, Option<String>>,
    complete: bool,
) -> (KeyHistory, Option<String>) {
    let mut walk = Walk::new(viewer);
    for (at, r) in records.iter().enumerate() {
        walk.at = at;
        walk.record(r);
    }
    let keys = now
        .iter()
        .map(|(key, current)| {
            let known = walk.keys.get(key);
            // A key past the cap has no fingerprint now: nothing is said
            // about its value.
            let changed_outside_now = match (current, known.and_then(|k| k.fingerprint.as_ref())) {
                (Some(now), Some(f)) => comparable(f, now) && f != now,
                // A key the trail does not hold, although it knows the whole
                // key set: it appeared outside Strongroom.
                (Some(_), None) => walk.whole && known.is_none(),
                (None, _) => false,
            };
            let yours = walk.revealed.get(key);
            KeyState {
                key: key.clone(),
                last_change: known.and_then(|k| k.last_change.clone()),
                changed_outside_now,
                unchanged_since_your_reveal: yours.and_then(|(f, _)| {
                    current
                        .as_ref()
                        .filter(|now| comparable(f, now))
                        .map(|now| f == now)
                }),
                your_last_reveal: yours.map(|(_, t)| t.clone()),
            }
        })
        .collect();
    // Newest record first; a record's changes in the order found (what
    // changed outside Strongroom before what the record itself changed).
    let mut changes = walk.changes;
    changes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let changes: Vec<KeyChange> = changes
        .into_iter()
        .take(MAX_CHANGES)
        .map(|(_, c)| c)
        .collect();
    (
        KeyHistory {
            keys,
            changes,
            complete,
            age: Default::default(),
        },
        walk.last_value_change,
    )
}

/// `ns/name`'s key history for the handle's user, who must be allowed to
/// get the secret: it is read (as the user) to fingerprint its current
/// values in memory, which are compared with the trail and dropped.
pub async fn key_history(
    kube: &UserKube,
    store: &AuditStore,
    policy: &RotationPolicy,
    ns: &str,
    name: &str,
) -> Result<KeyHistory, SecretsError> {
    check_path(ns, Some(name))?;
    let user = kube.user().username.clone();
    let secret = kube
        .secrets(ns)
        .get(name)
        .await
        .map_err(|e| KubeFailure::new(e, &user, "get", format!("secret {name}"), Some(ns)))?;
    let now = fingerprints_now(store.fingerprinter(), ns, name, &secret);
    let (mut records, cut) = store
        .lineage(ns, name, MAX_RECORDS)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    let complete = !cut;
    records.reverse();
    let (mut history, last_change) = history(&records, &user, &now, complete);
    let meta = &secret.metadata;
    let created = meta.creation_timestamp.as_ref().map(|t| t.0.to_string());
    let annotations = meta.annotations.clone().unwrap_or_default();
    history.age = super::age::age(
        policy.period(ns, &annotations),
        created.as_deref(),
        last_change.as_deref(),
        chrono::Utc::now(),
    );
    crate::infra::metrics::rotation_seen(ns, &[(name, history.age.overdue)]);
    Ok(history)
}

/// The fingerprints of a secret's current values, by key, as records hold
/// them (scoped, the first [`MAX_FINGERPRINTS`] keys in order); the rest
/// of its keys map to `None`.
fn fingerprints_now(
    fingerprinter: &Fingerprinter,
    ns: &str,
    name: &str,
    secret: &k8s_openapi::api::core::v1::Secret,
) -> BTreeMap<String, Option<String>> {
    secret
        .data
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, (k, v))| {
            let f = (i < MAX_FINGERPRINTS).then(|| fingerprinter.scoped(ns, name, k, &v.0));
            (k.clone(), f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{AuditEvent, Outcome};

    fn record(seq: i64, user: &str, action: Action, keys: &[&str]) -> AuditRecord {
        AuditRecord {
            seq,
            event: AuditEvent {
                id: format!("id-{seq}"),
                time: format!("2026-11-{:02}T10:00:00Z", seq),
                request_id: None,
                user: user.into(),
                groups: vec![],
                source_ip: None,
                user_agent: None,
                action,
                cluster: "local".into(),
                namespace: "team-a".into(),
                secret: "db".into(),
                keys: keys.iter().map(|k| k.to_string()).collect(),
                outcome: Outcome::Allowed,
                status: Some(200),
                fingerprints: vec![],
                before: vec![],
                reason: None,
            },
            prev_hash: String::new(),
            hash: String::new(),
            stored: String::new(),
        }
    }

    fn fps(pairs: &[(&str, &str)]) -> Vec<Fingerprint> {
        pairs
            .iter()
            .map(|(k, v)| Fingerprint {
                key: k.to_string(),
                hmac: v.to_string(),
            })
            .collect()
    }

    fn now(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    fn kinds(h: &KeyHistory) -> Vec<(String, KeyChangeKind, Option<String>)> {
        h.changes
            .iter()
            .map(|c| (c.key.clone(), c.change, c.user.clone()))
            .collect()
    }

    #[test]
    fn a_rotation_through_strongroom_is_a_change_by_its_author() {
        let mut create = record(1, "alice", Action::Create, &["password", "user"]);
        create.event.fingerprints = fps(&[("password", "p1"), ("user", "u1")]);
        let mut rotate = record(2, "bob", Action::Update, &["password"]);
        rotate.event.before = fps(&[("password", "p1"), ("user", "u1")]);
        rotate.event.fingerprints = fps(&[("password", "p2"), ("user", "u1")]);
        let (h, last) = history(
            &[create, rotate],
            "alice",
            &now(&[("password", "p2"), ("user", "u1")]),
            true,
        );
        assert_eq!(
            kinds(&h),
            vec![
                (
                    "password".into(),
                    KeyChangeKind::Changed,
                    Some("bob".into())
                ),
                (
                    "password".into(),
                    KeyChangeKind::Added,
                    Some("alice".into())
                ),
                ("user".into(), KeyChangeKind::Added, Some("alice".into())),
            ]
        );
        assert_eq!(last.as_deref(), Some("2026-11-02T10:00:00Z"));
        let password = &h.keys[0];
        assert_eq!(
            password.last_change.as_ref().unwrap().user.as_deref(),
            Some("bob")
        );
        assert!(!password.changed_outside_now);
        let user = &h.keys[1];
        assert_eq!(
            user.last_change.as_ref().unwrap().change,
            KeyChangeKind::Added
        );
    }

    #[test]
    fn a_value_changed_with_kubectl_is_noticed_at_the_next_reveal() {
        let mut create = record(1, "alice", Action::Create, &["password"]);
        create.event.fingerprints = fps(&[("password", "p1")]);
        let mut reveal = record(2, "carol", Action::Reveal, &["password"]);
        reveal.event.fingerprints = fps(&[("password", "p9")]);
        let (h, _) = history(
            &[create, reveal],
            "alice",
            &now(&[("password", "p9")]),
            true,
        );
        let c = &h.changes[0];
        assert_eq!(c.change, KeyChangeKind::ChangedOutside);
        assert_eq!(c.user, None);
        assert_eq!(c.noticed_at.as_deref(), Some("reveal by carol"));
        assert!(
            !h.keys[0].changed_outside_now,
            "already noticed and recorded"
        );
    }

    #[test]
    fn a_value_changed_since_the_last_record_shows_now() {
        let mut create = record(1, "alice", Action::Create, &["password"]);
        create.event.fingerprints = fps(&[("password", "p1")]);
        let (h, _) = history(
            &[create],
            "alice",
            &now(&[("password", "p2"), ("extra", "e")]),
            true,
        );
        assert!(h.keys.iter().all(|k| k.changed_outside_now), "{h:?}");
    }

    #[test]
    fn unchanged_since_your_reveal_compares_with_your_own_last_reveal_only() {
        let mut create = record(1, "alice", Action::Create, &["password"]);
        create.event.fingerprints = fps(&[("password", "p1")]);
        let mut mine = record(2, "alice", Action::Reveal, &["password"]);
        mine.event.fingerprints = fps(&[("password", "p1")]);
        let records = [create, mine];
        let (same, _) = history(&records, "alice", &now(&[("password", "p1")]), true);
        assert_eq!(same.keys[0].unchanged_since_your_reveal, Some(true));
        assert_eq!(
            same.keys[0].your_last_reveal.as_deref(),
            Some("2026-11-02T10:00:00Z")
        );
        let (changed, _) = history(&records, "alice", &now(&[("password", "p2")]), true);
        assert_eq!(changed.keys[0].unchanged_since_your_reveal, Some(false));
        let (other, _) = history(&records, "bob", &now(&[("password", "p1")]), true);
        assert_eq!(other.keys[0].unchanged_since_your_reveal, None);
    }

    #[test]
    fn a_change_notices_what_changed_outside_before_it() {
        let mut create = record(1, "alice", Action::Create, &["a", "b"]);
        create.event.fingerprints = fps(&[("a", "a1"), ("b", "b1")]);
        // Meanwhile, with kubectl: a changed, b removed, c added. Then
        // alice removes a through Strongroom.
        let mut update = record(2, "alice", Action::Update, &["a"]);
        update.event.before = fps(&[("a", "a2"), ("c", "c1")]);
        update.event.fingerprints = fps(&[("c", "c1")]);
        let (h, _) = history(&[create, update], "alice", &now(&[("c", "c1")]), true);
        let mut got = kinds(&h);
        got.truncate(4);
        assert_eq!(
            got,
            vec![
                ("a".into(), KeyChangeKind::ChangedOutside, None),
                ("c".into(), KeyChangeKind::AddedOutside, None),
                ("b".into(), KeyChangeKind::RemovedOutside, None),
                ("a".into(), KeyChangeKind::Removed, Some("alice".into())),
            ]
        );
        assert!(!h.keys[0].changed_outside_now);
    }

    #[test]
    fn a_metadata_only_change_changes_no_value() {
        let mut create = record(1, "alice", Action::Create, &["a"]);
        create.event.fingerprints = fps(&[("a", "a1")]);
        let mut labels = record(2, "bob", Action::Update, &[]);
        labels.event.before = fps(&[("a", "a1")]);
        labels.event.fingerprints = fps(&[("a", "a1")]);
        assert!(!labels.event.changes_values());
        let (h, last) = history(&[create, labels], "alice", &now(&[("a", "a1")]), true);
        assert_eq!(h.changes.len(), 1);
        assert_eq!(last.as_deref(), Some("2026-11-01T10:00:00Z"));
    }

    #[test]
    fn older_records_without_fingerprints_still_say_who_changed_which_key() {
        let create = record(1, "alice", Action::Create, &["a"]);
        let update = record(2, "bob", Action::Update, &["a"]);
        let (h, _) = history(&[create, update], "alice", &now(&[("a", "x")]), true);
        assert_eq!(
            h.keys[0].last_change.as_ref().unwrap().user.as_deref(),
            Some("bob")
        );
        assert!(!h.keys[0].changed_outside_now, "unknown is not a change");
    }

    #[test]
    fn older_unscoped_fingerprints_are_never_taken_for_a_change() {
        let mut create = record(1, "alice", Action::Create, &["a"]);
        create.event.fingerprints = fps(&[("a", "0123")]);
        let mut reveal = record(2, "bob", Action::Reveal, &["a"]);
        reveal.event.fingerprints = fps(&[("a", "s1:abcd")]);
        let (h, _) = history(&[create, reveal], "alice", &now(&[("a", "s1:abcd")]), true);
        assert_eq!(h.changes.len(), 1, "{h:?}");
        assert!(!h.keys[0].changed_outside_now);
    }

    #[test]
    fn a_secret_with_more_keys_than_the_cap_has_no_false_changes() {
        let names: Vec<String> = (0..=MAX_FINGERPRINTS).map(|i| format!("k{i:04}")).collect();
        let capped_fps = |names: &[String]| -> Vec<Fingerprint> {
            names
                .iter()
                .take(MAX_FINGERPRINTS)
                .map(|k| Fingerprint {
                    key: k.clone(),
                    hmac: format!("v-{k}"),
                })
                .collect()
        };
        let mut create = record(1, "alice", Action::Create, &[]);
        create.event.fingerprints = capped_fps(&names);
        // A key that sorts first pushes the last named key out of the cap.
        let mut with_a = names.clone();
        with_a.insert(0, "a0".into());
        let mut update = record(2, "alice", Action::Update, &["a0"]);
        update.event.before = capped_fps(&names);
        update.event.fingerprints = capped_fps(&with_a);
        let mut current: BTreeMap<String, Option<String>> = with_a
            .iter()
            .take(MAX_FINGERPRINTS)
            .map(|k| (k.clone(), Some(format!("v-{k}"))))
            .collect();
        for k in with_a.iter().skip(MAX_FINGERPRINTS) {
            current.insert(k.clone(), None);
        }
        let (h, _) = history(&[create, update], "alice", &current, true);
        let removed: Vec<_> = h
            .changes
            .iter()
            .filter(|c| c.change != KeyChangeKind::Added)
            .collect();
        assert!(removed.is_empty(), "{removed:?}");
        assert!(h.keys.iter().all(|k| !k.changed_outside_now));
    }

    #[test]
    fn a_delete_and_a_new_create_start_over() {
        let mut create = record(1, "alice", Action::Create, &["a"]);
        create.event.fingerprints = fps(&[("a", "a1")]);
        let delete = record(2, "alice", Action::Delete, &[]);
        let mut again = record(3, "bob", Action::Create, &["a"]);
        again.event.fingerprints = fps(&[("a", "a2")]);
        let (h, _) = history(
            &[create, delete, again],
            "alice",
            &now(&[("a", "a2")]),
            true,
        );
        assert_eq!(
            kinds(&h),
            vec![
                ("a".into(), KeyChangeKind::Added, Some("bob".into())),
                ("a".into(), KeyChangeKind::Removed, Some("alice".into())),
                ("a".into(), KeyChangeKind::Added, Some("alice".into())),
            ]
        );
        assert!(!h.keys[0].changed_outside_now);
    }
}
