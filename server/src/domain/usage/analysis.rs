//! Which objects reference a secret, and how: pure functions from
//! Kubernetes objects to [`Use`]s and [`Consumer`]s, with no I/O, so every
//! kind of reference is tested without a cluster.
//!
//! A pod spec references a secret through its containers' `env`
//! (`valueFrom.secretKeyRef`, one key) and `envFrom` (`secretRef`, all
//! keys) — init and ephemeral containers included — through `secret` and
//! `projected` volumes (the `items` keys, or all keys), and through
//! `imagePullSecrets`. A ServiceAccount references it in
//! `imagePullSecrets` and `secrets`; an Ingress in `spec.tls[].secretName`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Container, EnvFromSource, EnvVar, KeyToPath, Pod, PodSpec, ServiceAccount},
        networking::v1::Ingress,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use strongroom_app::api::usage::{Consumer, Use, UseHow, WorkloadKind, WorkloadRef};

/// A use of `how`, all other fields empty.
fn use_of(how: UseHow) -> Use {
    Use {
        how,
        container: None,
        variable: None,
        volume: None,
        key: None,
        optional: false,
        missing: false,
    }
}

/// The uses of `secret` by one container's `env` and `envFrom`.
fn container_uses(
    name: &str,
    env: Option<&Vec<EnvVar>>,
    env_from: Option<&Vec<EnvFromSource>>,
    secret: &str,
    out: &mut Vec<Use>,
) {
    for var in env.into_iter().flatten() {
        if let Some(r) = var
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .filter(|r| r.name == secret)
        {
            out.push(Use {
                container: Some(name.to_string()),
                variable: Some(var.name.clone()),
                key: Some(r.key.clone()),
                optional: r.optional.unwrap_or(false),
                ..use_of(UseHow::Env)
            });
        }
    }
    for source in env_from.into_iter().flatten() {
        if let Some(r) = source.secret_ref.as_ref().filter(|r| r.name == secret) {
            out.push(Use {
                container: Some(name.to_string()),
                optional: r.optional.unwrap_or(false),
                ..use_of(UseHow::EnvFrom)
            });
        }
    }
}

/// One use per listed key, or one for all keys when `items` lists none.
fn file_uses(
    how: UseHow,
    volume: &str,
    items: Option<&Vec<KeyToPath>>,
    optional: Option<bool>,
    out: &mut Vec<Use>,
) {
    let base = Use {
        volume: Some(volume.to_string()),
        optional: optional.unwrap_or(false),
        ..use_of(how)
    };
    match items.filter(|i| !i.is_empty()) {
        None => out.push(base),
        Some(items) => {
            for item in items {
                out.push(Use {
                    key: Some(item.key.clone()),
                    ..base.clone()
                });
            }
        }
    }
}

/// Every reference to `secret` in a pod spec.
pub fn pod_spec_uses(spec: &PodSpec, secret: &str) -> Vec<Use> {
    let mut out = Vec::new();
    let containers: Vec<&Container> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .collect();
    for c in containers {
        container_uses(
            &c.name,
            c.env.as_ref(),
            c.env_from.as_ref(),
            secret,
            &mut out,
        );
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        container_uses(
            &c.name,
            c.env.as_ref(),
            c.env_from.as_ref(),
            secret,
            &mut out,
        );
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(s) = volume
            .secret
            .as_ref()
            .filter(|s| s.secret_name.as_deref() == Some(secret))
        {
            file_uses(
                UseHow::Volume,
                &volume.name,
                s.items.as_ref(),
                s.optional,
                &mut out,
            );
        }
        let projections = volume
            .projected
            .as_ref()
            .and_then(|p| p.sources.as_ref())
            .into_iter()
            .flatten();
        for s in projections.filter_map(|p| p.secret.as_ref()) {
            if s.name == secret {
                file_uses(
                    UseHow::Projected,
                    &volume.name,
                    s.items.as_ref(),
                    s.optional,
                    &mut out,
                );
            }
        }
    }
    if spec
        .image_pull_secrets
        .iter()
        .flatten()
        .any(|r| r.name == secret)
    {
        out.push(use_of(UseHow::ImagePullSecret));
    }
    out
}

