//! Certificates in secrets: one secret's, and a namespace's expiring ones.

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
