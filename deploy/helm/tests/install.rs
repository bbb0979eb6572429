//! The chart on the API server: the plain manifests and every rendered
//! object are accepted, the pod meets the restricted Pod Security Standard,
//! helm installs, upgrades and uninstalls a release, and the server's own
//! Kubernetes access works under the chart's ServiceAccounts.

use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use strongroom_server::{
    domain::auth::CurrentUser,
    infra::cluster::{AUDIT_EXTRA_KEY, KubeAccess, KubeError},
};

use crate::{
    ALICE_GROUP, BOB_GROUP, FIELD_MANAGER, NS, SECRET,
    common::Stack,
    releases::{
        Release, classic, constrained, constrained_extra_key, fixtures, postgres, postgres_values,
    },
    support::{chart, find, helm_cmd, kubectl, must_template, names, objects, ok, repo, stderr},
};

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
        "service/strongroom-metrics",
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

// ---------------------------------------------------------------------------
// The server's own Kubernetes access, running as the chart's ServiceAccount

fn user(name: &str, group: &str) -> CurrentUser {
    CurrentUser {
        username: format!("oidc:{name}@example.com"),
        groups: vec![group.to_string()],
        uid: Some(name.to_string()),
        name: None,
        auth_time: None,
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
