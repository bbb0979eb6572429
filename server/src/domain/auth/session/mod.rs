//! The server-side session: what is kept in it, under which keys, and how
//! the signed-in user is read from it (absolute lifetime, identity rules,
//! re-validation at the IdP, renewal of the idle timer). The store that
//! holds sessions (SQLite by default, PostgreSQL for several replicas) is in
//! the child `store` module.

mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

pub use store::{Store, id_hash};

use super::{
    CurrentUser,
    identity::IdentityMapping,
    oidc::{IdpTokens, Oidc, Revalidation},
};

/// The session store failed.
#[derive(Debug, thiserror::Error)]
#[error("the session store is unavailable: {0}")]
pub struct SessionError(#[from] tower_sessions::session::Error);

/// Session key of the signed-in user.
pub const USER_KEY: &str = "auth.user";
/// Session key of the pending login (state, nonce, PKCE verifier, return path).
pub const PENDING_LOGIN_KEY: &str = "oidc.pending-login";

/// What the session remembers about the signed-in user.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub user: CurrentUser,
    /// Unix seconds of sign-in, for the absolute lifetime.
    pub signed_in_at: i64,
    /// Unix seconds of the last time the session's idle timer was renewed.
    #[serde(default)]
    pub touched_at: i64,
    /// The fingerprint of the identity rules the user was signed in under
    /// ([`IdentityMapping::fingerprint`](super::identity::IdentityMapping::fingerprint)):
    /// a session from before a change of the rules (a required claim added,
    /// a prefix changed, a fix in the mapping itself) ends, rather than
    /// keeping an identity the current rules would refuse.
    #[serde(default)]
    pub mapping: String,
    /// Unix seconds of the last time the IdP confirmed the identity.
    #[serde(default)]
    pub validated_at: i64,
    /// What asks the IdP again (`Debug` hides them).
    #[serde(default)]
    pub tokens: IdpTokens,
}

/// How a session's identity is checked again at the IdP: every `every`,
/// the claims the IdP gives now are mapped with the same rules, so a
/// removed group is gone within that time and a refused user is signed out.
pub struct Revalidator<'a> {
    pub oidc: &'a Oidc,
    pub mapping: &'a IdentityMapping,
    pub every: Duration,
}

/// The signed-in user of a session, or `None`. A session past its absolute
/// lifetime, or signed in under other identity rules than `mapping`, is
/// destroyed here, whatever its idle timer says.
///
/// Activity renews the idle timer: the store only learns of it when the
/// session is saved, so a session in use is saved again once a quarter of
/// the idle timeout (at most a minute) has passed since the last renewal —
/// one write per minute per active session, not one per request. Only
/// requests that change nothing renew (`renew`): the session is saved after
/// the handler has answered, and a save that fails then would replace the
/// answer to a change that was made (and recorded) with an error.
///
/// Each answer also tells this replica's count of active sessions
/// (`strongroom_sessions_active`): a signed-in session counts until its idle
/// timeout passes, one that ended leaves it.
pub async fn current_user(
    session: &Session,
    store: &Store,
    max_lifetime: Duration,
    idle_timeout: Duration,
    mapping: &str,
    renew: bool,
    revalidator: Option<&Revalidator<'_>>,
) -> Result<Option<CurrentUser>, SessionError> {
    let id = session.id();
    let user = signed_in_user(
        session,
        store,
        max_lifetime,
        idle_timeout,
        mapping,
        renew,
        revalidator,
    )
    .await?;
    if let Some(id) = id {
        let key = id_hash(&id);
        match user {
            Some(_) => crate::infra::metrics::session_active(&key, idle_timeout),
            None => crate::infra::metrics::session_ended(&key),
        }
    }
    Ok(user)
}

/// Tells the count of active sessions that the session with cookie id `id`
/// was signed out.
pub fn signed_out(id: Option<tower_sessions::session::Id>) {
    if let Some(id) = id {
        crate::infra::metrics::session_ended(&id_hash(&id));
    }
}

