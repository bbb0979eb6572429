//! Who is asking: OIDC sign-in, the server-side session, and the
//! [`CurrentUser`] extractor every protected handler takes.

pub mod identity;
pub mod me;
pub mod oidc;
pub mod routes;
pub mod session;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::{AppState, http::AppError};

/// The signed-in user, as Kubernetes will see them. It exists only for a
/// request that carries a valid session; a Kubernetes handle can only be made
/// from one (see [`crate::kube::KubeAccess::for_user`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Sent as `Impersonate-User`.
    pub username: String,
    /// Sent as `Impersonate-Group`.
    pub groups: Vec<String>,
    /// The ID token's subject, sent as `Impersonate-Uid`.
    pub uid: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

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
            app.config.session_max_lifetime,
            app.config.session_idle_timeout,
        )
        .await?
        .ok_or(AppError::Unauthenticated)
    }
}
