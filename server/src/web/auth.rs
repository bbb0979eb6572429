//! `/auth/login`, `/auth/callback` and `/auth/logout`.

use axum::{
    Router,
    body::Body,
    extract::{Query, Request, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{AppState, error_page, security::check_csrf};
use crate::domain::auth::{
    CurrentUser,
    oidc::{OidcError, PendingLogin},
    session::{PENDING_LOGIN_KEY, SessionUser, USER_KEY, signed_out},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    /// `1`: a step-up sign-in for a guarded namespace (`max_age`).
    step_up: Option<String>,
}

/// Accepts only same-origin relative paths as a return target: one leading
/// slash, no scheme, no authority (`//host`), no backslash tricks (`/\host`,
/// which browsers read as `//host`), no control characters.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".into() };
    // A page's address, not a payload: what the pending login keeps stays small.
    let ok = next.len() <= MAX_NEXT
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control())
        && !next.starts_with("/auth/");
    if ok { next.to_string() } else { "/".into() }
}

/// The longest return path kept across a sign-in.
const MAX_NEXT: usize = 2048;

async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Response {
    // The pending login is added to the session as the database holds it,
    // not to this replica's memory of it (which may predate another
    // replica's change, such as new IdP tokens).
    if let Some(id) = session.id() {
        state.session_store.forget(&id);
    }
    let next = safe_next(q.next.as_deref());
    // A step-up asks the IdP for a new authentication (`max_age=0`) and
    // accepts one at most a minute old (less when the guard asks for less),
    // so the person has nearly the whole guard's age to reveal in.
    let step_up = q.step_up.is_some_and(|v| v == "1").then_some(
        state
            .guards
            .step_up_max_age
            .min(std::time::Duration::from_secs(60)),
    );
    let (url, pending) = match state.oidc.begin(next, step_up).await {
        Ok(v) => v,
        Err(e) => return sign_in_error(e),
    };
    if let Err(e) = session.insert(PENDING_LOGIN_KEY, &pending).await {
        tracing::error!(error = %e, "cannot store the pending login");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "The session store is unavailable right now. Please try again shortly.",
        );
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<CallbackQuery>,
) -> Response {
    // As in `login`: the pending login is read from the database.
    if let Some(id) = session.id() {
        state.session_store.forget(&id);
    }
    // The pending login is single-use: taken out before anything else, so a
    // replayed callback finds nothing.
    let pending: Option<PendingLogin> = match session.remove(PENDING_LOGIN_KEY).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the pending login");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "The session store is unavailable right now. Please try again shortly.",
            );
        }
    };
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or(error);
        return sign_in_error(OidcError::Provider(detail));
    }
    let (Some(pending), Some(code), Some(returned_state)) = (pending, q.code, q.state) else {
        return sign_in_error(OidcError::StateMismatch);
    };
    let verified = match state.oidc.finish(&pending, &code, &returned_state).await {
        Ok(v) => v,
        Err(e) => return sign_in_error(e),
    };
    let identity = match state.identity.map(&verified.claims) {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused: identity mapping");
            return error_page(StatusCode::FORBIDDEN, "Sign-in refused", &e.to_string());
        }
    };
    let auth_time = verified.claims.get("auth_time").and_then(|t| t.as_i64());
    if let Some(max_age) = pending.max_age {
        let now = chrono::Utc::now().timestamp();
        if !crate::domain::guard::fresh(auth_time, std::time::Duration::from_secs(max_age), now) {
            // The session stays as it was: signed in, not stepped up.
            let said = match auth_time {
                Some(at) => format!(
                    "says you last signed in {} ago",
                    humantime::format_duration(std::time::Duration::from_secs(
                        now.saturating_sub(at).max(0) as u64
                    ))
                ),
                None => "did not say when you last signed in".into(),
            };
            tracing::warn!(auth_time = ?auth_time, max_age, "step-up refused: the IdP did not authenticate the user again");
            return error_page(
                StatusCode::FORBIDDEN,
                "Fresh sign-in not confirmed",
                &format!(
                    "Strongroom asked the sign-in service to confirm it is you again (max_age=0, a sign-in within the last {}), but it {said}. Nothing was revealed. Sign out and in again, and if this repeats, tell your platform team: the sign-in service may ignore max_age.",
                    humantime::format_duration(std::time::Duration::from_secs(max_age))
                ),
            );
        }
    }
    let user = CurrentUser {
        username: identity.username,
        groups: identity.groups,
        uid: identity.uid,
        name: identity.name,
        auth_time,
    };
    // A new session id at the privilege change defeats session fixation.
    if let Err(e) = session.cycle_id().await {
        tracing::error!(error = %e, "cannot rotate the session id");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "The session store is unavailable right now. Please try again shortly.",
        );
    }
    let stored = SessionUser {
        user: user.clone(),
        signed_in_at: chrono::Utc::now().timestamp(),
        touched_at: chrono::Utc::now().timestamp(),
        mapping: state.identity_rules.clone(),
        validated_at: chrono::Utc::now().timestamp(),
        tokens: verified.tokens,
    };
    let saved = async {
        session.insert(USER_KEY, &stored).await?;
        session.save().await
    }
    .await;
    if let Err(e) = saved {
        tracing::error!(error = %e, "cannot store the session");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "The session store is unavailable right now. Please try again shortly.",
        );
    }
    tracing::info!(user.name = %user.username, user.groups = ?user.groups, step_up = pending.max_age.is_some(), "signed in");
    Redirect::to(&safe_next(Some(&pending.next))).into_response()
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    request: Request<Body>,
) -> Response {
    if let Err(e) = check_csrf(&state, &request, false) {
        return e.into_response();
    }
    let user = session.get::<SessionUser>(USER_KEY).await.ok().flatten();
    let id = session.id();
    // Destroys the server-side record: the old cookie is worthless from now
    // on (and stays so: the store never re-creates a deleted session). The
    // stored session goes first: when that fails, say so (the browser keeps
    // its cookie and can try again) rather than look signed out.
    if let Err(e) = session.delete().await {
        tracing::error!(error = %e, "cannot destroy the session");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-out failed",
            "The session store is unavailable, so your session could not be ended. Please try again shortly, and close the browser if you cannot.",
        );
    }
    signed_out(id);
    if let Err(e) = session.flush().await {
        // The stored session is gone already; this only clears the cookie.
        tracing::warn!(error = %e, "cannot clear the session after deleting it");
    }
    if let Some(user) = user {
        tracing::info!(user.name = %user.user.username, "signed out");
    }
    // RP-initiated logout names the client rather than carrying the ID
    // token: the raw token is not kept in the session at all.
    match state.oidc.logout_url(None).await {
        Some(url) => Redirect::to(url.as_str()).into_response(),
        None => Redirect::to("/").into_response(),
    }
}

fn sign_in_error(e: OidcError) -> Response {
    tracing::warn!(error = %e, "sign-in failed");
    match e {
        OidcError::Unreachable { .. } => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in service unreachable",
            "The company sign-in service cannot be reached right now. Please try again in a minute; if it persists, tell your platform team.",
        ),
        OidcError::StateMismatch => {
            error_page(StatusCode::BAD_REQUEST, "Sign-in expired", &e.to_string())
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in could not be completed. Please sign in again.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_NEXT, safe_next};

    #[test]
    fn relative_paths_are_kept() {
        assert_eq!(safe_next(Some("/ns/team-a?x=1")), "/ns/team-a?x=1");
    }

    #[test]
    fn off_site_targets_fall_back_to_home() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/\tx",
            "/auth/login",
            &format!("/{}", "a".repeat(MAX_NEXT)),
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
