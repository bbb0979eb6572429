//! The secret page's "Used by" panel and the restart of its consumers.
//!
//! The panel lists the workloads of the secret's namespace that reference
//! it and which keys each uses, as the signed-in user may see them; kinds
//! Kubernetes does not let the user list are named, never left out. After
//! a change of values on the page (`changed` holds the keys), it offers to
//! restart the Deployments, StatefulSets and DaemonSets that use those keys
//! as environment variables (pre-selected: they need a restart) or as files
//! (they need one only if the app does not reload files).

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;

use crate::{
    api::{
        SecretDetail,
        usage::{
            Consumer, RestartNeed, RestartOutcome, RestartRequest, RestartResponse, SecretUsage,
            Use, UseHow, WorkloadRef,
        },
    },
    client::{self, ClientError, urlencode as enc},
    ui::layout::ErrorPanel,
};

/// Workloads that use the secret; after a change of values (`changed`
/// holds the changed keys), an offer to restart those that need it.
#[component]
pub fn UsagePanel(detail: SecretDetail, changed: Signal<Vec<String>>) -> impl IntoView {
    let (ns, name) = (detail.namespace.clone(), detail.name.clone());
    let data = LocalResource::new({
        let (ns, name) = (ns.clone(), name.clone());
        move || {
            let path = format!("/namespaces/{}/secrets/{}/usage", enc(&ns), enc(&name));
            async move { client::get::<SecretUsage>(&path).await }
        }
    });
    view! {
        <div class="usage">
            <Suspense fallback=|| view! { <p class="loading" role="status">"Finding who uses this secret…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(usage) => view! {
                        <UsageView usage=usage ns=ns.clone() name=name.clone() changed=changed />
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e retry=move || data.refetch() /> }.into_any(),
                })}
            </Suspense>
        </div>
    }
}

/// The *Used by* section of a secret's page, loaded when it opens.
pub async fn usage_section(detail: SecretDetail, changed: Signal<Vec<String>>) -> AnyView {
    view! { <UsagePanel detail changed /> }.into_any()
}

/// One use in words: which key (or all), and where it goes.
fn describe(u: &Use) -> String {
    let key = u
        .key
        .as_deref()
        .map(|k| format!("key {k}"))
        .unwrap_or_else(|| "all keys".to_string());
    let place = match (u.how, &u.container, &u.variable, &u.volume) {
        (UseHow::Env, Some(c), Some(v), _) => format!(" as ${v} in container {c}"),
        (UseHow::EnvFrom, Some(c), _, _) => format!(" in container {c}"),
        (_, _, _, Some(v)) => format!(" in volume {v}"),
        _ => String::new(),
    };
    format!("{}: {key}{place}", u.how.label())
}

