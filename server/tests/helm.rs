//! The Helm chart (`deploy/helm/strongroom`) and the plain manifests rendered
//! from it, checked with a real `helm` (built from source by
//! `deploy/helm-bin/build.sh`, cached) and the real API server of the local
//! stack: the chart lints and renders, refuses configurations that cannot
//! work, every rendered object is accepted by server-side apply, and the
//! ServiceAccount it creates can act for users (classic impersonation) or
//! act for users on Secrets only (constrained impersonation), but can never
//! read a Secret itself.

mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

use common::Stack;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use strongroom_server::{
    domain::auth::CurrentUser,
    infra::cluster::{AUDIT_EXTRA_KEY, KubeAccess, KubeError},
};

/// Namespace the test releases are installed into (labelled to enforce the
/// "restricted" Pod Security Standard).
const NS: &str = "strongroom-helm-test";
/// Namespace of the example team Roles.
const TENANT_NS: &str = "strongroom-helm-tenant";
const FIELD_MANAGER: &str = "strongroom-helm-test";
/// A Secret and a ConfigMap the tests read as alice and bob.
const SECRET: &str = "helm-test-secret";
const CONFIG_MAP: &str = "helm-test-config";

const ALICE: &str = "oidc:alice@example.com";
const ALICE_GROUP: &str = "oidc:team-a-editors";
const BOB: &str = "oidc:bob@example.com";
const BOB_GROUP: &str = "oidc:team-b-editors";

// ---------------------------------------------------------------------------
// Running helm and kubectl

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ has a parent")
        .to_path_buf()
}

fn chart() -> String {
    repo().join("deploy/helm/strongroom").display().to_string()
}

/// The helm binary, built (once, then cached) by `deploy/helm-bin/build.sh`.
fn helm() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let script = repo().join("deploy/helm-bin/build.sh");
        let out = run(Command::new(&script), None);
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        assert!(
            path.is_file(),
            "{} printed {:?}, which is not a file",
            script.display(),
            path
        );
        path
    })
}

/// Runs `cmd` with `stdin` as its input and collects its output.
fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    // Written from a thread, so a child that answers before it has read all
    // of its input cannot deadlock with us on full pipes.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_string();
        std::thread::spawn(move || pipe.write_all(input.as_bytes()))
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap().unwrap();
    }
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stdout of a command that must succeed.
fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

fn helm_cmd(args: &[&str]) -> Output {
    let mut cmd = Command::new(helm());
    cmd.args(args);
    run(cmd, None)
}

/// `helm template` of the chart into [`NS`]: the YAML, or helm's error.
fn template(release: &str, args: &[&str]) -> Result<String, String> {
    let chart = chart();
    let mut all = vec!["template", release, chart.as_str(), "--namespace", NS];
    all.extend_from_slice(args);
    let out = helm_cmd(&all);
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(stderr(&out))
    }
}

fn must_template(release: &str, args: &[&str]) -> String {
    template(release, args).unwrap_or_else(|e| panic!("helm template {args:?} failed: {e}"))
}

/// The admin's kubectl, with `stdin` as input.
fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    let stack = Stack::get();
    let mut cmd = Command::new(stack.var("KUBECTL"));
    cmd.arg("--kubeconfig")
        .arg(stack.var("ADMIN_KUBECONFIG"))
        .args(args);
    run(cmd, stdin)
}

/// Server-side apply as the admin; returns kubectl's stderr (warnings).
fn apply(yaml: &str) -> String {
    let out = kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            FIELD_MANAGER,
            "-f",
            "-",
        ],
        Some(yaml),
    );
    let warnings = stderr(&out);
    ok(out, "kubectl apply --server-side");
    warnings
}

/// The objects of a YAML stream as JSON, parsed by kubectl (client side), so
/// the YAML is read exactly the way `kubectl apply` reads it.
fn objects(yaml: &str) -> Vec<Value> {
    let json = ok(
        kubectl(
            &["create", "--dry-run=client", "-o", "json", "-f", "-"],
            Some(yaml),
        ),
        "kubectl create --dry-run=client",
    );
    serde_json::Deserializer::from_str(&json)
        .into_iter::<Value>()
        .map(|v| v.expect("kubectl prints JSON"))
        .collect()
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let mut matching = objects.iter().filter(|o| o["kind"] == kind);
    let first = matching
        .next()
        .unwrap_or_else(|| panic!("no {kind} among {:?}", names(objects)));
    assert!(
        matching.next().is_none(),
        "more than one {kind} among {:?}",
        names(objects)
    );
    first
}

