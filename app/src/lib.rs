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
    Lazy,
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

/// A route whose code is loaded when it is first visited: with
/// `cargo leptos build --split`, its page is a wasm module of its own, and
/// the first download carries only the shell and the namespace picker.
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                ui::layout::mark_hydrated();
                view! { <$page /> }.into_any()
            }
        }
    };
}

use audit::pages::AuditPageView;
use auth::pages::MePage;
use guards::pages::ApprovalsPage;
use secrets::{
    certs_page::ExpiringCertificatesPage, create_page::CreateSecretPage,
    detail_page::SecretDetailPage, list_page::SecretListPage,
};

lazy_page!(MeRoute, MePage);
lazy_page!(AuditRoute, AuditPageView);
lazy_page!(ApprovalsRoute, ApprovalsPage);
lazy_page!(ListRoute, SecretListPage);
lazy_page!(CreateRoute, CreateSecretPage);
lazy_page!(DetailRoute, SecretDetailPage);
lazy_page!(CertificatesRoute, ExpiringCertificatesPage);

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
                    <Route path=path!("/me") view={Lazy::<MeRoute>::new()} />
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} />
                    <Route path=path!("/approvals") view={Lazy::<ApprovalsRoute>::new()} />
                    <Route path=path!("/ns/:ns") view={Lazy::<ListRoute>::new()} />
                    <Route path=path!("/ns/:ns/new") view={Lazy::<CreateRoute>::new()} />
                    <Route path=path!("/ns/:ns/secrets/:name") view={Lazy::<DetailRoute>::new()} />
                    <Route path=path!("/ns/:ns/certificates") view={Lazy::<CertificatesRoute>::new()} />
                </Routes>
            </ui::layout::Layout>
        </Router>
    }
}
