//! Guarded namespaces in the browser: the guards a namespace has (shown
//! before anyone clicks), the fresh sign-in a reveal may ask for, asking
//! for access, and the approvals page.

pub mod pages;

use leptos::prelude::*;

use crate::{
    api::guards::{
        AccessRequest, AccessRequestInput, AccessRequests, Decision, NamespaceGuards,
        RequestStatus, minutes,
    },
    client::{self, ClientError, urlencode as enc},
    ui::layout::ErrorPanel,
};

/// `GET /access-requests`.
pub async fn requests() -> Result<AccessRequests, ClientError> {
    client::get("/access-requests").await
}

/// `POST …/secrets/{name}/access-requests`.
pub async fn ask(
    ns: &str,
    name: &str,
    input: &AccessRequestInput,
) -> Result<AccessRequest, ClientError> {
    client::post(
        &format!(
            "/namespaces/{}/secrets/{}/access-requests",
            enc(ns),
            enc(name)
        ),
        input,
    )
    .await
}

/// `POST /access-requests/{id}/{how}` (`approve`, `deny`, `revoke`).
pub async fn decide(
    id: &str,
    how: &str,
    comment: Option<String>,
) -> Result<AccessRequest, ClientError> {
    client::post(
        &format!("/access-requests/{}/{how}", enc(id)),
        &Decision { comment },
    )
    .await
}

/// The badges of a namespace's guards.
#[component]
pub fn GuardBadges(guards: NamespaceGuards) -> impl IntoView {
    view! {
        <span class="guards" data-testid="guards">
            {guards.labels().into_iter().map(|l| view! { <span class="badge warn">{l}</span> " " }).collect_view()}
        </span>
    }
}

/// What a namespace asks before a value is revealed, from `/me`; nothing
/// for an unguarded one.
#[component]
pub fn GuardNotice(ns: String) -> impl IntoView {
    let me = crate::ui::layout::SharedMe::get();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let ns = ns.clone();
                me.get().and_then(|r| r.ok()).and_then(|m| m.guards.get(&ns).cloned()).map(|g| {
                    let mut parts = Vec::new();
                    if g.reason {
                        parts.push("a reason".to_string());
                    }
                    if let Some(s) = g.step_up_max_age_seconds {
                        parts.push(format!("a sign-in within the last {}", minutes(s)));
                    }
                    if g.approval {
                        parts.push(format!("a second person's approval ({})", g.approver_groups.join(", ")));
                    }
                    let ask = if parts.is_empty() { String::new() } else { format!("A reveal here needs {}. ", parts.join(", ")) };
                    let announce = if g.notification_required {
                        "Every reveal is announced to the security team first; if that fails, nothing is revealed."
                    } else if g.notified {
                        "Reveals are announced to the security team."
                    } else {
                        ""
                    };
                    view! {
                        <div class="panel guard-note" role="note" data-testid="guard-note">
                            <p><strong>"Guarded namespace. "</strong>{ask}{announce}</p>
                            <GuardBadges guards=g />
                        </div>
                    }
                })
            }}
        </Suspense>
    }
}

/// A reveal needs a fresh sign-in: the link signs in again with
/// `max_age` and comes back to this page.
#[component]
pub fn StepUpPanel(error: ClientError) -> impl IntoView {
    let here = current_path();
    let href = format!(
        "/auth/login?step_up=1&next={}",
        enc(&format!("{here}?stepped-up=1"))
    );
    view! {
        <div class="panel error-panel" role="alert" data-testid="step-up">
            <h2>"Confirm it is you"</h2>
            <p>{error.error.message}</p>
            <a class="button" href=href data-testid="step-up-link">"Sign in again"</a>
        </div>
    }
}

fn current_path() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().pathname().ok())
            .unwrap_or_else(|| "/".into())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        "/".into()
    }
}

/// The durations a request may ask for, up to `max` seconds.
fn durations() -> Vec<(u64, &'static str)> {
    vec![
        (300, "5 minutes"),
        (900, "15 minutes"),
        (1800, "30 minutes"),
        (3600, "1 hour"),
    ]
}