fn has_kind(objects: &[Value], kind: &str) -> bool {
    objects.iter().any(|o| o["kind"] == kind)
}

fn container(objects: &[Value]) -> &Value {
    &find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strongroom-helm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------
// Releases installed on the API server (each once per test process)

/// The objects the tests read and the namespaces they use. Idempotent.
fn fixtures() {
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
struct Release {
    yaml: String,
    objects: Vec<Value>,
    service_account: String,
    /// kubeconfig with a token of the release's ServiceAccount.
    kubeconfig: PathBuf,
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
    fn can_i(&self, args: &[&str]) -> bool {
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
    fn may(&self, verb: &str, group: &str, resource: &str, subresource: &str) -> bool {
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
    fn as_user(
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

    fn cluster_role_rules(&self) -> Value {
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

/// Default values: SQLite, one replica, classic impersonation.
fn classic() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| Release::install("helm-classic", &[]))
}

/// The extra key the constrained release allows: the server's, once that is
/// a domain-prefixed key (which constrained impersonation requires), else
/// an example of one.
fn constrained_extra_key() -> &'static str {
    if AUDIT_EXTRA_KEY.contains('/') {
        AUDIT_EXTRA_KEY
    } else {
        "strongroom.dev/audit-id"
    }
}

fn constrained() -> &'static Release {
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
audit:
  sinks: [database, stdout]
  required: [database]
  hmacKey:
    existingSecret: strongroom-audit-key
namespaces: [team-a, team-b]
ingress:
  enabled: true
  className: nginx
  host: strongroom.helm-test.example
  tls:
    secretName: strongroom-helm-test-tls
rbac:
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

fn postgres_values() -> String {
    let path = temp_dir().join("postgres-values.yaml");
    std::fs::write(&path, POSTGRES_VALUES).unwrap();
    path.display().to_string()
}

/// PostgreSQL with three replicas, an Ingress, restricted groups and the
/// example team Roles.
fn postgres() -> &'static Release {
    static R: OnceLock<Release> = OnceLock::new();
    R.get_or_init(|| Release::install("helm-postgres", &["-f", &postgres_values()]))
}

// ---------------------------------------------------------------------------
// helm lint and helm template

#[test]
fn helm_is_the_version_pinned_in_the_wrapper_module() {
    let go_mod = std::fs::read_to_string(repo().join("deploy/helm-bin/go.mod")).unwrap();
    let pinned = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("helm.sh/helm/v3 "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("go.mod requires helm.sh/helm/v3");
    let version = ok(
        helm_cmd(&["version", "--template", "{{.Version}}"]),
        "helm version",
    );
    assert_eq!(version.trim(), pinned);
}

#[test]
fn helm_lint_passes_for_every_configuration() {
    let chart = chart();
    let values = postgres_values();
    let key = format!("rbac.auditExtraKey={}", constrained_extra_key());
    let configurations: [&[&str]; 3] = [
        &[],
        &["--set", "rbac.mode=constrained", "--set", &key],
        &["-f", &values],
    ];
    for extra in configurations {
        let mut args = vec!["lint", "--strict", chart.as_str()];
        args.extend_from_slice(extra);
        let out = ok(helm_cmd(&args), &format!("helm lint {extra:?}"));
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm lint {extra:?}: {out}"
        );
    }
}

#[test]
fn sqlite_with_two_replicas_fails_to_render_with_a_clear_message() {
    let err = template("x", &["--set", "replicaCount=2"]).expect_err("must not render");
    assert!(
        err.contains("replicaCount is 2 but database.mode is sqlite")
            && err.contains("exactly one replica")
            && err.contains("database.mode: postgres"),
        "unclear message: {err}"
    );
    // The same count on PostgreSQL is fine.
    must_template(
        "x",
        &[
            "--set",
            "replicaCount=2",
            "--set",
            "database.mode=postgres",
            "--set",
            "database.postgres.existingSecret=db",
        ],
    );
}

#[test]
fn configurations_that_cannot_work_fail_to_render() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--set", "database.mode=postgres"],
            "set database.postgres.existingSecret",
        ),
        (
            &["--set", "publicUrl=http://strongroom.example.com"],
            "secure cookies need https",
        ),
        (
            &["--set", "audit.required={stdout}"],
            "\"stdout\", which is not in audit.sinks",
        ),
        (
            &["--set", "oidc.existingSecret="],
            "oidc.existingSecret is required",
        ),
        (&["--set", "rbac.mode=legacy"], "/rbac/mode"),
    ];
    for (args, message) in cases {
        let err = template("x", args).expect_err(&format!("{args:?} must not render"));
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in {err}"
        );
    }
}

