//! Who the user is: the sign-in redirect, the identity page and the home page
//! with the namespace picker.

pub mod pages;

/// Sends the browser through sign-in and back to the page it is on.
#[cfg(feature = "hydrate")]
pub fn send_to_login() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let next = js_sys::encode_uri_component(&here);
    let _ = location.assign(&format!("/auth/login?next={next}"));
}
