//! The edge: the only code that knows axum. Routes, handlers, extractors,
//! [`AppError`] and the one place domain errors become HTTP answers,
//! security middleware, assets, serving, the OpenAPI document.
//!
//! Handlers take the request apart, call one domain operation
//! (`crate::domain`) with the user's Kubernetes handle, and answer; they
//! never reach the Kubernetes verbs or the audit store's writes themselves
//! (`server/tests/layers.rs` checks it).

mod assets;
pub mod audit;
pub mod auth;
pub mod certs;
mod error;
pub mod extract;
pub mod facts;
pub mod gitops;
pub mod guards;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod secrets;
pub mod security;
mod serve;
mod state;
pub mod usage;
pub mod user;

pub use assets::{brotli_bytes, precompress};
pub use error::{AppError, error_page};
pub use serve::{HEADER_READ_TIMEOUT, serve};
pub use state::{AppState, Inner};

use axum::{
    Router, extract::State, http::StatusCode, middleware, response::IntoResponse, routing::get,
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use strongroom_app::{App, PageSecurity, shell};

/// The whole application as a router, so tests can drive it without a socket.
pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos.clone();
    let routes = generate_route_list(App);
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let security = PageSecurity {
                    form_action_origins: vec![state.oidc_origin.clone()],
                };
                move || provide_context(security.clone())
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            security::require_page_login,
        ))
        // Pages are compressed on the fly: they carry no secret values
        // (invariant 3), so there is nothing for a compression side channel
        // to find. API answers, which may carry values, are not compressed.
        .layer(tower_http::compression::CompressionLayer::new());

    let api = Router::new()
        .route("/me", get(me::get_me))
        .route("/namespaces", get(me::find_namespaces))
        .merge(secrets::router())
        .merge(usage::router())
        .merge(certs::router())
        .merge(gitops::router())
        .merge(guards::router())
        .route("/audit", get(audit::trail))
        .route(
            "/namespaces/{ns}/secrets/{name}/history",
            get(audit::history),
        )
        .route("/openapi.json", get(openapi::serve))
        // An unknown API path is a JSON 404, not the app's HTML page.
        .fallback(|| async { AppError::NotFound("There is no such API endpoint.".into()) })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::api_guard,
        ))
        // Oversize bodies are refused from Content-Length (or once the limit
        // has arrived), never buffered whole.
        .layer(axum::extract::DefaultBodyLimit::disable())
        // A request (slow body included) that takes longer than this gets
        // 408; the Kubernetes and audit timeouts are shorter.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            state.config.max_request_bytes,
        ));

    // With a listener of its own (STRONGROOM_METRICS_LISTEN), /metrics is
    // served there only: here it is a 404, so the public route never has it.
    let metrics_here = if state.config.metrics_listen.is_none() {
        metrics::router()
    } else {
        Router::new()
    };

    Router::new()
        .nest("/api/v1", api)
        .merge(auth::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(metrics_here)
        .merge(assets::pkg_router(
            std::path::Path::new(&*leptos_options.site_root),
            leptos_options.hash_files,
        ))
        .merge(pages)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(state.sessions.clone())
        .layer(middleware::from_fn(security::session_store_failures))
        // A panic becomes a 500 for that request, never a dropped connection;
        // the panic message is not sent to the client.
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        // Outside the panic catcher: its 500s carry the headers too.
        .layer(middleware::from_fn_with_state(
            security::HeaderPolicy::for_public_url(&state.config.public_url),
            security::headers,
        ))
        // Outermost, and after routing (axum applies layers per route), so
        // it sees the matched route template and every answer, 500s from
        // panics included.
        .layer(middleware::from_fn(metrics::track))
        .with_state(state)
}

/// Liveness: the process serves requests.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. The API server and the IdP are not
/// checked: a replica that cannot reach them still serves clear errors, and
/// taking every replica out of a Service would only make that worse.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "readiness: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
