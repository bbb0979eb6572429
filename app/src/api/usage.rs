//! Who uses a secret, and restarting them after its values change
//! (issue 17, items 1 and 2).
//!
//! `GET …/secrets/{name}/usage` answers a [`SecretUsage`]: the workloads of
//! the secret's namespace that reference it, read as the signed-in user.
//! `POST …/secrets/{name}/restart` takes a [`RestartRequest`] and answers a
//! [`RestartResponse`]: one [`RestartResult`] per named workload, each
//! restart audited. Nothing here ever holds a value: only key names.

use serde::{Deserialize, Serialize};

/// The kinds of object that can reference a secret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ServiceAccount,
    Ingress,
}

impl WorkloadKind {
    /// Every kind, in the order the usage answer lists them.
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::CronJob,
        WorkloadKind::Job,
        WorkloadKind::Pod,
        WorkloadKind::ServiceAccount,
        WorkloadKind::Ingress,
    ];

    /// The kind as Kubernetes spells it (`Deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::ServiceAccount => "ServiceAccount",
            WorkloadKind::Ingress => "Ingress",
        }
    }

    /// The plural a person reads in a sentence ("Pods", "Ingresses").
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pods",
            WorkloadKind::Deployment => "Deployments",
            WorkloadKind::StatefulSet => "StatefulSets",
            WorkloadKind::DaemonSet => "DaemonSets",
            WorkloadKind::Job => "Jobs",
            WorkloadKind::CronJob => "CronJobs",
            WorkloadKind::ServiceAccount => "ServiceAccounts",
            WorkloadKind::Ingress => "Ingresses",
        }
    }

    /// The resource name kubectl takes (`deployment`).
    pub fn kubectl_name(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pod",
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::Job => "job",
            WorkloadKind::CronJob => "cronjob",
            WorkloadKind::ServiceAccount => "serviceaccount",
            WorkloadKind::Ingress => "ingress",
        }
    }

    /// Whether Strongroom can restart it the way `kubectl rollout restart`
    /// does (a new pod-template annotation).
    pub fn restartable(self) -> bool {
        matches!(
            self,
            WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet
        )
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an object references the secret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UseHow {
    /// An environment variable from one key (`env[].valueFrom.secretKeyRef`).
    Env,
    /// Every key as environment variables (`envFrom[].secretRef`).
    EnvFrom,
    /// A `secret` volume: files.
    Volume,
    /// A `projected` volume's secret source: files.
    Projected,
    /// `imagePullSecrets` of a pod or a service account.
    ImagePullSecret,
    /// A service account's `secrets` list.
    ServiceAccountSecret,
    /// An Ingress's `spec.tls[].secretName`.
    Tls,
}

impl UseHow {
    /// Whether a change of the secret reaches the consumer only through a
    /// restart: environment variables are read once, when a container starts.
    pub fn is_env(self) -> bool {
        matches!(self, UseHow::Env | UseHow::EnvFrom)
    }

    /// Whether the consumer sees the secret as files (which the kubelet
    /// updates in place; the app may or may not reload them).
    pub fn is_files(self) -> bool {
        matches!(self, UseHow::Volume | UseHow::Projected)
    }

    /// A short label for a person.
    pub fn label(self) -> &'static str {
        match self {
            UseHow::Env => "env",
            UseHow::EnvFrom => "envFrom",
            UseHow::Volume => "volume",
            UseHow::Projected => "projected volume",
            UseHow::ImagePullSecret => "imagePullSecret",
            UseHow::ServiceAccountSecret => "service account secret",
            UseHow::Tls => "TLS",
        }
    }
}

/// One reference to the secret.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Use {
    pub how: UseHow,
    /// The container (init and ephemeral containers included) for `env`
    /// and `envFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The environment variable an `env` reference sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// The volume, for `volume` and `projected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The key used; `None` means all keys.
    #[serde(default)]
    pub key: Option<String>,
    /// The reference is `optional: true`: a missing key or secret does not
    /// stop the pod.
    #[serde(default)]
    pub optional: bool,
    /// The key is referenced, not optional, and the secret lacks it: a pod
    /// would fail to start.
    #[serde(default)]
    pub missing: bool,
}

/// An object and a kind, by name (in the secret's namespace).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
            max_length = 253,
            example = "web"
        )
    )]
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// An object that references the secret, and how.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub kind: WorkloadKind,
    pub name: String,
    pub uses: Vec<Use>,
    /// What to restart to renew its pods: itself for a Deployment,
    /// StatefulSet or DaemonSet; the owning one for a Pod when it can be
    /// told; `None` otherwise.
    #[serde(default)]
    pub restart: Option<WorkloadRef>,
    /// How many of its Pods (or, for a CronJob, Jobs) were found too and
    /// are counted here instead of listed.
    #[serde(default)]
    pub instances: usize,
}

/// How urgently a consumer needs a restart after keys changed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RestartNeed {
    /// It reads a changed key from files: it sees the new value unless it
    /// never reloads files, which Strongroom cannot know.
    Files,
    /// It reads a changed key as an environment variable: it needs a restart.
    Env,
}

impl RestartNeed {
    /// What to tell a person.
    pub fn label(self) -> &'static str {
        match self {
            RestartNeed::Env => "needs a restart",
            RestartNeed::Files => "restart if it does not reload files",
        }
    }
}

