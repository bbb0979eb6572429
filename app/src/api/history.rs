//! What changed when, per key, from the audit trail's fingerprints; the
//! age of a secret's values (issue 17, items 4 and 5).

use serde::{Deserialize, Serialize};

/// How a key's value changed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChangeKind {
    /// The key appeared (a create, or a change that added it).
    Added,
    /// Its value was replaced by a different one.
    Changed,
    /// The key was removed (or the secret deleted).
    Removed,
    /// Its value differs from the last one Strongroom knew, and no change
    /// through Strongroom explains it: someone changed it elsewhere
    /// (kubectl, a controller), noticed at a later reveal, inspection or
    /// change.
    ChangedOutside,
    /// The key appeared outside Strongroom.
    AddedOutside,
    /// The key disappeared outside Strongroom.
    RemovedOutside,
}

impl KeyChangeKind {
    /// Whether the change was made outside Strongroom.
    pub fn outside(self) -> bool {
        matches!(
            self,
            KeyChangeKind::ChangedOutside
                | KeyChangeKind::AddedOutside
                | KeyChangeKind::RemovedOutside
        )
    }

    /// A few words for a person.
    pub fn label(self) -> &'static str {
        match self {
            KeyChangeKind::Added => "added",
            KeyChangeKind::Changed => "changed",
            KeyChangeKind::Removed => "removed",
            KeyChangeKind::ChangedOutside => "changed outside Strongroom",
            KeyChangeKind::AddedOutside => "added outside Strongroom",
            KeyChangeKind::RemovedOutside => "removed outside Strongroom",
        }
    }
}

/// One change of one key's value: who and when, never the value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    pub change: KeyChangeKind,
    /// Who made it; absent for changes made outside Strongroom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When it was made (RFC 3339), or, for a change made outside
    /// Strongroom, when Strongroom noticed it.
    pub time: String,
    /// For a change made outside Strongroom: whose action noticed it
    /// (`reveal by alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noticed_at: Option<String>,
    /// The audit record this comes from.
    pub audit_id: String,
}

/// What Strongroom knows of one current key.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub key: String,
    /// The last change of its value known to Strongroom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<KeyChange>,
    /// The value now differs from the last one Strongroom recorded: it was
    /// changed outside Strongroom since then.
    pub changed_outside_now: bool,
    /// Whether the value is still the one you last revealed; absent when
    /// you never revealed this key (in the history read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged_since_your_reveal: Option<bool>,
    /// When you last revealed it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub your_last_reveal: Option<String>,
}

/// The age of a secret's values, and its rotation policy.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationAge {
    /// Since when the values are as they are (RFC 3339): the last change
    /// of a value known to Strongroom, otherwise the secret's creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_since: Option<String>,
    /// Whether `values_since` is a change Strongroom knows of (`true`) or
    /// the creation time (`false`).
    pub from_change: bool,
    /// The rotation policy (`90d`), from the secret's
    /// `strongroom.dev/rotate-every` annotation or the namespace's
    /// configured policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<String>,
    /// The values are older than the policy allows.
    pub overdue: bool,
}

/// `GET /api/v1/namespaces/{ns}/secrets/{name}/keys`: per-key history from
/// the audit trail's fingerprints. Never a value.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHistory {
    /// The secret's current keys.
    pub keys: Vec<KeyState>,
    /// Changes, newest first (at most the newest 500).
    pub changes: Vec<KeyChange>,
    /// False when the trail holds more records of this secret than were
    /// read: older changes are not shown.
    pub complete: bool,
    pub age: RotationAge,
}

/// What a proposed change would do to one key.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDiffKind {
    Changed,
    Added,
    Removed,
    /// The proposed value is the current one.
    Same,
}

/// One key of a masked diff.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDiff {
    pub key: String,
    pub change: KeyDiffKind,
}

/// `POST .../preview`: which keys a change would change, without values.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePreview {
    /// Every key of the secret after the change, and the removed ones.
    pub keys: Vec<KeyDiff>,
    /// The resourceVersion the preview was computed against: confirm the
    /// change with it, so a change in between is a conflict.
    pub resource_version: String,
    /// The preview's audit record (a comparison is recorded like a reveal).
    pub audit_id: String,
}
