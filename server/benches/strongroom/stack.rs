//! What the benchmark puts on the local stack (the list namespace, the
//! secret it reveals) and reads back from the server's SQLite audit trail.

use std::path::Path;

use futures::{StreamExt, stream};
use serde_json::json;

use crate::{
    LIST_NS, LIST_SECRETS, REVEAL_NS, REVEAL_SECRET,
    common::{Stack, b64, kubectl},
};

pub(crate) async fn seed_list_namespace(stack: &Stack) {
    let out = kubectl(&[
        "get",
        "secrets",
        "-n",
        LIST_NS,
        "--no-headers",
        "-o",
        "name",
    ]);
    let existing = String::from_utf8_lossy(&out.stdout).lines().count();
    if existing >= LIST_SECRETS {
        return;
    }
    let _ = kubectl(&["create", "namespace", LIST_NS]);
    let _ = kubectl(&[
        "create",
        "rolebinding",
        "bench-listers",
        "-n",
        LIST_NS,
        "--clusterrole=secret-editor",
        "--group=oidc:team-a-editors",
    ]);
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(stack.var("ADMIN_KUBECONFIG")).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let admin = kube::Client::try_from(config).unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(admin, LIST_NS);
    stream::iter(0..LIST_SECRETS)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let s: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
                    "metadata": {"name": format!("s-{i:05}"), "labels": {"app": "bench"}},
                    "data": {"k": b64(b"v")}
                }))
                .unwrap();
                let _ = api.create(&Default::default(), &s).await;
            }
        })
        .await;
}

pub(crate) async fn seed_reveal_secret() {
    let _ = kubectl(&[
        "delete",
        "secret",
        REVEAL_SECRET,
        "-n",
        REVEAL_NS,
        "--ignore-not-found",
    ]);
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        REVEAL_SECRET,
        "-n",
        REVEAL_NS,
        "--from-literal=token=bench-value",
    ]);
    assert!(out.status.success(), "create {REVEAL_SECRET}");
}

/// Reveal records for the benchmark's secret in the server's SQLite trail.
pub(crate) async fn audit_reveals(data_dir: &Path) -> u64 {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("strongroom.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records WHERE action = 'reveal' AND namespace = ? AND secret = ? AND outcome = 'allowed'",
    )
    .bind(REVEAL_NS)
    .bind(REVEAL_SECRET)
    .fetch_one(&mut db)
    .await
    .unwrap();
    n as u64
}

/// Allowed records in the server's SQLite trail.
pub(crate) async fn audit_all(data_dir: &Path) -> u64 {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("strongroom.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE outcome = 'allowed'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    n as u64
}

/// The cluster as the benchmark's administrator.
pub(crate) async fn admin(stack: &Stack) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(stack.var("ADMIN_KUBECONFIG")).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// `ns` holding `n` secrets `bulk-<i>` (each `k` = `v`), which alice's group
/// may edit. Created once; later runs find them.
pub(crate) async fn seed_secrets(stack: &Stack, ns: &str, n: usize) {
    let _ = kubectl(&["create", "namespace", ns]);
    let _ = kubectl(&[
        "create",
        "rolebinding",
        "bench-editors",
        "-n",
        ns,
        "--clusterrole=secret-editor",
        "--group=oidc:team-a-editors",
    ]);
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(admin(stack).await, ns);
    let have = api
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
        .map(|l| l.items.len() as u64 + l.metadata.remaining_item_count.unwrap_or(0) as u64)
        .unwrap_or(0);
    if have >= n as u64 {
        return;
    }
    eprintln!("seeding {n} secrets in {ns} (once)");
    stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let s: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
                    "metadata": {"name": bulk_name(n, i), "labels": {"app": "bench"}},
                    "data": {"k": b64(b"v")}
                }))
                .unwrap();
                let _ = api.create(&Default::default(), &s).await;
            }
        })
        .await;
}

/// The name of the `i`th of `n` seeded secrets (zero-padded to sort).
pub(crate) fn bulk_name(n: usize, i: usize) -> String {
    let width = (n - 1).to_string().len();
    format!("bulk-{i:0width$}")
}

/// `n` namespaces `scale-ns-<i>`, created once; auditors (dave) may list
/// secrets in every 1,000th.
pub(crate) async fn seed_namespaces(stack: &Stack, n: usize) {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(admin(stack).await);
    let have = api
        .list_metadata(&kube::api::ListParams::default().labels("strongroom-bench=scale"))
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    if have >= n {
        return;
    }
    eprintln!("seeding {n} namespaces (once)");
    stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let ns: Namespace = serde_json::from_value(json!({
                    "metadata": {"name": format!("scale-ns-{i:05}"), "labels": {"strongroom-bench": "scale"}}
                }))
                .unwrap();
                let _ = api.create(&Default::default(), &ns).await;
            }
        })
        .await;
    for i in (0..n).step_by(1000) {
        let _ = kubectl(&[
            "create",
            "rolebinding",
            "bench-auditors",
            "-n",
            &format!("scale-ns-{i:05}"),
            "--clusterrole=secret-lister",
            "--group=oidc:auditors",
        ]);
    }
}
