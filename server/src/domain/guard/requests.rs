//! Asking for access in an approval namespace, and deciding: the domain
//! operations behind `/api/v1/…/access-requests`. Each step is recorded in
//! the secret's trail (actions `request`, `approve`, `deny`, `revoke`)
//! before it is answered, and, for an approval, before it takes effect.

use futures::{StreamExt, stream};
use strongroom_app::api::guards::{
    AccessRequest, AccessRequestInput, AccessRequests, RequestStatus,
};

use super::{
    GuardPolicy,
    approval::{Approvals, NewRequest, Row, Undecidable},
    fresh,
    notify::{Event, Notifier},
};
use crate::{
    domain::{
        audit::{Action, AuditScope, AuditStore, Audited, Outcome, facts::RequestFacts},
        auth::CurrentUser,
        secrets::{SecretsError, check_path, get_or_record, reveal::MAX_REVEAL_KEYS},
    },
    infra::cluster::UserKube,
};

/// The most characters of a reason or a comment.
pub const MAX_TEXT: usize = 500;
/// The most requests one person may have waiting for a decision.
pub const MAX_WAITING: i64 = 5;

/// What the request operations share.
pub struct Desk<'a> {
    pub policy: &'a GuardPolicy,
    pub approvals: &'a Approvals,
    pub notifier: &'a Notifier,
    pub audit: &'a AuditStore,
}

fn text(field: &str, value: Option<&str>, required: bool) -> Result<Option<String>, SecretsError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => Err(SecretsError::invalid(
            field,
            "Say why you need the values: the approvers decide on it.",
        )),
        Some(v) if v.chars().count() > MAX_TEXT => Err(SecretsError::invalid(
            field,
            format!("Keep it to {MAX_TEXT} characters."),
        )),
        Some(v) if v.chars().any(|c| c.is_control() && c != '\n') => Err(SecretsError::invalid(
            field,
            "Control characters are not allowed here.",
        )),
        v => Ok(v.map(String::from)),
    }
}

fn db_down(e: impl std::fmt::Display) -> SecretsError {
    tracing::error!(error = %e, "the access requests cannot be read or written");
    SecretsError::Unavailable(
        "Access requests cannot be read or written right now; please try again shortly.".into(),
    )
}

