//! Where a person may work (`/api/v1/me`'s namespaces), asked of the API
//! server once per person within the cache's lifetime, not on every page
//! view, and with one cluster-wide access review first. Counted through the
//! server's own Kubernetes call metrics, which are process-wide: this test
//! has its binary to itself.

mod common;

use common::{ApiSession, TestServer};
use serde_json::json;

/// Access reviews this process has sent to the API server so far.
fn reviews() -> u64 {
    let text = strongroom_server::infra::metrics::render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(
                "strongroom_kube_request_duration_seconds_count{verb=\"create\",resource=\"selfsubjectaccessreviews\"} ",
            )
        })
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn me_asks_the_api_server_once_per_person_then_answers_from_memory() {
    // Configured: team-a and team-b. alice edits team-a, bob team-b.
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let bob = ApiSession::new(&server.url, "bob").await;

    let before = reviews();
    let (status, me) = alice.get("/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["namespaces"], json!(["team-a"]));
    // One review for all namespaces at once (refused: alice's rights are
    // per namespace), then one per configured namespace.
    assert_eq!(reviews() - before, 3);
    for _ in 0..5 {
        let (_, again) = alice.get("/me").await;
        assert_eq!(again["namespaces"], json!(["team-a"]));
    }
    assert_eq!(
        reviews() - before,
        3,
        "page views within the TTL ask nothing"
    );

    // Another person is asked about on their own.
    let (_, me) = bob.get("/me").await;
    assert_eq!(me["namespaces"], json!(["team-b"]));
    assert_eq!(reviews() - before, 6);
    server.stop();
}