#[test]
fn constrained_mode_refuses_an_audit_extra_key_without_a_domain_prefix() {
    // Constrained impersonation only accepts domain-prefixed extra keys
    // (checked against the API server in
    // constrained_impersonation_refuses_extra_keys_without_a_domain_prefix),
    // so the chart refuses to render RBAC under which every reveal fails.
    let err = template(
        "x",
        &[
            "--set",
            "rbac.mode=constrained",
            "--set",
            "rbac.auditExtraKey=strongroom-audit-id",
        ],
    )
    .expect_err("must not render");
    assert!(err.contains("has no domain prefix"), "{err}");
    let yaml = must_template(
        "x",
        &[
            "--set",
            "rbac.mode=constrained",
            "--set",
            "rbac.auditExtraKey=strongroom.dev/audit-id",
        ],
    );
    assert!(yaml.contains("userextras/strongroom.dev/audit-id"));
}

#[test]
fn default_render_is_one_hardened_replica_on_sqlite() {
    let objects = objects(&must_template("defaults", &[]));
    let deployment = find(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = container(&objects);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["ports"][0]["containerPort"], 3000);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["resources"]["requests"]["cpu"], "50m");
    assert_eq!(c["resources"]["requests"]["memory"], "64Mi");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(env(c, "STRONGROOM_LISTEN"), Some("0.0.0.0:3000"));
    assert_eq!(env(c, "STRONGROOM_COOKIE_SECURE"), Some("true"));
    assert_eq!(env(c, "STRONGROOM_DATA_DIR"), Some("/var/lib/strongroom"));
    assert_eq!(
        env(c, "STRONGROOM_OIDC_CLIENT_SECRET_FILE"),
        Some("/etc/strongroom/oidc/client-secret")
    );
    assert_eq!(env(c, "STRONGROOM_DATABASE_URL_FILE"), None);
    assert_eq!(
        env(c, "STRONGROOM_OIDC_CLIENT_SECRET"),
        None,
        "secrets come from files"
    );
    // The only writable places: /tmp (emptyDir) and the SQLite volume.
    let volumes = pod["volumes"].as_array().unwrap();
    let tmp = volumes.iter().find(|v| v["name"] == "tmp").unwrap();
    assert!(tmp["emptyDir"].is_object());
    let mounts = c["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"));
    let data = volumes.iter().find(|v| v["name"] == "data").unwrap();
    let pvc = find(&objects, "PersistentVolumeClaim");
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert!(!has_kind(&objects, "PodDisruptionBudget"), "one replica");
    assert!(!has_kind(&objects, "Ingress"));
    assert!(!has_kind(&objects, "ServiceMonitor"));
    let policy = find(&objects, "NetworkPolicy");
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "http");
    let egress_ports: Vec<&Value> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ports"].as_array().unwrap())
        .map(|p| &p["port"])
        .collect();
    for port in [53, 443, 6443] {
        assert!(egress_ports.contains(&&json!(port)), "egress to {port}");
    }
    assert!(
        !egress_ports.contains(&&json!(5432)),
        "no database egress with SQLite"
    );
}

