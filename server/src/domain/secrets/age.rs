//! The age of a secret's values and its rotation policy (issue 17, item 5):
//! since when the values are as they are (the last change known to
//! Strongroom, otherwise the secret's creation), and whether that is longer
//! than the secret's `strongroom.dev/rotate-every` annotation or its
//! namespace's configured policy allows.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use strongroom_app::api::history::RotationAge;

/// The annotation that sets a secret's rotation period (`90d`, `12h`).
pub const ROTATE_EVERY_ANNOTATION: &str = "strongroom.dev/rotate-every";

/// Rotation periods per namespace (`STRONGROOM_ROTATE_EVERY`), which a
/// secret's own annotation overrides.
#[derive(Clone, Debug, Default)]
pub struct RotationPolicy {
    namespaces: BTreeMap<String, (Duration, String)>,
}

impl RotationPolicy {
    /// Reads `namespace=period` entries (`team-a=90d`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut namespaces = BTreeMap::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (ns, period) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not namespace=period (team-a=90d)"))?;
            let parsed = parse_period(period.trim())
                .map_err(|e| format!("the rotation period of namespace {ns}: {e}"))?;
            namespaces.insert(ns.trim().to_string(), (parsed, period.trim().to_string()));
        }
        Ok(Self { namespaces })
    }

    /// The period that applies to a secret of `ns` with `annotations`: its
    /// own annotation when it is valid, otherwise the namespace's.
    pub fn period(
        &self,
        ns: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Option<(Duration, String)> {
        annotations
            .get(ROTATE_EVERY_ANNOTATION)
            .and_then(|p| {
                parse_period(p.trim())
                    .ok()
                    .map(|d| (d, p.trim().to_string()))
            })
            .or_else(|| self.namespaces.get(ns).cloned())
    }
}

/// A period such as `90d` or `12h` (humantime), longer than zero.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a rotation period must be longer than zero".into()),
        Err(e) => Err(format!("{text:?} is not a period such as 90d or 12h: {e}")),
    }
}

/// The age of values last changed at `changed` (known to Strongroom) or,
/// failing that, created at `created`, under `period`, at `now`.
pub fn age(
    period: Option<(Duration, String)>,
    created: Option<&str>,
    changed: Option<&str>,
    now: DateTime<Utc>,
) -> RotationAge {
    let (values_since, from_change) = match changed {
        Some(c) => (Some(c.to_string()), true),
        None => (created.map(str::to_string), false),
    };
    let since = values_since
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let overdue = match (&period, since) {
        (Some((period, _)), Some(since)) => chrono::Duration::from_std(*period)
            .map(|p| now - since > p)
            .unwrap_or(false),
        _ => false,
    };
    RotationAge {
        values_since,
        from_change,
        rotate_every: period.map(|(_, text)| text),
        overdue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_annotation_wins_over_the_namespace_policy() {
        let policy =
            RotationPolicy::parse(&["team-a=90d".into(), " team-b = 30d ".into()]).unwrap();
        let none = BTreeMap::new();
        assert_eq!(policy.period("team-a", &none).unwrap().1, "90d");
        assert_eq!(policy.period("team-b", &none).unwrap().1, "30d");
        assert!(policy.period("team-c", &none).is_none());
        let own = BTreeMap::from([(ROTATE_EVERY_ANNOTATION.to_string(), "7d".to_string())]);
        assert_eq!(policy.period("team-a", &own).unwrap().1, "7d");
        // An invalid annotation falls back to the namespace's policy.
        let bad = BTreeMap::from([(ROTATE_EVERY_ANNOTATION.to_string(), "soon".to_string())]);
        assert_eq!(policy.period("team-a", &bad).unwrap().1, "90d");
    }

    #[test]
    fn bad_policies_are_refused_with_the_namespace_named() {
        assert!(RotationPolicy::parse(&["team-a".into()]).is_err());
        let e = RotationPolicy::parse(&["team-a=0s".into()]).unwrap_err();
        assert!(e.contains("team-a"), "{e}");
        assert!(RotationPolicy::parse(&["team-a=often".into()]).is_err());
    }

    #[test]
    fn values_are_overdue_only_past_the_period_from_their_last_change() {
        let now = at("2026-11-30T12:00:00Z");
        let period = || Some((Duration::from_secs(90 * 86400), "90d".to_string()));
        let created = Some("2026-01-01T00:00:00Z");
        let old = age(period(), created, None, now);
        assert!(old.overdue && !old.from_change);
        assert_eq!(old.values_since.as_deref(), created);
        let rotated = age(period(), created, Some("2026-11-01T00:00:00Z"), now);
        assert!(!rotated.overdue && rotated.from_change);
        assert!(!age(None, created, None, now).overdue);
        assert!(!age(period(), None, None, now).overdue);
    }
}

/// What the list needs to show ages: the trail (for the last changes), the
/// policy, and recent answers to "may this user get secrets here?".
#[derive(Clone, Copy)]
pub struct Ages<'a> {
    pub store: &'a crate::domain::audit::AuditStore,
    pub policy: &'a RotationPolicy,
    pub may_get: &'a MayGetCache,
}

