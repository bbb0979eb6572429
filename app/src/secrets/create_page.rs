//! Creating a secret: generic (literals, files, env file), docker-registry,
//! TLS, basic-auth, ssh-auth, and templates that prefill generic secrets.
//! The rules are checked here, next to each field, and again on the server.

use std::collections::BTreeMap;

use base64::Engine;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::rules;
use crate::{
    api::{CreateSecretRequest, DataEntry, SecretInput},
    client::{self, ClientError},
    ui::layout::ErrorPanel,
};

/// Templates: a name and the keys they prefill.
const TEMPLATES: &[(&str, &str, &[&str])] = &[
    (
        "aws",
        "AWS credentials",
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    ),
    (
        "elasticsearch",
        "Elasticsearch",
        &[
            "ELASTICSEARCH_URL",
            "ELASTICSEARCH_USERNAME",
            "ELASTICSEARCH_PASSWORD",
        ],
    ),
    (
        "helm-repo",
        "Helm repository",
        &["url", "username", "password"],
    ),
];

#[derive(Clone)]
struct Row {
    id: usize,
    key: RwSignal<String>,
    text: RwSignal<String>,
    /// A file's bytes, when the value came from an upload.
    file: RwSignal<Option<(String, Vec<u8>)>>,
}

impl Row {
    fn new(id: usize, key: &str) -> Self {
        Row {
            id,
            key: RwSignal::new(key.into()),
            text: RwSignal::new(String::new()),
            file: RwSignal::new(None),
        }
    }
    fn bytes(&self) -> Vec<u8> {
        self.file
            .with_untracked(|f| f.as_ref().map(|(_, b)| b.clone()))
            .unwrap_or_else(|| self.text.get_untracked().into_bytes())
    }
}

