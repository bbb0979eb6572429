//! Releases installed on the API server (each once per test process): the
//! fixtures the tests read, and the classic, constrained and PostgreSQL
//! releases with a kubeconfig for each one's ServiceAccount.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use serde_json::{Value, json};
use strongroom_server::infra::cluster::AUDIT_EXTRA_KEY;

use crate::{
    ALICE_GROUP, CONFIG_MAP, NS, SECRET, TENANT_NS,
    common::Stack,
    support::{
        apply, find, kubectl, must_template, names, objects, ok, run, stderr, stdout, temp_dir,
    },
};

/// The objects the tests read and the namespaces they use. Idempotent.
pub(crate) fn fixtures() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        apply(&format!(
            r#"
apiVersion: v1
kind: Namespace
metadata:
  name: {NS}
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: Namespace
metadata:
  name: {TENANT_NS}
---
apiVersion: v1
kind: Secret
metadata: {{name: {SECRET}, namespace: team-a}}
stringData: {{token: helm-test-value}}
---
apiVersion: v1
kind: Secret
metadata: {{name: {SECRET}, namespace: team-b}}
stringData: {{token: helm-test-value}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {CONFIG_MAP}, namespace: team-a}}
data: {{setting: "on"}}
---
# alice's group may read ConfigMaps in team-a: whether the backend may act
# for her on them is then up to the backend's own (impersonation) RBAC.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: helm-test-configmap-reader, namespace: team-a}}
rules:
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: helm-test-configmap-reader, namespace: team-a}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: helm-test-configmap-reader}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "{ALICE_GROUP}"}}
"#
        ));
    });
}

/// A rendered release, applied to the API server.
pub(crate) struct Release {
    pub(crate) yaml: String,
    pub(crate) objects: Vec<Value>,
    service_account: String,
    /// kubeconfig with a token of the release's ServiceAccount.
    pub(crate) kubeconfig: PathBuf,
}

impl Release {
    fn install(release: &str, args: &[&str]) -> Release {
        fixtures();
        let yaml = must_template(release, args);
        let objects = objects(&yaml);
        let warnings = apply(&yaml);
        assert!(
            !warnings.contains("PodSecurity"),
            "the Deployment must meet the restricted Pod Security Standard: {warnings}"
        );
        let service_account = find(&objects, "ServiceAccount")["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        // A bound token from the TokenRequest API, as the kubelet would mount.
        let token = ok(
            kubectl(
                &[
                    "create",
                    "token",
                    &service_account,
                    "-n",
                    NS,
                    "--duration=1h",
                ],
                None,
            ),
            "kubectl create token",
        );
        let stack = Stack::get();
        let kubeconfig = temp_dir().join(format!("{release}.kubeconfig"));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: {}
      certificate-authority: {}
users:
  - name: {service_account}
    user:
      token: {}
contexts:
  - name: sa
    context: {{cluster: local, user: {service_account}}}
current-context: sa
",
                stack.var("KUBE_API_URL"),
                stack.var("KUBE_CA_FILE"),
                token.trim()
            ),
        )
        .unwrap();
        Release {
            yaml,
            objects,
            service_account,
            kubeconfig,
        }
    }

    fn username(&self) -> String {
        format!("system:serviceaccount:{NS}:{}", self.service_account)
    }

    /// `kubectl auth can-i` for the ServiceAccount, asked by the admin.
    pub(crate) fn can_i(&self, args: &[&str]) -> bool {
        let who = format!("--as={}", self.username());
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        all.push(&who);
        let out = kubectl(&all, None);
        match stdout(&out).trim() {
            "yes" => true,
            "no" => false,
            other => panic!("kubectl auth can-i {args:?}: {other:?} {}", stderr(&out)),
        }
    }

    /// A SelfSubjectAccessReview made as the ServiceAccount. `kubectl auth
    /// can-i` cannot ask about users/groups/uids/userextras in
    /// authentication.k8s.io: it does not find them by discovery and then
    /// sends the group as part of the resource name.
    pub(crate) fn may(&self, verb: &str, group: &str, resource: &str, subresource: &str) -> bool {
        let review = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "verb": verb, "group": group, "resource": resource, "subresource": subresource,
            }},
        });
        let who = format!("--as={}", self.username());
        let answer = ok(
            kubectl(
                &["create", "--validate=false", &who, "-o", "json", "-f", "-"],
                Some(&review.to_string()),
            ),
            "SelfSubjectAccessReview",
        );
        let answer: Value = serde_json::from_str(&answer).unwrap();
        answer["status"]["allowed"] == true
    }

    /// kubectl with the ServiceAccount's own token, impersonating `user` in
    /// `groups` (with `extra` as key=value pairs): stdout, or the error.
    pub(crate) fn as_user(
        &self,
        user: &str,
        groups: &[&str],
        extra: &[&str],
        args: &[&str],
    ) -> Result<String, String> {
        let stack = Stack::get();
        let mut cmd = Command::new(stack.var("KUBECTL"));
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        if !user.is_empty() {
            cmd.arg(format!("--as={user}"));
        }
        for g in groups {
            cmd.arg(format!("--as-group={g}"));
        }
        for e in extra {
            cmd.arg(format!("--as-user-extra={e}"));
        }
        cmd.args(args);
        let out = run(cmd, None);
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(stderr(&out))
        }
    }

    pub(crate) fn cluster_role_rules(&self) -> Value {
        let role = self
            .objects
            .iter()
            .find(|o| {
                o["kind"] == "ClusterRole"
                    && o["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("-impersonator"))
            })
            .unwrap_or_else(|| panic!("no impersonator ClusterRole in {:?}", names(&self.objects)));
        role["rules"].clone()
    }
}

