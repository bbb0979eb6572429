//! One secret: its metadata, explicit reveals (one key or the whole
//! `{.data}` view), and changes (rotate, add, remove a key; delete).

use std::collections::BTreeMap;

use base64::Engine;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{
        DataEntry, DeleteSecretRequest, RevealRequest, RevealedValue, SecretDetail,
        UpdateSecretRequest,
    },
    client::{self, ClientError},
    ui::{format, layout::ErrorPanel},
};

/// How long revealed values stay visible and copied values stay in the
/// clipboard: configured on the server, delivered with `/api/v1/me`.
#[derive(Clone, Copy)]
struct Timers {
    rehide: std::time::Duration,
    clipboard_clear: std::time::Duration,
}

fn timers() -> Timers {
    use_context::<Timers>().unwrap_or(Timers {
        rehide: std::time::Duration::from_secs(60),
        clipboard_clear: std::time::Duration::from_secs(30),
    })
}

#[component]
pub fn SecretDetailPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let (reload, set_reload) = signal(0u32);
    let me = LocalResource::new(client::me);
    let timers_signal = RwSignal::new(None::<Timers>);
    Effect::new(move |_| {
        if let Some(Ok(m)) = me.get() {
            timers_signal.set(Some(Timers {
                rehide: std::time::Duration::from_secs(m.reveal_rehide_seconds),
                clipboard_clear: std::time::Duration::from_secs(m.clipboard_clear_seconds),
            }));
        }
    });
    let detail = LocalResource::new(move || {
        reload.track();
        let (ns, name) = (ns(), name());
        async move { client::secrets::detail(&ns, &name).await }
    });
    view! {
        <section class="page">
            <nav class="breadcrumbs" aria-label="Breadcrumb">
                <a href="/">"Namespaces"</a> " / "
                <a href=move || format!("/ns/{}", ns())>{ns}</a> " / "
                <span aria-current="page">{name}</span>
            </nav>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || detail.get().map(|result| match result {
                    Ok(d) => {
                        if let Some(t) = timers_signal.get() {
                            provide_context(t);
                        }
                        view! { <SecretView detail=d on_change=move || set_reload.update(|n| *n += 1) /> }.into_any()
                    },
                    Err(e) => view! { <ErrorPanel error=e retry=move || detail.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SecretView(
    detail: SecretDetail,
    on_change: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let d = StoredValue::new(detail.clone());
    let revealed = RwSignal::new(BTreeMap::<String, RevealedValue>::new());
    let t = timers();
    let (error, set_error) = signal(None::<ClientError>);
    let toasts = crate::ui::toast::use_toasts();
    let reason = RwSignal::new(String::new());
    let reveal = Action::new_local(move |keys: &Vec<String>| {
        let keys = keys.clone();
        let (ns, name) = d.with_value(|d| (d.namespace.clone(), d.name.clone()));
        let reason = Some(reason.get_untracked()).filter(|r| !r.trim().is_empty());
        async move {
            match client::secrets::reveal(&ns, &name, &RevealRequest { keys, reason }).await {
                Ok(r) => {
                    set_error.set(None);
                    revealed.update(|m| {
                        for v in r.values {
                            m.insert(v.key.clone(), v);
                        }
                    });
                    set_timeout(move || revealed.set(BTreeMap::new()), t.rehide);
                }
                Err(e) => set_error.set(Some(e)),
            }
        }
    });
    let all_keys: Vec<String> = detail.keys.iter().map(|k| k.name.clone()).collect();
    let kubectl_get = format!(
        "kubectl get secret {} -n {} -o jsonpath='{{.data}}'",
        detail.name, detail.namespace
    );
    view! {
        <div class="page-head">
            <h1><code data-testid="secret-name">{detail.name.clone()}</code></h1>
            <span class="badge type" data-testid="secret-type" data-type=detail.type_.clone()>{detail.type_.clone()}</span>
            {detail.immutable.then(|| view! { <span class="badge">"immutable"</span> })}
        </div>
        {move || error.get().map(|e| view! { <ErrorPanel error=e /> })}
        <h2>"Data"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="key-table">
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Size"</th><th scope="col">"Value"</th></tr></thead>
                <tbody>
                    {detail.keys.iter().map(|k| {
                        let key = k.name.clone();
                        let key2 = key.clone();
                        let key3 = key.clone();
                        view! {
                            <tr data-key=key.clone()>
                                <th scope="row"><code>{key.clone()}</code></th>
                                <td>{format::bytes(k.size)}</td>
                                <td>
                                    {move || match revealed.with(|m| m.get(&key2).cloned()) {
                                        Some(v) => {
                                            let key3 = key3.clone();
                                            view! { <RevealedValueView value=v on_hide=move || revealed.update(|m| { m.remove(&key3); }) on_copied=move |msg| toasts.ok(msg) /> }.into_any()
                                        }
                                        None => {
                                            let key = key2.clone();
                                            view! {
                                                <button type="button" class="button ghost" data-testid="reveal"
                                                    on:click=move |_| { reveal.dispatch(vec![key.clone()]); }>"Reveal"</button>
                                            }.into_any()
                                        }
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <label class="field reason">
            <span>"Reason for revealing (recorded in the audit trail; some namespaces require one)"</span>
            <input name="reason" autocomplete="off" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev)) />
        </label>
        <div class="actions">
            <button type="button" class="button" data-testid="reveal-all" disabled=all_keys.is_empty()
                on:click=move |_| { reveal.dispatch(Vec::new()); }>"Reveal all ({.data})"</button>
            <button type="button" class="button ghost" data-testid="hide-all" on:click=move |_| revealed.set(BTreeMap::new())>"Hide all"</button>
        </div>
        <p class="hint">"kubectl: " <code>{kubectl_get}</code></p>
        <Show when=move || revealed.with(|m| !m.is_empty())>
            <details class="panel" open>
                <summary>"The {.data} view (base64, as stored)"</summary>
                <pre class="mono" data-testid="data-json">{move || {
                    let m: BTreeMap<String, String> = revealed.with(|m| m.iter().map(|(k, v)| (k.clone(), v.base64.clone())).collect());
                    serde_json::to_string_pretty(&m).unwrap_or_default()
                }}</pre>
            </details>
        </Show>
        <ExportPanel detail=detail.clone() revealed=revealed />
        <Metadata detail=detail.clone() />
        <crate::audit::pages::AccessHistory ns=detail.namespace.clone() name=detail.name.clone() />
        <ChangeForms detail=detail on_change=on_change />
    }
}

#[component]
fn RevealedValueView(
    value: RevealedValue,
    on_hide: impl Fn() + Send + Sync + 'static,
    on_copied: impl Fn(String) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let clear_after = timers().clipboard_clear;
    match value.text.clone() {
        Some(text) => {
            let copy_text = text.clone();
            view! {
                <div class="revealed">
                    <pre class="mono value" data-testid="revealed-value">{text}</pre>
                    <button type="button" class="button ghost" on:click=move |_| on_hide()>"Hide"</button>
                    <button type="button" class="button ghost" data-testid="copy"
                        on:click=move |_| { copy_to_clipboard(&copy_text, clear_after); on_copied(format!("Copied; the clipboard is cleared in {} seconds.", clear_after.as_secs())); }>"Copy"</button>
                </div>
            }.into_any()
        }
        None => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&value.base64)
                .unwrap_or_default();
            let href = format!("data:application/octet-stream;base64,{}", value.base64);
            view! {
                <div class="revealed">
                    <span data-testid="binary-value">{format!("binary, {} bytes", value.size)}</span>
                    <code class="hex">{format::hex_preview(&bytes, 16)}</code>
                    <a class="button ghost" href=href download=value.key.clone()>"Download"</a>
                    <button type="button" class="button ghost" on:click=move |_| on_hide()>"Hide"</button>
                </div>
            }.into_any()
        }
    }
}

fn copy_to_clipboard(text: &str, clear_after: std::time::Duration) {
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

#[component]
fn Metadata(detail: SecretDetail) -> impl IntoView {
    let created = detail.created.clone().unwrap_or_default();
    view! {
        <h2>"Metadata"</h2>
        <dl class="facts" data-testid="metadata">
            <dt>"Namespace"</dt><dd>{detail.namespace.clone()}</dd>
            <dt>"Created"</dt><dd><time datetime=created.clone() title=created.clone()>{format::age(&created)}</time></dd>
            <dt>"Resource version"</dt><dd><code data-testid="resource-version">{detail.resource_version.clone()}</code></dd>
            <dt>"Labels"</dt><dd>{if detail.labels.is_empty() { view! { <span class="muted">"none"</span> }.into_any() } else {
                detail.labels.iter().map(|(k, v)| view! { <span class="badge">{format!("{k}={v}")}</span> " " }).collect_view().into_any() }}</dd>
            <dt>"Annotations"</dt><dd>{if detail.annotations.is_empty() { view! { <span class="muted">"none"</span> }.into_any() } else {
                detail.annotations.iter().map(|(k, v)| view! { <div><code>{format!("{k}: {v}")}</code></div> }).collect_view().into_any() }}</dd>
            <dt>"Owners"</dt><dd>{if detail.owners.is_empty() { "none".to_string() } else { detail.owners.join(", ") }}</dd>
        </dl>
    }
}

#[component]
fn ChangeForms(
    detail: SecretDetail,
    on_change: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let d = StoredValue::new(detail.clone());
    let (key, set_key) = signal(String::new());
    let (value, set_value) = signal(String::new());
    let (confirm, set_confirm) = signal(String::new());
    let (result, set_result) = signal(None::<Result<String, ClientError>>);
    let navigate = use_navigate();
    let on_change2 = on_change.clone();
    let toasts = crate::ui::toast::use_toasts();
    type Meta = Option<(BTreeMap<String, String>, BTreeMap<String, String>)>;
    let update = Action::new_local(
        move |(set, remove, meta): &(Vec<DataEntry>, Vec<String>, Meta)| {
            let req = d.with_value(|d| UpdateSecretRequest {
                resource_version: d.resource_version.clone(),
                set: set.clone(),
                remove: remove.clone(),
                labels: meta.as_ref().map(|m| m.0.clone()),
                annotations: meta.as_ref().map(|m| m.1.clone()),
            });
            let (ns, name) = d.with_value(|d| (d.namespace.clone(), d.name.clone()));
            let on_change = on_change2.clone();
            async move {
                match client::secrets::update(&ns, &name, &req).await {
                    Ok(_) => {
                        set_result.set(None);
                        toasts.ok(format!("Saved {name}."));
                        set_value.set(String::new());
                        on_change();
                    }
                    Err(e) => set_result.set(Some(Err(e))),
                }
            }
        },
    );
    let delete = Action::new_local(move |typed: &String| {
        let typed = typed.clone();
        let (ns, name, rv) = d.with_value(|d| {
            (
                d.namespace.clone(),
                d.name.clone(),
                d.resource_version.clone(),
            )
        });
        let navigate = navigate.clone();
        async move {
            match client::secrets::delete(
                &ns,
                &name,
                &DeleteSecretRequest {
                    confirm: typed,
                    resource_version: Some(rv),
                },
            )
            .await
            {
                Ok(_) => {
                    toasts.ok(format!("Deleted {name}."));
                    navigate(&format!("/ns/{ns}"), Default::default())
                }
                Err(e) => set_result.set(Some(Err(e))),
            }
        }
    });
    let labels_text = RwSignal::new(
        detail
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let annotations_text = RwSignal::new(
        detail
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let (meta_error, set_meta_error) = signal(None::<String>);
    let name = detail.name.clone();
    let name2 = name.clone();
    let name3 = name.clone();
    let keys = detail.keys.clone();
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    view! {
        <h2>"Change"</h2>
        {move || result.get().map(|r| match r {
            Ok(msg) => view! { <div class="toast ok" role="status" data-testid="change-ok">{msg}</div> }.into_any(),
            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
        })}
        <form class="panel form" data-testid="set-key-form" on:submit=move |ev| {
            ev.prevent_default();
            let entry = DataEntry { key: key.get_untracked(), value: base64::engine::general_purpose::STANDARD.encode(value.get_untracked()) };
            update.dispatch((vec![entry], vec![], None));
        }>
            <h3>"Add or rotate a key"</h3>
            <label class="field"><span>"Key"</span>
                <input name="key" required list="existing-keys" prop:value=key on:input=move |ev| set_key.set(event_target_value(&ev)) />
            </label>
            <datalist id="existing-keys">{keys.iter().map(|k| view! { <option value=k.name.clone() /> }).collect_view()}</datalist>
            <label class="field"><span>"New value"</span>
                <textarea name="value" class="mono" rows="3" autocomplete="off" spellcheck="false" prop:value=value on:input=move |ev| set_value.set(event_target_value(&ev))></textarea>
            </label>
            <button type="submit" class="button">"Save key"</button>
        </form>
        <div class="panel form">
            <h3>"Remove a key"</h3>
            <div class="chips">
                {keys.iter().map(|k| {
                    let key = k.name.clone();
                    view! { <button type="button" class="button ghost" on:click=move |_| { update.dispatch((vec![], vec![key.clone()], None)); }>{format!("Remove {}", k.name)}</button> }
                }).collect_view()}
            </div>
        </div>
        <form class="panel form" data-testid="metadata-form" on:submit=move |ev| {
            ev.prevent_default();
            match (super::create_page::parse_labels(&labels_text.get_untracked()), super::create_page::parse_annotations(&annotations_text.get_untracked())) {
                (Ok(l), Ok(a)) => { set_meta_error.set(None); update.dispatch((vec![], vec![], Some((l, a)))); }
                (Err(e), _) | (_, Err(e)) => set_meta_error.set(Some(e)),
            }
        }>
            <h3>"Labels and annotations"</h3>
            <label class="field"><span>"Labels (key=value, one per line)"</span>
                <textarea name="labels" rows="3" class="mono" aria-describedby="meta-error" prop:value=labels_text on:input=move |ev| labels_text.set(event_target_value(&ev))></textarea>
            </label>
            <label class="field"><span>"Annotations (key=value, one per line)"</span>
                <textarea name="annotations" rows="3" class="mono" aria-describedby="meta-error" prop:value=annotations_text on:input=move |ev| annotations_text.set(event_target_value(&ev))></textarea>
            </label>
            <span class="field-error" id="meta-error" role="alert">{move || meta_error.get()}</span>
            <button type="submit" class="button">"Save labels and annotations"</button>
        </form>
        <div class="panel form danger-zone">
            <h3>"Delete this secret"</h3>
            <p class="muted">"Workloads that mount or read it will fail to start or lose access. This cannot be undone."</p>
            <div class="actions">
                <button type="button" class="button danger" data-testid="delete-open" aria-haspopup="dialog"
                    on:click=move |_| open_dialog(dialog)>"Delete…"</button>
            </div>
        </div>
        <dialog node_ref=dialog aria-labelledby="delete-title" data-testid="delete-dialog">
            <form data-testid="delete-form" on:submit=move |ev| { ev.prevent_default(); if confirm.get_untracked() == name3 { delete.dispatch(confirm.get_untracked()); } }>
                <h2 id="delete-title">"Delete " <code>{name.clone()}</code> "?"</h2>
                <label class="field"><span>"Type " <code>{name.clone()}</code> " to confirm"</span>
                    <input name="confirm" autocomplete="off" autofocus prop:value=confirm on:input=move |ev| set_confirm.set(event_target_value(&ev)) />
                </label>
                <div class="actions">
                    <button type="submit" class="button danger" disabled=move || confirm.get() != name2>"Delete secret"</button>
                    <button type="button" class="button ghost" on:click=move |_| close_dialog(dialog)>"Cancel"</button>
                </div>
                <p class="hint">"kubectl: " <code>{format!("kubectl delete secret {} -n {}", detail.name, detail.namespace)}</code></p>
            </form>
        </dialog>
    }
}

/// Opens a native modal dialog (focus moves into it; Escape closes it).
fn open_dialog(dialog: NodeRef<leptos::html::Dialog>) {
    #[cfg(feature = "hydrate")]
    if let Some(d) = dialog.get() {
        let _ = d.show_modal();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = dialog;
}

fn close_dialog(dialog: NodeRef<leptos::html::Dialog>) {
    #[cfg(feature = "hydrate")]
    if let Some(d) = dialog.get() {
        d.close();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = dialog;
}

/// "Copy as kubectl command" (values as placeholders) and the YAML of the
/// secret with values redacted unless revealed.
#[component]
fn ExportPanel(
    detail: SecretDetail,
    revealed: RwSignal<BTreeMap<String, RevealedValue>>,
) -> impl IntoView {
    let d = StoredValue::new(detail);
    let command = move || d.with_value(kubectl_command);
    let yaml = move || d.with_value(|d| revealed.with(|r| secret_yaml(d, r)));
    view! {
        <details class="panel">
            <summary>"Export"</summary>
            <h3>"kubectl command (values as placeholders)"</h3>
            <pre class="mono" data-testid="export-command">{command}</pre>
            <button type="button" class="button ghost" on:click=move |_| copy_to_clipboard(&command(), timers().clipboard_clear)>"Copy command"</button>
            <h3>"YAML (values redacted unless revealed)"</h3>
            <pre class="mono" data-testid="export-yaml">{yaml}</pre>
        </details>
    }
}

/// The kubectl command that creates this secret, with placeholders for values.
pub fn kubectl_command(d: &SecretDetail) -> String {
    let target = format!("{} -n {}", d.name, d.namespace);
    match d.type_.as_str() {
        "kubernetes.io/dockerconfigjson" => format!(
            "kubectl create secret docker-registry {target} --docker-server=<server> --docker-username=<username> --docker-password=<password>"
        ),
        "kubernetes.io/tls" => {
            format!("kubectl create secret tls {target} --cert=<tls.crt file> --key=<tls.key file>")
        }
        _ => {
            let mut parts = vec![format!("kubectl create secret generic {target}")];
            if d.type_ != "Opaque" {
                parts.push(format!("--type={}", d.type_));
            }
            parts.extend(
                d.keys
                    .iter()
                    .map(|k| format!("--from-literal={}=<{}>", k.name, k.name)),
            );
            parts.extend(
                d.labels
                    .iter()
                    .map(|(k, v)| format!("&& kubectl label secret {target} {k}={v}")),
            );
            parts.join(" ")
        }
    }
}

/// The secret as YAML; each value is the revealed base64 or `<redacted>`.
pub fn secret_yaml(d: &SecretDetail, revealed: &BTreeMap<String, RevealedValue>) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n  namespace: {}\n",
        q(&d.name),
        q(&d.namespace)
    );
    if !d.labels.is_empty() {
        out.push_str("  labels:\n");
        for (k, v) in &d.labels {
            out.push_str(&format!("    {}: {}\n", q(k), q(v)));
        }
    }
    out.push_str(&format!("type: {}\n", q(&d.type_)));
    if d.immutable {
        out.push_str("immutable: true\n");
    }
    out.push_str("data:\n");
    for k in &d.keys {
        let value = revealed
            .get(&k.name)
            .map(|v| q(&v.base64))
            .unwrap_or_else(|| "<redacted>".into());
        out.push_str(&format!("  {}: {}\n", q(&k.name), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KeyInfo;

    fn detail() -> SecretDetail {
        SecretDetail {
            namespace: "team-a".into(),
            name: "db".into(),
            type_: "Opaque".into(),
            keys: vec![
                KeyInfo {
                    name: "password".into(),
                    size: 7,
                },
                KeyInfo {
                    name: "user".into(),
                    size: 5,
                },
            ],
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: BTreeMap::new(),
            immutable: false,
            owners: vec![],
            created: None,
            resource_version: "1".into(),
            uid: None,
        }
    }

    #[test]
    fn the_kubectl_command_has_placeholders_not_values() {
        let c = kubectl_command(&detail());
        assert!(c.starts_with("kubectl create secret generic db -n team-a --from-literal=password=<password> --from-literal=user=<user>"), "{c}");
    }

    #[test]
    fn yaml_redacts_values_unless_revealed() {
        let mut revealed = BTreeMap::new();
        revealed.insert(
            "user".to_string(),
            RevealedValue {
                key: "user".into(),
                base64: "YWxpY2U=".into(),
                text: Some("alice".into()),
                size: 5,
            },
        );
        let y = secret_yaml(&detail(), &revealed);
        assert!(y.contains("\"password\": <redacted>"), "{y}");
        assert!(y.contains("\"user\": \"YWxpY2U=\""), "{y}");
        assert!(!y.contains("alice\n"), "{y}");
    }
}
