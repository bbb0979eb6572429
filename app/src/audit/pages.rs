//! The audit page (auditors only) and the access-history panel of a secret.

use leptos::prelude::*;

use crate::{
    api::AuditEntry,
    client::{self, urlencode},
    ui::{format, layout::ErrorPanel},
};

/// The whole trail, filterable and exportable, for the auditors group.
#[component]
pub fn AuditPageView() -> impl IntoView {
    let filters: [RwSignal<String>; 6] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [user, namespace, secret, action, outcome, since] = filters;
    let (before, set_before) = signal(Vec::<i64>::new());
    let query = Memo::new(move |_| {
        let mut q: Vec<String> = Vec::new();
        for (name, v) in [
            ("user", user),
            ("namespace", namespace),
            ("secret", secret),
            ("action", action),
            ("outcome", outcome),
            ("since", since),
        ] {
            let v = v.get();
            if !v.is_empty() {
                q.push(format!("{name}={}", urlencode(&v)));
            }
        }
        q.join("&")
    });
    let data = LocalResource::new(move || {
        let mut q = format!("limit=50&{}", query.get());
        if let Some(b) = before.get().last() {
            q.push_str(&format!("&before={b}"));
        }
        async move { client::audit::trail(&q).await }
    });
    let field = move |label: &'static str, name: &'static str, sig: RwSignal<String>| {
        view! {
            <label class="field"><span>{label}</span>
                <input name=name autocomplete="off" data-shortcut=(name == "user").then_some("filter") prop:value=sig on:change=move |ev| { set_before.set(Vec::new()); sig.set(event_target_value(&ev)); } />
            </label>
        }
    };
    view! {
        <section class="page">
            <h1>"Audit trail"</h1>
            <p class="lead">"Every reveal and change, written before any value left the server. Values appear only as fingerprints."</p>
            <form class="panel filters" data-testid="audit-filters" on:submit=move |ev| ev.prevent_default()>
                {field("User", "user", user)}
                {field("Namespace", "namespace", namespace)}
                {field("Secret", "secret", secret)}
                <label class="field"><span>"Action"</span>
                    <select name="action" on:change=move |ev| { set_before.set(Vec::new()); action.set(event_target_value(&ev)); }>
                        <option value="">"Any"</option><option value="reveal">"reveal"</option><option value="create">"create"</option>
                        <option value="update">"update"</option><option value="delete">"delete"</option>
                        <option value="inspect">"inspect"</option><option value="restart">"restart"</option><option value="compare">"compare"</option><option value="seal">"seal"</option><option value="export">"export"</option><option value="request">"request"</option><option value="approve">"approve"</option><option value="deny">"deny"</option><option value="revoke">"revoke"</option>
                    </select>
                </label>
                <label class="field"><span>"Outcome"</span>
                    <select name="outcome" on:change=move |ev| { set_before.set(Vec::new()); outcome.set(event_target_value(&ev)); }>
                        <option value="">"Any"</option><option value="allowed">"allowed"</option><option value="denied">"denied"</option><option value="failed">"failed"</option>
                    </select>
                </label>
                {field("Since (RFC 3339)", "since", since)}
            </form>
            <div class="actions">
                <a class="button ghost" data-testid="export-jsonl" download="audit.jsonl" href=move || format!("/api/v1/audit?limit=1000&format=jsonl&{}", query.get())>"Export JSON lines"</a>
                <a class="button ghost" data-testid="export-csv" download="audit.csv" href=move || format!("/api/v1/audit?limit=1000&format=csv&{}", query.get())>"Export CSV"</a>
            </div>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading the trail…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(page) => {
                        let next = page.next_before;
                        view! {
                            <AuditTable items=page.items show_secret=true />
                            <div class="pager">
                                <button type="button" class="button ghost" disabled=move || before.get().is_empty() on:click=move |_| set_before.update(|b| { b.pop(); })>"Newer"</button>
                                <button type="button" class="button ghost" disabled=next.is_none() on:click=move |_| if let Some(n) = next { set_before.update(|b| b.push(n)) }>"Older"</button>
                            </div>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel error=e retry=move || data.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The *Access history* section of a secret's page, loaded when it opens.
pub async fn access_history_section(ns: String, name: String, refresh: RwSignal<u32>) -> AnyView {
    view! { <AccessHistory ns name refresh /> }.into_any()
}

/// Who revealed or changed one secret.
#[component]
pub fn AccessHistory(
    ns: String,
    name: String,
    /// Changes whenever something was just recorded for this secret.
    #[prop(into)]
    refresh: Signal<u32>,
) -> impl IntoView {
    let data = LocalResource::new(move || {
        refresh.track();
        let (ns, name) = (ns.clone(), name.clone());
        async move { client::audit::history(&ns, &name, 20).await }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(page) if page.items.is_empty() => view! { <p class="muted">"Nobody has revealed or changed this secret yet."</p> }.into_any(),
                Ok(page) => view! { <AuditTable items=page.items show_secret=false /> }.into_any(),
                Err(e) => view! { <ErrorPanel error=e retry=move || data.refetch() /> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(items: Vec<AuditEntry>, show_secret: bool) -> impl IntoView {
    if items.is_empty() {
        return view! { <div class="empty" data-testid="no-records"><p>"No records match."</p></div> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="audit-table">
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th>
                    {show_secret.then(|| view! { <th scope="col">"Secret"</th> })}
                    <th scope="col">"Keys"</th><th scope="col">"Outcome"</th>
                </tr></thead>
                <tbody>
                    {items.into_iter().map(|e| {
                        let outcome_class = format!("badge outcome-{}", e.outcome);
                        view! {
                            <tr data-outcome=e.outcome.clone()>
                                <td><time datetime=e.time.clone() title=e.time.clone()>{format::age(&e.time)}</time></td>
                                <td>{e.user.clone()}</td>
                                <td>{e.action.clone()}</td>
                                {show_secret.then(|| view! { <td><code>{format!("{}/{}", e.namespace, e.secret)}</code></td> })}
                                <td>{e.keys.join(", ")}</td>
                                <td><span class=outcome_class>{format!("{}{}", e.outcome, e.status.map(|s| format!(" ({s})")).unwrap_or_default())}</span></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }.into_any()
}
