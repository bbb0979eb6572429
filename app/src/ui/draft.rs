//! Unsaved form input that survives a trip through sign-in when the session
//! has expired. A page registers what it may keep (never values: names,
//! keys, labels, choices); when an API call answers 401 the client saves it
//! in `sessionStorage` under the page's path just before sending the browser
//! to sign-in, and the page takes it back (once) when it loads again.

#[cfg(feature = "hydrate")]
use leptos::prelude::on_cleanup;

#[cfg(feature = "hydrate")]
const PREFIX: &str = "strongroom.draft:";

#[cfg(feature = "hydrate")]
type Snapshot = Box<dyn Fn() -> serde_json::Value>;

#[cfg(feature = "hydrate")]
thread_local! {
    /// The shown page's snapshot, with a generation so that a page leaving
    /// after the next one arrived does not remove the newcomer's.
    static SAVE: std::cell::RefCell<(u64, Option<Snapshot>)> = const { std::cell::RefCell::new((0, None)) };
}

/// A page keeps a draft of its form: `snapshot` must leave out every value.
/// The registration ends with the page.
pub fn keep_draft(snapshot: impl Fn() -> serde_json::Value + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let generation = SAVE.with(|s| {
            let mut s = s.borrow_mut();
            s.0 += 1;
            s.1 = Some(Box::new(snapshot));
            s.0
        });
        on_cleanup(move || {
            SAVE.with(|s| {
                let mut s = s.borrow_mut();
                if s.0 == generation {
                    s.1 = None;
                }
            })
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = snapshot;
}

/// Saves the current page's draft (if any) before a redirect to sign-in.
#[cfg(feature = "hydrate")]
pub fn save_before_sign_in() {
    let draft = SAVE.with(|s| s.borrow().1.as_ref().map(|f| f()));
    let (Some(draft), Some(window)) = (draft, web_sys::window()) else {
        return;
    };
    let path = window.location().pathname().unwrap_or_default();
    if let Ok(Some(storage)) = window.session_storage() {
        let _ = storage.set_item(&format!("{PREFIX}{path}"), &draft.to_string());
    }
}

/// Takes back (and forgets) the draft saved for this page, if any.
pub fn take_draft() -> Option<serde_json::Value> {
    #[cfg(feature = "hydrate")]
    {
        let window = web_sys::window()?;
        let path = window.location().pathname().ok()?;
        let storage = window.session_storage().ok()??;
        let key = format!("{PREFIX}{path}");
        let text = storage.get_item(&key).ok()??;
        let _ = storage.remove_item(&key);
        serde_json::from_str(&text).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}
