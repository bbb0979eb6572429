//! The home page (namespace picker) and the "who am I" page.

use leptos::prelude::*;

use crate::{client, ui::layout::ErrorPanel};

/// The landing page after sign-in: the namespaces the user may work in.
#[component]
pub fn HomePage() -> impl IntoView {
    let me = LocalResource::new(client::me);
    view! {
        <section class="page">
            <h1>"Namespaces"</h1>
            <p class="lead">"Pick a namespace to see and manage its secrets."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading your namespaces…"</p> }>
                {move || me.get().map(|result| match result {
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
