//! Turning verified ID token claims into the identity Kubernetes sees.
//!
//! Which claim is the username and which holds groups is configurable, as
//! are the prefixes (the same knobs as the API server's own `--oidc-*`
//! flags). Groups in the reserved `system:` namespace are dropped, so an IdP
//! that lets users edit their groups cannot make anyone `system:masters`.

use serde_json::{Map, Value};

/// How claims map to a Kubernetes identity.
#[derive(Clone, Debug)]
pub struct IdentityMapping {
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
}

/// The identity derived from one ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedIdentity {
    pub username: String,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    pub name: Option<String>,
}

/// Why an ID token cannot become a Kubernetes identity.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The configured username claim is missing or not a string.
    #[error("the ID token has no usable {0:?} claim")]
    MissingUsername(String),
    /// The username would land in Kubernetes' reserved `system:` namespace.
    #[error("the username {0:?} is reserved by Kubernetes")]
    ReservedUsername(String),
    /// The groups claim is neither a list of strings nor a string.
    #[error("the {0:?} claim is not a list of group names")]
    MalformedGroups(String),
}

const RESERVED: &str = "system:";

impl IdentityMapping {
    /// Maps verified claims to a Kubernetes identity.
    pub fn map(&self, claims: &Map<String, Value>) -> Result<MappedIdentity, IdentityError> {
        let raw_username = claims
            .get(&self.username_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| IdentityError::MissingUsername(self.username_claim.clone()))?;
        let username = format!("{}{}", self.username_prefix, raw_username);
        if username.starts_with(RESERVED) {
            return Err(IdentityError::ReservedUsername(username));
        }
        let raw_groups: Vec<&str> = match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| IdentityError::MalformedGroups(self.groups_claim.clone()))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(IdentityError::MalformedGroups(self.groups_claim.clone())),
        };
        let mut groups: Vec<String> = raw_groups
            .into_iter()
            .filter(|g| !g.is_empty() && !g.starts_with(RESERVED))
            .map(|g| format!("{}{}", self.groups_prefix, g))
            .filter(|g| !g.starts_with(RESERVED))
            .collect();
        groups.sort();
        groups.dedup();
        Ok(MappedIdentity {
            username,
            groups,
            uid: claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: claims
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> IdentityMapping {
        IdentityMapping {
            username_claim: "email".into(),
            username_prefix: "oidc:".into(),
            groups_claim: "groups".into(),
            groups_prefix: "oidc:".into(),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn username_and_groups_get_their_prefixes() {
        let id = mapping()
            .map(&claims(json!({"sub": "alice", "email": "alice@example.com", "groups": ["team-a-editors"], "name": "Alice"})))
            .unwrap();
        assert_eq!(id.username, "oidc:alice@example.com");
        assert_eq!(id.groups, vec!["oidc:team-a-editors"]);
        assert_eq!(id.uid.as_deref(), Some("alice"));
        assert_eq!(id.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn system_groups_are_dropped() {
        let id = mapping()
            .map(&claims(json!({"email": "m@example.com", "groups": ["system:masters", "team-a-viewers", "system:authenticated"]})))
            .unwrap();
        assert_eq!(id.groups, vec!["oidc:team-a-viewers"]);
    }

    #[test]
    fn system_groups_are_dropped_without_a_prefix_too() {
        let mut m = mapping();
        m.groups_prefix.clear();
        let id = m
            .map(&claims(
                json!({"email": "m@example.com", "groups": ["system:masters", "ops"]}),
            ))
            .unwrap();
        assert_eq!(id.groups, vec!["ops"]);
    }

    #[test]
    fn a_reserved_username_is_refused() {
        let mut m = mapping();
        m.username_prefix.clear();
        m.username_claim = "preferred_username".into();
        let err = m
            .map(&claims(json!({"preferred_username": "system:admin"})))
            .unwrap_err();
        assert_eq!(err, IdentityError::ReservedUsername("system:admin".into()));
    }

    #[test]
    fn a_missing_username_claim_is_an_error() {
        let err = mapping().map(&claims(json!({"sub": "x"}))).unwrap_err();
        assert_eq!(err, IdentityError::MissingUsername("email".into()));
    }

    #[test]
    fn the_username_claim_is_configurable() {
        let mut m = mapping();
        m.username_claim = "sub".into();
        let id = m.map(&claims(json!({"sub": "1234"}))).unwrap();
        assert_eq!(id.username, "oidc:1234");
        assert!(id.groups.is_empty());
    }

    #[test]
    fn malformed_groups_are_refused() {
        let err = mapping()
            .map(&claims(json!({"email": "a@b", "groups": [1, 2]})))
            .unwrap_err();
        assert_eq!(err, IdentityError::MalformedGroups("groups".into()));
    }
}
