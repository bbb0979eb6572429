//! Turning verified ID token claims into the identity Kubernetes sees.
//!
//! Which claim is the username and which holds groups is configurable, as
//! are the prefixes (the same knobs as the API server's own `--oidc-*`
//! flags). The mapping refuses rather than repairs (invariant 1 in
//! `docs/ARCHITECTURE.md`: the identity Kubernetes sees is exactly the one the
//! IdP verified):
//!
//! - with the `email` claim as username, `email_verified` must be `true`
//!   (otherwise anyone who can register a colleague's address becomes them);
//! - each configured required claim must have its configured value;
//! - a username or group that is not already trimmed, is empty, or holds a
//!   control character is refused: the Go HTTP server trims header values,
//!   so `" system:masters"` would arrive as `system:masters` and `"admins "`
//!   as `admins`;
//! - groups in the reserved `system:` namespace are dropped (before and after
//!   the prefix), so an IdP that lets users edit their groups cannot make
//!   anyone `system:masters`; a reserved username is refused.

use serde_json::{Map, Value};

use crate::infra::cluster::{IdentityValueProblem, identity_value_problem};

/// How claims map to a Kubernetes identity.
#[derive(Clone, Debug)]
pub struct IdentityMapping {
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
    /// Claims that must hold exactly these values (string claims equal to
    /// them), like the API server's `--oidc-required-claim`.
    pub required_claims: Vec<RequiredClaim>,
}

/// One `claim=value` an ID token must carry to sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredClaim {
    pub claim: String,
    pub value: String,
}

impl std::str::FromStr for RequiredClaim {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (claim, value) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not CLAIM=VALUE"))?;
        if claim.is_empty() || value.is_empty() || claim.trim() != claim || value.trim() != value {
            return Err(format!(
                "{s:?} is not CLAIM=VALUE (no spaces, a claim name)"
            ));
        }
        Ok(RequiredClaim {
            claim: claim.to_string(),
            value: value.to_string(),
        })
    }
}

/// The identity derived from one ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedIdentity {
    pub username: String,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    pub name: Option<String>,
}

/// Why an ID token cannot become a Kubernetes identity. Each message names
/// the claim at fault; none repeats a claim's value except the username.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The configured username claim is missing, empty or not a string.
    #[error("the ID token has no usable {0:?} claim (it is missing, empty or not a string)")]
    MissingUsername(String),
    /// The username would land in Kubernetes' reserved `system:` namespace.
    #[error("the username {0:?} is reserved by Kubernetes")]
    ReservedUsername(String),
    /// The groups claim is neither a list of strings nor a string.
    #[error("the {0:?} claim is not a list of group names")]
    MalformedGroups(String),
    /// The username is an email address the IdP has not verified.
    #[error(
        "the identity provider has not verified this email address (the ID token's \"email_verified\" claim is not true), so it cannot be your username"
    )]
    UnverifiedEmail,
    /// A configured required claim is missing or has another value.
    #[error("the ID token's {claim:?} claim does not have the value this Strongroom requires")]
    RequiredClaim {
        /// The claim's name.
        claim: String,
    },
    /// A username, group or subject that cannot travel unchanged to
    /// Kubernetes.
    #[error("the ID token's {claim:?} claim holds a value that {problem}")]
    UnsafeValue {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        problem: IdentityValueProblem,
    },
}

const RESERVED: &str = "system:";

/// The version of the mapping rules themselves: raised when a fix changes
/// who may sign in as whom, so sessions from before the fix end.
const RULES_VERSION: u32 = 3;

