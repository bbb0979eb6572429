//! Guarded namespaces (invariant 8 in `docs/ARCHITECTURE.md`): rules a
//! namespace can add on top of RBAC before a value is disclosed. They only
//! ever refuse: every guarded disclosure still needs the user's own `get`.
//!
//! - `reason`: a written reason (as before).
//! - `step-up`: a sign-in within the last [`GuardPolicy::step_up_max_age`],
//!   proven by the ID token's `auth_time`.
//! - `approval`: an approved [`approval::Grant`] from a second person, in
//!   the database (so every replica sees it), checked against the database's
//!   clock (so replicas' clocks do not matter).
//! - `notify`: the announcement to the webhooks ([`notify::Notifier`]) must
//!   be delivered before the value goes out; without it the reveal is
//!   refused, like a reveal whose record cannot be written. Every guarded
//!   namespace is announced when webhooks are configured.

pub mod approval;
pub mod notify;
pub mod requests;

use std::time::Duration;

use strongroom_app::api::guards::NamespaceGuards;

use crate::domain::{
    audit::{AuditScope, Outcome, Receipt},
    auth::CurrentUser,
    secrets::SecretsError,
};

/// The guards one namespace has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guards {
    pub reason: bool,
    pub step_up: bool,
    pub approval: bool,
    pub notify: bool,
}

impl Guards {
    fn parse(list: &str) -> Result<Self, String> {
        let mut g = Guards::default();
        for word in list.split('+').map(str::trim) {
            match word {
                "none" => {}
                "reason" => g.reason = true,
                "step-up" => g.step_up = true,
                "approval" => g.approval = true,
                "notify" => g.notify = true,
                other => {
                    return Err(format!(
                        "unknown guard {other:?}: use reason, step-up, approval, notify or none, joined with +"
                    ));
                }
            }
        }
        Ok(g)
    }

    fn union(self, o: Guards) -> Guards {
        Guards {
            reason: self.reason || o.reason,
            step_up: self.step_up || o.step_up,
            approval: self.approval || o.approval,
            notify: self.notify || o.notify,
        }
    }

    /// Whether anything beyond the reason rule applies.
    pub fn beyond_reason(self) -> bool {
        self.step_up || self.approval || self.notify
    }
}

/// A namespace name, or a prefix ending in `*`.
#[derive(Clone, Debug)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn matches(&self, ns: &str) -> bool {
        match self {
            Pattern::Exact(n) => n == ns,
            Pattern::Prefix(p) => ns.starts_with(p.as_str()),
        }
    }
}

/// The configured guards and their settings (the settings' fields read
/// through it: `policy.step_up_max_age`).
#[derive(Clone, Debug)]
pub struct GuardPolicy {
    entries: Vec<(Pattern, Guards)>,
    settings: GuardSettings,
}

/// The settings of [`GuardPolicy::parse`] besides the per-namespace list.
#[derive(Clone, Debug)]
pub struct GuardSettings {
    /// How recent a sign-in a `step-up` namespace asks for.
    pub step_up_max_age: Duration,
    /// Members of these groups may approve (when they may read the secret).
    pub approver_groups: Vec<String>,
    /// How long an approval lasts when the request names no duration.
    pub window: Duration,
    /// The longest approval a request may ask for.
    pub max_window: Duration,
    /// How long a request waits for a decision.
    pub request_ttl: Duration,
    /// Whether webhooks are configured (guarded namespaces are announced).
    pub webhooks: bool,
}

impl std::ops::Deref for GuardPolicy {
    type Target = GuardSettings;
    fn deref(&self) -> &GuardSettings {
        &self.settings
    }
}

