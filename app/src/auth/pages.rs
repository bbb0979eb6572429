//! The home page (namespace picker) and the "who am I" page.

use leptos::prelude::*;

use crate::{
    api::NamespaceSearch,
    client::{self, urlencode},
    ui::{format, layout::ErrorPanel},
};

/// The landing page after sign-in: the namespaces the user may work in.
#[component]
pub fn HomePage() -> impl IntoView {
    crate::ui::layout::mark_hydrated();
    let me = LocalResource::new(client::me);
    view! {
        <section class="page">
            <h1>"Namespaces"</h1>
            <p class="lead">"Pick a namespace to see and manage its secrets."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading your namespaces…"</p> }>
                {move || me.get().map(|result| match result {
                    Ok(me) if me.unchecked_namespaces > 0 => view! {
                        <NamespaceFinder total=me.unchecked_namespaces />
                    }.into_any(),
                    Ok(me) if me.namespaces.is_empty() => view! {
                        <div class="empty" data-testid="no-namespaces">
                            <h2>"No namespaces yet"</h2>
                            <p>
                                "You are signed in as " <strong>{me.username.clone()}</strong>
                                ", but no namespace lets you list secrets. Ask your platform team to bind one of your groups to a role that may list secrets in your team's namespace."
                            </p>
                        </div>
                    }.into_any(),
                    Ok(me) => view! {
                        <ul class="namespace-list" data-testid="namespace-list">
                            {me.namespaces.into_iter().map(|ns| {
                                let href = format!("/ns/{ns}");
                                let guards = me.guards.get(&ns).cloned();
                                view! { <li><a class="card-link" href=href><span>{ns.clone()}</span>
                                    {guards.map(|g| view! { <crate::guards::GuardBadges guards=g /> })}</a></li> }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || me.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The picker for someone who may see more namespaces than are checked up
/// front: they type part of a name, and the server checks the matches.
#[component]
fn NamespaceFinder(total: usize) -> impl IntoView {
    let (part, set_part) = signal(String::new());
    let found = LocalResource::new(move || {
        let part = part.get();
        async move {
            if part.is_empty() {
                return None;
            }
            Some(
                client::get::<NamespaceSearch>(&format!("/namespaces?name={}", urlencode(&part)))
                    .await,
            )
        }
    });
    view! {
        <div data-testid="namespace-finder">
            <label class="field">
                <span>{format!("Find a namespace among {}", format::count(total as u64))}</span>
                <input type="search" data-testid="namespace-search" placeholder="Part of its name"
                    prop:value=part on:input=move |ev| set_part.set(event_target_value(&ev)) />
            </label>
            <Suspense fallback=|| view! { <p class="loading">"Checking…"</p> }>
                {move || found.get().flatten().map(|result| match result {
                    Ok(found) if found.matching == 0 => view! {
                        <p class="muted" role="status" data-testid="namespace-search-status">"No namespace matches."</p>
                    }.into_any(),
                    Ok(found) if found.namespaces.is_empty() => view! {
                        <p class="muted" role="status" data-testid="namespace-search-status">
                            {format!("None of the {} matching namespaces checked lets you list secrets; type more of the name to check others.", format::count(found.checked as u64))}
                        </p>
                    }.into_any(),
                    Ok(found) => view! {
                        <p class="muted" role="status" data-testid="namespace-search-status">
                            {if found.checked < found.matching {
                                format!("Checked {} of {} matching namespaces; type more of the name to narrow it.", format::count(found.checked as u64), format::count(found.matching as u64))
                            } else {
                                format!("{} matching namespaces", format::count(found.matching as u64))
                            }}
                        </p>
                        <ul class="namespace-list" data-testid="namespace-list">
                            {found.namespaces.into_iter().map(|ns| {
                                let href = format!("/ns/{ns}");
                                let guards = found.guards.get(&ns).cloned();
                                view! { <li><a class="card-link" href=href><span>{ns.clone()}</span>
                                    {guards.map(|g| view! { <crate::guards::GuardBadges guards=g /> })}</a></li> }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || found.refetch() /> }.into_any(),
                })}
            </Suspense>
        </div>
    }
}

/// Who the signed-in user is, exactly as Kubernetes sees them.
#[component]
pub fn MePage() -> impl IntoView {
    let me = LocalResource::new(client::me);
    view! {
        <section class="page">
            <h1>"Your identity"</h1>
            <p class="lead">"Every request Strongroom makes to Kubernetes impersonates this user and these groups; the cluster's RBAC decides what you may do."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || me.get().map(|result| match result {
                    Ok(me) => view! {
                        <dl class="facts" data-testid="identity">
                            <dt>"Username"</dt>
                            <dd data-testid="username"><code>{me.username}</code></dd>
                            <dt>"Groups"</dt>
                            <dd data-testid="groups">
                                {if me.groups.is_empty() {
                                    view! { <span class="muted">"none"</span> }.into_any()
                                } else {
                                    me.groups.into_iter().map(|g| view! { <span class="badge">{g}</span> " " }).collect_view().into_any()
                                }}
                            </dd>
                            <dt>"Namespaces"</dt>
                            <dd data-testid="namespaces">{me.namespaces.join(", ")}</dd>
                        </dl>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || me.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
