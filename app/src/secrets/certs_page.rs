//! A namespace's expired and expiring certificates (`/ns/:ns/certificates`):
//! every certificate of the secrets the user may read that ends within the
//! window, soonest first. Public data only; the server reads the values.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::certs::{CertBadge, expiring};
use crate::{
    api::certs::{ExpiringCertificate, NamespaceCertificates},
    client::urlencode,
    ui::layout::ErrorPanel,
};

/// The windows a person can pick, in days (empty: the server's default).
const WINDOWS: &[(&str, &str)] = &[
    ("", "the server's default"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
];

#[component]
pub fn ExpiringCertificatesPage() -> impl IntoView {
    let params = use_params_map();
    let ns = move || params.read().get("ns").unwrap_or_default();
    let within = RwSignal::new(String::new());
    let scan = LocalResource::new(move || {
        let ns = ns();
        let days = within.get().parse::<u32>().ok();
        async move { expiring(&ns, days).await }
    });
    view! {
        <section class="page">
            <nav class="breadcrumbs" aria-label="Breadcrumb">
                <a href="/">"Namespaces"</a> " / "
                <a href=move || format!("/ns/{}", urlencode(&ns()))>{ns}</a> " / "
                <span aria-current="page">"Certificates"</span>
            </nav>
            <div class="page-head">
                <h1>"Expiring certificates in " <code>{ns}</code></h1>
            </div>
            <div class="toolbar">
                <label class="field inline-field">
                    <span>"Expiring within"</span>
                    <select data-testid="within" on:change=move |ev| within.set(event_target_value(&ev))>
                        {WINDOWS.iter().map(|(value, label)| view! {
                            <option value=*value selected=move || within.get() == *value>{*label}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <Suspense fallback=|| view! { <p class="progress" role="status"><progress aria-label="Reading certificates"></progress>"Reading certificates…"</p> }>
                {move || scan.get().map(|result| match result {
                    Ok(s) => view! { <ScanView scan=s /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || scan.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ScanView(scan: NamespaceCertificates) -> impl IntoView {
    let summary = format!(
        "{} of {} certificates in {} secrets expired or expire within {} days. Read at {}; results are kept for a minute.",
        scan.items.len(),
        scan.certificates,
        scan.scanned_secrets,
        scan.within_days,
        scan.scanned_at
    );
    let ns = scan.namespace.clone();
    view! {
        <p class="hint" data-testid="scan-summary">{summary}</p>
        {scan.note.clone().map(|n| view! { <p class="hint" role="note" data-testid="scan-note">{n}</p> })}
        {if scan.items.is_empty() {
            view! {
                <div class="empty" data-testid="no-expiring">
                    <h2>"Nothing expires soon"</h2>
                    <p>"No certificate in the secrets you may read expired or expires within this window."</p>
                </div>
            }.into_any()
        } else {
            view! { <ExpiringTable ns=ns items=scan.items /> }.into_any()
        }}
    }
}

#[component]
fn ExpiringTable(ns: String, items: Vec<ExpiringCertificate>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="expiring-table">
                <caption class="visually-hidden">"Expired and expiring certificates, soonest first"</caption>
                <thead>
                    <tr><th scope="col">"Secret"</th><th scope="col">"Key"</th><th scope="col">"Subject"</th><th scope="col">"Expires"</th><th scope="col">"Status"</th></tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|c| {
                        let href = format!("/ns/{}/secrets/{}", urlencode(&ns), urlencode(&c.secret));
                        let key = if c.position == 0 { c.key.clone() } else { format!("{} (#{})", c.key, c.position + 1) };
                        view! {
                            <tr data-secret=c.secret.clone()>
                                <th scope="row"><a href=href>{c.secret.clone()}</a></th>
                                <td><code>{key}</code></td>
                                <td><code>{c.subject.clone()}</code></td>
                                <td><time datetime=c.not_after.clone()>{c.not_after.clone()}</time></td>
                                <td><CertBadge status=c.status days_left=c.days_left /></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