/// Every reference to `secret` in a service account.
pub fn service_account_uses(sa: &ServiceAccount, secret: &str) -> Vec<Use> {
    let mut out = Vec::new();
    if sa
        .image_pull_secrets
        .iter()
        .flatten()
        .any(|r| r.name == secret)
    {
        out.push(use_of(UseHow::ImagePullSecret));
    }
    // A reference in another namespace is not this secret.
    let ns = sa.metadata.namespace.as_deref();
    if sa.secrets.iter().flatten().any(|r| {
        r.name.as_deref() == Some(secret) && (r.namespace.is_none() || r.namespace.as_deref() == ns)
    }) {
        out.push(use_of(UseHow::ServiceAccountSecret));
    }
    out
}

/// Every reference to `secret` in an Ingress.
pub fn ingress_uses(ingress: &Ingress, secret: &str) -> Vec<Use> {
    let refs = ingress
        .spec
        .as_ref()
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.secret_name.as_deref() == Some(secret))
        .count();
    // Several TLS entries naming one secret are one use.
    if refs > 0 {
        vec![use_of(UseHow::Tls)]
    } else {
        vec![]
    }
}

/// Flags the uses of keys the secret lacks: a pod would fail to start,
/// unless the reference is optional.
pub fn flag_missing(uses: &mut [Use], keys: &BTreeSet<String>) {
    for u in uses {
        u.missing = match &u.key {
            Some(k) => !u.optional && !keys.contains(k),
            None => false,
        };
    }
}

/// An object of one of the kinds that can use a secret.
pub trait Referrer: kube::Resource<DynamicType = ()> {
    const KIND: WorkloadKind;
    /// Every reference to `secret`.
    fn uses(&self, secret: &str) -> Vec<Use>;
}

macro_rules! templated {
    ($type:ty, $kind:expr, |$o:ident| $spec:expr) => {
        impl Referrer for $type {
            const KIND: WorkloadKind = $kind;
            fn uses(&self, secret: &str) -> Vec<Use> {
                let $o = self;
                $spec.map(|s| pod_spec_uses(s, secret)).unwrap_or_default()
            }
        }
    };
}

templated!(Pod, WorkloadKind::Pod, |o| o.spec.as_ref());
templated!(Deployment, WorkloadKind::Deployment, |o| o
    .spec
    .template
    .spec
    .as_ref());
templated!(StatefulSet, WorkloadKind::StatefulSet, |o| o
    .spec
    .template
    .spec
    .as_ref());
templated!(DaemonSet, WorkloadKind::DaemonSet, |o| o
    .spec
    .template
    .spec
    .as_ref());
templated!(Job, WorkloadKind::Job, |o| o
    .spec
    .as_ref()
    .and_then(|s| s.template.spec.as_ref()));
templated!(CronJob, WorkloadKind::CronJob, |o| o
    .spec
    .job_template
    .spec
    .as_ref()
    .and_then(|s| s.template.spec.as_ref()));

impl Referrer for ServiceAccount {
    const KIND: WorkloadKind = WorkloadKind::ServiceAccount;
    fn uses(&self, secret: &str) -> Vec<Use> {
        service_account_uses(self, secret)
    }
}

impl Referrer for Ingress {
    const KIND: WorkloadKind = WorkloadKind::Ingress;
    fn uses(&self, secret: &str) -> Vec<Use> {
        ingress_uses(self, secret)
    }
}

/// The controller that made an object, as far as its metadata tells: a
/// Pod's ReplicaSet becomes its Deployment when the ReplicaSet's name is
/// the Deployment's plus the pod's `pod-template-hash` (as the Deployment
/// controller names them); a Job's CronJob; a Pod's StatefulSet or
/// DaemonSet; a Job-made Pod's Job.
pub fn controller(meta: &ObjectMeta) -> Option<WorkloadRef> {
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    let kind = match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("apps/v1", "ReplicaSet") => {
            let hash = meta.labels.as_ref()?.get("pod-template-hash")?;
            let deployment = owner.name.strip_suffix(&format!("-{hash}"))?;
            return Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: deployment.to_string(),
            });
        }
        ("apps/v1", "StatefulSet") => WorkloadKind::StatefulSet,
        ("apps/v1", "DaemonSet") => WorkloadKind::DaemonSet,
        ("batch/v1", "Job") => WorkloadKind::Job,
        ("batch/v1", "CronJob") => WorkloadKind::CronJob,
        _ => return None,
    };
    Some(WorkloadRef {
        kind,
        name: owner.name.clone(),
    })
}

