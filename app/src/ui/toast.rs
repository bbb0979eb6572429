//! Toasts: short confirmations and failures, announced to screen readers
//! (a polite `status` region for successes, an assertive `alert` region for
//! failures) and dismissed after a few seconds or by hand. Provided once by
//! the layout, so a toast outlives the page that raised it ("Deleted x"
//! shows on the list the user lands on). Toast texts name things; they never
//! carry secret values.

use leptos::prelude::*;

const SHOWN_FOR: std::time::Duration = std::time::Duration::from_secs(8);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Toast {
    id: u64,
    ok: bool,
    text: String,
}

/// The handle pages use: `use_toasts().ok("Saved.")`.
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    /// A confirmation, announced politely.
    pub fn ok(&self, text: impl Into<String>) {
        self.push(true, text.into());
    }

    /// A failure, announced at once.
    pub fn error(&self, text: impl Into<String>) {
        self.push(false, text.into());
    }

    fn push(&self, ok: bool, text: String) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, ok, text }));
        let list = self.list;
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), SHOWN_FOR);
    }

    fn dismiss(&self, id: u64) {
        self.list.update(|l| l.retain(|t| t.id != id));
    }
}

/// Creates the toasts for the whole app (called by the layout).
pub fn provide_toasts() -> Toasts {
    let toasts = Toasts {
        list: RwSignal::new(Vec::new()),
        next: StoredValue::new(0),
    };
    provide_context(toasts);
    toasts
}

/// The app's toasts; outside the layout (tests) a detached set.
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(provide_toasts)
}

/// Where toasts appear. Both live regions exist from the first render, so
/// screen readers announce what is added to them.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    let shown = move |ok: bool| {
        move || {
            toasts
                .list
                .get()
                .into_iter()
                .filter(|t| t.ok == ok)
                .map(|t| {
                    let id = t.id;
                    view! {
                        <div class=if t.ok { "toast ok" } else { "toast error" } data-testid="toast">
                            <span>{t.text}</span>
                            <button type="button" class="toast-close" aria-label="Dismiss" on:click=move |_| toasts.dismiss(id)>"×"</button>
                        </div>
                    }
                })
                .collect_view()
        }
    };
    view! {
        <div class="toast-region">
            <div role="status" aria-live="polite">{shown(true)}</div>
            <div role="alert" aria-live="assertive">{shown(false)}</div>
        </div>
    }
}
