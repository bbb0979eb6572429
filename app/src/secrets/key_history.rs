//! The secret page's "Keys over time": for each key when its value last
//! changed and by whom, whether it changed outside Strongroom, whether it
//! is still the value you last revealed, the per-key changes, and the age
//! of the values against the rotation policy. All from the audit trail's
//! fingerprints: no value is ever shown here.

use leptos::prelude::*;

use crate::{
    api::{
        SecretDetail,
        history::{KeyChange, KeyHistory},
    },
    client::{self, ClientError, urlencode},
    ui::{format, layout::ErrorPanel},
};

/// `GET .../key-history`.
async fn load(ns: &str, name: &str) -> Result<KeyHistory, ClientError> {
    client::get(&format!(
        "/namespaces/{}/secrets/{}/key-history",
        urlencode(ns),
        urlencode(name)
    ))
    .await
}

/// The *Keys over time* section of a secret's page, loaded when it opens.
pub async fn key_history_section(detail: SecretDetail, refresh: RwSignal<u32>) -> AnyView {
    view! { <KeyHistoryPanel detail refresh /> }.into_any()
}

/// Keys over time; reloaded whenever `refresh` changes (after a reveal).
#[component]
pub fn KeyHistoryPanel(detail: SecretDetail, refresh: RwSignal<u32>) -> impl IntoView {
    let (ns, name) = (detail.namespace.clone(), detail.name.clone());
    let history = LocalResource::new(move || {
        refresh.track();
        let (ns, name) = (ns.clone(), name.clone());
        async move { load(&ns, &name).await }
    });
    view! {
        <p class="hint">"From the audit trail's fingerprints of the values Strongroom has seen: never the values themselves."</p>
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || history.get().map(|r| match r {
                Ok(h) => view! { <HistoryView history=h /> }.into_any(),
                Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
            })}
        </Suspense>
    }
}

fn who(c: &KeyChange) -> String {
    match (&c.user, &c.noticed_at) {
        (Some(user), _) => user.clone(),
        (None, Some(noticed)) => format!("outside Strongroom (noticed at {noticed})"),
        (None, None) => "outside Strongroom".into(),
    }
}

#[component]
fn HistoryView(history: KeyHistory) -> impl IntoView {
    let age = history.age.clone();
    let since = age.values_since.clone().unwrap_or_default();
    view! {
        <dl class="facts" data-testid="values-age">
            <dt>"Values since"</dt>
            <dd>
                <time datetime=since.clone() title=since.clone()>{format::age(&since)}</time>
                {(!age.from_change).then(|| view! { <span class="muted">" (creation: no change known to Strongroom)"</span> })}
                {age.overdue.then(|| view! { " " <span class="badge warn" data-testid="rotation-overdue">"rotation overdue"</span> })}
            </dd>
            <dt>"Rotation policy"</dt>
            <dd>{age.rotate_every.clone().map(|p| format!("every {p}")).unwrap_or_else(|| "none (annotate strongroom.dev/rotate-every: 90d)".into())}</dd>
        </dl>
        <div class="table-wrap">
            <table class="table" data-testid="key-states">
                <thead><tr>
                    <th scope="col">"Key"</th><th scope="col">"Value last changed"</th><th scope="col">"By"</th><th scope="col">"Since your last reveal"</th>
                </tr></thead>
                <tbody>
                    {history.keys.into_iter().map(|k| {
                        let changed = k.last_change.clone();
                        let time = changed.as_ref().map(|c| c.time.clone()).unwrap_or_default();
                        view! {
                            <tr data-key=k.key.clone()>
                                <th scope="row"><code>{k.key.clone()}</code></th>
                                <td>
                                    {match &changed {
                                        Some(c) => view! { <time datetime=time.clone() title=time.clone()>{format::age(&time)}</time> " " <span class="muted">{c.change.label()}</span> }.into_any(),
                                        None => view! { <span class="muted">"not known to Strongroom"</span> }.into_any(),
                                    }}
                                    {k.changed_outside_now.then(|| view! { " " <span class="badge warn" data-testid="changed-outside">"changed outside Strongroom"</span> })}
                                </td>
                                <td>{changed.as_ref().map(who).unwrap_or_default()}</td>
                                <td data-testid="since-your-reveal">{match k.unchanged_since_your_reveal {
                                    Some(true) => view! { <span class="badge outcome-allowed">"unchanged"</span> }.into_any(),
                                    Some(false) => view! { <span class="badge warn">"changed since"</span> }.into_any(),
                                    None => view! { <span class="muted">"you have not revealed it"</span> }.into_any(),
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <details class="panel" data-testid="key-changes">
            <summary>{format!("Changes of values ({})", history.changes.len())}</summary>
            {if history.changes.is_empty() {
                view! { <p class="muted">"No change of a value is known to Strongroom."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table">
                            <thead><tr><th scope="col">"When"</th><th scope="col">"Key"</th><th scope="col">"Change"</th><th scope="col">"By"</th></tr></thead>
                            <tbody>
                                {history.changes.iter().map(|c| view! {
                                    <tr>
                                        <td><time datetime=c.time.clone() title=c.time.clone()>{format::age(&c.time)}</time></td>
                                        <td><code>{c.key.clone()}</code></td>
                                        <td>{c.change.label()}</td>
                                        <td>{who(c)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {(!history.complete).then(|| view! { <p class="hint">"Only the newest records of this secret were read; older changes are not shown."</p> })}
        </details>
    }
}