/// The consumer `object` is, if it references `secret`.
pub fn consumer<K: Referrer>(object: &K, secret: &str) -> Option<Consumer> {
    let uses = object.uses(secret);
    if uses.is_empty() {
        return None;
    }
    let name = object.meta().name.clone().unwrap_or_default();
    let restart = if K::KIND.restartable() {
        Some(WorkloadRef {
            kind: K::KIND,
            name: name.clone(),
        })
    } else if K::KIND == WorkloadKind::Pod {
        controller(object.meta()).filter(|c| c.kind.restartable())
    } else {
        None
    };
    Some(Consumer {
        kind: K::KIND,
        name,
        uses,
        restart,
        instances: 0,
    })
}

/// The answer's list: Pods (and Jobs) whose controller is listed too are
/// counted on it rather than listed (a Job-made Pod goes up to the Job,
/// then to its CronJob when that is listed); sorted by kind, then name.
/// `owners` maps each Pod or Job consumer to its controller.
pub fn assemble(
    consumers: Vec<Consumer>,
    owners: &BTreeMap<WorkloadRef, WorkloadRef>,
) -> Vec<Consumer> {
    let listed: BTreeSet<WorkloadRef> = consumers
        .iter()
        .map(|c| WorkloadRef {
            kind: c.kind,
            name: c.name.clone(),
        })
        .collect();
    // Follows controllers up to the topmost one that is listed.
    let folded_into = |me: &WorkloadRef| {
        let mut at = me.clone();
        let mut into = None;
        for _ in 0..3 {
            match owners.get(&at) {
                Some(up) => {
                    if listed.contains(up) {
                        into = Some(up.clone());
                    }
                    at = up.clone();
                }
                None => break,
            }
        }
        into
    };
    let mut counts: BTreeMap<WorkloadRef, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for c in consumers {
        let me = WorkloadRef {
            kind: c.kind,
            name: c.name.clone(),
        };
        match folded_into(&me) {
            Some(owner) => *counts.entry(owner).or_default() += 1 + c.instances,
            None => kept.push(c),
        }
    }
    for c in &mut kept {
        let me = WorkloadRef {
            kind: c.kind,
            name: c.name.clone(),
        };
        c.instances += counts.get(&me).copied().unwrap_or(0);
    }
    let order = |k: WorkloadKind| WorkloadKind::ALL.iter().position(|x| *x == k);
    kept.sort_by(|a, b| {
        order(a.kind)
            .cmp(&order(b.kind))
            .then_with(|| a.name.cmp(&b.name))
    });
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team-a"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn summary(uses: &[Use]) -> Vec<String> {
        uses.iter()
            .map(|u| {
                format!(
                    "{:?} {} {} {}{}{}",
                    u.how,
                    u.container
                        .as_deref()
                        .or(u.volume.as_deref())
                        .unwrap_or("-"),
                    u.variable.as_deref().unwrap_or("-"),
                    u.key.as_deref().unwrap_or("*"),
                    if u.optional { " optional" } else { "" },
                    if u.missing { " missing" } else { "" },
                )
            })
            .collect()
    }

    #[test]
    fn env_keys_and_env_from_are_found_in_every_container() {
        let p = pod(serde_json::json!({
            "initContainers": [{"name": "migrate", "image": "x",
                "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}],
            "containers": [{"name": "app", "image": "x",
                "env": [
                    {"name": "PLAIN", "value": "1"},
                    {"name": "OTHER", "valueFrom": {"secretKeyRef": {"name": "other", "key": "password"}}},
                    {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "db", "key": "username", "optional": true}}},
                    {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "db", "key": "username"}}}
                ],
                "envFrom": [{"secretRef": {"name": "db"}}, {"configMapRef": {"name": "db"}}]}],
            "ephemeralContainers": [{"name": "debug", "image": "x",
                "envFrom": [{"secretRef": {"name": "db", "optional": true}}]}]
        }));
        assert_eq!(
            summary(&p.uses("db")),
            [
                "Env migrate DB_PASSWORD password",
                "Env app USER username optional",
                "EnvFrom app - *",
                "EnvFrom debug - * optional",
            ]
        );
        assert_eq!(summary(&p.uses("other")), ["Env app OTHER password"]);
        assert!(p.uses("nothing").is_empty());
    }

    #[test]
    fn volumes_with_and_without_items_and_projected_sources() {
        let p = pod(serde_json::json!({
            "containers": [{"name": "app", "image": "x"}],
            "volumes": [
                {"name": "all", "secret": {"secretName": "db"}},
                {"name": "some", "secret": {"secretName": "db", "items": [
                    {"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.key", "path": "k"}], "optional": true}},
                {"name": "proj", "projected": {"sources": [
                    {"configMap": {"name": "db"}},
                    {"secret": {"name": "db", "items": [{"key": "token", "path": "t"}]}},
                    {"secret": {"name": "elsewhere"}},
                    {"secret": {"name": "db"}}
                ]}},
                {"name": "unrelated", "secret": {"secretName": "dbx"}},
                {"name": "empty", "emptyDir": {}}
            ],
            "imagePullSecrets": [{"name": "regcred"}, {"name": "db"}]
        }));
        assert_eq!(
            summary(&p.uses("db")),
            [
                "Volume all - *",
                "Volume some - ca.crt optional",
                "Volume some - tls.key optional",
                "Projected proj - token",
                "Projected proj - *",
                "ImagePullSecret - - *",
            ]
        );
        assert_eq!(summary(&p.uses("regcred")), ["ImagePullSecret - - *"]);
    }

    #[test]
    fn missing_keys_are_flagged_unless_optional() {
        let p = pod(serde_json::json!({
            "containers": [{"name": "app", "image": "x", "env": [
                {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "present"}}},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "db", "key": "absent"}}},
                {"name": "C", "valueFrom": {"secretKeyRef": {"name": "db", "key": "gone", "optional": true}}}
            ], "envFrom": [{"secretRef": {"name": "db"}}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "db", "items": [{"key": "nope", "path": "n"}]}}]
        }));
        let mut uses = p.uses("db");
        flag_missing(&mut uses, &BTreeSet::from(["present".to_string()]));
        assert_eq!(
            summary(&uses),
            [
                "Env app A present",
                "Env app B absent missing",
                "Env app C gone optional",
                "EnvFrom app - *",
                "Volume v - nope missing",
            ]
        );
    }

    #[test]
    fn templates_of_every_workload_kind_are_read() {
        let template = serde_json::json!({"spec": {"containers": [{"name": "app", "image": "x",
            "envFrom": [{"secretRef": {"name": "db"}}]}]}});
        let meta = serde_json::json!({"name": "w", "namespace": "team-a"});
        let d: Deployment = serde_json::from_value(serde_json::json!({"metadata": meta,
            "spec": {"selector": {}, "template": template}}))
        .unwrap();
        let s: StatefulSet = serde_json::from_value(serde_json::json!({"metadata": meta,
            "spec": {"selector": {}, "serviceName": "w", "template": template}}))
        .unwrap();
        let ds: DaemonSet = serde_json::from_value(serde_json::json!({"metadata": meta,
            "spec": {"selector": {}, "template": template}}))
        .unwrap();
        let j: Job = serde_json::from_value(serde_json::json!({"metadata": meta,
            "spec": {"template": template}}))
        .unwrap();
        let cj: CronJob = serde_json::from_value(serde_json::json!({"metadata": meta,
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}))
        .unwrap();
        for (c, restartable) in [
            (consumer(&d, "db"), true),
            (consumer(&s, "db"), true),
            (consumer(&ds, "db"), true),
            (consumer(&j, "db"), false),
            (consumer(&cj, "db"), false),
        ] {
            let c = c.expect("a consumer");
            assert_eq!(summary(&c.uses), ["EnvFrom app - *"], "{:?}", c.kind);
            assert_eq!(c.restart.is_some(), restartable, "{:?}", c.kind);
        }
        assert!(consumer(&d, "other").is_none());
    }

    #[test]
    fn service_accounts_and_ingresses() {
        let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "builder", "namespace": "team-a"},
            "imagePullSecrets": [{"name": "regcred"}],
            "secrets": [{"name": "token"}, {"name": "regcred", "namespace": "team-b"}]
        }))
        .unwrap();
        assert_eq!(summary(&sa.uses("regcred")), ["ImagePullSecret - - *"]);
        assert_eq!(summary(&sa.uses("token")), ["ServiceAccountSecret - - *"]);
        let ing: Ingress = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"tls": [{"hosts": ["a"], "secretName": "web-tls"}, {"hosts": ["b"], "secretName": "web-tls"}, {"hosts": ["c"]}]}
        }))
        .unwrap();
        assert_eq!(summary(&ing.uses("web-tls")), ["Tls - - *"]);
        assert!(ing.uses("other").is_empty());
    }

    fn owned(kind: &str, api_version: &str, name: &str, hash: Option<&str>) -> ObjectMeta {
        serde_json::from_value(serde_json::json!({
            "name": "p",
            "labels": hash.map(|h| serde_json::json!({"pod-template-hash": h})).unwrap_or(serde_json::json!({})),
            "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": name, "uid": "1", "controller": true}]
        }))
        .unwrap()
    }

    #[test]
    fn a_pods_replica_set_leads_to_its_deployment() {
        assert_eq!(
            controller(&owned(
                "ReplicaSet",
                "apps/v1",
                "web-7d4b9c",
                Some("7d4b9c")
            )),
            Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: "web".into()
            })
        );
        assert_eq!(
            controller(&owned("ReplicaSet", "apps/v1", "bare-rs", Some("7d4b9c"))),
            None,
            "a ReplicaSet of no Deployment"
        );
        assert_eq!(
            controller(&owned("StatefulSet", "apps/v1", "db", None)).map(|r| r.kind),
            Some(WorkloadKind::StatefulSet)
        );
        assert_eq!(controller(&ObjectMeta::default()), None);
    }

    #[test]
    fn pods_of_listed_workloads_are_counted_not_listed() {
        let c = |kind, name: &str| Consumer {
            kind,
            name: name.into(),
            uses: vec![use_of(UseHow::EnvFrom)],
            restart: None,
            instances: 0,
        };
        let r = |kind, name: &str| WorkloadRef {
            kind,
            name: name.into(),
        };
        let owners = BTreeMap::from([
            (
                r(WorkloadKind::Pod, "web-1"),
                r(WorkloadKind::Deployment, "web"),
            ),
            (
                r(WorkloadKind::Pod, "web-2"),
                r(WorkloadKind::Deployment, "web"),
            ),
            (
                r(WorkloadKind::Pod, "orphan"),
                r(WorkloadKind::Deployment, "hidden"),
            ),
            (
                r(WorkloadKind::Pod, "nightly-1-x"),
                r(WorkloadKind::Job, "nightly-1"),
            ),
            (
                r(WorkloadKind::Job, "nightly-1"),
                r(WorkloadKind::CronJob, "nightly"),
            ),
        ]);
        let out = assemble(
            vec![
                c(WorkloadKind::Pod, "web-2"),
                c(WorkloadKind::Pod, "orphan"),
                c(WorkloadKind::Deployment, "web"),
                c(WorkloadKind::Pod, "web-1"),
                c(WorkloadKind::Pod, "nightly-1-x"),
                c(WorkloadKind::Job, "nightly-1"),
                c(WorkloadKind::CronJob, "nightly"),
            ],
            &owners,
        );
        let shown: Vec<_> = out
            .iter()
            .map(|c| format!("{}/{} {}", c.kind, c.name, c.instances))
            .collect();
        assert_eq!(
            shown,
            ["Deployment/web 2", "CronJob/nightly 2", "Pod/orphan 0"]
        );
    }
}