#[test]
fn postgres_render_scales_out_behind_an_ingress() {
    let objects = objects(&must_template("scaled", &["-f", &postgres_values()]));
    let deployment = find(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(!has_kind(&objects, "PersistentVolumeClaim"));
    let pdb = find(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let c = container(&objects);
    assert_eq!(
        env(c, "STRONGROOM_DATABASE_URL_FILE"),
        Some("/etc/strongroom/database/url")
    );
    assert_eq!(
        env(c, "STRONGROOM_AUDIT_HMAC_KEY_FILE"),
        Some("/etc/strongroom/audit/hmac-key")
    );
    assert_eq!(env(c, "STRONGROOM_DATA_DIR"), None);
    assert_eq!(env(c, "STRONGROOM_NAMESPACES"), Some("team-a,team-b"));
    assert_eq!(env(c, "STRONGROOM_AUDIT_SINKS"), Some("database,stdout"));
    assert_eq!(
        env(c, "STRONGROOM_PUBLIC_URL"),
        Some("https://strongroom.helm-test.example"),
        "derived from the Ingress host"
    );
    let volumes = &deployment["spec"]["template"]["spec"]["volumes"];
    let db = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "database")
        .unwrap();
    assert_eq!(db["secret"]["secretName"], "strongroom-db");
    let ingress = find(&objects, "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "strongroom-helm-test-tls"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "strongroom.helm-test.example"
    );
    let policy = find(&objects, "NetworkPolicy");
    assert!(
        policy["spec"]["egress"].to_string().contains("5432"),
        "egress to PostgreSQL"
    );
}

#[test]
fn required_claims_render_as_claim_value_pairs() {
    let none = objects(&must_template("defaults", &[]));
    assert_eq!(
        env(container(&none), "STRONGROOM_OIDC_REQUIRED_CLAIMS"),
        None
    );
    let objects = objects(&must_template(
        "claims",
        &[
            "--set",
            "identity.requiredClaims.hd=example.com",
            "--set",
            "identity.requiredClaims.tid=abc",
        ],
    ));
    assert_eq!(
        env(container(&objects), "STRONGROOM_OIDC_REQUIRED_CLAIMS"),
        Some("hd=example.com,tid=abc")
    );
    assert!(
        template("bad", &["--set", "identity.requiredClaims.hd=a b"]).is_err(),
        "a value with a space cannot be one CLAIM=VALUE pair"
    );
    assert!(
        template(
            "bad",
            &["--set-json", r#"identity.requiredClaims={"hd=x,tid":"y"}"#]
        )
        .is_err(),
        "a claim name with '=' or ',' would smuggle another pair"
    );
}

#[test]
fn service_monitor_renders_only_when_enabled() {
    let off = must_template("x", &[]);
    assert!(!off.contains("kind: ServiceMonitor"));
    // No Prometheus Operator CRDs on the test API server, so this one is
    // checked as text only.
    let on = must_template("x", &["--set", "metrics.serviceMonitor.enabled=true"]);
    let doc = on
        .split("\n---")
        .find(|d| d.contains("kind: ServiceMonitor"))
        .expect("a ServiceMonitor");
    assert!(doc.contains("apiVersion: monitoring.coreos.com/v1"));
    assert!(doc.contains("path: /metrics"));
    assert!(doc.contains("port: http"));
}

#[test]
fn classic_rules_are_those_of_deploy_rbac_backend_impersonator() {
    // The local stack runs the backend with deploy/rbac/backend-impersonator.yaml;
    // it must grant exactly what the chart grants.
    let file =
        std::fs::read_to_string(repo().join("deploy/rbac/backend-impersonator.yaml")).unwrap();
    let from_file = objects(&file);
    let file_rules = &find(&from_file, "ClusterRole")["rules"];
    let chart_objects = objects(&must_template("x", &["--set", "rbac.mode=classic"]));
    let chart_rules = &find(&chart_objects, "ClusterRole")["rules"];
    assert_eq!(chart_rules, file_rules);
    // ... and the one extra key they allow is the one the server sends.
    assert!(
        chart_rules
            .to_string()
            .contains(&format!("\"userextras/{AUDIT_EXTRA_KEY}\"")),
        "the chart must allow the server's extra key {AUDIT_EXTRA_KEY}: {chart_rules}"
    );
}

#[test]
fn plain_manifests_are_up_to_date() {
    let script = repo().join("deploy/manifests/render.sh");
    let mut cmd = Command::new(&script);
    cmd.arg("--stdout");
    let rendered = ok(run(cmd, None), "deploy/manifests/render.sh --stdout");
    let committed =
        std::fs::read_to_string(repo().join("deploy/manifests/strongroom.yaml")).unwrap();
    assert!(
        rendered == committed,
        "deploy/manifests/strongroom.yaml is out of date: run deploy/manifests/render.sh"
    );
}

// ---------------------------------------------------------------------------
// On the API server

#[test]
fn plain_manifests_are_accepted_by_the_api_server() {
    fixtures();
    let yaml = std::fs::read_to_string(repo().join("deploy/manifests/strongroom.yaml")).unwrap();
    // A server-side dry run: the objects go through defaulting, validation
    // and admission but are not stored, because their names are those of the
    // local stack's own backend (strongroom-system/strongroom).
    let out = ok(
        kubectl(
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager",
                FIELD_MANAGER,
                "-f",
                "-",
            ],
            Some(&yaml),
        ),
        "kubectl apply --dry-run=server deploy/manifests/strongroom.yaml",
    );
    for kind in [
        "namespace/strongroom-system",
        "serviceaccount/strongroom",
        "clusterrole.rbac.authorization.k8s.io/strongroom-impersonator",
        "clusterrolebinding.rbac.authorization.k8s.io/strongroom-impersonator",
        "deployment.apps/strongroom",
        "service/strongroom",
        "persistentvolumeclaim/strongroom-data",
        "networkpolicy.networking.k8s.io/strongroom",
    ] {
        assert!(
            out.contains(&format!("{kind} serverside-applied")),
            "{kind} not applied: {out}"
        );
    }
}

#[test]
fn every_rendered_object_is_stored_by_the_api_server() {
    for release in [classic(), constrained(), postgres()] {
        assert!(release.objects.len() >= 7, "{:?}", names(&release.objects));
        for object in &release.objects {
            let kind = object["kind"].as_str().unwrap();
            let api_version = object["apiVersion"].as_str().unwrap();
            let name = object["metadata"]["name"].as_str().unwrap();
            let resource = match api_version.split_once('/') {
                Some((group, _)) => format!("{kind}.{group}"),
                None => kind.to_string(),
            };
            let mut args = vec![
                "get",
                resource.as_str(),
                name,
                "-o",
                "json",
                "--show-managed-fields",
            ];
            if let Some(ns) = object["metadata"]["namespace"].as_str() {
                args.extend(["-n", ns]);
            }
            let stored: Value =
                serde_json::from_str(&ok(kubectl(&args, None), &format!("get {resource} {name}")))
                    .unwrap();
            let managers = stored["metadata"]["managedFields"].to_string();
            assert!(
                managers.contains(FIELD_MANAGER) && managers.contains("\"Apply\""),
                "{resource} {name} was not server-side applied: {managers}"
            );
        }
        assert!(release.yaml.contains("app.kubernetes.io/managed-by: Helm"));
    }
}

#[test]
fn the_pod_meets_the_restricted_pod_security_standard() {
    fixtures();
    // The API server's PodSecurity admission judges Pods, not Deployments:
    // submit the Deployment's pod template as a Pod (dry run) into the
    // namespace that enforces "restricted".
    let objects = objects(&must_template("pss", &[]));
    let template = &find(&objects, "Deployment")["spec"]["template"];
    let pod = |spec: &Value| {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "strongroom-pss-check", "namespace": NS},
            "spec": spec,
        })
        .to_string()
    };
    let create = |body: String| kubectl(&["create", "--dry-run=server", "-f", "-"], Some(&body));
    ok(
        create(pod(&template["spec"])),
        "the chart's pod under PodSecurity restricted",
    );
    // The check is real: the same pod allowed to escalate privileges is refused.
    let mut weakened = template["spec"].clone();
    weakened["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    let refused = create(pod(&weakened));
    assert!(!refused.status.success(), "a weakened pod must be refused");
    assert!(
        stderr(&refused).contains("violates PodSecurity \"restricted"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn the_service_account_is_granted_impersonation_verbs_only() {
    for release in [classic(), constrained(), postgres()] {
        let rules = release.cluster_role_rules();
        let verbs: Vec<&str> = rules
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["verbs"].as_array().unwrap())
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!verbs.is_empty());
        for verb in verbs {
            assert!(
                verb == "impersonate"
                    || verb == "impersonate:user-info"
                    || verb.starts_with("impersonate-on:user-info:"),
                "{verb} is not an impersonation verb: {rules}"
            );
        }
        // The only RoleBinding/ClusterRoleBinding naming the ServiceAccount
        // is the one to the impersonator role.
        let bindings: Vec<&Value> = release
            .objects
            .iter()
            .filter(|o| {
                o["subjects"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["kind"] == "ServiceAccount"))
            })
            .collect();
        assert_eq!(bindings.len(), 1, "{:?}", names(&release.objects));
        assert!(
            bindings[0]["roleRef"]["name"]
                .as_str()
                .unwrap()
                .ends_with("-impersonator")
        );
    }
}

