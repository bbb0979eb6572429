//! Browser-facing defences (ARCHITECTURE.md invariants 1 and 6): defensive
//! headers on every response, `no-store` on data, CSRF checks on
//! state-changing API requests, and the sign-in guard for pages.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use strongroom_app::api::CSRF_HEADER;
use tower_sessions::Session;

use super::{AppError, AppState};
use crate::domain::auth::session;

/// `Strict-Transport-Security`, when people reach Strongroom over https:
/// browsers then refuse plain http to this host for a year (the span
/// Mozilla's guidelines and the HSTS preload list ask for), so a network
/// attacker cannot strip TLS from a later visit. Not `includeSubDomains`:
/// Strongroom's host speaks for itself, not for its siblings under the
/// same parent domain.
pub const HSTS: &str = "max-age=31536000";

/// What [`headers`] adds beyond the fixed set: HSTS only when the public URL
/// is https (over plain http a browser would ignore it, and a local or test
/// setup must not pin its host to https).
#[derive(Clone, Copy, Debug)]
pub struct HeaderPolicy {
    hsts: bool,
}

impl HeaderPolicy {
    /// The policy for a site people reach at `public_url`
    /// (`STRONGROOM_PUBLIC_URL`).
    pub fn for_public_url(public_url: &url::Url) -> Self {
        HeaderPolicy {
            hsts: public_url.scheme() == "https",
        }
    }
}

/// Headers every response gets. Pages set their own CSP with a per-response
/// nonce (see `strongroom_app::shell`); everything else gets a CSP that
/// allows nothing. With an https public URL, HSTS too ([`HSTS`]).
pub async fn headers(State(policy): State<HeaderPolicy>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if policy.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The session layer answers a bare 500 when it cannot save a session (its
/// store, the database, is down). That becomes what every other outage is:
/// a 503 that says what is wrong, JSON for the API and a page for people.
pub async fn session_store_failures(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let bare_500 = response.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE);
    if !bare_500 {
        return response;
    }
    tracing::error!("the session store failed; answering 503");
    if api {
        AppError::Unavailable(
            "The session store is unavailable right now, so nothing was done. Please try again shortly.".into(),
        )
        .into_response()
    } else {
        super::error_page(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "Strongroom is unavailable",
            "The session store is unavailable right now. Please try again shortly.",
        )
    }
}

/// The API's guard: `no-store` on every answer, and for state-changing
/// methods a matching `Origin` plus the custom header (browsers cannot add
/// it to a cross-site form post without a CORS preflight, which we never
/// grant).
pub async fn api_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && let Err(e) = check_csrf(&state, &request, true)
    {
        return e.into_response();
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Checks `Origin` (and, for the API, the custom header) of a
/// state-changing request.
pub fn check_csrf(
    state: &AppState,
    request: &Request<Body>,
    require_header: bool,
) -> Result<(), AppError> {
    // Fetch Metadata first: browsers say whether a request comes from the
    // same origin. `Origin` can be `null` on same-origin form posts (privacy
    // settings, redirects), so it only decides when Fetch Metadata is absent.
    let fetch_site = request
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    let origin = request.headers().get(header::ORIGIN);
    let origin_ok = match (fetch_site, origin) {
        (Some(site), _) => site == "same-origin" || site == "none",
        (None, Some(origin)) => origin.as_bytes() == state.origin.as_bytes(),
        // A request with neither comes from a non-browser client, which the
        // custom header covers.
        (None, None) => true,
    };
    if !origin_ok {
        tracing::warn!(
            fetch_site = fetch_site.unwrap_or("-"),
            origin = origin.and_then(|o| o.to_str().ok()).unwrap_or("-"),
            "cross-origin request refused"
        );
        return Err(AppError::Forbidden("cross-origin request refused".into()));
    }
    if require_header && !request.headers().contains_key(CSRF_HEADER) {
        return Err(AppError::Forbidden(format!(
            "missing the {CSRF_HEADER} header"
        )));
    }
    Ok(())
}

/// Pages need a signed-in user: anyone else goes through sign-in and comes
/// back to the page they asked for.
pub async fn require_page_login(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    match session::current_user(
        &session,
        &state.session_store,
        state.config.session_max_lifetime,
        state.config.session_idle_timeout,
        &state.identity_rules,
        true,
        Some(&state.revalidator()),
    )
    .await
    {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => {
            let here = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let target = format!("/auth/login?next={}", urlencode(&here));
            Redirect::to(&target).into_response()
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, middleware, routing::get};
    use tower::ServiceExt;

    use super::*;

    async fn answer(public_url: &str, path: &str) -> Response {
        let policy = HeaderPolicy::for_public_url(&public_url.parse().unwrap());
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(middleware::from_fn_with_state(policy, headers))
            .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_https_public_url_sends_hsts_on_every_answer() {
        for path in ["/", "/no-such-page"] {
            let response = answer("https://secrets.example.com", path).await;
            assert_eq!(
                response.headers()[header::STRICT_TRANSPORT_SECURITY],
                "max-age=31536000",
                "{path}"
            );
            assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        }
    }

    #[tokio::test]
    async fn an_http_public_url_never_sends_hsts() {
        for url in ["http://127.0.0.1:3000", "http://secrets.example.com"] {
            let response = answer(url, "/").await;
            assert!(
                !response
                    .headers()
                    .contains_key(header::STRICT_TRANSPORT_SECURITY),
                "{url}"
            );
            assert_eq!(
                response.headers()[header::X_CONTENT_TYPE_OPTIONS],
                "nosniff"
            );
        }
    }
}