/// Default values exactly (rbac.mode auto), rendered for this cluster's
/// Kubernetes version (1.37, as helm assumes): constrained impersonation.
pub(crate) fn defaults() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| Release::install("helm-defaults", &[]))
}

/// Default values but classic impersonation: SQLite, one replica.
pub(crate) fn classic() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| Release::install("helm-classic", &["--set", "rbac.mode=classic"]))
}

/// The extra key the constrained release allows: the server's, once that is
/// a domain-prefixed key (which constrained impersonation requires), else
/// an example of one.
pub(crate) fn constrained_extra_key() -> &'static str {
    if AUDIT_EXTRA_KEY.contains('/') {
        AUDIT_EXTRA_KEY
    } else {
        "strongroom.dev/audit-id"
    }
}

pub(crate) fn constrained() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| {
        let key = format!("rbac.auditExtraKey={}", constrained_extra_key());
        Release::install(
            "helm-constrained",
            &["--set", "rbac.mode=constrained", "--set", &key],
        )
    })
}

const POSTGRES_VALUES: &str = r#"
replicaCount: 3
publicUrl: ""
database:
  mode: postgres
  postgres:
    existingSecret: strongroom-db
    tls:
      mode: verify-full
      caSecret: strongroom-db-ca
audit:
  sinks: [database, stdout]
  required: [database]
  hmacKey:
    existingSecret: strongroom-audit-key
  chainKey:
    existingSecret: strongroom-audit-key
namespaces: [team-a, team-b]
ingress:
  enabled: true
  className: nginx
  host: strongroom.helm-test.example
  tls:
    secretName: strongroom-helm-test-tls
rbac:
  mode: classic
  allowedGroups: ["oidc:team-a-editors", "oidc:team-b-editors", "oidc:helm-test-editors"]
examples:
  teamRoles:
    enabled: true
    teams:
      - namespace: strongroom-helm-tenant
        editors: ["oidc:helm-test-editors"]
        listers: ["oidc:helm-test-listers"]
    auditors: ["oidc:helm-test-auditors"]