/// Asks for access to `keys` (or every key) of `ns/name`.
#[component]
pub fn RequestAccess(
    ns: String,
    name: String,
    keys: Vec<String>,
    all_keys: Vec<String>,
    reason: RwSignal<String>,
    on_sent: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let chosen = RwSignal::new(if keys.is_empty() {
        all_keys.clone()
    } else {
        keys
    });
    let duration = RwSignal::new(900u64);
    let (error, set_error) = signal(None::<ClientError>);
    let send = Action::new_local(move |_: &()| {
        let (ns, name) = (ns.clone(), name.clone());
        let input = AccessRequestInput {
            keys: chosen.get_untracked(),
            reason: reason.get_untracked(),
            duration_seconds: Some(duration.get_untracked()),
        };
        let on_sent = on_sent.clone();
        async move {
            match ask(&ns, &name, &input).await {
                Ok(_) => {
                    set_error.set(None);
                    on_sent();
                }
                Err(e) => set_error.set(Some(e)),
            }
        }
    });
    view! {
        <form class="panel request-access" data-testid="request-access"
            on:submit=move |ev| { ev.prevent_default(); send.dispatch(()); }>
            <h2>"Ask for access"</h2>
            <p class="hint">"An approver who may read this secret decides; you are told here, and the security team's channel hears of it."</p>
            <fieldset>
                <legend>"Keys"</legend>
                {all_keys.into_iter().map(|k| {
                    let key = k.clone();
                    let key2 = k.clone();
                    view! {
                        <label class="check">
                            <input type="checkbox" name="keys" value=k.clone()
                                prop:checked=move || chosen.with(|c| c.contains(&key))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| { c.retain(|x| x != &key2); if on { c.push(key2.clone()); c.sort(); } });
                                } />
                            <code>{k}</code>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <label class="field">
                <span>"Why do you need them? (required; shown to the approvers)"</span>
                <textarea name="request-reason" rows="2" maxlength="500" required=true
                    prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            </label>
            <label class="field">
                <span>"For how long, once approved"</span>
                <select name="duration" on:change=move |ev| duration.set(event_target_value(&ev).parse().unwrap_or(900))>
                    {durations().into_iter().map(|(s, label)| view! { <option value=s.to_string() selected=s == 900>{label}</option> }).collect_view()}
                </select>
            </label>
            {move || error.get().map(|e| view! { <ErrorPanel error=e /> })}
            <div class="actions">
                <button type="submit" class="button" data-testid="send-request" disabled=move || send.pending().get()>"Ask for access"</button>
            </div>
        </form>
    }
}

/// One request as a row of facts.
#[component]
pub fn RequestFacts(request: AccessRequest) -> impl IntoView {
    let status = request.status;
    let class = match status {
        RequestStatus::Approved => "badge outcome-allowed",
        RequestStatus::Denied | RequestStatus::Revoked => "badge outcome-denied",
        RequestStatus::Pending => "badge warn",
        RequestStatus::Expired => "badge",
    };
    let who = request
        .requester_name
        .clone()
        .unwrap_or(request.requester.clone());
    view! {
        <span class=class data-testid="request-status">{status.as_str()}</span>
        " " <strong>{who}</strong> " · " <code>{format!("{}/{}", request.namespace, request.secret)}</code>
        " · " {request.keys.join(", ")} " · " {minutes(request.duration_seconds)}
        <div class="hint">"Reason: " {request.reason.clone()}</div>
        {request.decided_by.clone().map(|by| view! {
            <div class="hint">{format!("{} by {by}", status.as_str())}{request.comment.clone().map(|c| format!(": {c}"))}</div>
        })}
        {(status == RequestStatus::Approved).then(|| request.valid_until.clone()).flatten().map(|until| view! {
            <div class="hint">"Open until " <time datetime=until.clone()>{until.clone()}</time></div>
        })}
        {(status == RequestStatus::Pending).then(|| view! {
            <div class="hint">"Waiting for a decision until " <time datetime=request.decide_by.clone()>{request.decide_by.clone()}</time></div>
        })}
    }
}

/// The signed-in user's requests for `ns/name`, each withdrawable while it
/// is pending or open.
#[component]
pub fn MyRequests(ns: String, name: String, refresh: RwSignal<u32>) -> impl IntoView {
    let list = LocalResource::new(move || {
        refresh.track();
        async move { requests().await }
    });
    let (error, set_error) = signal(None::<ClientError>);
    let withdraw = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            match decide(&id, "revoke", None).await {
                Ok(_) => set_error.set(None),
                Err(e) => set_error.set(Some(e)),
            }
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let (ns, name) = (ns.clone(), name.clone());
                list.get().and_then(|r| r.ok()).map(|all| {
                    let mine: Vec<AccessRequest> = all.mine.into_iter()
                        .filter(|r| r.namespace == ns && r.secret == name)
                        .take(5)
                        .collect();
                    (!mine.is_empty()).then(|| view! {
                        <section class="panel" data-testid="my-requests">
                            <h2>"Your access requests"</h2>
                            <ul class="plain">
                                {mine.into_iter().map(|r| {
                                    let id = r.id.clone();
                                    let row_id = r.id.clone();
                                    let open = matches!(r.status, RequestStatus::Pending | RequestStatus::Approved);
                                    view! {
                                        <li data-request=row_id>
                                            <RequestFacts request=r />
                                            {open.then(|| view! {
                                                <button type="button" class="button ghost" on:click=move |_| { withdraw.dispatch(id.clone()); }>"Withdraw"</button>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    })
                })
            }}
            {move || error.get().map(|e| view! { <ErrorPanel error=e /> })}
        </Suspense>
    }
}
