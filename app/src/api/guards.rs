//! Guarded namespaces (issue 18): rules on top of RBAC that can only make a
//! reveal harder, never wider.
//!
//! - [`NamespaceGuards`] says which guards a namespace has (in
//!   [`super::Me::guards`], so every page knows before anyone clicks).
//! - A reveal in a `step-up` namespace needs a sign-in within the last
//!   `step_up_max_age_seconds`; otherwise it is refused with the code
//!   `step_up_required`, and `/auth/login?step_up=1&next=PAGE` signs in
//!   again with `max_age`.
//! - A reveal in an `approval` namespace needs an approved
//!   [`AccessRequest`]; otherwise it is refused with the code
//!   `approval_required`. `POST …/secrets/{name}/access-requests` asks
//!   ([`AccessRequestInput`]), `GET /api/v1/access-requests` lists what the
//!   user asked and what they may decide ([`AccessRequests`]), and
//!   `POST /api/v1/access-requests/{id}/approve|deny|revoke` decides
//!   ([`Decision`]).

use serde::{Deserialize, Serialize};

/// Which guards a namespace has, beyond RBAC.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceGuards {
    /// A reveal needs a written reason.
    pub reason: bool,
    /// A reveal needs a sign-in within this many seconds (step-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up_max_age_seconds: Option<u64>,
    /// A reveal needs a second person's approval.
    pub approval: bool,
    /// Who may approve: members of these groups who may read the secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approver_groups: Vec<String>,
    /// Reveals here are announced to the configured webhooks.
    pub notified: bool,
    /// A reveal is refused when its announcement cannot be delivered.
    pub notification_required: bool,
}

impl NamespaceGuards {
    /// Whether any guard applies.
    pub fn any(&self) -> bool {
        self.reason || self.step_up_max_age_seconds.is_some() || self.approval || self.notified
    }

    /// Short labels for badges, in a fixed order.
    pub fn labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.reason {
            out.push("reason required".to_string());
        }
        if let Some(s) = self.step_up_max_age_seconds {
            out.push(format!("fresh sign-in ({})", minutes(s)));
        }
        if self.approval {
            out.push("approval required".to_string());
        }
        if self.notification_required {
            out.push("announced (required)".to_string());
        } else if self.notified {
            out.push("announced".to_string());
        }
        out
    }
}

/// "5 min", "90 s": how long, for people.
pub fn minutes(seconds: u64) -> String {
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

/// `POST /api/v1/namespaces/{ns}/secrets/{name}/access-requests`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequestInput {
    /// The keys to reveal once approved; empty means every key the secret
    /// has now.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Why (required; at most 500 characters), shown to the approvers.
    pub reason: String,
    /// How long the approval lasts once given; the namespace's default
    /// window when absent, never more than its maximum.
    #[serde(default)]
    pub duration_seconds: Option<u64>,
}

/// What a person writes with a decision.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// At most 500 characters; recorded and shown to the requester.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Where a request stands.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved, and its window is open: the keys may be revealed.
    Approved,
    /// Refused by an approver.
    Denied,
    /// Withdrawn by the requester or ended early by an approver.
    Revoked,
    /// Nobody decided in time, or the approval's window has closed.
    Expired,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Revoked => "revoked",
            RequestStatus::Expired => "expired",
        }
    }
}

/// One access request. Never carries a value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: String,
    pub namespace: String,
    pub secret: String,
    /// The keys it is for.
    pub keys: Vec<String>,
    /// Who asked (the Kubernetes username).
    pub requester: String,
    pub requester_name: Option<String>,
    pub reason: String,
    /// How long the approval lasts once given.
    pub duration_seconds: u64,
    pub status: RequestStatus,
    /// RFC 3339 times.
    pub created: String,
    /// A pending request lapses at this time.
    pub decide_by: String,
    pub decided_by: Option<String>,
    pub decided: Option<String>,
    pub comment: Option<String>,
    /// An approval lets the requester reveal the keys until this time.
    pub valid_until: Option<String>,
    /// The signed-in user asked for it.
    pub mine: bool,
    /// The signed-in user may approve or deny it now (an approver who may
    /// read the secret, and not the requester).
    pub can_decide: bool,
}

/// `GET /api/v1/access-requests`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequests {
    /// Whether the signed-in user is in an approver group.
    pub approver: bool,
    /// Requests waiting for the signed-in user's decision.
    pub to_decide: Vec<AccessRequest>,
    /// The signed-in user's own requests, newest first.
    pub mine: Vec<AccessRequest>,
    /// Requests the signed-in user decided recently, newest first.
    pub decided: Vec<AccessRequest>,
}