"#;

pub(crate) fn postgres_values() -> String {
    let path = temp_dir().join("postgres-values.yaml");
    std::fs::write(&path, POSTGRES_VALUES).unwrap();
    path.display().to_string()
}

/// PostgreSQL (over TLS, with a CA bundle) with three replicas, an Ingress,
/// restricted groups and the example team Roles.
pub(crate) fn postgres() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| Release::install("helm-postgres", &["-f", &postgres_values()]))
}

/// Guarded namespaces with approvers and a signed webhook.
pub(crate) fn guards_args() -> Vec<String> {
    [
        "--set-json",
        r#"guards.namespaces={"payments":["step-up","approval","notify"],"prod-*":["step-up"]}"#,
        "--set",
        "guards.approverGroups={oidc:security-oncall}",
        "--set",
        "guards.webhooks.urls={https://hooks.example.com/strongroom}",
        "--set",
        "guards.webhooks.existingSecret=strongroom-webhook",
    ]
    .map(String::from)
    .to_vec()
}

/// Every configuration the render tests render, by name, as `helm template`
/// arguments: what the policy scanner (checkov.rs) checks.
pub(crate) fn configurations() -> Vec<(&'static str, Vec<String>)> {
    let set = |pairs: &[&str]| -> Vec<String> {
        pairs
            .iter()
            .flat_map(|p| ["--set".to_string(), p.to_string()])
            .collect()
    };
    let postgres = vec!["-f".to_string(), postgres_values()];
    let with = |base: &[String], more: Vec<String>| [base.to_vec(), more].concat();
    vec![
        ("defaults", vec![]),
        ("ingress", set(&["ingress.enabled=true"])),
        ("classic", set(&["rbac.mode=classic"])),
        (
            "constrained",
            set(&[
                "rbac.mode=constrained",
                &format!("rbac.auditExtraKey={}", constrained_extra_key()),
            ]),
        ),
        ("postgres", postgres.clone()),
        (
            "postgres-minimal",
            set(&[
                "replicaCount=2",
                "database.mode=postgres",
                "database.postgres.existingSecret=db",
                "audit.hmacKey.existingSecret=keys",
                "audit.chainKey.existingSecret=keys",
            ]),
        ),
        (
            "postgres-tls-configmap",
            with(
                &postgres,
                set(&[
                    "database.postgres.tls.mode=verify-ca",
                    "database.postgres.tls.caSecret=",
                    "database.postgres.tls.caConfigMap=strongroom-db-ca",
                ]),
            ),
        ),
        (
            "postgres-plain",
            with(
                &postgres,
                set(&[
                    "database.postgres.tls.mode=disable",
                    "database.postgres.tls.caSecret=",
                ]),
            ),
        ),
        (
            "claims",
            set(&[
                "identity.requiredClaims.hd=example.com",
                "identity.requiredClaims.tid=abc",
            ]),
        ),
        ("guards", guards_args()),
        (
            "monitoring",
            with(
                &set(&[
                    "metrics.serviceMonitor.enabled=true",
                    "metrics.grafanaDashboard.enabled=true",
                ]),
                vec![
                    "--set-json".into(),
                    METRICS_FROM.into(),
                    "--set-json".into(),
                    INGRESS_FROM.into(),
                ],
            ),
        ),
        (
            "digest",
            set(&[&format!("image.digest={DIGEST}"), "ingress.enabled=true"]),
        ),
    ]
}

/// An image digest for the tests (not a real image's).
pub(crate) const DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Prometheus in its namespace may scrape; the ingress controller may not.
pub(crate) const METRICS_FROM: &str = r#"networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}},"podSelector":{"matchLabels":{"app.kubernetes.io/name":"prometheus"}}}]"#;
/// The ingress controller may reach the app.
pub(crate) const INGRESS_FROM: &str = r#"networkPolicy.ingressFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]"#;
