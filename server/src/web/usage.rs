//! `/api/v1/namespaces/{ns}/secrets/{name}/usage` and `.../restart`.

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
