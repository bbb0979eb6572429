//! The create form's parts: the kind tabs, key/value rows, text, password
//! and PEM fields, field errors, and reading chosen files.

use leptos::prelude::*;

use super::kind::SecretKind;

#[derive(Clone)]
pub struct Row {
    pub(super) id: usize,
    pub(super) key: RwSignal<String>,
    pub(super) text: RwSignal<String>,
    /// A file's bytes, when the value came from an upload.
    pub(super) file: RwSignal<Option<(String, Vec<u8>)>>,
}

impl Row {
    pub(super) fn new(id: usize, key: &str) -> Self {
        Row {
            id,
            key: RwSignal::new(key.into()),
            text: RwSignal::new(String::new()),
            file: RwSignal::new(None),
        }
    }
    pub(super) fn bytes(&self) -> Vec<u8> {
        self.file
            .with_untracked(|f| f.as_ref().map(|(_, b)| b.clone()))
            .unwrap_or_else(|| self.text.get_untracked().into_bytes())
    }
}

/// The kinds of secret, as tabs (arrow keys move between them).
#[component]
pub fn KindTabs(kind: RwSignal<SecretKind>) -> impl IntoView {
    let select = move |index: usize| {
        let chosen = SecretKind::ALL[index % SecretKind::ALL.len()];
        kind.set(chosen);
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let id = chosen.id();
            if let Some(tab) = document()
                .get_element_by_id(&format!("kind-tab-{id}"))
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = tab.focus();
            }
        }
    };
    view! {
        <div class="tabs" role="tablist" aria-label="Kind of secret">
            {SecretKind::ALL.into_iter().enumerate().map(|(index, this)| {
                let (id, label) = (this.id(), this.label());
                let selected = move || kind.get() == this;
                view! {
                    <button type="button" role="tab" class="tab" id=format!("kind-tab-{id}") data-kind=id
                        aria-controls="kind-panel"
                        aria-selected=move || selected().to_string()
                        tabindex=move || if selected() { "0" } else { "-1" }
                        on:click=move |_| kind.set(this)
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                            "ArrowRight" => { ev.prevent_default(); select(index + 1) }
                            "ArrowLeft" => { ev.prevent_default(); select(index + SecretKind::ALL.len() - 1) }
                            "Home" => { ev.prevent_default(); select(0) }
                            "End" => { ev.prevent_default(); select(SecretKind::ALL.len() - 1) }
                            _ => {}
                        }>
                        {label}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

#[component]
pub fn KeyValueRow(row: Row, on_remove: impl Fn(usize) + Send + Sync + 'static) -> impl IntoView {
    let id = row.id;
    let file = row.file;
    view! {
        <div class="kv-row" data-testid="kv-row">
            <label class="field"><span>"Key"</span>
                <input name="key" autocomplete="off" prop:value=row.key on:input=move |ev| row.key.set(event_target_value(&ev)) />
            </label>
            {move || match file.get() {
                Some((file_name, bytes)) => view! { <p class="file-value">{format!("{file_name}: {} bytes from a file", bytes.len())}</p> }.into_any(),
                None => view! {
                    <label class="field"><span>"Value"</span>
                        <textarea name="value" rows="1" class="mono" autocomplete="off" spellcheck="false" prop:value=row.text on:input=move |ev| row.text.set(event_target_value(&ev))></textarea>
                    </label>
                }.into_any(),
            }}
            <button type="button" class="button ghost" aria-label="Remove this key" on:click=move |_| on_remove(id)>"✕"</button>
        </div>
    }
}

#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    placeholder: &'static str,
) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <input name=name autocomplete="off" placeholder=placeholder prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

#[component]
pub fn SecretField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <input type="password" name=name autocomplete="new-password" prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

#[component]
pub fn PemField(label: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <textarea name=name rows="6" class="mono" spellcheck="false" autocomplete="off" prop:value=value on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        </label>
    }
}

#[component]
pub fn FieldError(id: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    view! { <span class="field-error" id=id role="alert">{move || message.get()}</span> }
}

/// Reads the files chosen in a file input, binary-safe.
pub fn read_files(
    ev: leptos::ev::Event,
    reading: RwSignal<u32>,
    on_file: impl Fn(String, Vec<u8>) + Clone + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(files) = input.files() else { return };
        for i in 0..files.length() {
            let Some(file) = files.get(i) else { continue };
            let on_file = on_file.clone();
            reading.update(|n| *n += 1);
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(buf) = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                    on_file(file.name(), js_sys::Uint8Array::new(&buf).to_vec());
                }
                reading.update(|n| *n = n.saturating_sub(1));
            });
        }
        input.set_value("");
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, reading, on_file);
    }
}
