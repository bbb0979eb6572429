//! A cluster without the SealedSecret resource (issue 16, bad input): a
//! seal that asks for the SealedSecret to be created answers with a clear
//! message and creates nothing; sealing for download still works. Its own
//! test binary, since it removes the CRD the other tests use (test
//! binaries run one after another); it puts the CRD back and checks that
//! the controller unseals again before it ends.

mod common;

use std::path::PathBuf;

use common::{ApiSession, Stack, TestServer, b64, kubectl, unique};
use serde_json::json;

#[tokio::test]
async fn without_the_sealedsecret_resource_nothing_is_created_and_the_message_says_why() {
    let crd = PathBuf::from(Stack::get().var("GITOPS_TOOLS")).join("sealedsecret-crd.yaml");
    let out = kubectl(&["delete", "crd", "sealedsecrets.bitnami.com", "--wait=true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;

    let name = unique("nocrd");
    let secret = json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}});
    let mut answer = (0, json!(null));
    // The API server forgets the resource a moment after the delete.
    for _ in 0..50 {
        answer = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"create": true, "secret": secret}),
            )
            .await;
        if answer.0 == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = answer;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(
            "(sealedsecrets.bitnami.com) is not installed in this cluster; nothing was created"
        ),
        "{body}"
    );
    // Sealing for download needs no resource in the cluster.
    let (status, sealed) = alice
        .post(
            "/namespaces/team-a/sealed-secrets",
            json!({"secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "{sealed}");

    // Put the resource back, and see the controller unseal again.
    let out = kubectl(&["apply", "-f", &crd.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/sealedsecrets.bitnami.com",
    ]);
    let again = unique("again");
    let mut created = (0, json!(null));
    for _ in 0..100 {
        created = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"create": true, "secret": {"name": again, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
            )
            .await;
        if created.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(created.0, 200, "{}", created.1);
    let mut unsealed = false;
    for _ in 0..600 {
        if kubectl(&["get", "secret", &again, "-n", "team-a"])
            .status
            .success()
        {
            unsealed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(unsealed, "the controller unseals once the resource is back");
    server.stop();
}