/// [`current_user`] without the count of active sessions.
async fn signed_in_user(
    session: &Session,
    store: &Store,
    max_lifetime: Duration,
    idle_timeout: Duration,
    mapping: &str,
    renew: bool,
    revalidator: Option<&Revalidator<'_>>,
) -> Result<Option<CurrentUser>, SessionError> {
    let stored: Option<SessionUser> = session.get(USER_KEY).await?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    if stored.mapping != mapping {
        tracing::info!(user.name = %stored.user.username, "session ended: signed in under other identity rules");
        session.flush().await?;
        return Ok(None);
    }
    let age = chrono::Utc::now().timestamp() - stored.signed_in_at;
    if age < 0 || age as u64 > max_lifetime.as_secs() {
        session.flush().await?;
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp();
    let revalidation_due = |s: &SessionUser| {
        revalidator.is_some_and(|rv| {
            !rv.every.is_zero()
                && now - s.validated_at.max(s.signed_in_at) >= rv.every.as_secs() as i64
        })
    };
    let renew_every = (idle_timeout.as_secs() / 4).clamp(1, 60) as i64;
    let renewal_due =
        |s: &SessionUser| renew && now - s.touched_at.max(s.signed_in_at) >= renew_every;
    let mut stored = stored;
    // About to change the session: read it from the database, not from this
    // replica's memory of it, as another replica may have renewed it or been
    // given new IdP tokens in the last few seconds (a rotated refresh token
    // written back stale would end the session at the next re-validation).
    if (revalidation_due(&stored) || renewal_due(&stored))
        && let Some(id) = session.id()
    {
        store.forget(&id);
        session.load().await?;
        match session.get(USER_KEY).await? {
            Some(fresh) => stored = fresh,
            None => return Ok(None),
        }
    }
    if let Some(rv) = revalidator
        && revalidation_due(&stored)
    {
        match rv
            .oidc
            .revalidate(&stored.tokens, stored.user.uid.as_deref())
            .await
        {
            Revalidation::Accepted { claims, tokens } => match rv.mapping.map(&claims) {
                Ok(identity) if identity.username == stored.user.username => {
                    if identity.groups != stored.user.groups {
                        tracing::info!(user.name = %identity.username, before = ?stored.user.groups, now = ?identity.groups, "groups changed at the IdP");
                    }
                    stored.user.groups = identity.groups;
                    let refreshed = stored.tokens != tokens;
                    stored.tokens = tokens;
                    stored.validated_at = now;
                    // Only reads save the session (see above); a change
                    // uses the fresh groups for itself and asks again next
                    // time, unless the tokens were refreshed: an IdP that
                    // rotates refresh tokens would refuse the old one.
                    if renew || refreshed {
                        stored.touched_at = now;
                        session.insert(USER_KEY, &stored).await?;
                    }
                    return Ok(Some(stored.user));
                }
                Ok(_) => {
                    tracing::warn!(user.name = %stored.user.username, "session ended: the IdP now names someone else");
                    session.flush().await?;
                    return Ok(None);
                }
                Err(e) => {
                    tracing::warn!(user.name = %stored.user.username, error = %e, "session ended: the IdP's claims no longer map to an identity");
                    session.flush().await?;
                    return Ok(None);
                }
            },
            Revalidation::Refused(why) => {
                tracing::info!(user.name = %stored.user.username, reason = %why, "session ended: the IdP no longer accepts it");
                session.flush().await?;
                return Ok(None);
            }
            // The IdP cannot be asked: the session goes on for up to three
            // intervals since the IdP last confirmed it, then ends.
            Revalidation::Unknown(why) => {
                let grace = 3 * rv.every.as_secs() as i64;
                if now - stored.validated_at.max(stored.signed_in_at) > grace {
                    tracing::warn!(user.name = %stored.user.username, reason = %why, "session ended: the IdP could not confirm it for three intervals");
                    session.flush().await?;
                    return Ok(None);
                }
                tracing::warn!(user.name = %stored.user.username, reason = %why, "cannot re-validate the session at the IdP now");
            }
        }
    }
    if renewal_due(&stored) {
        let touched = SessionUser {
            touched_at: now,
            ..stored.clone()
        };
        session.insert(USER_KEY, &touched).await?;
    }
    Ok(Some(stored.user))
}
/// The session cookie's name. `__Host-` makes browsers refuse the cookie
/// unless it is Secure, host-only and for path `/`, so a sibling subdomain
/// cannot plant one; it needs HTTPS, so plain-HTTP local runs go without.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-strongroom"
    } else {
        "strongroom"
    }
}