impl Consumer {
    /// Whether (and how much) a change of `changed` keys concerns this
    /// consumer: env wins over files; other references (image pulls, TLS,
    /// service account lists) do not call for a restart.
    pub fn restart_need(&self, changed: &[String]) -> Option<RestartNeed> {
        self.uses
            .iter()
            .filter(|u| match &u.key {
                None => !changed.is_empty(),
                Some(k) => changed.contains(k),
            })
            .filter_map(|u| {
                if u.how.is_env() {
                    Some(RestartNeed::Env)
                } else if u.how.is_files() {
                    Some(RestartNeed::Files)
                } else {
                    None
                }
            })
            .max()
    }
}

/// A kind whose scan stopped at the limit.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncated {
    pub kind: WorkloadKind,
    /// How many objects were scanned before stopping ("first N scanned").
    pub scanned: usize,
}

/// A kind that could not be read for another reason than RBAC.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindFailure {
    pub kind: WorkloadKind,
    pub message: String,
}

/// `GET /api/v1/namespaces/{ns}/secrets/{name}/usage`: the objects in the
/// secret's namespace that reference it, as far as the signed-in user may
/// list them.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretUsage {
    pub consumers: Vec<Consumer>,
    /// Kinds the user may not list (403): their consumers are unknown,
    /// not absent.
    pub not_visible: Vec<WorkloadKind>,
    /// Kinds scanned only in part (at most the scan limit per kind).
    pub truncated: Vec<Truncated>,
    /// Kinds that failed for another reason.
    #[serde(default)]
    pub failed: Vec<KindFailure>,
    /// Objects that could not be decoded and were skipped.
    pub skipped_malformed: usize,
    /// Whether missing keys could be checked (the user may read the
    /// secret's key names).
    pub keys_checked: bool,
    /// The most objects scanned per kind.
    pub scan_limit: usize,
}

/// `POST /api/v1/namespaces/{ns}/secrets/{name}/restart`: restart these
/// workloads (Deployments, StatefulSets, DaemonSets that use the secret)
/// like `kubectl rollout restart`, because `keys` changed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRequest {
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 50))]
    pub workloads: Vec<WorkloadRef>,
    /// The keys whose change prompted the restart (recorded).
    #[serde(default)]
    pub keys: Vec<String>,
}

/// How one restart ended.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartOutcome {
    /// Restarted and recorded.
    Done,
    /// Kubernetes does not allow the user to read or patch it.
    Forbidden,
    /// It does not exist (any more).
    NotFound,
    /// Kubernetes answered with a conflict.
    Conflict,
    /// Anything else; the message says what.
    Failed,
}

impl RestartOutcome {
    /// A short label for a person.
    pub fn label(self) -> &'static str {
        match self {
            RestartOutcome::Done => "done",
            RestartOutcome::Forbidden => "forbidden",
            RestartOutcome::NotFound => "not found",
            RestartOutcome::Conflict => "conflict",
            RestartOutcome::Failed => "failed",
        }
    }
}

/// The result of restarting one workload.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartResult {
    pub kind: WorkloadKind,
    pub name: String,
    pub outcome: RestartOutcome,
    /// A sentence for a person.
    pub message: String,
    /// The `kubectl.kubernetes.io/restartedAt` value written, when done.
    #[serde(default)]
    pub restarted_at: Option<String>,
    /// The id of the restart's audit record, when one was written.
    #[serde(default)]
    pub audit_id: Option<String>,
}

/// The answer to a restart request, one result per workload, in order.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartResponse {
    pub results: Vec<RestartResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn use_(how: UseHow, key: Option<&str>) -> Use {
        Use {
            how,
            container: None,
            variable: None,
            volume: None,
            key: key.map(str::to_string),
            optional: false,
            missing: false,
        }
    }

    fn consumer(uses: Vec<Use>) -> Consumer {
        Consumer {
            kind: WorkloadKind::Deployment,
            name: "web".into(),
            uses,
            restart: None,
            instances: 0,
        }
    }

    #[test]
    fn env_consumers_of_a_changed_key_need_a_restart() {
        let c = consumer(vec![
            use_(UseHow::Volume, None),
            use_(UseHow::Env, Some("password")),
        ]);
        let changed = vec!["password".to_string()];
        assert_eq!(c.restart_need(&changed), Some(RestartNeed::Env));
        assert_eq!(
            c.restart_need(&["other".to_string()]),
            Some(RestartNeed::Files),
            "the volume holds all keys"
        );
        assert_eq!(c.restart_need(&[]), None);
    }

    #[test]
    fn files_and_other_references_are_told_apart() {
        let files = consumer(vec![use_(UseHow::Projected, Some("tls.crt"))]);
        assert_eq!(
            files.restart_need(&["tls.crt".to_string()]),
            Some(RestartNeed::Files)
        );
        assert_eq!(files.restart_need(&["tls.key".to_string()]), None);
        let pulls = consumer(vec![
            use_(UseHow::ImagePullSecret, None),
            use_(UseHow::Tls, None),
        ]);
        assert_eq!(pulls.restart_need(&[".dockerconfigjson".to_string()]), None);
        let env_from = consumer(vec![use_(UseHow::EnvFrom, None)]);
        assert_eq!(
            env_from.restart_need(&["anything".to_string()]),
            Some(RestartNeed::Env)
        );
    }

    #[test]
    fn the_wire_form_is_stable() {
        let r = RestartRequest {
            workloads: vec![WorkloadRef {
                kind: WorkloadKind::StatefulSet,
                name: "db".into(),
            }],
            keys: vec!["password".into()],
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"workloads": [{"kind": "StatefulSet", "name": "db"}], "keys": ["password"]})
        );
        assert_eq!(
            serde_json::to_value(RestartOutcome::NotFound).unwrap(),
            "not-found"
        );
        assert_eq!(serde_json::to_value(UseHow::EnvFrom).unwrap(), "envFrom");
    }
}