#[test]
fn classic_service_account_can_impersonate_but_cannot_read_secrets_itself() {
    let sa = classic();
    assert!(sa.can_i(&["impersonate", "users"]));
    assert!(sa.can_i(&["impersonate", "groups"]));
    assert!(sa.may("impersonate", "authentication.k8s.io", "uids", ""));
    assert!(sa.may(
        "impersonate",
        "authentication.k8s.io",
        "userextras",
        AUDIT_EXTRA_KEY
    ));
    assert!(!sa.may(
        "impersonate",
        "authentication.k8s.io",
        "userextras",
        "other-key"
    ));
    assert!(!sa.can_i(&["impersonate", "serviceaccounts", "-A"]));
    for verb in ["get", "list", "watch"] {
        assert!(!sa.can_i(&[verb, "secrets", "-A"]), "{verb} secrets");
        assert!(
            !sa.can_i(&[verb, "secrets", "-n", "team-a"]),
            "{verb} secrets in team-a"
        );
    }
    assert!(!sa.can_i(&["create", "secrets", "-n", "team-a"]));
    assert!(!sa.can_i(&["get", "configmaps", "-n", "team-a"]));
    assert!(!sa.can_i(&["create", "pods", "-n", NS]));
    // With its own token, not only in a review:
    let own = sa.as_user("", &[], &[], &["get", "secret", SECRET, "-n", "team-a"]);
    assert!(own.is_err_and(|e| e.contains("Forbidden")));
}

