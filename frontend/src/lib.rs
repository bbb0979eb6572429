//! The browser entry point: hydrates the server-rendered page and nothing else.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // hydrate_lazy: the lazy routes (app/src/lib.rs) load their modules
    // before they hydrate.
    leptos::mount::hydrate_lazy(strongroom_app::App);
}