impl IdentityMapping {
    /// A fingerprint of these rules (and of [`RULES_VERSION`]): sessions
    /// remember it, and end when it changes.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        };
        field(&RULES_VERSION.to_string());
        field(&self.username_claim);
        field(&self.username_prefix);
        field(&self.groups_claim);
        field(&self.groups_prefix);
        for c in &self.required_claims {
            field(&c.claim);
            field(&c.value);
        }
        hex::encode(h.finalize())
    }

    /// Maps verified claims to a Kubernetes identity.
    pub fn map(&self, claims: &Map<String, Value>) -> Result<MappedIdentity, IdentityError> {
        for required in &self.required_claims {
            // A string claim equal to the value, as the API server's
            // `--oidc-required-claim` checks: not a list that merely
            // contains it (people may be able to add list entries).
            let holds = matches!(claims.get(&required.claim), Some(Value::String(s)) if *s == required.value);
            if !holds {
                return Err(IdentityError::RequiredClaim {
                    claim: required.claim.clone(),
                });
            }
        }
        let raw_username = claims
            .get(&self.username_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| IdentityError::MissingUsername(self.username_claim.clone()))?;
        if self.username_claim == "email" && !email_verified(claims) {
            return Err(IdentityError::UnverifiedEmail);
        }
        let unsafe_value = |claim: &str, value: &str| {
            identity_value_problem(value).map(|problem| IdentityError::UnsafeValue {
                claim: claim.to_string(),
                problem,
            })
        };
        if let Some(e) = unsafe_value(&self.username_claim, raw_username) {
            return Err(e);
        }
        let username = format!("{}{}", self.username_prefix, raw_username);
        if let Some(e) = unsafe_value(&self.username_claim, &username) {
            return Err(e);
        }
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
        let mut groups = Vec::with_capacity(raw_groups.len());
        for raw in raw_groups {
            // Checked before the `system:` rule, so a group that would only
            // become reserved once trimmed is refused, not let through.
            if let Some(e) = unsafe_value(&self.groups_claim, raw) {
                return Err(e);
            }
            if raw.starts_with(RESERVED) {
                continue;
            }
            let group = format!("{}{}", self.groups_prefix, raw);
            if let Some(e) = unsafe_value(&self.groups_claim, &group) {
                return Err(e);
            }
            if !group.starts_with(RESERVED) {
                groups.push(group);
            }
        }
        groups.sort();
        groups.dedup();
        let uid = match claims.get("sub").and_then(Value::as_str) {
            Some(sub) => {
                if let Some(e) = unsafe_value("sub", sub) {
                    return Err(e);
                }
                Some(sub.to_string())
            }
            None => None,
        };
        Ok(MappedIdentity {
            username,
            groups,
            uid,
            name: claims
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// `email_verified` is `true` (a JSON boolean; some IdPs send the string
/// `"true"`, which means the same).
fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
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
            required_claims: Vec::new(),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn username_and_groups_get_their_prefixes() {
        let id = mapping()
            .map(&claims(json!({"sub": "alice", "email": "alice@example.com", "email_verified": true, "groups": ["team-a-editors"], "name": "Alice"})))
            .unwrap();
        assert_eq!(id.username, "oidc:alice@example.com");
        assert_eq!(id.groups, vec!["oidc:team-a-editors"]);
        assert_eq!(id.uid.as_deref(), Some("alice"));
        assert_eq!(id.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn system_groups_are_dropped() {
        let id = mapping()
            .map(&claims(json!({"email": "m@example.com", "email_verified": true, "groups": ["system:masters", "team-a-viewers", "system:authenticated"]})))
            .unwrap();
        assert_eq!(id.groups, vec!["oidc:team-a-viewers"]);
    }

    #[test]
    fn system_groups_are_dropped_without_a_prefix_too() {
        let mut m = mapping();
        m.groups_prefix.clear();
        let id = m
            .map(&claims(
                json!({"email": "m@example.com", "email_verified": true, "groups": ["system:masters", "ops"]}),
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
            .map(&claims(
                json!({"email": "a@b", "email_verified": true, "groups": [1, 2]}),
            ))
            .unwrap_err();
        assert_eq!(err, IdentityError::MalformedGroups("groups".into()));
    }

    fn verified(email: &str, groups: Value) -> Map<String, Value> {
        claims(json!({"sub": "s", "email": email, "email_verified": true, "groups": groups}))
    }

    #[test]
    fn an_unverified_or_unstated_email_is_not_a_username() {
        for claim in [json!(false), json!("false"), json!(null), json!(1)] {
            let c = claims(json!({"email": "alice@example.com", "email_verified": claim}));
            assert_eq!(
                mapping().map(&c).unwrap_err(),
                IdentityError::UnverifiedEmail
            );
        }
        let c = claims(json!({"email": "alice@example.com"}));
        assert_eq!(
            mapping().map(&c).unwrap_err(),
            IdentityError::UnverifiedEmail
        );
        let c = claims(json!({"email": "alice@example.com", "email_verified": "true"}));
        assert_eq!(
            mapping().map(&c).unwrap().username,
            "oidc:alice@example.com"
        );
    }

    #[test]
    fn email_verified_only_matters_when_email_is_the_username() {
        let mut m = mapping();
        m.username_claim = "sub".into();
        let c = claims(json!({"sub": "1234", "email": "x@y", "email_verified": false}));
        assert_eq!(m.map(&c).unwrap().username, "oidc:1234");
    }

    #[test]
    fn required_claims_must_hold_their_value() {
        let mut m = mapping();
        m.required_claims = vec!["hd=example.com".parse().unwrap()];
        let mut ok = verified("a@example.com", json!([]));
        ok.insert("hd".into(), json!("example.com"));
        assert!(m.map(&ok).is_ok());
        for bad in [
            json!(["other", "example.com"]),
            json!("evil.example"),
            json!(["evil.example"]),
            json!(true),
            json!("example.com "),
        ] {
            let mut c = verified("a@example.com", json!([]));
            c.insert("hd".into(), bad);
            assert_eq!(
                m.map(&c).unwrap_err(),
                IdentityError::RequiredClaim { claim: "hd".into() }
            );
        }
        let missing = verified("a@example.com", json!([]));
        assert!(matches!(
            m.map(&missing),
            Err(IdentityError::RequiredClaim { .. })
        ));
    }

    #[test]
    fn required_claims_parse_as_claim_equals_value() {
        assert_eq!(
            "tid=abc=d".parse::<RequiredClaim>().unwrap(),
            RequiredClaim {
                claim: "tid".into(),
                value: "abc=d".into()
            }
        );
        for bad in ["hd", "=x", "hd=", " hd=x", "hd= x", "hd=x "] {
            assert!(bad.parse::<RequiredClaim>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn untrimmed_or_control_character_groups_refuse_the_sign_in() {
        let mut m = mapping();
        m.groups_prefix.clear();
        for bad in [
            " system:masters",
            "system:masters ",
            "\tsystem:masters",
            "admins ",
            "ad\u{0}mins",
            "ad\nmins",
            "ad\u{7f}mins",
            "ad\u{85}mins",
            "\u{a0}admins",
            "ad\u{200b}mins",
            "\u{feff}admins",
            "adm\u{202e}snin",
            "",
            " ",
        ] {
            let err = m.map(&verified("a@b", json!([bad]))).unwrap_err();
            assert!(
                matches!(&err, IdentityError::UnsafeValue { claim, .. } if claim == "groups"),
                "{bad:?}: {err:?}"
            );
            assert!(!err.to_string().contains(bad) || bad.is_empty() || bad == " ");
        }
        // A printable non-ASCII group travels as UTF-8 bytes and is kept.
        assert_eq!(
            m.map(&verified("a@b", json!(["équipe"]))).unwrap().groups,
            vec!["équipe"]
        );
    }

    #[test]
    fn untrimmed_empty_or_control_character_usernames_refuse_the_sign_in() {
        for bad in [
            " alice@example.com",
            "alice@example.com\t",
            "alice@example.com\r\n",
            " ",
        ] {
            let err = mapping().map(&verified(bad, json!([]))).unwrap_err();
            assert!(
                matches!(&err, IdentityError::UnsafeValue { claim, .. } if claim == "email"),
                "{bad:?}: {err:?}"
            );
        }
        assert_eq!(
            mapping().map(&verified("", json!([]))).unwrap_err(),
            IdentityError::MissingUsername("email".into())
        );
        let mut m = mapping();
        m.username_claim = "preferred_username".into();
        for missing in [json!(null), json!(""), json!(["a"]), json!(7)] {
            let c = claims(json!({"preferred_username": missing}));
            assert_eq!(
                m.map(&c).unwrap_err(),
                IdentityError::MissingUsername("preferred_username".into())
            );
        }
    }

    #[test]
    fn a_subject_with_a_control_character_is_refused() {
        let c = claims(json!({"sub": "a\nb", "email": "a@b", "email_verified": true}));
        assert!(matches!(
            mapping().map(&c).unwrap_err(),
            IdentityError::UnsafeValue { claim, .. } if claim == "sub"
        ));
    }
}