#[test]
fn classic_service_account_acts_for_alice_and_bob_as_their_rbac_allows() {
    let sa = classic();
    let extra = format!("{AUDIT_EXTRA_KEY}=helm-test");
    let get = |ns| vec!["get", "secret", SECRET, "-n", ns, "-o", "name"];
    let alice = sa
        .as_user(ALICE, &[ALICE_GROUP], &[&extra], &get("team-a"))
        .expect("alice reads team-a's secret through the backend");
    assert_eq!(alice.trim(), format!("secret/{SECRET}"));
    sa.as_user(BOB, &[BOB_GROUP], &[&extra], &get("team-b"))
        .expect("bob reads team-b's secret");
    let refused = sa
        .as_user(BOB, &[BOB_GROUP], &[], &get("team-a"))
        .expect_err("bob must not read team-a's secret");
    assert!(
        refused.contains(&format!("User \"{BOB}\" cannot get resource \"secrets\"")),
        "refused by bob's own RBAC: {refused}"
    );
    // Classic impersonation is all or nothing: the backend can act for alice
    // on anything alice may touch, ConfigMaps included.
    sa.as_user(
        ALICE,
        &[ALICE_GROUP],
        &[],
        &["get", "configmap", CONFIG_MAP, "-n", "team-a"],
    )
    .expect("classic mode is not limited to Secrets");
}