#[component]
fn UsageView(
    usage: SecretUsage,
    ns: String,
    name: String,
    changed: Signal<Vec<String>>,
) -> impl IntoView {
    let consumers = StoredValue::new(usage.consumers.clone());
    let not_visible: Vec<&'static str> = usage.not_visible.iter().map(|k| k.plural()).collect();
    let notes = usage
        .truncated
        .iter()
        .map(|t| {
            format!(
                "{}: only the first {} were scanned; more may use this secret.",
                t.kind.plural(),
                t.scanned
            )
        })
        .collect::<Vec<_>>();
    let table = if usage.consumers.is_empty() {
        view! {
            <p class="muted" data-testid="usage-none">
                {if not_visible.is_empty() { "Nothing in this namespace uses this secret." } else { "Nothing you may see uses this secret." }}
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="table" data-testid="usage-table">
                    <caption class="muted">"Objects in " {ns.clone()} " that reference this secret"</caption>
                    <thead><tr>
                        <th scope="col">"Kind"</th><th scope="col">"Name"</th><th scope="col">"Uses"</th><th scope="col">"Notes"</th>
                    </tr></thead>
                    <tbody>
                        {usage.consumers.iter().map(|c| view! { <ConsumerRow consumer=c.clone() /> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        {table}
        {(!not_visible.is_empty()).then(|| view! {
            <p class="hint" data-testid="usage-not-visible">
                "Not visible to you: " {not_visible.join(", ")}
                ". Kubernetes does not let you list them, so they may use this secret too."
            </p>
        })}
        {notes.into_iter().map(|n| view! { <p class="hint" data-testid="usage-truncated">{n}</p> }).collect_view()}
        {usage.failed.iter().map(|f| view! { <p class="hint" data-testid="usage-failed">{f.message.clone()}</p> }).collect_view()}
        {(usage.skipped_malformed > 0).then(|| view! {
            <p class="hint" data-testid="usage-malformed">
                {format!("{} objects could not be read and were skipped.", usage.skipped_malformed)}
            </p>
        })}
        {(!usage.keys_checked).then(|| view! {
            <p class="hint">"Missing keys could not be checked: you may not read this secret's keys."</p>
        })}
        {move || {
            let changed = changed.get();
            (!changed.is_empty()).then(|| {
                let candidates = consumers.with_value(|c| candidates(c, &changed));
                view! { <RestartOffer ns=ns.clone() name=name.clone() changed=changed candidates=candidates /> }
            })
        }}
    }
}

#[component]
fn ConsumerRow(consumer: Consumer) -> impl IntoView {
    let instances = match (consumer.instances, consumer.kind.as_str()) {
        (0, _) => None,
        (n, "CronJob") => Some(format!("{n} of its Jobs and Pods found too")),
        (n, _) => Some(format!("{n} of its Pods found too")),
    };
    let restart_via = consumer
        .restart
        .as_ref()
        .filter(|r| r.kind != consumer.kind || r.name != consumer.name)
        .map(|r| format!("restarted through {r}"));
    view! {
        <tr data-testid="usage-row" data-kind=consumer.kind.as_str() data-name=consumer.name.clone()>
            <td>{consumer.kind.as_str()}</td>
            <th scope="row"><code>{consumer.name.clone()}</code></th>
            <td>
                <ul class="uses">
                    {consumer.uses.iter().map(|u| view! {
                        <li data-testid="usage-use" data-how=format!("{:?}", u.how) data-key=u.key.clone().unwrap_or_default()>
                            {describe(u)}
                            {u.optional.then(|| view! { " " <span class="badge">"optional"</span> })}
                            {u.missing.then(|| view! {
                                " " <span class="badge outcome-denied" data-testid="missing-key">"missing: a pod would fail to start"</span>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
            </td>
            <td>
                {instances.map(|i| view! { <span class="muted">{i}</span> })}
                {restart_via.map(|r| view! { <span class="muted">{r}</span> })}
            </td>
        </tr>
    }
}

/// A workload that could be restarted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    target: WorkloadRef,
    need: RestartNeed,
    /// It needs a changed key the secret no longer has: its new pods would
    /// not start, so it is never pre-selected.
    breaks: bool,
}

/// The restartable workloads that use `changed` keys as env or files, one
/// per workload, env first.
fn candidates(consumers: &[Consumer], changed: &[String]) -> Vec<Candidate> {
    let mut by_target: BTreeMap<WorkloadRef, (RestartNeed, bool)> = BTreeMap::new();
    for c in consumers {
        if let (Some(target), Some(need)) = (&c.restart, c.restart_need(changed)) {
            let breaks = c
                .uses
                .iter()
                .any(|u| u.missing && u.key.as_ref().is_some_and(|k| changed.contains(k)));
            let e = by_target.entry(target.clone()).or_insert((need, breaks));
            *e = (e.0.max(need), e.1 || breaks);
        }
    }
    let mut out: Vec<Candidate> = by_target
        .into_iter()
        .map(|(target, (need, breaks))| Candidate {
            target,
            need,
            breaks,
        })
        .collect();
    out.sort_by(|a, b| b.need.cmp(&a.need).then_with(|| a.target.cmp(&b.target)));
    out
}

#[component]
fn RestartOffer(
    ns: String,
    name: String,
    changed: Vec<String>,
    candidates: Vec<Candidate>,
) -> impl IntoView {
    if candidates.is_empty() {
        return view! {
            <p class="muted" data-testid="restart-none">
                "No Deployment, StatefulSet or DaemonSet you may see uses the changed keys as environment variables or files, so there is nothing to restart."
            </p>
        }
        .into_any();
    }
    let selected = RwSignal::new(
        candidates
            .iter()
            .filter(|c| c.need == RestartNeed::Env && !c.breaks)
            .map(|c| c.target.clone())
            .collect::<BTreeSet<WorkloadRef>>(),
    );
    let (results, set_results) = signal(None::<Result<RestartResponse, ClientError>>);
    let keys = StoredValue::new(changed.clone());
    let path = format!("/namespaces/{}/secrets/{}/restart", enc(&ns), enc(&name));
    let restart = Action::new_local(move |req: &RestartRequest| {
        let (path, req) = (path.clone(), req.clone());
        async move {
            set_results.set(Some(client::post::<_, RestartResponse>(&path, &req).await));
        }
    });
    let pending = restart.pending();
    let ns_hint = ns.clone();
    view! {
        <form class="panel" data-testid="restart-offer" aria-labelledby="restart-heading"
            on:submit=move |ev| {
                ev.prevent_default();
                let workloads: Vec<WorkloadRef> = selected.get_untracked().into_iter().collect();
                if !workloads.is_empty() {
                    restart.dispatch(RestartRequest { workloads, keys: keys.get_value() });
                }
            }>
            <h3 id="restart-heading">"Restart consumers of the changed keys"</h3>
            <p class="hint">"Changed keys: " <code>{changed.join(", ")}</code>
                ". Containers read environment variables only when they start; mounted files are updated in place, but the app may not reload them."</p>
            <ul class="restart-candidates">
                {candidates.into_iter().map(|c| {
                    let target = c.target.clone();
                    let t1 = target.clone();
                    let t2 = target.clone();
                    let badge = match c.need {
                        RestartNeed::Env => "badge outcome-failed",
                        RestartNeed::Files => "badge",
                    };
                    view! {
                        <li>
                            <label data-testid="restart-candidate" data-kind=target.kind.as_str() data-name=target.name.clone()
                                data-need=format!("{:?}", c.need)>
                                <input type="checkbox" name="workload" value=target.to_string()
                                    prop:checked=move || selected.with(|s| s.contains(&t1))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        selected.update(|s| { if on { s.insert(t2.clone()); } else { s.remove(&t2); } });
                                    } />
                                " " {target.kind.as_str()} " " <code>{target.name.clone()}</code> " "
                                <span class=badge>{c.need.label()}</span>
                                {c.breaks.then(|| view! {
                                    " " <span class="badge outcome-denied" data-testid="restart-breaks">"uses a removed key: new pods would not start"</span>
                                })}
                            </label>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <div class="actions">
                <button type="submit" class="button" data-testid="restart-button"
                    disabled=move || pending.get() || selected.with(|s| s.is_empty())>
                    {move || if pending.get() { "Restarting…" } else { "Restart selected" }}
                </button>
            </div>
            <p class="hint" data-testid="restart-kubectl">"kubectl: "
                {move || selected.with(|s| s.iter().map(|w| view! {
                    <code>{format!("kubectl rollout restart {}/{} -n {}", w.kind.kubectl_name(), w.name, ns_hint)}</code> " "
                }).collect_view())}
            </p>
            <div aria-live="polite" data-testid="restart-results-region">
                {move || results.get().map(|r| match r {
                    Ok(response) => view! { <RestartResults response=response /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                })}
            </div>
        </form>
    }
    .into_any()
}

#[component]
fn RestartResults(response: RestartResponse) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="restart-results">
                <caption class="muted">"Restart results"</caption>
                <thead><tr><th scope="col">"Workload"</th><th scope="col">"Result"</th><th scope="col">"Details"</th></tr></thead>
                <tbody>
                    {response.results.into_iter().map(|r| {
                        let class = match r.outcome {
                            RestartOutcome::Done => "badge outcome-allowed",
                            RestartOutcome::Forbidden => "badge outcome-denied",
                            _ => "badge outcome-failed",
                        };
                        view! {
                            <tr data-testid="restart-result" data-kind=r.kind.as_str() data-name=r.name.clone()
                                data-outcome=r.outcome.label()>
                                <th scope="row">{r.kind.as_str()} " " <code>{r.name.clone()}</code></th>
                                <td><span class=class>{r.outcome.label()}</span></td>
                                <td>
                                    {r.message.clone()}
                                    {r.restarted_at.map(|at| view! { " " <span class="muted">"restartedAt " <time datetime=at.clone()>{at.clone()}</time></span> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::usage::WorkloadKind;

    fn consumer(kind: WorkloadKind, name: &str, how: UseHow, key: Option<&str>) -> Consumer {
        Consumer {
            kind,
            name: name.into(),
            uses: vec![Use {
                how,
                container: Some("app".into()),
                variable: None,
                volume: None,
                key: key.map(str::to_string),
                optional: false,
                missing: false,
            }],
            restart: kind.restartable().then(|| WorkloadRef {
                kind,
                name: name.into(),
            }),
            instances: 0,
        }
    }

    #[test]
    fn candidates_are_restartable_users_of_changed_keys_env_first() {
        let mut pod = consumer(WorkloadKind::Pod, "web-1", UseHow::Env, Some("password"));
        pod.restart = Some(WorkloadRef {
            kind: WorkloadKind::Deployment,
            name: "api".into(),
        });
        let consumers = vec![
            consumer(WorkloadKind::Deployment, "files", UseHow::Volume, None),
            consumer(
                WorkloadKind::StatefulSet,
                "db",
                UseHow::Env,
                Some("password"),
            ),
            consumer(
                WorkloadKind::DaemonSet,
                "agent",
                UseHow::Env,
                Some("username"),
            ),
            consumer(WorkloadKind::Job, "once", UseHow::Env, Some("password")),
            consumer(
                WorkloadKind::Deployment,
                "api",
                UseHow::Projected,
                Some("password"),
            ),
            pod,
        ];
        let mut gone = consumer(
            WorkloadKind::DaemonSet,
            "gone",
            UseHow::Env,
            Some("password"),
        );
        gone.uses[0].missing = true;
        let with_gone: Vec<Consumer> = consumers.iter().cloned().chain([gone]).collect();
        let breaking: Vec<String> = candidates(&with_gone, &["password".to_string()])
            .into_iter()
            .filter(|c| c.breaks)
            .map(|c| c.target.to_string())
            .collect();
        assert_eq!(breaking, ["DaemonSet/gone"]);
        let got: Vec<String> = candidates(&consumers, &["password".to_string()])
            .into_iter()
            .map(|c| format!("{} {:?}", c.target, c.need))
            .collect();
        assert_eq!(
            got,
            [
                "Deployment/api Env",
                "StatefulSet/db Env",
                "Deployment/files Files"
            ]
        );
    }

    #[test]
    fn uses_read_as_sentences() {
        let u = Use {
            how: UseHow::Env,
            container: Some("app".into()),
            variable: Some("DB_PASSWORD".into()),
            volume: None,
            key: Some("password".into()),
            optional: false,
            missing: false,
        };
        assert_eq!(
            describe(&u),
            "env: key password as $DB_PASSWORD in container app"
        );
        let v = Use {
            how: UseHow::Volume,
            container: None,
            variable: None,
            volume: Some("creds".into()),
            key: None,
            ..u
        };
        assert_eq!(describe(&v), "volume: all keys in volume creds");
    }
}
