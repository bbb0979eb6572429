//! The page frame: header with navigation and the signed-in user, the theme
//! toggle, and the panels pages use for errors and missing pages.

use leptos::prelude::*;

use crate::{client, client::ClientError};

/// The signed-in user's `/me`, fetched once by the frame for the parts of a
/// page that only need to read it.
#[derive(Clone, Copy)]
pub struct SharedMe(pub LocalResource<Result<crate::api::Me, ClientError>>);

impl SharedMe {
    /// The frame's, or a fetch of its own outside the frame.
    pub fn get() -> LocalResource<Result<crate::api::Me, ClientError>> {
        use_context::<SharedMe>()
            .map(|m| m.0)
            .unwrap_or_else(|| LocalResource::new(client::me))
    }
}

/// The frame around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let me = LocalResource::new(client::me);
    provide_context(SharedMe(me));
    super::toast::provide_toasts();
    keyboard_shortcuts();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▣"</span>
                " Strongroom"
            </a>
            <nav aria-label="Main">
                <a href="/">"Namespaces"</a>
                <a href="/me">"Identity"</a>
                <Suspense fallback=|| ()>
                    {move || me.get().and_then(|r| r.ok()).filter(|m| m.auditor).map(|_| view! { <a href="/audit">"Audit"</a> })}
                    {move || me.get().and_then(|r| r.ok()).filter(|m| m.approver || m.guards.values().any(|g| g.approval)).map(|_| view! { <a href="/approvals" data-testid="nav-approvals">"Approvals"</a> })}
                </Suspense>
            </nav>
            <div class="topbar-end">
                <ThemeToggle />
                <Suspense fallback=|| ()>
                    {move || me.get().and_then(|r| r.ok()).map(|me| view! {
                        <span class="whoami" data-testid="whoami">{me.name.unwrap_or(me.username)}</span>
                        <form method="post" action="/auth/logout" class="inline">
                            <button type="submit" class="button ghost">"Sign out"</button>
                        </form>
                    })}
                </Suspense>
            </div>
        </header>
        <main id="main" tabindex="-1">{children()}</main>
        <super::toast::ToastRegion />
    }
}

/// `/` focuses the page's filter (the element marked
/// `data-shortcut="filter"`) unless the user is typing somewhere.
fn keyboard_shortcuts() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, |ev| {
            if ev.key() != "/" || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let doc = document();
            let typing = doc.active_element().is_some_and(|el| {
                matches!(
                    el.tag_name().to_ascii_lowercase().as_str(),
                    "input" | "textarea" | "select"
                ) || el.has_attribute("contenteditable")
            });
            if typing {
                return;
            }
            if let Some(filter) = doc
                .query_selector("[data-shortcut=filter]")
                .ok()
                .flatten()
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                ev.prevent_default();
                let _ = filter.focus();
            }
        });
        on_cleanup(move || handle.remove());
    }
}

/// Switches between light and dark; the choice is remembered in the browser.
#[component]
fn ThemeToggle() -> impl IntoView {
    let (theme, set_theme) = signal(None::<String>);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let stored = web_sys::window()
                .and_then(|w| w.local_storage().ok().flatten())
                .and_then(|s| s.get_item("strongroom.theme").ok().flatten());
            if let Some(t) = stored {
                set_theme.set(Some(t));
            }
        }
    });
    Effect::new(move |_| {
        let current = theme.get();
        #[cfg(feature = "hydrate")]
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            match &current {
                Some(t) => {
                    let _ = root.set_attribute("data-theme", t);
                }
                None => {
                    let _ = root.remove_attribute("data-theme");
                }
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = current;
    });
    let toggle = move |_| {
        let next = match theme.get_untracked().as_deref() {
            Some("dark") => "light",
            Some("light") => "dark",
            _ => {
                if prefers_dark() {
                    "light"
                } else {
                    "dark"
                }
            }
        };
        #[cfg(feature = "hydrate")]
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item("strongroom.theme", next);
        }
        set_theme.set(Some(next.to_string()));
    };
    let label = move || match theme.get().as_deref() {
        Some("dark") => "Light theme",
        Some("light") => "Dark theme",
        _ => "Toggle theme",
    };
    view! {
        <button type="button" class="button ghost" data-testid="theme-toggle" aria-label=label on:click=toggle>
            <span aria-hidden="true">"◐"</span>
        </button>
    }
}

fn prefers_dark() -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .map(|m| m.matches())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// A failed request, with what the user can do about it.
#[component]
pub fn ErrorPanel(
    error: ClientError,
    /// Offered as "Try again" when the request may succeed on a second go.
    #[prop(optional, into)]
    retry: Option<Callback<()>>,
) -> impl IntoView {
    let title = match error.status {
        0 => "Could not reach Strongroom",
        401 => "Your session has ended",
        403 => "Not allowed",
        404 => "Not found",
        409 => "Conflict",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    };
    view! {
        <div class="panel error" role="alert" data-testid="error-panel" data-code=error.error.code.clone()>
            <h2>{title}</h2>
            <p>{error.error.message}</p>
            {retry.map(|retry| view! {
                <div class="actions">
                    <button type="button" class="button ghost" on:click=move |_| retry.run(())>"Try again"</button>
                </div>
            })}
        </div>
    }
}

/// The page shown for an unknown path.
#[component]
pub fn NotFound() -> impl IntoView {
    mark_hydrated();
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to your namespaces"</a></p>
        </section>
    }
}

/// Marks the document as hydrated (`<html data-hydrated=true>`) once the
/// page that calls it is: people (and tests) can then tell the page is
/// interactive. Each page calls it, not the frame: a page whose code is
/// loaded on its own (a lazy route) hydrates after the frame, and what is
/// typed into it before then would be lost. Effects run only in the browser.
pub fn mark_hydrated() {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