#[test]
fn constrained_service_account_can_act_for_users_on_secrets_only() {
    let sa = constrained();
    // Nothing of classic impersonation.
    assert!(!sa.can_i(&["impersonate", "users"]));
    assert!(!sa.can_i(&["impersonate", "groups"]));
    // impersonate:user-info on who is impersonated ...
    for resource in ["users", "groups", "uids"] {
        assert!(
            sa.may(
                "impersonate:user-info",
                "authentication.k8s.io",
                resource,
                ""
            ),
            "impersonate:user-info {resource}"
        );
    }
    assert!(sa.may(
        "impersonate:user-info",
        "authentication.k8s.io",
        "userextras",
        constrained_extra_key()
    ));
    assert!(!sa.may(
        "impersonate:serviceaccount",
        "authentication.k8s.io",
        "serviceaccounts",
        ""
    ));
    // ... and impersonate-on:user-info:<verb> on what is done: Secrets.
    for verb in [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ] {
        let v = format!("impersonate-on:user-info:{verb}");
        assert!(sa.can_i(&[&v, "secrets", "-n", "team-a"]), "{v} secrets");
        assert!(
            !sa.can_i(&[&v, "configmaps", "-n", "team-a"]),
            "{v} configmaps"
        );
        assert!(!sa.can_i(&[&v, "pods", "-n", "team-a"]), "{v} pods");
    }
    // Itself: no Secrets.
    for verb in ["get", "list", "watch"] {
        assert!(!sa.can_i(&[verb, "secrets", "-A"]), "{verb} secrets");
    }

    // Real requests through the ServiceAccount's own token.
    let extra = format!("{}=helm-test", constrained_extra_key());
    let secret = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &[&extra],
            &[
                "--as-uid=alice",
                "get",
                "secret",
                SECRET,
                "-n",
                "team-a",
                "-o",
                "name",
            ],
        )
        .expect("alice's secret read through constrained impersonation");
    assert_eq!(secret.trim(), format!("secret/{SECRET}"));
    sa.as_user(
        BOB,
        &[BOB_GROUP],
        &[],
        &["get", "secret", SECRET, "-n", "team-b"],
    )
    .expect("bob's secret read");
    let config_map = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &[],
            &["get", "configmap", CONFIG_MAP, "-n", "team-a"],
        )
        .expect_err("alice may read the ConfigMap, but not through the backend");
    assert!(
        config_map.contains("cannot impersonate-on:user-info:get resource \"configmaps\""),
        "{config_map}"
    );
    // Even alice herself (with kubectl as admin impersonating her) may read it:
    // the refusal above is the backend's limit, not alice's.
    ok(
        kubectl(
            &[
                "get",
                "configmap",
                CONFIG_MAP,
                "-n",
                "team-a",
                &format!("--as={ALICE}"),
                &format!("--as-group={ALICE_GROUP}"),
            ],
            None,
        ),
        "alice reads the ConfigMap herself",
    );
    let masters = sa
        .as_user(
            "mallory",
            &["system:masters"],
            &[],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("system:masters must never be impersonated");
    assert!(masters.contains("Forbidden"), "{masters}");
    let service_account = sa
        .as_user(
            "system:serviceaccount:kube-system:default",
            &[],
            &[],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("service accounts are not users");
    assert!(service_account.contains("Forbidden"), "{service_account}");
}

#[test]
fn constrained_impersonation_refuses_extra_keys_without_a_domain_prefix() {
    // Why the chart refuses constrained mode with such a key: the API server
    // rejects it before RBAC is even asked.
    let sa = constrained();
    let err = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &["strongroom-audit-id=helm-test"],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("an extra key without a domain prefix");
    assert!(
        err.contains("impersonating an invalid key in extra is not allowed"),
        "{err}"
    );
}

#[test]
fn allowed_groups_limit_which_groups_can_be_impersonated() {
    let sa = postgres();
    sa.as_user(
        ALICE,
        &[ALICE_GROUP],
        &[],
        &["get", "secret", SECRET, "-n", "team-a"],
    )
    .expect("a listed group");
    for group in ["system:masters", "oidc:someone-else"] {
        let err = sa
            .as_user(
                ALICE,
                &[group],
                &[],
                &["get", "secret", SECRET, "-n", "team-a"],
            )
            .expect_err("a group outside rbac.allowedGroups");
        assert!(
            err.contains("cannot impersonate resource \"groups\""),
            "{group}: {err}"
        );
    }
}

#[test]
fn classic_impersonation_without_allowed_groups_reaches_system_masters() {
    // Why the NOTES warn and rbac.allowedGroups exists: classic "impersonate
    // groups" without resourceNames includes system:masters, so the token
    // of the classic release is as strong as cluster-admin.
    let sa = classic();
    let masters = sa.as_user(
        "mallory",
        &["system:masters"],
        &[],
        &["auth", "can-i", "*", "*"],
    );
    assert_eq!(
        masters.expect("classic may impersonate any group").trim(),
        "yes"
    );
}

#[test]
fn helm_installs_upgrades_and_uninstalls_on_the_api_server() {
    fixtures();
    let stack = Stack::get();
    let kubeconfig = stack.var("ADMIN_KUBECONFIG");
    let chart = chart();
    let values = postgres_values();
    let key = format!("rbac.auditExtraKey={}", constrained_extra_key());
    let release = "helm-install";
    let install = |mode: &str| {
        let mode = format!("rbac.mode={mode}");
        helm_cmd(&[
            "upgrade",
            "--install",
            release,
            &chart,
            "--namespace",
            NS,
            "--kubeconfig",
            &kubeconfig,
            "-f",
            &values,
            "--set",
            &mode,
            "--set",
            &key,
        ])
    };
    let first = ok(install("classic"), "helm upgrade --install (classic)");
    assert!(first.contains("STATUS: deployed"), "{first}");
    assert!(first.contains("RBAC:          classic"), "NOTES: {first}");
    let second = ok(install("constrained"), "helm upgrade (constrained)");
    assert!(second.contains("REVISION: "), "{second}");
    let role = ok(
        kubectl(
            &[
                "get",
                "clusterrole",
                "helm-install-strongroom-impersonator",
                "-o",
                "json",
            ],
            None,
        ),
        "the release's ClusterRole",
    );
    assert!(
        role.contains("impersonate-on:user-info:get"),
        "the upgrade switched the rules to constrained: {role}"
    );
    ok(
        helm_cmd(&[
            "uninstall",
            release,
            "--namespace",
            NS,
            "--kubeconfig",
            &kubeconfig,
        ]),
        "helm uninstall",
    );
    let gone = kubectl(
        &["get", "clusterrole", "helm-install-strongroom-impersonator"],
        None,
    );
    assert!(
        stderr(&gone).contains("NotFound"),
        "uninstall removes the cluster-wide RBAC: {}",
        stderr(&gone)
    );
}

#[test]
fn example_team_roles_bind_the_teams_groups() {
    let release = postgres();
    assert!(has_kind(&release.objects, "RoleBinding"));
    let can = |groups: &[&str], args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        let user = "--as=oidc:helm-test-person".to_string();
        all.push(&user);
        let group_flags: Vec<String> = groups.iter().map(|g| format!("--as-group={g}")).collect();
        all.extend(group_flags.iter().map(String::as_str));
        stdout(&kubectl(&all, None)).trim() == "yes"
    };
    let editors = ["oidc:helm-test-editors"];
    let listers = ["oidc:helm-test-listers"];
    let auditors = ["oidc:helm-test-auditors"];
    for verb in ["get", "list", "create", "update", "delete"] {
        assert!(
            can(&editors, &[verb, "secrets", "-n", TENANT_NS]),
            "editors {verb}"
        );
    }
    assert!(
        !can(&editors, &["get", "secrets", "-n", "team-b"]),
        "only their namespace"
    );
    assert!(can(&listers, &["list", "secrets", "-n", TENANT_NS]));
    assert!(!can(&listers, &["get", "secrets", "-n", TENANT_NS]));
    assert!(!can(&listers, &["create", "secrets", "-n", TENANT_NS]));
    assert!(can(&auditors, &["list", "namespaces"]));
    assert!(!can(&auditors, &["get", "secrets", "-n", TENANT_NS]));
    assert!(!can(&auditors, &["list", "secrets", "-n", TENANT_NS]));
}