impl GuardPolicy {
    /// `entries` are `NAMESPACE=GUARD+GUARD` (a trailing `*` matches a
    /// prefix); `reason_namespaces` (the older setting) add `reason`.
    pub fn parse(
        entries: &[String],
        reason_namespaces: &[String],
        s: GuardSettings,
    ) -> Result<Self, String> {
        let mut out = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (ns, list) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not NAMESPACE=GUARD+GUARD"))?;
            let ns = ns.trim();
            let pattern = match ns.strip_suffix('*') {
                Some(prefix) => Pattern::Prefix(prefix.to_string()),
                None => Pattern::Exact(ns.to_string()),
            };
            let name = ns.strip_suffix('*').unwrap_or(ns);
            let well_formed = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            // `*` alone guards every namespace; a name may not be empty.
            if !well_formed || (name.is_empty() && ns != "*") {
                return Err(format!("{ns:?} is not a namespace name (or prefix*)"));
            }
            out.push((pattern, Guards::parse(list)?));
        }
        for ns in reason_namespaces.iter().filter(|n| !n.trim().is_empty()) {
            out.push((
                Pattern::Exact(ns.trim().to_string()),
                Guards {
                    reason: true,
                    ..Guards::default()
                },
            ));
        }
        if s.step_up_max_age.is_zero() {
            return Err("the step-up age must be more than zero".into());
        }
        if s.window.is_zero() || s.window > s.max_window {
            return Err(
                "the approval window must be more than zero and at most the maximum".into(),
            );
        }
        if s.request_ttl.is_zero() {
            return Err("the time a request waits must be more than zero".into());
        }
        let any_approval = out.iter().any(|(_, g)| g.approval);
        if any_approval && s.approver_groups.iter().all(|g| g.trim().is_empty()) {
            return Err(
                "a namespace asks for approval but no approver group is configured (STRONGROOM_APPROVER_GROUPS)".into(),
            );
        }
        if out.iter().any(|(_, g)| g.notify) && !s.webhooks {
            return Err(
                "a namespace requires notification but no webhook is configured (STRONGROOM_WEBHOOK_URLS)".into(),
            );
        }
        let mut settings = s;
        settings.approver_groups = settings
            .approver_groups
            .into_iter()
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect();
        Ok(Self {
            entries: out,
            settings,
        })
    }

    /// The guards of `ns`: every matching entry, combined.
    pub fn of(&self, ns: &str) -> Guards {
        self.entries
            .iter()
            .filter(|(p, _)| p.matches(ns))
            .fold(Guards::default(), |acc, (_, g)| acc.union(*g))
    }

    /// Whether `user` is in an approver group.
    pub fn is_approver(&self, user: &CurrentUser) -> bool {
        user.groups.iter().any(|g| self.approver_groups.contains(g))
    }

    /// What the pages show about `ns`.
    pub fn describe(&self, ns: &str) -> NamespaceGuards {
        let g = self.of(ns);
        NamespaceGuards {
            reason: g.reason,
            step_up_max_age_seconds: g.step_up.then_some(self.step_up_max_age.as_secs().max(1)),
            approval: g.approval,
            approver_groups: if g.approval {
                self.approver_groups.clone()
            } else {
                Vec::new()
            },
            notified: self.webhooks && (g.beyond_reason() || g.reason),
            notification_required: g.notify,
        }
    }

    /// Whether a guarded disclosure in `ns` is announced.
    pub fn announced(&self, ns: &str) -> bool {
        let g = self.of(ns);
        self.webhooks && (g.beyond_reason() || g.reason)
    }
}

/// Whether a sign-in at `auth_time` (Unix seconds) is recent enough for
/// `max_age` at `now`. A time more than a minute in the future (a clock far
/// off, or a forged value) is not.
pub fn fresh(auth_time: Option<i64>, max_age: Duration, now: i64) -> bool {
    let max = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    match auth_time {
        Some(at) => {
            at >= 0
                && at <= now.saturating_add(60)
                && now.checked_sub(at).is_some_and(|age| age <= max)
        }
        None => false,
    }
}

/// What a guarded disclosure needs besides the namespace's guards.
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    pub guards: Guards,
    pub policy: &'a GuardPolicy,
    pub approvals: &'a approval::Approvals,
    pub notifier: &'a notify::Notifier,
    /// When the user last signed in at the IdP, from the ID token.
    pub auth_time: Option<i64>,
}

/// What passed the guards: the approval that allows it (if one was needed)
/// and what must be announced. Its keys are checked with
/// [`Admission::cover`] once the secret's keys are known.
#[must_use = "an admission's grant must cover the keys disclosed"]
pub struct Admission<'a> {
    gate: Option<Gate<'a>>,
    /// The open approvals (when the namespace asks for approval).
    grants: Vec<approval::Grant>,
    /// The one that covers the disclosure, once [`Self::cover`] chose it.
    grant: Option<approval::Grant>,
}

