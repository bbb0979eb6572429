//! Changing a secret from its page: rotate or add a key, remove keys, edit
//! labels and annotations, and delete (confirmed by typing the name).

use std::collections::BTreeMap;

use base64::Engine;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::metadata_text::{parse_annotations, parse_labels};
use crate::{
    api::{
        DataEntry, DeleteSecretRequest, SecretDetail, UpdateSecretRequest,
        history::{ChangePreview, KeyDiffKind},
    },
    client::{self, ClientError},
    ui::layout::ErrorPanel,
};

/// The *Change* section of a secret's page, loaded when it opens.
pub async fn change_section(detail: SecretDetail, on_change: Callback<Vec<String>>) -> AnyView {
    view! { <ChangeForms detail on_change=move |keys| on_change.run(keys) /> }.into_any()
}

/// Opens the page's Git section (the link then scrolls to it).
fn open_git() {
    if let Some(sections) = crate::ui::section::OpenSections::get() {
        sections.open("git");
    }
}

#[component]
pub fn ChangeForms(
    detail: SecretDetail,
    on_change: impl Fn(Vec<String>) + Clone + Send + Sync + 'static,
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
            // The keys whose values this change sets or removes.
            let mut keys: Vec<String> = set
                .iter()
                .map(|e| e.key.clone())
                .chain(remove.iter().cloned())
                .collect();
            keys.sort();
            keys.dedup();
            async move {
                match client::secrets::update(&ns, &name, &req).await {
                    Ok(_) => {
                        set_result.set(None);
                        toasts.ok(format!("Saved {name}."));
                        set_value.set(String::new());
                        on_change(keys);
                    }
                    Err(e) => set_result.set(Some(Err(e))),
                }
            }
        },
    );
    // The rotation waiting for confirmation and what it would change.
    let proposed = RwSignal::new(None::<(DataEntry, ChangePreview)>);
    // A change whose review was refused, which may be saved without one.
    let unreviewed = RwSignal::new(None::<DataEntry>);
    let preview = Action::new_local(move |entry: &DataEntry| {
        let entry = entry.clone();
        let req = d.with_value(|d| UpdateSecretRequest {
            resource_version: d.resource_version.clone(),
            set: vec![entry.clone()],
            remove: vec![],
            labels: None,
            annotations: None,
        });
        let (ns, name) = d.with_value(|d| (d.namespace.clone(), d.name.clone()));
        async move {
            match client::post::<_, ChangePreview>(
                &format!(
                    "/namespaces/{}/secrets/{}/preview",
                    client::urlencode(&ns),
                    client::urlencode(&name)
                ),
                &req,
            )
            .await
            {
                Ok(p) => {
                    set_result.set(None);
                    unreviewed.set(None);
                    proposed.set(Some((entry, p)));
                }
                Err(e) => {
                    // Refused (a namespace that asks for reasons, the
                    // reveal rate): the change can still be saved unseen.
                    unreviewed.set(Some(entry));
                    set_result.set(Some(Err(e)));
                }
            }
        }
    });
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
    // Something else writes this secret: say so before each change.
    let owner_warning = detail.owner.clone().map(|o| {
        let reseal = o.kind == crate::api::gitops::OwnerKind::SealedSecret;
        view! {
            <p class="panel owner-warning" role="note" data-testid="change-owner-warning">
                {o.warning()}
                {reseal.then(|| view! { " " <a href="#git" data-testid="reseal-link" on:click=move |_| open_git()>"Re-seal instead"</a> })}
            </p>
        }
    });
    let delete_warning = detail.owner.clone().map(|o| {
        view! { <p class="owner-warning" role="note" data-testid="delete-owner-warning">{o.warning()}</p> }
    });
    view! {
        {owner_warning}
        {move || result.get().map(|r| match r {
            Ok(msg) => view! { <div class="toast ok" role="status" data-testid="change-ok">{msg}</div> }.into_any(),
            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
        })}
        <form class="panel form" data-testid="set-key-form" on:submit=move |ev| {
            ev.prevent_default();
            let entry = DataEntry { key: key.get_untracked(), value: base64::engine::general_purpose::STANDARD.encode(value.get_untracked()) };
            preview.dispatch(entry);
        }>
            <h3>"Add or rotate a key"</h3>
            <label class="field"><span>"Key"</span>
                <input name="key" required list="existing-keys" prop:value=key on:input=move |ev| set_key.set(event_target_value(&ev)) />
            </label>
            <datalist id="existing-keys">{keys.iter().map(|k| view! { <option value=k.name.clone() /> }).collect_view()}</datalist>
            <label class="field"><span>"New value"</span>
                <textarea name="value" class="mono" rows="3" autocomplete="off" spellcheck="false" prop:value=value on:input=move |ev| set_value.set(event_target_value(&ev))></textarea>
            </label>
            <button type="submit" class="button" data-testid="preview-change">"Review change…"</button>
            {move || unreviewed.get().map(|entry| view! {
                <div class="actions">
                    <button type="button" class="button ghost" data-testid="save-unreviewed"
                        on:click=move |_| { update.dispatch((vec![entry.clone()], vec![], None)); unreviewed.set(None); }>"Save without a review"</button>
                </div>
            })}
            {move || proposed.get().map(|(entry, p)| {
                let summary = p.keys.iter().filter(|k| k.change != KeyDiffKind::Same).count();
                view! {
                    <div class="panel" data-testid="change-preview" role="region" aria-label="What this change does">
                        <h4>{if summary == 0 { "This change leaves every value as it is.".to_string() } else { format!("{summary} key(s) change; values stay hidden.") }}</h4>
                        <ul class="diff">
                            {p.keys.iter().map(|k| view! {
                                <li data-key=k.key.clone() data-change=format!("{:?}", k.change).to_lowercase()>
                                    <code>{k.key.clone()}</code> " " <span class=diff_class(k.change)>{diff_label(k.change)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                        <div class="actions">
                            <button type="button" class="button" data-testid="confirm-change"
                                on:click=move |_| { update.dispatch((vec![entry.clone()], vec![], None)); proposed.set(None); }>"Confirm and save"</button>
                            <button type="button" class="button ghost" on:click=move |_| proposed.set(None)>"Cancel"</button>
                        </div>
                    </div>
                }
            })}
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
            match (parse_labels(&labels_text.get_untracked()), parse_annotations(&annotations_text.get_untracked())) {
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
                {delete_warning}
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

fn diff_label(change: KeyDiffKind) -> &'static str {
    match change {
        KeyDiffKind::Changed => "changed",
        KeyDiffKind::Added => "added",
        KeyDiffKind::Removed => "removed",
        KeyDiffKind::Same => "same",
    }
}

fn diff_class(change: KeyDiffKind) -> &'static str {
    match change {
        KeyDiffKind::Changed => "badge warn",
        KeyDiffKind::Added => "badge outcome-allowed",
        KeyDiffKind::Removed => "badge outcome-denied",
        KeyDiffKind::Same => "badge",
    }
}
