mod common;
use common::{ApiSession, TestServer, kubectl, unique, b64};
use serde_json::{json, Value};
use strongroom_server::domain::audit::store::AuditQuery;

fn apply(v: Value) {
    use std::io::Write;
    let stack = common::Stack::get();
    let mut child = std::process::Command::new(stack.var("KUBECTL"))
        .arg("--kubeconfig").arg(stack.var("ADMIN_KUBECONFIG"))
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped())
        .spawn().unwrap();
    child.stdin.take().unwrap().write_all(v.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn zz_concurrent_scans_each_read_everything() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let futs: Vec<_> = (0..8).map(|_| { let a = alice.clone(); async move { a.get("/namespaces/team-a/certificates").await.0 } }).collect();
    let codes = futures::future::join_all(futs).await;
    let scans = server.state.audit.query(&AuditQuery { namespace: Some("team-a".into()), secret: Some(String::new()), action: Some("inspect".into()), ..Default::default() }).await.unwrap();
    eprintln!("ZZ codes={codes:?} scan records={}", scans.len());
    server.stop();
}

#[tokio::test]
async fn zz_restart_without_rights_on_the_secret() {
    let ns = unique("zzns");
    let out = kubectl(&["create", "namespace", &ns]); assert!(out.status.success());
    // carol: workload-editor only, no rights on secrets at all in this namespace
    let out = kubectl(&["create", "rolebinding", "zz-we", "--clusterrole=workload-editor", "--user=oidc:carol@example.com", "-n", &ns]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // an admin-owned secret carol may not read, and a deployment using it
    let out = kubectl(&["create", "secret", "generic", "admin-db", "--from-literal=password=s3cr3t", "-n", &ns]); assert!(out.status.success());
    for (name, sec) in [("web", "admin-db"), ("ghosty", "no-such-secret")] {
        apply(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "busybox", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": sec, "key": "password"}}}]}]}}}}));
    }
    let server = TestServer::start(&[]).await;
    let carol = ApiSession::new(&server.url, "carol").await;
    let (s, b) = carol.get(&format!("/namespaces/{ns}/secrets/admin-db")).await;
    eprintln!("ZZ carol get secret: {s}");
    let (s, b2) = carol.get(&format!("/namespaces/{ns}/secrets/admin-db/usage")).await;
    eprintln!("ZZ carol usage: {s} {b2}");
    let (s, b) = carol.post(&format!("/namespaces/{ns}/secrets/admin-db/restart"), json!({"workloads": [{"kind": "Deployment", "name": "web"}], "keys": ["root-ca-private-key", "password"]})).await;
    eprintln!("ZZ carol restart via admin-db: {s} {b}");
    let (s, b) = carol.post(&format!("/namespaces/{ns}/secrets/no-such-secret/restart"), json!({"workloads": [{"kind": "Deployment", "name": "ghosty"}], "keys": []})).await;
    eprintln!("ZZ carol restart via nonexistent secret: {s} {b}");
    let recs = server.state.audit.query(&AuditQuery { namespace: Some(ns.clone()), action: Some("restart".into()), ..Default::default() }).await.unwrap();
    for r in &recs { eprintln!("ZZ record: {}", serde_json::to_string(&r.event).unwrap()); }
    // timestamp vs kubectl
    let out = kubectl(&["get", "deployment", "web", "-n", &ns, "-o", "jsonpath={.spec.template.metadata.annotations}"]);
    eprintln!("ZZ annotations: {}", String::from_utf8_lossy(&out.stdout));
    let _ = b64(b"");
    server.stop();
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
