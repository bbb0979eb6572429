//! The secrets of one namespace: metadata only, filterable, page by page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use std::collections::BTreeMap;

use super::certs::{CertBadge, expiring};
use crate::{
    api::{SecretSummary, certs::ExpiringCertificate},
    client::{self, urlencode},
    ui::{format, layout::ErrorPanel},
};

/// Each secret's soonest-ending expired or expiring certificate.
type Expiring = BTreeMap<String, ExpiringCertificate>;

#[component]
pub fn SecretListPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let (filter, set_filter) = signal(String::new());
    let (show_all, set_show_all) = signal(false);
    // Continue tokens of the pages before the current one, and the current
    // one, each with how many secrets a name search had read before it.
    let (cursor, set_cursor) = signal(Vec::<(String, u64)>::new());
    let page = LocalResource::new(move || {
        let ns = ns();
        let mut query = format!("limit=100&all={}", show_all.get());
        let name = filter.get();
        if !name.is_empty() {
            query.push_str(&format!("&name={}", urlencode(&name)));
        }
        if let Some((c, _)) = cursor.get().last() {
            query.push_str(&format!("&continue={}", urlencode(c)));
        }
        async move { client::secrets::list(&ns, &query).await }
    });
    // Expired and expiring certificates, for the rows' badges. Someone who
    // may not read the secrets (403) just sees no badges.
    let certs = LocalResource::new(move || {
        let ns = ns();
        async move { expiring(&ns, None).await.ok() }
    });
    let soonest = Signal::derive(move || {
        let mut map = Expiring::new();
        if let Some(Some(scan)) = certs.get() {
            // Sorted by not-after: the first of each secret is its soonest.
            for c in scan.items {
                map.entry(c.secret.clone()).or_insert(c);
            }
        }
        map
    });
    view! {
        <section class="page">
            <nav class="breadcrumbs" aria-label="Breadcrumb">
                <a href="/">"Namespaces"</a> " / " <span aria-current="page">{ns}</span>
            </nav>
            <div class="page-head">
                <h1>"Secrets in " <code>{ns}</code></h1>
                {move || certs.get().flatten().map(|scan| view! {
                    <a class="button ghost" href=format!("/ns/{}/certificates", urlencode(&scan.namespace)) data-testid="expiring-link">
                        {format!("Expiring certificates ({})", scan.items.len())}
                    </a>
                })}
                <a class="button" href=move || format!("/ns/{}/new", ns()) data-testid="new-secret">"New secret"</a>
            </div>
            {move || view! { <crate::guards::GuardNotice ns=ns() /> }}
            <div class="toolbar">
                <label class="field inline-field">
                    <span class="visually-hidden">"Filter by name"</span>
                    <input type="search" id="secret-filter" placeholder="Filter by name  ( / )" data-testid="filter" data-shortcut="filter" aria-keyshortcuts="/"
                        prop:value=filter
                        on:input=move |ev| { set_cursor.set(Vec::new()); set_filter.set(event_target_value(&ev)); } />
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="show-all" prop:checked=show_all
                        on:change=move |ev| { set_cursor.set(Vec::new()); set_show_all.set(event_target_checked(&ev)); } />
                    " Show Helm release and service-account-token secrets"
                </label>
            </div>
            <p class="hint">"kubectl: " <code>{move || format!("kubectl get secrets -n {}", ns())}</code></p>
            <Suspense fallback=|| view! { <p class="progress" role="status"><progress aria-label="Loading secrets"></progress>"Loading secrets…"</p> }>
                {move || page.get().map(|result| match result {
                    Ok(page) => {
                        let next = page.continue_token.clone();
                        let hidden = page.hidden;
                        // A name search says how far it has read, in all.
                        let before = cursor.get_untracked().last().map_or(0, |c| c.1);
                        let read = before + page.searched.map_or(0, |s| s.read);
                        let progress = page.searched.map(|s| searched_text(read, s.remaining, next.is_some()));
                        let push_next = {
                            let next = next.clone();
                            move || if let Some(n) = next.clone() { set_cursor.update(|c| c.push((n, read))) }
                        };
                        let keep_searching = push_next.clone();
                        view! {
                            {progress.map(|text| view! { <p class="muted" role="status" data-testid="searched">{text}</p> })}
                            {if page.items.is_empty() && page.searched.is_some() && next.is_some() {
                                view! {
                                    <div class="empty" data-testid="no-secrets">
                                        <h2>"No match for " <q>{filter.get_untracked()}</q> " yet"</h2>
                                        <p>"The API server cannot search names, so Strongroom reads the list in order and stops after a moment. "
                                            <button type="button" class="button" data-testid="keep-searching" on:click=move |_| keep_searching()>"Keep searching"</button></p>
                                    </div>
                                }.into_any()
                            } else if page.items.is_empty() && !filter.get_untracked().is_empty() {
                                view! {
                                    <div class="empty" data-testid="no-secrets">
                                        <h2>"No secret matches " <q>{filter.get_untracked()}</q></h2>
                                        <p>"Names are matched by what they contain. "
                                            <button type="button" class="button ghost" on:click=move |_| { set_cursor.set(Vec::new()); set_filter.set(String::new()); }>"Clear the filter"</button></p>
                                    </div>
                                }.into_any()
                            } else if page.items.is_empty() {
                                view! {
                                    <div class="empty" data-testid="no-secrets">
                                        <h2>"No secrets here yet"</h2>
                                        <p>"Create one with the " <strong>"New secret"</strong> " button, from literals, files, an env file or a template."</p>
                                    </div>
                                }.into_any()
                            } else {
                                view! { <SecretTable ns=ns() items=page.items soonest=soonest /> }.into_any()
                            }}
                            <div class="pager">
                                {(hidden > 0).then(|| view! { <span class="muted">{format!("{hidden} system secrets hidden on this page")}</span> })}
                                <button type="button" class="button ghost" disabled=move || cursor.get().is_empty()
                                    on:click=move |_| set_cursor.update(|c| { c.pop(); })>"Previous page"</button>
                                <button type="button" class="button ghost" data-testid="next-page" disabled=next.is_none()
                                    on:click=move |_| push_next()>"Next page"</button>
                            </div>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel error=e retry=move || page.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// "Searched 32,000 of 100,000 secrets", from a search's progress.
fn searched_text(read: u64, remaining: Option<u64>, more: bool) -> String {
    let n = format::count;
    match (more, remaining) {
        (false, _) => format!("Searched all {} secrets", n(read)),
        (true, Some(r)) => format!("Searched {} of {} secrets", n(read), n(read + r)),
        (true, None) => format!("Searched {} secrets so far", n(read)),
    }
}

#[component]
fn SecretTable(ns: String, items: Vec<SecretSummary>, soonest: Signal<Expiring>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="secret-table">
                <thead>
                    <tr><th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Keys"</th><th scope="col">"Age"</th><th scope="col">"Values since"</th><th scope="col">"Labels"</th></tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|s| {
                        let href = format!("/ns/{ns}/secrets/{}", s.name);
                        let created = s.created.clone().unwrap_or_default();
                        let name = s.name.clone();
                        let badge = move || soonest.with(|m| m.get(&name).map(|c| view! {
                            " " <CertBadge status=c.status days_left=c.days_left />
                        }));
                        view! {
                            <tr data-secret=s.name.clone()>
                                <td><a href=href>{s.name.clone()}</a>{badge}
                                    {s.owner.clone().map(|o| view! { " " <span class="badge" data-testid="owner" title=o.warning()>{o.label()}</span> })}
                                </td>
                                <td><span class="badge type" data-type=s.type_.clone()>{s.type_.clone()}</span></td>
                                <td>{s.keys.map(|k| k.to_string()).unwrap_or_default()}</td>
                                <td><time datetime=created.clone() title=created.clone()>{format::age(&created)}</time></td>
                                <td data-testid="values-age"><ValuesAge age=s.age.clone() /></td>
                                <td>{s.labels.into_iter().map(|(k, v)| view! { <span class="badge">{format!("{k}={v}")}</span> " " }).collect_view()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Since when a secret's values are as they are, and whether its rotation
/// policy says they are overdue.
#[component]
fn ValuesAge(age: crate::api::history::RotationAge) -> impl IntoView {
    let since = age.values_since.clone().unwrap_or_default();
    let basis = if age.from_change {
        "last change of a value known to Strongroom"
    } else {
        "no change known to Strongroom: since the secret was created"
    };
    view! {
        <time datetime=since.clone() title=format!("{since} ({basis})")>{format::age(&since)}</time>
        {age.overdue.then(|| view! {
            " " <span class="badge warn" data-testid="rotation-overdue"
                title=format!("older than its rotation policy ({})", age.rotate_every.clone().unwrap_or_default())>"rotation overdue"</span>
        })}
    }
}
