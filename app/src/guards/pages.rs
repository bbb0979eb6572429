//! `/approvals`: the access requests an approver may decide, and the
//! signed-in user's own.

use leptos::prelude::*;

use super::{RequestFacts, decide, requests};
use crate::{
    api::guards::{AccessRequest, RequestStatus},
    client::ClientError,
    ui::layout::ErrorPanel,
};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        refresh.track();
        async move { requests().await }
    });
    view! {
        <section class="page">
            <h1>"Access requests"</h1>
            <p class="lead">"In guarded namespaces a value is revealed only after a second person approves. Approvers see the requests they may decide: they may read the secret themselves, and never decide their own."</p>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || list.get().map(|r| match r {
                    Ok(all) => view! {
                        {all.approver.then(|| view! {
                            <h2>"Waiting for your decision"</h2>
                            {if all.to_decide.is_empty() {
                                view! { <p class="muted" data-testid="nothing-to-decide">"Nothing is waiting for you."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="plain" data-testid="to-decide">
                                        {all.to_decide.iter().cloned().map(|r| view! { <DecisionRow request=r refresh=refresh /> }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        })}
                        <h2>"Your requests"</h2>
                        {if all.mine.is_empty() {
                            view! { <p class="muted">"You have not asked for access."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="plain" data-testid="my-requests">
                                    {all.mine.iter().map(|r| view! {
                                        <li data-request=r.id.clone()>
                                            <RequestFacts request=r.clone() />
                                            " " <a href=format!("/ns/{}/secrets/{}", r.namespace, r.secret)>"Open the secret"</a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        {(!all.decided.is_empty()).then(|| view! {
                            <h2>"You decided"</h2>
                            <ul class="plain" data-testid="decided">
                                {all.decided.iter().cloned().map(|r| view! { <DecisionRow request=r refresh=refresh /> }).collect_view()}
                            </ul>
                        })}
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || list.refetch() /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// One request with its decision buttons (approve, deny while pending;
/// end early while open).
#[component]
fn DecisionRow(request: AccessRequest, refresh: RwSignal<u32>) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let (error, set_error) = signal(None::<ClientError>);
    let id = request.id.clone();
    let act = Action::new_local(move |how: &&'static str| {
        let (id, how) = (id.clone(), *how);
        let comment = Some(comment.get_untracked()).filter(|c| !c.trim().is_empty());
        async move {
            match decide(&id, how, comment).await {
                Ok(_) => {
                    set_error.set(None);
                    refresh.update(|n| *n += 1);
                }
                Err(e) => set_error.set(Some(e)),
            }
        }
    });
    let pending = request.can_decide && request.status == RequestStatus::Pending;
    let open = request.status == RequestStatus::Approved;
    let label = format!("Comment on {}'s request", request.requester);
    view! {
        <li class="panel" data-request=request.id.clone()>
            <RequestFacts request=request.clone() />
            {(pending || open).then(|| view! {
                <label class="field">
                    <span>{label}</span>
                    <input name="comment" autocomplete="off" maxlength="500" prop:value=comment on:input=move |ev| comment.set(event_target_value(&ev)) />
                </label>
                <div class="actions">
                    {pending.then(|| view! {
                        <button type="button" class="button" data-testid="approve" on:click=move |_| { act.dispatch("approve"); }>"Approve"</button>
                        <button type="button" class="button danger" data-testid="deny" on:click=move |_| { act.dispatch("deny"); }>"Deny"</button>
                    })}
                    {open.then(|| view! {
                        <button type="button" class="button danger" data-testid="end-early" on:click=move |_| { act.dispatch("revoke"); }>"End now"</button>
                    })}
                </div>
            })}
            {move || error.get().map(|e| view! { <ErrorPanel error=e /> })}
        </li>
    }
}