#[component]
pub fn CreateSecretPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let kind = RwSignal::new("generic".to_string());
    let name = RwSignal::new(String::new());
    let next_id = StoredValue::new(1usize);
    let rows = RwSignal::new(vec![Row::new(0, "")]);
    let fields: [RwSignal<String>; 6] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [f_server, f_user, f_pass, f_email, f_cert, f_key] = fields;
    let env_text = RwSignal::new(String::new());
    let labels = RwSignal::new(String::new());
    let immutable = RwSignal::new(false);
    let errors = RwSignal::new(BTreeMap::<String, String>::new());
    let (server_error, set_server_error) = signal(None::<ClientError>);
    let navigate = use_navigate();
    let toasts = crate::ui::toast::use_toasts();
    // Files being read; their progress shows while this is above zero.
    let reading = RwSignal::new(0u32);

    let add_row = move |key: &str| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        rows.update(|r| r.push(Row::new(id, key)));
    };
    let apply_template = move |t: String| {
        if let Some((_, _, keys)) = TEMPLATES.iter().find(|(id, _, _)| *id == t) {
            kind.set("generic".into());
            rows.set(Vec::new());
            for k in keys.iter() {
                add_row(k);
            }
        }
    };

    let submit = Action::new_local(move |req: &CreateSecretRequest| {
        let req = req.clone();
        let ns = ns();
        let navigate = navigate.clone();
        async move {
            match client::secrets::create(&ns, &req).await {
                Ok(d) => {
                    toasts.ok(format!("Created {}.", d.name));
                    navigate(&format!("/ns/{ns}/secrets/{}", d.name), Default::default())
                }
                Err(e) => {
                    if let Some(field) = e.error.field.clone() {
                        errors.update(|m| {
                            m.insert(field, e.error.message.clone());
                        });
                    }
                    set_server_error.set(Some(e));
                }
            }
        }
    });

    // What survives a sign-in after the session expired: never values.
    crate::ui::draft::keep_draft(move || {
        serde_json::json!({
            "name": name.get_untracked(),
            "kind": kind.get_untracked(),
            "keys": rows.get_untracked().iter().map(|r| r.key.get_untracked()).collect::<Vec<_>>(),
            "labels": labels.get_untracked(),
            "immutable": immutable.get_untracked(),
        })
    });
    Effect::new(move |_| {
        let Some(draft) = crate::ui::draft::take_draft() else {
            return;
        };
        let text = |k: &str| draft[k].as_str().unwrap_or_default().to_string();
        name.set(text("name"));
        kind.set(
            Some(text("kind"))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "generic".into()),
        );
        labels.set(text("labels"));
        immutable.set(draft["immutable"].as_bool().unwrap_or(false));
        if let Some(keys) = draft["keys"].as_array() {
            rows.set(Vec::new());
            for k in keys {
                add_row(k.as_str().unwrap_or_default());
            }
        }
        toasts.ok("You signed in again and your form was kept. Values are never stored: enter them again.");
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_server_error.set(None);
        let mut errs = BTreeMap::new();
        if let Err(m) = rules::check_name(&name.get_untracked()) {
            errs.insert("name".to_string(), m);
        }
        let label_map = match parse_labels(&labels.get_untracked()) {
            Ok(m) => m,
            Err(m) => {
                errs.insert("labels".into(), m);
                BTreeMap::new()
            }
        };
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let input = match kind.get_untracked().as_str() {
            "env-file" => {
                if let Err(e) = rules::parse_env_file(env_text.get_untracked().as_bytes()) {
                    errs.insert("envFile".into(), e.message);
                }
                SecretInput::EnvFile {
                    file: b64(env_text.get_untracked().as_bytes()),
                }
            }
            "docker-registry" => SecretInput::DockerRegistry {
                server: f_server.get_untracked(),
                username: f_user.get_untracked(),
                password: f_pass.get_untracked(),
                email: f_email.get_untracked(),
            },
            "tls" => SecretInput::Tls {
                cert: f_cert.get_untracked(),
                key: f_key.get_untracked(),
            },
            "basic-auth" => SecretInput::BasicAuth {
                username: f_user.get_untracked(),
                password: f_pass.get_untracked(),
            },
            "ssh-auth" => SecretInput::SshAuth {
                private_key: f_key.get_untracked(),
            },
            _ => {
                let entries: Vec<(String, Vec<u8>)> = rows
                    .get_untracked()
                    .iter()
                    .map(|r| (r.key.get_untracked(), r.bytes()))
                    .collect();
                if let Err(e) = rules::check_data(&entries) {
                    errs.insert(e.field, e.message);
                }
                SecretInput::Generic {
                    entries: entries
                        .iter()
                        .map(|(k, v)| DataEntry {
                            key: k.clone(),
                            value: b64(v),
                        })
                        .collect(),
                }
            }
        };
        let ok = errs.is_empty();
        errors.set(errs);
        if ok {
            submit.dispatch(CreateSecretRequest {
                name: name.get_untracked(),
                input,
                labels: label_map,
                annotations: BTreeMap::new(),
                immutable: immutable.get_untracked(),
            });
        }
    };
    let err = move |field: &'static str| move || errors.with(|m| m.get(field).cloned());

    view! {
        <section class="page">
            <nav class="breadcrumbs" aria-label="Breadcrumb">
                <a href="/">"Namespaces"</a> " / " <a href=move || format!("/ns/{}", ns())>{ns}</a> " / " <span aria-current="page">"New secret"</span>
            </nav>
            <h1>"New secret in " <code>{ns}</code></h1>
            {move || server_error.get().map(|e| view! { <ErrorPanel error=e /> })}
            <form class="form panel" novalidate data-testid="create-form" on:submit=on_submit>
                <label class="field">
                    <span>"Name"</span>
                    <input name="name" required autocomplete="off" aria-describedby="name-error"
                        aria-invalid=move || errors.with(|m| m.contains_key("name")).to_string() prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                    <FieldError id="name-error" message=Signal::derive(err("name")) />
                </label>
                <KindTabs kind=kind />
                <div class="field-row">
                    <label class="field">
                        <span>"Template"</span>
                        <select name="template" data-testid="template" on:change=move |ev| apply_template(event_target_value(&ev))>
                            <option value="">"None"</option>
                            {TEMPLATES.iter().map(|(id, label, _)| view! { <option value=*id>{*label}</option> }).collect_view()}
                        </select>
                    </label>
                </div>

                <div role="tabpanel" id="kind-panel" class="form" aria-labelledby=move || format!("kind-tab-{}", kind.get())>
                <Show when=move || kind.get() == "generic">
                    <fieldset class="rows">
                        <legend>"Data"</legend>
                        <For each=move || rows.get() key=|r| r.id let:row>
                            <KeyValueRow row=row on_remove=move |id| rows.update(|r| r.retain(|x| x.id != id)) />
                        </For>
                        <FieldError id="data-error" message=Signal::derive(move || errors.with(|m| m.iter().find(|(k, _)| k.starts_with("data")).map(|(_, v)| v.clone()))) />
                        <div class="actions">
                            <button type="button" class="button ghost" on:click=move |_| add_row("")>"Add key"</button>
                            <label class="button ghost file-button">
                                "Add files…"
                                <input type="file" multiple class="visually-hidden" on:change=move |ev| read_files(ev, reading, move |file_name, bytes| {
                                    let id = next_id.get_value();
                                    next_id.set_value(id + 1);
                                    let row = Row::new(id, &file_name);
                                    row.file.set(Some((file_name, bytes)));
                                    rows.update(|r| {
                                        r.retain(|x| !(x.key.get_untracked().is_empty() && x.text.get_untracked().is_empty() && x.file.get_untracked().is_none()));
                                        r.push(row);
                                    });
                                }) />
                            </label>
                        </div>
                    </fieldset>
                </Show>
                <Show when=move || kind.get() == "env-file">
                    <label class="field">
                        <span>"Env file (KEY=VALUE per line)"</span>
                        <textarea name="envFile" class="mono" rows="8" spellcheck="false" prop:value=env_text on:input=move |ev| env_text.set(event_target_value(&ev))></textarea>
                        <FieldError id="env-error" message=Signal::derive(err("envFile")) />
                    </label>
                    <label class="button ghost file-button">"Load a file…"
                        <input type="file" class="visually-hidden" on:change=move |ev| read_files(ev, reading, move |_, bytes| env_text.set(String::from_utf8_lossy(&bytes).into_owned())) />
                    </label>
                </Show>
                <Show when=move || kind.get() == "docker-registry">
                    <TextField label="Registry server" name="server" value=f_server placeholder="https://index.docker.io/v1/" />
                    <TextField label="Username" name="username" value=f_user placeholder="" />
                    <SecretField label="Password" name="password" value=f_pass />
                    <TextField label="Email (optional)" name="email" value=f_email placeholder="" />
                    <FieldError id="docker-error" message=Signal::derive(move || errors.with(|m| m.get("username").or(m.get("password")).cloned())) />
                </Show>
                <Show when=move || kind.get() == "tls">
                    <PemField label="Certificate (PEM)" name="cert" value=f_cert />
                    <FieldError id="cert-error" message=Signal::derive(err("cert")) />
                    <PemField label="Private key (PEM)" name="key" value=f_key />
                    <FieldError id="key-error" message=Signal::derive(err("key")) />
                </Show>
                <Show when=move || kind.get() == "basic-auth">
                    <TextField label="Username" name="username" value=f_user placeholder="" />
                    <SecretField label="Password" name="password" value=f_pass />
                </Show>
                <Show when=move || kind.get() == "ssh-auth">
                    <PemField label="SSH private key" name="privateKey" value=f_key />
                    <FieldError id="ssh-error" message=Signal::derive(err("privateKey")) />
                </Show>

                </div>
                <Show when=move || { reading.get() > 0 }>
                    <p class="progress" role="status"><progress aria-label="Reading files"></progress>"Reading files…"</p>
                </Show>
                <label class="field">
                    <span>"Labels (key=value, one per line)"</span>
                    <textarea name="labels" rows="2" class="mono" prop:value=labels on:input=move |ev| labels.set(event_target_value(&ev))></textarea>
                    <FieldError id="labels-error" message=Signal::derive(err("labels")) />
                </label>
                <label class="check">
                    <input type="checkbox" name="immutable" prop:checked=immutable on:change=move |ev| immutable.set(event_target_checked(&ev)) />
                    " Immutable (values can never be changed; delete and recreate instead)"
                </label>
                <div class="actions">
                    <button type="submit" class="button" data-testid="create-submit" disabled=move || submit.pending().get()>"Create secret"</button>
                    <a class="button ghost" href=move || format!("/ns/{}", ns())>"Cancel"</a>
                </div>
                <p class="hint">"kubectl: " <code>{move || kubectl_hint(&ns(), &name.get(), &kind.get(), &rows.get())}</code></p>
            </form>
        </section>
    }
}

