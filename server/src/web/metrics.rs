//! `/metrics` at the edge: the route (on the main listener, or alone on its
//! own listener when `STRONGROOM_METRICS_LISTEN` is set) and the middleware
//! that times every request by its route template.

use std::{net::SocketAddr, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};

use crate::infra::metrics;

/// The route label of requests no route matched (the app's 404s, files
/// from the site root): a fixed word, since their paths are anyone's.
pub const UNMATCHED: &str = "unmatched";

/// A router that serves `/metrics`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(render))
}

async fn render() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(),
    )
}

/// Times a request until its answer's head is ready, labelled with the
/// route template axum matched (`/api/v1/namespaces/{ns}/secrets/{name}`),
/// never the path itself: paths hold namespace and secret names, and would
/// make one series per secret.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_string(),
        // Nested services (the hashed bundle under /pkg) get no MatchedPath.
        None if request.uri().path().starts_with("/pkg/") => "/pkg/{*file}".to_string(),
        None => UNMATCHED.to_string(),
    };
    if crate::infra::memory::counts(&route) {
        crate::infra::memory::note_request();
    }
    let response = next.run(request).await;
    metrics::http_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Starts the separate `/metrics` listener when `listen` is set: binds it
/// (an error if it cannot) and serves `/metrics` alone there in a task of
/// its own. Returns the bound address and the task.
pub async fn start_listener(
    listen: Option<SocketAddr>,
) -> std::io::Result<Option<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving /metrics");
    let task = tokio::spawn(super::serve(
        listener,
        router::<()>(),
        std::future::pending(),
    ));
    Ok(Some((address, task)))
}