/// Recent answers of the access review the list's ages need, per user,
/// groups and namespace, for [`MayGetCache::TTL`]: paging through a list
/// asks once, not once a page. Bounded.
pub struct MayGetCache {
    answers: crate::domain::recent::Recent<bool>,
}

impl Default for MayGetCache {
    fn default() -> Self {
        MayGetCache {
            answers: crate::domain::recent::Recent::new(Self::TTL, Self::CAPACITY),
        }
    }
}

impl MayGetCache {
    /// How long an answer is used.
    pub const TTL: Duration = Duration::from_secs(30);
    const CAPACITY: usize = 10_000;

    async fn may_get(&self, kube: &crate::infra::cluster::UserKube, ns: &str) -> bool {
        let key = crate::domain::recent::Recent::<bool>::key(kube, ns);
        if let Some(answer) = self.answers.get(&key) {
            return answer;
        }
        let answer = match kube.can_i("get", "secrets", ns).await {
            Ok(allowed) => allowed,
            Err(error) => {
                tracing::warn!(%error, namespace = %ns, "cannot check access for the secrets' ages");
                return false;
            }
        };
        self.answers.put(key, answer);
        answer
    }
}

impl Ages<'_> {
    /// Fills in the age of each listed secret (with its annotations). The
    /// last changes come from one read of the trail, only for a user
    /// Kubernetes lets get secrets in `ns` (one access review): the trail
    /// tells when values changed, which someone who may only list must not
    /// learn. Otherwise, or when the trail cannot be read, ages count from
    /// creation (a list is never refused for it).
    pub async fn fill(
        &self,
        kube: &crate::infra::cluster::UserKube,
        ns: &str,
        items: &mut [(strongroom_app::api::SecretSummary, BTreeMap<String, String>)],
    ) {
        let names: Vec<String> = items.iter().map(|(s, _)| s.name.clone()).collect();
        let may_get = self.may_get.may_get(kube, ns).await;
        let changes = match may_get {
            false => Ok(Default::default()),
            true => self.store.last_value_changes(ns, &names).await,
        };
        let changes = match changes {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, namespace = %ns, "cannot read the last changes for the secrets' ages");
                Default::default()
            }
        };
        let now = Utc::now();
        for (summary, annotations) in items.iter_mut() {
            summary.age = age(
                self.policy.period(ns, annotations),
                summary.created.as_deref(),
                changes.get(&summary.name).map(String::as_str),
                now,
            );
        }
        // Ages from creation alone (for a user who may only list) would
        // miscount: the gauge follows only ages from the trail.
        if may_get {
            let seen: Vec<(&str, bool)> = items
                .iter()
                .map(|(s, _)| (s.name.as_str(), s.age.overdue))
                .collect();
            crate::infra::metrics::rotation_seen(ns, &seen);
        }
    }
}
