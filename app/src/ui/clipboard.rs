//! Copying to the clipboard, cleared again after the configured time, and
//! the reveal timers the server configures (delivered with `/api/v1/me`).

use leptos::prelude::*;

/// How long revealed values stay visible and copied values stay in the
/// clipboard: configured on the server, delivered with `/api/v1/me`.
#[derive(Clone, Copy)]
pub struct Timers {
    pub rehide: std::time::Duration,
    pub clipboard_clear: std::time::Duration,
}

pub fn timers() -> Timers {
    use_context::<Timers>().unwrap_or(Timers {
        rehide: std::time::Duration::from_secs(60),
        clipboard_clear: std::time::Duration::from_secs(30),
    })
}

/// Copies `text`, and clears the clipboard after `clear_after`.
pub fn copy_to_clipboard(text: &str, clear_after: std::time::Duration) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let clipboard = window.navigator().clipboard();
        let _ = clipboard.write_text(text);
        set_timeout(
            move || {
                if let Some(w) = web_sys::window() {
                    let _ = w.navigator().clipboard().write_text("");
                }
            },
            clear_after,
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (text, clear_after);
}