/// The kinds of secret, as tabs (arrow keys move between them).
const KINDS: &[(&str, &str)] = &[
    ("generic", "Generic"),
    ("env-file", "Env file"),
    ("docker-registry", "Docker registry"),
    ("tls", "TLS"),
    ("basic-auth", "Basic auth"),
    ("ssh-auth", "SSH auth"),
];

#[component]
fn KindTabs(kind: RwSignal<String>) -> impl IntoView {
    let select = move |index: usize| {
        let (id, _) = KINDS[index % KINDS.len()];
        kind.set(id.to_string());
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
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
            {KINDS.iter().enumerate().map(|(index, (id, label))| {
                let selected = move || kind.get() == *id;
                view! {
                    <button type="button" role="tab" class="tab" id=format!("kind-tab-{id}") data-kind=*id
                        aria-controls="kind-panel"
                        aria-selected=move || selected().to_string()
                        tabindex=move || if selected() { "0" } else { "-1" }
                        on:click=move |_| kind.set(id.to_string())
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                            "ArrowRight" => { ev.prevent_default(); select(index + 1) }
                            "ArrowLeft" => { ev.prevent_default(); select(index + KINDS.len() - 1) }
                            "Home" => { ev.prevent_default(); select(0) }
                            "End" => { ev.prevent_default(); select(KINDS.len() - 1) }
                            _ => {}
                        }>
                        {*label}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

#[component]
fn KeyValueRow(row: Row, on_remove: impl Fn(usize) + Send + Sync + 'static) -> impl IntoView {
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
fn TextField(
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
fn SecretField(label: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <input type="password" name=name autocomplete="new-password" prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

#[component]
fn PemField(label: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field"><span>{label}</span>
            <textarea name=name rows="6" class="mono" spellcheck="false" autocomplete="off" prop:value=value on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        </label>
    }
}

#[component]
fn FieldError(id: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    view! { <span class="field-error" id=id role="alert">{move || message.get()}</span> }
}

pub(crate) fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{line:?}: write key=value"))?;
        rules::check_qualified_name(k.trim()).map_err(|m| format!("label {k:?}: {m}"))?;
        rules::check_label_value(v.trim()).map_err(|m| format!("label {k:?}: {m}"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// The equivalent kubectl command, with placeholders instead of values.
fn kubectl_hint(ns: &str, name: &str, kind: &str, rows: &[Row]) -> String {
    let name = if name.is_empty() { "NAME" } else { name };
    match kind {
        "env-file" => format!("kubectl create secret generic {name} -n {ns} --from-env-file=FILE"),
        "docker-registry" => format!(
            "kubectl create secret docker-registry {name} -n {ns} --docker-server=SERVER --docker-username=USER --docker-password=…"
        ),
        "tls" => {
            format!("kubectl create secret tls {name} -n {ns} --cert=CERT_FILE --key=KEY_FILE")
        }
        "basic-auth" | "ssh-auth" => {
            format!("kubectl apply -n {ns} -f secret.yaml  # type kubernetes.io/{kind}")
        }
        _ => {
            let args: Vec<String> = rows
                .iter()
                .map(|r| {
                    let k = r.key.get_untracked();
                    if r.file.with_untracked(Option::is_some) {
                        format!("--from-file={k}=FILE")
                    } else {
                        format!("--from-literal={k}=…")
                    }
                })
                .collect();
            format!(
                "kubectl create secret generic {name} -n {ns} {}",
                args.join(" ")
            )
        }
    }
}

/// Reads the files chosen in a file input, binary-safe.
fn read_files(
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

/// Annotations as `key=value` lines; values may contain `=` and spaces.
pub(crate) fn parse_annotations(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{line:?}: write key=value"))?;
        rules::check_qualified_name(k.trim()).map_err(|m| format!("annotation {k:?}: {m}"))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}