// ---------------------------------------------------------------------------
// The server's own Kubernetes access, running as the chart's ServiceAccount

fn user(name: &str, group: &str) -> CurrentUser {
    CurrentUser {
        username: format!("oidc:{name}@example.com"),
        groups: vec![group.to_string()],
        uid: Some(name.to_string()),
        name: None,
    }
}

fn get_secret(ns: &str) -> http::Request<Vec<u8>> {
    kube::core::Request::new(format!("/api/v1/namespaces/{ns}/secrets"))
        .get(SECRET, &Default::default())
        .unwrap()
}

async fn backend(release: &Release) -> KubeAccess {
    KubeAccess::connect(
        Some(&release.kubeconfig),
        std::time::Duration::from_secs(10),
    )
    .await
    .expect("the release's kubeconfig")
}

#[tokio::test]
async fn the_server_works_under_the_classic_service_account() {
    let release = tokio::task::spawn_blocking(classic).await.unwrap();
    let kube = backend(release).await;
    let alice = kube.for_user(user("alice", ALICE_GROUP).identity());
    let secret: Secret = alice
        .with_audit_id("helm-test-reveal")
        .call(get_secret("team-a"))
        .await
        .expect("a reveal as alice, tagged with the audit id");
    assert_eq!(secret.data.unwrap()["token"].0, b"helm-test-value");
    assert!(alice.can_i("list", "secrets", "team-a").await.unwrap());
    assert!(!alice.can_i("list", "secrets", "team-b").await.unwrap());
    let bob = kube.for_user(user("bob", BOB_GROUP).identity());
    match bob.call::<Secret>(get_secret("team-a")).await {
        Err(KubeError::Api { code: 403, .. }) => {}
        other => panic!("bob must be refused, got {:?}", other.map(|_| "a secret")),
    }
}

#[tokio::test]
async fn the_server_under_the_constrained_service_account() {
    let release = tokio::task::spawn_blocking(constrained).await.unwrap();
    let kube = backend(release).await;
    let alice = kube.for_user(user("alice", ALICE_GROUP).identity());
    // Listing secrets and the access reviews behind /api/v1/me work.
    assert!(alice.can_i("list", "secrets", "team-a").await.unwrap());
    assert!(!alice.can_i("list", "secrets", "team-b").await.unwrap());
    let secret: Secret = alice
        .call(get_secret("team-a"))
        .await
        .expect("a read as alice without an audit id");
    assert_eq!(secret.data.unwrap()["token"].0, b"helm-test-value");
    // Reveals and changes carry the audit id as an extra. Constrained
    // impersonation takes only domain-prefixed extra keys.
    let tagged = alice
        .with_audit_id("helm-test-reveal")
        .call::<Secret>(get_secret("team-a"))
        .await;
    if AUDIT_EXTRA_KEY.contains('/') {
        tagged.expect("a reveal tagged with the audit id");
    } else {
        match tagged {
            Err(KubeError::Api {
                code: 403, message, ..
            }) => assert!(message.contains("invalid key in extra"), "{message}"),
            other => panic!(
                "the server's extra key {AUDIT_EXTRA_KEY:?} has no domain prefix, so constrained \
                 impersonation must refuse it; got {:?}",
                other.map(|_| "a secret")
            ),
        }
    }
}
