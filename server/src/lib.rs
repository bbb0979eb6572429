//! Strongroom's server: OIDC sign-in, server-side sessions, Kubernetes access
//! as the signed-in user, the JSON API, and the host for the Leptos UI.
//!
//! Three layers that import one way only (see `docs/ARCHITECTURE.md`):
//! [`web`] (the edge: everything that knows axum) → [`domain`] (secrets,
//! audit, auth) → [`infra`] (the impersonating Kubernetes access, the
//! database, metrics). [`app`] is the composition root that builds them
//! from [`config`].

pub mod app;
pub mod config;
pub mod domain;
pub mod infra;
pub mod web;

pub use app::StartError;
pub use web::AppState;
