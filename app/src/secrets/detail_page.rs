//! One secret: its metadata, explicit reveals (one key or the whole
//! `{.data}` view), and changes (rotate, add, remove a key; delete).

use std::collections::BTreeMap;

use base64::Engine;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    cert_panel::{certificate_section, may_hold_certificates},
    change_forms::change_section,
    export::export_section,
    gitops::{OwnerNote, git_first, git_section},
    key_history::key_history_section,
    usage_panel::usage_section,
};
use crate::{
    api::{RevealRequest, RevealedValue, SecretDetail},
    audit::pages::access_history_section,
    client::{self, ClientError},
    guards::{GuardNotice, MyRequests, RequestAccess, StepUpPanel},
    ui::{
        clipboard::{Timers, copy_to_clipboard, timers},
        format,
        layout::{ErrorPanel, SharedMe},
        section::{LazySection, OpenSections},
    },
};

#[component]
pub fn SecretDetailPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let (reload, set_reload) = signal(0u32);
    // The keys whose values the last change on this page set or removed:
    // the "Used by" panel offers to restart their consumers.
    let changed = RwSignal::new(Vec::<String>::new());
    let me = SharedMe::get();
    // Kept across the redraw after a change: what was open stays open;
    // another secret starts afresh.
    let sections = OpenSections::provide();
    Effect::new(move |before: Option<(String, String)>| {
        let now = (ns(), name());
        if before.is_some_and(|b| b != now) {
            sections.reset();
        }
        now
    });
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
                        let on_change = move |keys: Vec<String>| {
                            // Values changed: offer to restart their consumers.
                            if !keys.is_empty() {
                                sections.open_next("usage");
                            }
                            changed.set(keys);
                            set_reload.update(|n| *n += 1);
                        };
                        view! { <SecretView detail=d changed=changed.into() on_change=on_change /> }.into_any()
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
    changed: Signal<Vec<String>>,
    on_change: impl Fn(Vec<String>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let d = StoredValue::new(detail.clone());
    let revealed = RwSignal::new(BTreeMap::<String, RevealedValue>::new());
    let t = timers();
    let (error, set_error) = signal(None::<ClientError>);
    let toasts = crate::ui::toast::use_toasts();
    let reason = RwSignal::new(String::new());
    // The keys the last reveal asked for (for an access request).
    let asked = RwSignal::new(Vec::<String>::new());
    let requests_refresh = RwSignal::new(0u32);
    let stepped_up =
        leptos_router::hooks::use_query_map().with_untracked(|q| q.get("stepped-up").is_some());
    // Bumped after each reveal: the access history below shows it at once,
    // refused reveals included (they are recorded too).
    let history = RwSignal::new(0u32);
    let reveal = Action::new_local(move |keys: &Vec<String>| {
        let keys = keys.clone();
        asked.set(keys.clone());
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
            history.update(|n| *n += 1);
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
        <OwnerNote detail=detail.clone() />
        <GuardNotice ns=detail.namespace.clone() />
        {stepped_up.then(|| view! {
            <p class="panel" role="status" data-testid="stepped-up">"You signed in again: reveal the values now."</p>
        })}
        {move || error.get().map(|e| match e.error.code.as_str() {
            "step_up_required" => view! { <StepUpPanel error=e /> }.into_any(),
            "approval_required" => {
                let (ns, name, all) = d.with_value(|d| (d.namespace.clone(), d.name.clone(), d.keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>()));
                let on_sent = move || {
                    set_error.set(None);
                    requests_refresh.update(|n| *n += 1);
                    history.update(|n| *n += 1);
                    toasts.ok("Access requested: you can reveal once an approver agrees.".to_string());
                };
                view! {
                    <div class="panel" role="alert" data-testid="approval-required"><p>{e.error.message.clone()}</p></div>
                    <RequestAccess ns=ns name=name keys=asked.get_untracked() all_keys=all reason=reason on_sent=on_sent />
                }.into_any()
            }
            _ => view! { <ErrorPanel error=e /> }.into_any(),
        })}
        <MyRequests ns=detail.namespace.clone() name=detail.name.clone() refresh=requests_refresh />
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
        <Metadata detail=detail.clone() />
        {
            let detail = detail.clone();
            let on_change = Callback::new(on_change);
            view! { <LazySection title="Change" id="change" load=move || change_section(detail, on_change) /> }
        }
        {
            let detail = detail.clone();
            view! { <LazySection title="Used by" id="usage" testid="usage-panel" load=move || usage_section(detail, changed) /> }
        }
        {
            let detail = detail.clone();
            view! { <LazySection title="Keys over time" id="keys-over-time" load=move || key_history_section(detail, history) /> }
        }
        {
            let (ns, name) = (detail.namespace.clone(), detail.name.clone());
            view! { <LazySection title="Access history" id="access-history" load=move || access_history_section(ns, name, history) /> }
        }
        {may_hold_certificates(&detail).then(|| {
            let detail = detail.clone();
            // A TLS secret's page is about its certificate: open from the start.
            let open = detail.type_ == "kubernetes.io/tls";
            view! { <LazySection title="Certificates" id="certificates" testid="certificates" open=open load=move || certificate_section(detail) /> }
        })}
        {
            let open = git_first(&detail);
            let detail = detail.clone();
            view! { <LazySection title="Seal for Git or export for SOPS" id="git" testid="git-panel" open=open load=move || git_section(detail, history) /> }
        }
        <LazySection title="Export" id="export" load=move || export_section(detail, revealed) />
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
