//! Strongroom's UI and everything the browser and the server share: the JSON
//! API's request and response types, the typed browser client for that API,
//! and the domain rules both sides enforce.
//!
//! Pages fetch their data in the browser after hydration (`LocalResource`), so
//! server-rendered HTML never carries secret data, let alone values.

#![recursion_limit = "256"]

pub mod api;
pub mod audit;
pub mod auth;
pub mod client;
pub mod guards;
pub mod secrets;
pub mod ui;

use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app, rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::{HashedStylesheet, MetaTags};
    set_page_security_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <HashedStylesheet options=options.clone() id="strongroom" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Extra origins a page may submit forms to (the IdP, which the sign-out
/// form redirects to); the server provides it when rendering a page.
#[derive(Clone, Debug, Default)]
pub struct PageSecurity {
    pub form_action_origins: Vec<String>,
}

/// A fresh nonce for this response and the Content-Security-Policy that
/// allows exactly the scripts carrying it (ARCHITECTURE.md invariant 6).
#[cfg(feature = "ssr")]
fn set_page_security_headers() {
    use leptos_axum::ResponseOptions;
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
    else {
        return;
    };
    let extra = use_context::<PageSecurity>()
        .unwrap_or_default()
        .form_action_origins
        .join(" ");
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self' {extra}"
    );
    if let Ok(value) = http::HeaderValue::from_str(&csp) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    response.insert_header(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
}

/// The application: layout and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // An expired session: keep the form's draft, then sign in and come back.
    #[cfg(feature = "hydrate")]
    client::on_unauthorized(|| {
        ui::draft::save_before_sign_in();
        auth::send_to_login();
    });
    view! {
        <Title text="Strongroom" />
        <Router>
            <ui::layout::Layout>
                <Routes fallback=ui::layout::NotFound>
                    <Route path=path!("/") view=auth::pages::HomePage />
                    <Route path=path!("/me") view=auth::pages::MePage />
                    <Route path=path!("/audit") view=audit::pages::AuditPageView />
                    <Route path=path!("/approvals") view=guards::pages::ApprovalsPage />
                    <Route path=path!("/ns/:ns") view=secrets::list_page::SecretListPage />
                    <Route path=path!("/ns/:ns/new") view=secrets::create_page::CreateSecretPage />
                    <Route path=path!("/ns/:ns/secrets/:name") view=secrets::detail_page::SecretDetailPage />
                    <Route path=path!("/ns/:ns/certificates") view=secrets::certs_page::ExpiringCertificatesPage />
                </Routes>
            </ui::layout::Layout>
        </Router>
    }
}
