//! Creating a secret: generic (literals, files, env file), docker-registry,
//! TLS, basic-auth, ssh-auth, and templates that prefill generic secrets.
//! The rules are checked here, next to each field, and again on the server.

use std::collections::BTreeMap;

use base64::Engine;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::{
    create_fields::{
        FieldError, KeyValueRow, KindTabs, PemField, Row, SecretField, TextField, read_files,
    },
    export::shell_word,
    gitops::{Destination, GitOutput, RecipientsField, SealFields, SealOptions, recipients},
    kind::SecretKind,
    metadata_text::parse_labels,
    rules,
};
use crate::{
    api::{CreateSecretRequest, DataEntry, SecretInput, gitops::SopsNewRequest},
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

#[component]
pub fn CreateSecretPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let kind = RwSignal::new(SecretKind::Generic);
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
    // Where the secret goes: the cluster, a SealedSecret, a SOPS file.
    let destination = RwSignal::new(Destination::Cluster);
    let seal_options = SealOptions::new();
    let recipients_text = RwSignal::new(String::new());
    // The manifest to commit, once sealed or exported: (yaml, file, test id, note).
    let output = RwSignal::new(None::<(String, String, &'static str, String)>);

    let add_row = move |key: &str| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        rows.update(|r| r.push(Row::new(id, key)));
    };
    let apply_template = move |t: String| {
        if let Some((_, _, keys)) = TEMPLATES.iter().find(|(id, _, _)| *id == t) {
            kind.set(SecretKind::Generic);
            rows.set(Vec::new());
            for k in keys.iter() {
                add_row(k);
            }
        }
    };

    let fail = move |e: ClientError| {
        if let Some(field) = e.error.field.clone() {
            errors.update(|m| {
                m.insert(field, e.error.message.clone());
            });
        }
        set_server_error.set(Some(e));
    };
    let submit = Action::new_local(move |req: &CreateSecretRequest| {
        let req = req.clone();
        let ns = ns();
        let navigate = navigate.clone();
        async move {
            match destination.get_untracked() {
                Destination::Cluster => match client::secrets::create(&ns, &req).await {
                    Ok(d) => {
                        toasts.ok(format!("Created {}.", d.name));
                        navigate(&format!("/ns/{ns}/secrets/{}", d.name), Default::default())
                    }
                    Err(e) => fail(e),
                },
                Destination::Seal => {
                    let name = req.name.clone();
                    match super::gitops::seal_new(&ns, &seal_options.new_request(req)).await {
                        Ok(s) => {
                            let note = if s.created {
                                format!(
                                    "Sealed and created as SealedSecret {name}; the controller makes the Secret. Commit this file too."
                                )
                            } else {
                                format!(
                                    "Sealed ({} scope) to the certificate {}. Nothing was written to the cluster: commit this file.",
                                    s.scope.as_str(),
                                    s.certificate.fingerprint
                                )
                            };
                            output.set(Some((
                                s.yaml,
                                format!("{name}.sealedsecret.yaml"),
                                "sealed-yaml",
                                note,
                            )));
                        }
                        Err(e) => fail(e),
                    }
                }
                Destination::Sops => {
                    let name = req.name.clone();
                    let sops = SopsNewRequest {
                        recipients: recipients(&recipients_text.get_untracked()),
                        secret: req,
                    };
                    match super::gitops::export_new(&ns, &sops).await {
                        Ok(x) => output.set(Some((
                            x.yaml,
                            format!("{name}.sops.yaml"),
                            "sops-yaml",
                            format!("Encrypted for {}. Nothing was written to the cluster: commit this file.", x.recipients.join(", ")),
                        ))),
                        Err(e) => fail(e),
                    }
                }
            }
        }
    });

    // What survives a sign-in after the session expired: never values.
    crate::ui::draft::keep_draft(move || {
        serde_json::json!({
            "name": name.get_untracked(),
            "kind": kind.get_untracked().id(),
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
        kind.set(SecretKind::from_id(&text("kind")).unwrap_or_default());
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
        let input = match kind.get_untracked() {
            SecretKind::EnvFile => {
                if let Err(e) = rules::parse_env_file(env_text.get_untracked().as_bytes()) {
                    errs.insert("envFile".into(), e.message);
                }
                SecretInput::EnvFile {
                    file: b64(env_text.get_untracked().as_bytes()),
                }
            }
            SecretKind::DockerRegistry => SecretInput::DockerRegistry {
                server: f_server.get_untracked(),
                username: f_user.get_untracked(),
                password: f_pass.get_untracked(),
                email: f_email.get_untracked(),
            },
            SecretKind::Tls => SecretInput::Tls {
                cert: f_cert.get_untracked(),
                key: f_key.get_untracked(),
            },
            SecretKind::BasicAuth => SecretInput::BasicAuth {
                username: f_user.get_untracked(),
                password: f_pass.get_untracked(),
            },
            SecretKind::SshAuth => SecretInput::SshAuth {
                private_key: f_key.get_untracked(),
            },
            SecretKind::Generic => {
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
        if destination.get_untracked() == Destination::Sops
            && recipients(&recipients_text.get_untracked()).is_empty()
        {
            errs.insert(
                "recipients".into(),
                "name at least one age recipient (age1…)".into(),
            );
        }
        let ok = errs.is_empty();
        errors.set(errs);
        output.set(None);
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

                <div role="tabpanel" id="kind-panel" class="form" aria-labelledby=move || format!("kind-tab-{}", kind.get().id())>
                <Show when=move || kind.get() == SecretKind::Generic>
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
                <Show when=move || kind.get() == SecretKind::EnvFile>
                    <label class="field">
                        <span>"Env file (KEY=VALUE per line)"</span>
                        <textarea name="envFile" class="mono" rows="8" spellcheck="false" prop:value=env_text on:input=move |ev| env_text.set(event_target_value(&ev))></textarea>
                        <FieldError id="env-error" message=Signal::derive(err("envFile")) />
                    </label>
                    <label class="button ghost file-button">"Load a file…"
                        <input type="file" class="visually-hidden" on:change=move |ev| read_files(ev, reading, move |_, bytes| env_text.set(String::from_utf8_lossy(&bytes).into_owned())) />
                    </label>
                </Show>
                <Show when=move || kind.get() == SecretKind::DockerRegistry>
                    <TextField label="Registry server" name="server" value=f_server placeholder="https://index.docker.io/v1/" />
                    <TextField label="Username" name="username" value=f_user placeholder="" />
                    <SecretField label="Password" name="password" value=f_pass />
                    <TextField label="Email (optional)" name="email" value=f_email placeholder="" />
                    <FieldError id="docker-error" message=Signal::derive(move || errors.with(|m| m.get("username").or(m.get("password")).cloned())) />
                </Show>
                <Show when=move || kind.get() == SecretKind::Tls>
                    <PemField label="Certificate (PEM)" name="cert" value=f_cert />
                    <FieldError id="cert-error" message=Signal::derive(err("cert")) />
                    <PemField label="Private key (PEM)" name="key" value=f_key />
                    <FieldError id="key-error" message=Signal::derive(err("key")) />
                </Show>
                <Show when=move || kind.get() == SecretKind::BasicAuth>
                    <TextField label="Username" name="username" value=f_user placeholder="" />
                    <SecretField label="Password" name="password" value=f_pass />
                </Show>
                <Show when=move || kind.get() == SecretKind::SshAuth>
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
                <fieldset class="rows" data-testid="destination">
                    <legend>"Where it goes"</legend>
                    {Destination::ALL.into_iter().map(|d| view! {
                        <label class="check">
                            <input type="radio" name="destination" value=d.id() prop:checked=move || destination.get() == d
                                on:change=move |_| { destination.set(d); output.set(None); } />
                            " " {d.label()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <Show when=move || destination.get() == Destination::Seal>
                    <SealFields options=seal_options offer_create=true />
                    <FieldError id="certificate-error" message=Signal::derive(err("certificate")) />
                </Show>
                <Show when=move || destination.get() == Destination::Sops>
                    <RecipientsField value=recipients_text />
                    <FieldError id="recipients-error" message=Signal::derive(move || errors.with(|m| m.iter().find(|(k, _)| k.starts_with("recipients")).map(|(_, v)| v.clone()))) />
                </Show>
                <div class="actions">
                    <button type="submit" class="button" data-testid="create-submit" disabled=move || submit.pending().get()>
                        {move || match destination.get() {
                            Destination::Cluster => "Create secret",
                            Destination::Seal => "Seal",
                            Destination::Sops => "Export",
                        }}
                    </button>
                    <a class="button ghost" href=move || format!("/ns/{}", ns())>"Cancel"</a>
                </div>
                <p class="hint">"kubectl: " <code>{move || kubectl_hint(&ns(), &name.get(), kind.get(), &rows.get())}</code></p>
            </form>
            {move || output.get().map(|(yaml, file, testid, note)| view! {
                <section class="panel" data-testid="git-output">
                    <h2>"Safe to commit"</h2>
                    <GitOutput yaml=yaml file_name=file testid=testid note=note />
                </section>
            })}
        </section>
    }
}

/// The equivalent kubectl command, with placeholders instead of values,
/// every word shell-quoted (a typed name or key is never shell syntax).
fn kubectl_hint(ns: &str, name: &str, kind: SecretKind, rows: &[Row]) -> String {
    let name = if name.is_empty() { "NAME" } else { name };
    let command = |words: Vec<String>| {
        words
            .iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let create = |kind: &str, rest: Vec<String>| {
        let mut words: Vec<String> = ["kubectl", "create", "secret", kind, name, "-n", ns]
            .iter()
            .map(|w| w.to_string())
            .collect();
        words.extend(rest);
        command(words)
    };
    match kind {
        SecretKind::EnvFile => create("generic", vec!["--from-env-file=FILE".into()]),
        SecretKind::DockerRegistry => create(
            "docker-registry",
            vec![
                "--docker-server=SERVER".into(),
                "--docker-username=USER".into(),
                "--docker-password=…".into(),
            ],
        ),
        SecretKind::Tls => create(
            "tls",
            vec!["--cert=CERT_FILE".into(), "--key=KEY_FILE".into()],
        ),
        SecretKind::BasicAuth | SecretKind::SshAuth => format!(
            "{}  # type kubernetes.io/{}",
            command(vec![
                "kubectl".into(),
                "apply".into(),
                "-n".into(),
                ns.into(),
                "-f".into(),
                "secret.yaml".into()
            ]),
            kind.id()
        ),
        SecretKind::Generic => create(
            "generic",
            rows.iter()
                .map(|r| {
                    let k = r.key.get_untracked();
                    if r.file.with_untracked(Option::is_some) {
                        format!("--from-file={k}=FILE")
                    } else {
                        format!("--from-literal={k}=…")
                    }
                })
                .collect(),
        ),
    }
}