impl Desk<'_> {
    /// `user` asks for access to `keys` of `ns/name`: checked (the namespace
    /// asks for approval, the keys exist and `user` may read the secret, as
    /// a get made as them whose values are dropped at once), stored,
    /// recorded, announced.
    pub async fn request(
        &self,
        kube: &UserKube,
        facts: RequestFacts,
        user: &CurrentUser,
        ns: &str,
        name: &str,
        input: &AccessRequestInput,
    ) -> Result<Audited<AccessRequest>, SecretsError> {
        check_path(ns, Some(name))?;
        if !self.policy.of(ns).approval {
            return Err(SecretsError::Conflict(format!(
                "Namespace {ns} does not ask for approval: reveal the values directly."
            )));
        }
        let reason = text("reason", Some(&input.reason), true)?.unwrap_or_default();
        if input.keys.len() > MAX_REVEAL_KEYS {
            return Err(SecretsError::invalid(
                "keys",
                format!("ask for at most {MAX_REVEAL_KEYS} keys, or for none to ask for all"),
            ));
        }
        for (i, key) in input.keys.iter().enumerate() {
            strongroom_app::secrets::rules::check_key(key)
                .map_err(|m| SecretsError::invalid(format!("keys.{i}"), m))?;
        }
        let max = self.policy.max_window.as_secs();
        let duration = input
            .duration_seconds
            .unwrap_or(self.policy.window.as_secs());
        if duration == 0 || duration > max {
            return Err(SecretsError::invalid(
                "duration_seconds",
                format!(
                    "An approval lasts between 1 second and {} here.",
                    humantime::format_duration(self.policy.max_window)
                ),
            ));
        }
        // One request per secret, a few at a time: nobody buries the
        // approvers' list (or the announcements) under their own requests.
        let (waiting, same) = self
            .approvals
            .waiting(&user.username, ns, name)
            .await
            .map_err(db_down)?;
        if let Some(id) = same {
            return Err(SecretsError::Conflict(format!(
                "You asked for access to this secret already (request {id}); wait for the decision or withdraw it."
            )));
        }
        if waiting >= MAX_WAITING {
            return Err(SecretsError::Conflict(format!(
                "You have {waiting} requests waiting for a decision; wait for them or withdraw one first."
            )));
        }
        let mut scope = AuditScope::new(self.audit, facts, user, Action::Request, ns, name);
        scope.set_keys(input.keys.clone());
        scope
            .preflight()
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        let kube = kube.with_audit_id(scope.id());
        let (secret, mut scope) = get_or_record(&kube, scope, ns, name).await?;
        let secret_uid = secret.metadata.uid.clone();
        // Only the key names are kept.
        let present: Vec<String> = secret.data.unwrap_or_default().into_keys().collect();
        let keys = if input.keys.is_empty() {
            present.clone()
        } else {
            let mut keys = input.keys.clone();
            keys.sort();
            keys.dedup();
            keys
        };
        if let Some(missing) = keys.iter().find(|k| !present.contains(k)) {
            let message = format!("The secret {name} has no key {missing:?}.");
            scope.set_keys(keys.clone());
            scope
                .record_refusal(Outcome::Failed, Some(404))
                .await
                .map_err(SecretsError::AuditUnavailable)?;
            return Err(SecretsError::NotFound(message));
        }
        if keys.is_empty() {
            return Err(SecretsError::invalid(
                "keys",
                "The secret has no keys to reveal.",
            ));
        }
        scope.set_keys(keys.clone());
        let row = self
            .approvals
            .create(NewRequest {
                namespace: ns,
                secret: name,
                keys: &keys,
                requester: &user.username,
                requester_uid: user.uid.as_deref(),
                requester_name: user.name.as_deref(),
                secret_uid: secret_uid.as_deref(),
                reason: &reason,
                duration_secs: duration as i64,
                ttl_secs: self.policy.request_ttl.as_secs().max(1) as i64,
            })
            .await
            .map_err(db_down)?;
        scope.set_reason(Some(format!(
            "access request {} for {}: {reason}",
            row.id,
            strongroom_app::api::guards::minutes(duration)
        )));
        let receipt = match scope.record(Outcome::Allowed, None, vec![]).await {
            Ok(r) => r,
            Err(e) => {
                // Unrecorded, it never becomes decidable.
                if let Err(gone) = self.approvals.discard(&row.id).await {
                    tracing::error!(error = %gone, request.id = %row.id, "cannot discard an unrecorded request; it stays undecidable");
                }
                return Err(SecretsError::AuditUnavailable(e));
            }
        };
        let row = self.approvals.activate(&row.id).await.map_err(db_down)?;
        tracing::info!(audit.id = %receipt.id(), request.id = %row.id, user.name = %user.username, secret.namespace = %ns, secret.name = %name, "access requested");
        self.announce("requested", &user.username, &row, receipt.id());
        let view = row.view(&user.username, false);
        Ok(Audited::new(receipt, view))
    }

    fn announce(&self, kind: &str, actor: &str, row: &Row, audit_id: &str) {
        if self.policy.webhooks {
            self.notifier
                .enqueue(Event::request(kind, actor, row, audit_id));
        }
    }

    /// Request `id` and a scope for `user`'s `action` on its secret.
    async fn opening(
        &self,
        facts: RequestFacts,
        user: &CurrentUser,
        id: &str,
        action: Action,
    ) -> Result<(Row, AuditScope), SecretsError> {
        let row = self
            .approvals
            .get(id)
            .await
            .map_err(db_down)?
            .ok_or_else(|| SecretsError::NotFound(format!("There is no access request {id}.")))?;
        let mut scope =
            AuditScope::new(self.audit, facts, user, action, &row.namespace, &row.secret);
        scope.set_keys(row.keys());
        Ok((row, scope))
    }

    /// Whether `user` may decide on `row` now: an approver who may read the
    /// secret (asked as them) and did not ask; `Err` says why not.
    async fn may_decide(
        &self,
        kube: &UserKube,
        user: &CurrentUser,
        row: &Row,
    ) -> Result<(), SecretsError> {
        let same_subject = user.uid.is_some() && row.requester_uid == user.uid;
        if row.requester.eq_ignore_ascii_case(&user.username) || same_subject {
            return Err(SecretsError::Forbidden(
                "You cannot decide on your own request: a second person must.".into(),
            ));
        }
        if !self.policy.is_approver(user) {
            return Err(SecretsError::Forbidden(format!(
                "Only members of {} may decide on access requests.",
                self.policy.approver_groups.join(", ")
            )));
        }
        let may_read = kube
            .can_i_on("get", "secrets", &row.namespace, Some(&row.secret))
            .await
            .map_err(|e| {
                crate::domain::KubeFailure::new(
                    e,
                    &user.username,
                    "create",
                    "selfsubjectaccessreviews",
                    None,
                )
            })?;
        if !may_read {
            return Err(SecretsError::Forbidden(format!(
                "Kubernetes does not allow {} to get the secret {} in namespace {}, so you cannot approve access to it.",
                user.username, row.secret, row.namespace
            )));
        }
        Ok(())
    }

    /// `user` approves (or denies) request `id`, with a comment. Refusals
    /// are recorded in the secret's trail too.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        kube: &UserKube,
        facts: RequestFacts,
        user: &CurrentUser,
        auth_time: Option<i64>,
        id: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<Audited<AccessRequest>, SecretsError> {
        let comment = text("comment", comment, false)?;
        let action = if approve {
            Action::Approve
        } else {
            Action::Deny
        };
        let (row, mut scope) = self.opening(facts, user, id, action).await?;
        let what = if approve { "approve" } else { "deny" };
        if let Err(refused) = self.may_decide(kube, user, &row).await {
            return Err(refused_recorded(scope, what, id, refused).await);
        }
        if self.policy.of(&row.namespace).step_up
            && !fresh(
                auth_time,
                self.policy.step_up_max_age,
                chrono::Utc::now().timestamp(),
            )
        {
            return Err(SecretsError::StepUpRequired {
                max_age: self.policy.step_up_max_age,
            });
        }
        scope
            .preflight()
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        // The claim's token is the decision's record id.
        let token = scope.id().to_string();
        if let Err(why) = self.approvals.claim(id, &user.username, &token).await {
            return Err(undecidable(why, id));
        }
        scope.set_reason(Some(format!(
            "{what} request {id} by {}{}",
            row.requester,
            comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        )));
        let receipt = match scope.record(Outcome::Allowed, None, vec![]).await {
            Ok(r) => r,
            Err(e) => {
                if let Err(release) = self.approvals.release(id, &token).await {
                    tracing::error!(error = %release, request.id = %id, "cannot release a claimed request; it is released after a minute");
                }
                return Err(SecretsError::AuditUnavailable(e));
            }
        };
        let Some(row) = self
            .approvals
            .finish(id, &token, approve, comment.as_deref())
            .await
            .map_err(db_down)?
        else {
            tracing::error!(audit.id = %receipt.id(), request.id = %id, "a recorded decision did not take effect: its claim was taken over");
            return Err(SecretsError::Conflict(format!(
                "Your decision on access request {id} was recorded ({}) but did not take effect: another approver took the request over after a minute. Reload to see its state.",
                receipt.id()
            )));
        };
        tracing::info!(audit.id = %receipt.id(), request.id = %id, user.name = %user.username, approved = approve, "access request decided");
        self.announce(
            if approve { "approved" } else { "denied" },
            &user.username,
            &row,
            receipt.id(),
        );
        let view = row.view(&user.username, false);
        Ok(Audited::new(receipt, view))
    }

    /// Request `id` is withdrawn by its requester, or ended early by
    /// someone who may decide on it.
    pub async fn revoke(
        &self,
        kube: &UserKube,
        facts: RequestFacts,
        user: &CurrentUser,
        id: &str,
        comment: Option<&str>,
    ) -> Result<Audited<AccessRequest>, SecretsError> {
        let comment = text("comment", comment, false)?;
        let (row, mut scope) = self.opening(facts, user, id, Action::Revoke).await?;
        if row.requester != user.username
            && let Err(refused) = self.may_decide(kube, user, &row).await
        {
            return Err(refused_recorded(scope, "revoke", id, refused).await);
        }
        scope
            .preflight()
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        // Ending access only narrows it: it takes effect first.
        let row = self
            .approvals
            .revoke(id, &user.username, comment.as_deref())
            .await
            .map_err(|why| undecidable(why, id))?;
        scope.set_reason(Some(format!(
            "revoke request {id} by {}{}",
            row.requester,
            comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        )));
        let audit_id = scope.id().to_string();
        let receipt = scope
            .record(Outcome::Allowed, None, vec![])
            .await
            .map_err(|source| SecretsError::NotRecorded {
                change: format!("access request {id} was revoked"),
                audit_id,
                source,
            })?;
        self.announce("revoked", &user.username, &row, receipt.id());
        let view = row.view(&user.username, false);
        Ok(Audited::new(receipt, view))
    }

    /// What `user` asked for, decided, and may decide now. Whether they
    /// may decide is asked of Kubernetes as them, for at most 100 pending
    /// requests, four at a time.
    pub async fn list(
        &self,
        kube: &UserKube,
        user: &CurrentUser,
    ) -> Result<AccessRequests, SecretsError> {
        let me = user.username.as_str();
        let mine = self.approvals.mine(me, 50).await.map_err(db_down)?;
        let approver = self.policy.is_approver(user);
        let mut out = AccessRequests {
            approver,
            mine: mine.iter().map(|r| r.view(me, false)).collect(),
            ..Default::default()
        };
        if !approver {
            return Ok(out);
        }
        out.decided = self
            .approvals
            .decided_by(me, 20)
            .await
            .map_err(db_down)?
            .iter()
            .map(|r| r.view(me, false))
            .collect();
        let pending = self
            .approvals
            .pending_for_others(me, 100)
            .await
            .map_err(db_down)?;
        let checked: Vec<(Row, bool)> = stream::iter(pending)
            .map(|row| async move {
                let ok = kube
                    .can_i_on("get", "secrets", &row.namespace, Some(&row.secret))
                    .await
                    .unwrap_or(false);
                (row, ok)
            })
            .buffered(4)
            .collect()
            .await;
        out.to_decide = checked
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(r, _)| r.view(me, true))
            .filter(|v| v.status == RequestStatus::Pending)
            .collect();
        Ok(out)
    }
}