impl<'a> Admission<'a> {
    /// An admission with no guard (an unguarded namespace).
    pub fn open() -> Self {
        Self {
            gate: None,
            grants: Vec::new(),
            grant: None,
        }
    }

    /// Checks the step-up and approval guards of a disclosure in the
    /// scope's namespace. A missing approval is recorded as denied.
    pub async fn check(
        gate: Option<Gate<'a>>,
        mut scope: AuditScope,
    ) -> Result<(AuditScope, Self), SecretsError> {
        let Some(gate) = gate else {
            return Ok((scope, Self::open()));
        };
        if gate.guards.step_up
            && !fresh(
                gate.auth_time,
                gate.policy.step_up_max_age,
                chrono::Utc::now().timestamp(),
            )
        {
            return Err(SecretsError::StepUpRequired {
                max_age: gate.policy.step_up_max_age,
            });
        }
        let mut grants = Vec::new();
        if gate.guards.approval {
            let found = gate
                .approvals
                .grants(scope.username(), scope.namespace(), scope.secret())
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "the approvals cannot be read");
                    SecretsError::Unavailable(
                        "The approvals cannot be read right now, so nothing was revealed. Please try again shortly.".into(),
                    )
                })?;
            match found {
                found if !found.is_empty() => grants = found,
                _ => {
                    let ns = scope.namespace().to_string();
                    scope.set_reason(Some("refused: no approved access request".into()));
                    scope
                        .record_refusal(Outcome::Denied, Some(403))
                        .await
                        .map_err(SecretsError::AuditUnavailable)?;
                    return Err(SecretsError::ApprovalRequired(format!(
                        "Namespace {ns} needs a second person's approval before a value is revealed. Ask for access: an approver (a member of {}) who may read this secret decides.",
                        gate.policy.approver_groups.join(", ")
                    )));
                }
            }
        }
        Ok((
            scope,
            Self {
                gate: Some(gate),
                grants,
                grant: None,
            },
        ))
    }

    /// Chooses the open approval that covers every key of the disclosure
    /// for this very secret (`secret_uid`: not one deleted and made again
    /// under its name since), and names it in the record; without one, the
    /// disclosure is refused and that is recorded.
    pub async fn cover(
        &mut self,
        mut scope: AuditScope,
        keys: &[String],
        secret_uid: Option<&str>,
    ) -> Result<AuditScope, SecretsError> {
        if !self.gate.is_some_and(|g| g.guards.approval) {
            return Ok(scope);
        }
        let same_secret =
            |g: &approval::Grant| g.secret_uid.is_none() || g.secret_uid.as_deref() == secret_uid;
        let chosen = self
            .grants
            .iter()
            .find(|g| same_secret(g) && keys.iter().all(|k| g.keys.contains(k)))
            .cloned();
        let Some(grant) = chosen else {
            let (message, why) = if !self.grants.iter().any(same_secret) {
                (
                    "The secret was deleted and made again since access was approved; ask for access again.".to_string(),
                    "refused: the approved secret was replaced".to_string(),
                )
            } else {
                let missing = keys
                    .iter()
                    .find(|k| !self.grants.iter().any(|g| g.keys.contains(k)))
                    .or(keys.first())
                    .cloned()
                    .unwrap_or_default();
                (
                    format!(
                        "No approval covers the key {missing:?} (with the other keys asked for); ask for access to it."
                    ),
                    format!("refused: no approved request covers key {missing:?}"),
                )
            };
            scope.set_reason(Some(why));
            scope
                .record_refusal(Outcome::Denied, Some(403))
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            return Err(SecretsError::ApprovalRequired(message));
        };
        let note = format!(
            "approved by {} (request {}, until {})",
            grant.approver,
            grant.request,
            approval::rfc3339(grant.until)
        );
        let reason = match scope.reason() {
            Some(r) => format!("{r}; {note}"),
            None => note,
        };
        scope.set_reason(Some(reason));
        self.grant = Some(grant);
        Ok(scope)
    }

    /// In a `notify` namespace: delivers the announcement before the value
    /// goes out; when it cannot be delivered, the disclosure is refused
    /// and that is recorded.
    pub async fn announce_first(
        &self,
        mut scope: AuditScope,
        what: &str,
    ) -> Result<AuditScope, SecretsError> {
        let Some(gate) = self.gate.filter(|g| g.guards.notify) else {
            return Ok(scope);
        };
        let event = notify::Event::disclosure(&scope, what, self.grant.as_ref());
        if let Err(why) = gate.notifier.deliver_now(event).await {
            tracing::warn!(error = %why, audit.id = %scope.id(), "refused: the announcement could not be delivered");
            scope.set_reason(Some(format!(
                "refused: the announcement could not be delivered ({why})"
            )));
            scope
                .record_refusal(Outcome::Failed, Some(503))
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            return Err(SecretsError::Unavailable(
                "This namespace announces every reveal, and the announcement could not be delivered, so nothing was revealed. Please try again shortly.".into(),
            ));
        }
        Ok(scope)
    }

    /// Elsewhere: queues the announcement [`Self::event`] built, once the
    /// record is committed (the receipt proves it).
    pub fn announce_after(&self, _committed: &Receipt, event: Option<notify::Event>) {
        if let (Some(gate), Some(event)) = (self.gate, event) {
            gate.notifier.enqueue(event);
        }
    }

    /// The event [`Self::announce_after`] sends for `scope` (built before
    /// the scope is consumed by its record).
    pub fn event(&self, scope: &AuditScope, what: &str) -> Option<notify::Event> {
        let gate = self.gate?;
        (!gate.guards.notify && gate.policy.announced(scope.namespace()))
            .then(|| notify::Event::disclosure(scope, what, self.grant.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GuardSettings {
        GuardSettings {
            step_up_max_age: Duration::from_secs(300),
            approver_groups: vec!["approvers".into()],
            window: Duration::from_secs(900),
            max_window: Duration::from_secs(3600),
            request_ttl: Duration::from_secs(3600),
            webhooks: true,
        }
    }

    #[test]
    fn guards_combine_per_namespace_and_prefix() {
        let p = GuardPolicy::parse(
            &["prod-*=step-up".into(), "prod-pay=approval+notify".into()],
            &["team-a".into()],
            settings(),
        )
        .unwrap();
        assert_eq!(
            p.of("prod-pay"),
            Guards {
                step_up: true,
                approval: true,
                notify: true,
                reason: false
            }
        );
        assert!(p.of("prod-web").step_up && !p.of("prod-web").approval);
        assert!(p.of("team-a").reason && !p.of("team-a").step_up);
        assert_eq!(p.of("team-b"), Guards::default());
        assert!(p.announced("prod-web") && !p.announced("team-b"));
    }

    #[test]
    fn bad_guard_settings_are_refused() {
        for bad in [
            "prod",
            "prod=sudo",
            "Prod=step-up",
            "=approval",
            "prod**=approval",
            "p*d=approval",
        ] {
            assert!(
                GuardPolicy::parse(&[bad.into()], &[], settings()).is_err(),
                "{bad}"
            );
        }
        let mut s = settings();
        s.approver_groups.clear();
        assert!(GuardPolicy::parse(&["p=approval".into()], &[], s).is_err());
        let mut s = settings();
        s.webhooks = false;
        assert!(GuardPolicy::parse(&["p=notify".into()], &[], s).is_err());
        let mut s = settings();
        s.window = Duration::from_secs(7200);
        assert!(GuardPolicy::parse(&[], &[], s).is_err());
    }

    #[test]
    fn a_sign_in_is_fresh_within_the_age_only() {
        let age = Duration::from_secs(300);
        assert!(fresh(Some(1_000), age, 1_300));
        assert!(!fresh(Some(1_000), age, 1_301));
        assert!(!fresh(None, age, 1_000));
        assert!(fresh(Some(1_050), age, 1_000), "a little ahead is skew");
        assert!(!fresh(Some(2_000), age, 1_000), "far ahead is not");
        assert!(!fresh(Some(i64::MIN), age, 1_000), "no overflow");
        assert!(!fresh(Some(-5), age, 1_000));
    }
}
