//! The [`CurrentUser`] extractor every protected handler takes: the
//! session's user, or 401.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use tower_sessions::Session;

use super::{AppError, AppState};
use crate::domain::auth::{CurrentUser, session};

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::internal(format!("session layer missing: {msg}")))?;
        let app = AppState::from_ref(state);
        session::current_user(
            &session,
            &app.session_store,
            app.config.session_max_lifetime,
            app.config.session_idle_timeout,
            &app.identity_rules,
            // Only reads renew the idle timer (see `current_user`).
            matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD
            ),
            Some(&app.revalidator()),
        )
        .await?
        .ok_or(AppError::Unauthenticated)
    }
}
