//! The ground every other test stands on: a real API server with RBAC, the
//! backend's identity that can only impersonate, and the API server's own
//! audit log showing who was impersonated.

mod common;

use common::{Stack, unique};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::api::{ObjectMeta, PostParams};
use strongroom_server::{
    domain::auth::CurrentUser,
    infra::cluster::{KubeAccess, KubeError},
};

fn user(name: &str, groups: &[&str]) -> CurrentUser {
    CurrentUser {
        username: format!("oidc:{name}@example.com"),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        uid: Some(name.to_string()),
        name: None,
        auth_time: None,
    }
}

async fn backend() -> KubeAccess {
    let stack = Stack::get();
    KubeAccess::connect(
        Some(std::path::Path::new(&stack.var("BACKEND_KUBECONFIG"))),
        std::time::Duration::from_secs(10),
    )
    .await
    .expect("backend kubeconfig")
}

#[tokio::test]
async fn alice_creates_and_reads_a_secret_in_team_a_and_bob_is_forbidden() {
    let kube = backend().await;
    let alice = kube.for_user(user("alice", &["oidc:team-a-editors"]).identity());
    let bob = kube.for_user(user("bob", &["oidc:team-b-editors"]).identity());
    let name = unique("ground");

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        data: Some([("token".to_string(), ByteString(b"s3cr3t".to_vec()))].into()),
        ..Default::default()
    };
    let req = kube::core::Request::new("/api/v1/namespaces/team-a/secrets")
        .create(&PostParams::default(), serde_json::to_vec(&secret).unwrap())
        .unwrap();
    let created: Secret = alice.call(req).await.expect("alice may create in team-a");
    assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));

    let get = || {
        kube::core::Request::new("/api/v1/namespaces/team-a/secrets")
            .get(&name, &Default::default())
            .unwrap()
    };
    let read: Secret = alice.call(get()).await.expect("alice may read in team-a");
    assert_eq!(read.data.unwrap()["token"].0, b"s3cr3t");

    match bob.call::<Secret>(get()).await {
        Err(KubeError::Api {
            code: 403, message, ..
        }) => {
            assert!(
                message.contains("oidc:bob@example.com"),
                "the API server names the impersonated user: {message}"
            );
        }
        other => panic!("bob must be forbidden, got {:?}", other.map(|_| "a secret")),
    }

    // The API server's own audit log records who was impersonated.
    let log_path = Stack::get().var("KUBE_AUDIT_LOG");
    let mut seen_alice = false;
    let mut seen_bob = false;
    for _ in 0..50 {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        for line in log.lines().filter(|l| l.contains(&name)) {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let who = event["impersonatedUser"]["username"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(
                event["user"]["username"],
                "system:serviceaccount:strongroom-system:strongroom"
            );
            seen_alice |= who == "oidc:alice@example.com";
            seen_bob |= who == "oidc:bob@example.com" && event["responseStatus"]["code"] == 403;
        }
        if seen_alice && seen_bob {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen_alice, "audit log shows alice impersonated");
    assert!(seen_bob, "audit log shows bob's refused read");
    assert!(
        !std::fs::read_to_string(&log_path)
            .unwrap()
            .contains("czNjcjN0"),
        "the API server's audit log must not contain the value"
    );

    let del = kube::core::Request::new("/api/v1/namespaces/team-a/secrets")
        .delete(&name, &Default::default())
        .unwrap();
    alice.call_raw(del).await.expect("alice may delete");
}

/// The backend's kubeconfig with `edit` applied to its user and cluster,
/// written to a file of its own.
fn edited_kubeconfig(
    label: &str,
    edit: impl FnOnce(&mut kube::config::AuthInfo, &mut kube::config::Cluster),
) -> std::path::PathBuf {
    let stack = Stack::get();
    let mut kc = kube::config::Kubeconfig::read_from(stack.var("BACKEND_KUBECONFIG")).unwrap();
    let user = kc.auth_infos[0].auth_info.as_mut().unwrap();
    let cluster = kc.clusters[0].cluster.as_mut().unwrap();
    edit(user, cluster);
    let path = std::env::temp_dir().join(format!("{}.kubeconfig", unique(label)));
    std::fs::write(&path, serde_norway::to_string(&kc).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn impersonation_settings_in_the_backends_kubeconfig_are_never_sent() {
    // Were any of these sent, the API server would refuse: the backend may
    // impersonate no such uid or extra, and never mallory's groups.
    let path = edited_kubeconfig("as-settings", |user, _| {
        user.impersonate = Some("oidc:mallory@example.com".into());
        user.impersonate_groups = Some(vec!["oidc:team-b-editors".into()]);
        user.impersonate_uid = Some("kubeconfig-uid".into());
        user.impersonate_user_extra =
            Some([("example.com/extra".to_string(), vec!["x".to_string()])].into());
    });
    let kube = KubeAccess::connect(Some(&path), std::time::Duration::from_secs(10))
        .await
        .expect("connects");
    let alice = kube.for_user(user("alice", &["oidc:team-a-editors"]).identity());
    let list = kube::core::Request::new("/api/v1/namespaces/team-a/secrets")
        .list(&Default::default())
        .unwrap();
    let listed: serde_json::Value = alice
        .call(list)
        .await
        .expect("alice lists team-a as herself alone");
    assert_eq!(listed["kind"], "SecretList");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_proxy_in_the_backends_kubeconfig_is_refused_at_start_up() {
    let path = edited_kubeconfig("proxy", |_, cluster| {
        cluster.proxy_url = Some("http://127.0.0.1:9".into());
    });
    match KubeAccess::connect(Some(&path), std::time::Duration::from_secs(10)).await {
        Err(KubeError::Config(why)) => assert!(why.contains("proxy-url"), "{why}"),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a proxy must be refused, not silently skipped"),
    }
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn the_backend_identity_itself_cannot_read_secrets() {
    let stack = Stack::get();
    let kubeconfig = kube::config::Kubeconfig::read_from(stack.var("BACKEND_KUBECONFIG")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let raw = kube::Client::try_from(config).unwrap();
    let secrets: kube::Api<Secret> = kube::Api::namespaced(raw.clone(), "team-a");
    match secrets.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
        other => panic!(
            "the backend's own identity must not list secrets: {:?}",
            other.map(|l| l.items.len())
        ),
    }
    let all: kube::Api<Secret> = kube::Api::all(raw);
    assert!(
        all.list(&Default::default()).await.is_err(),
        "nor across namespaces"
    );
}

#[tokio::test]
async fn eve_without_groups_cannot_list_team_a_secrets() {
    let kube = backend().await;
    let eve = kube.for_user(user("eve", &[]).identity());
    assert!(!eve.can_i("list", "secrets", "team-a").await.unwrap());
    let carol = kube.for_user(user("carol", &["oidc:team-a-viewers"]).identity());
    assert!(carol.can_i("list", "secrets", "team-a").await.unwrap());
    assert!(!carol.can_i("get", "secrets", "team-a").await.unwrap());
}