/// Records Strongroom's own refusal (`Forbidden`) to `what` request `id` in
/// the secret's trail; answers the error to return.
async fn refused_recorded(
    mut scope: AuditScope,
    what: &str,
    id: &str,
    refused: SecretsError,
) -> SecretsError {
    if matches!(refused, SecretsError::Forbidden(_)) {
        scope.set_reason(Some(format!("refused to {what} request {id}: {refused}")));
        if let Err(e) = scope.record_refusal(Outcome::Denied, Some(403)).await {
            return SecretsError::AuditUnavailable(e);
        }
    }
    refused
}

fn undecidable(why: Undecidable, id: &str) -> SecretsError {
    match why {
        Undecidable::NotFound => {
            SecretsError::NotFound(format!("There is no access request {id}."))
        }
        Undecidable::Expired => SecretsError::Conflict(format!(
            "Access request {id} has expired: nobody decided in time, or its approval has ended. Ask again."
        )),
        Undecidable::Busy => SecretsError::Conflict(format!(
            "Someone else is deciding on access request {id} right now; reload in a moment."
        )),
        Undecidable::Decided(status) => SecretsError::Conflict(format!(
            "Access request {id} is {} already.",
            status.as_str()
        )),
        Undecidable::Db(e) => db_down(e),
    }
}
