//! The [`RequestFacts`] extractor: who asks from where, for audit records.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::request::Parts,
};

use super::{AppError, AppState};
use crate::domain::audit::facts::{RequestFacts, source_ip};

/// The longest `X-Request-Id` kept in audit records.
const MAX_REQUEST_ID: usize = 128;

impl<S> FromRequestParts<S> for RequestFacts
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(RequestFacts {
            // Bounded: a request id is for joining logs, not for filling
            // the audit store.
            request_id: header("x-request-id").map(|id| id.chars().take(MAX_REQUEST_ID).collect()),
            source_ip: source_ip(
                peer,
                header("x-forwarded-for").as_deref(),
                &app.config.trusted_proxies,
            )
            .map(|ip| ip.to_string()),
            user_agent: header("user-agent").map(|ua| ua.chars().take(256).collect()),
        })
    }
}
