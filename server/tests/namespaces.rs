//! Where a person may work (`/api/v1/me`'s namespaces), asked of the API
//! server once per person within the cache's lifetime, not on every page
//! view, and with one cluster-wide access review first. Counted through the
//! server's own Kubernetes call metrics, which are process-wide: these tests
//! have their binary to themselves and take turns.

mod common;

use common::{ApiSession, TestServer};
use serde_json::json;

/// The review counter is the process's: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _serial = SERIAL.lock().await;
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

/// More namespaces than are checked up front: `/me` checks none of them (one
/// namespace list and one cluster-wide review), and the picker's search
/// checks at most a bounded number of the matches.
#[tokio::test]
async fn with_many_namespaces_me_checks_none_and_the_search_checks_a_bounded_number() {
    use futures::{StreamExt, stream};
    let _serial = SERIAL.lock().await;
    // 250 namespaces (more than the 200 checked up front); dave, an
    // auditor, may list namespaces, and secrets in three of them.
    let names: Vec<String> = (0..250).map(|i| format!("many-{i:03}")).collect();
    stream::iter(names.clone())
        .for_each_concurrent(16, |ns| async move {
            tokio::task::spawn_blocking(move || {
                let _ = common::kubectl(&["create", "namespace", &ns]);
            })
            .await
            .unwrap();
        })
        .await;
    for ns in ["many-042", "many-142", "many-242"] {
        let _ = common::kubectl(&[
            "create",
            "rolebinding",
            "auditors-list",
            "-n",
            ns,
            "--clusterrole=secret-lister",
            "--group=oidc:auditors",
        ]);
    }
    let server = TestServer::start(&["--namespaces", ""]).await;
    let dave = ApiSession::new(&server.url, "dave").await;

    let before = reviews();
    let (status, me) = dave.get("/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["namespaces"], json!([]));
    let unchecked = me["unchecked_namespaces"].as_u64().unwrap();
    assert!(
        unchecked > 250,
        "every namespace is a candidate: {unchecked}"
    );
    assert_eq!(reviews() - before, 1, "only the cluster-wide review");

    // "many-" matches 250: 48 are checked, in name order, and one of them
    // (many-042) is open to dave.
    let (status, found) = dave.get("/namespaces?name=many-").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["namespaces"], json!(["many-042"]));
    assert_eq!(
        (found["matching"].clone(), found["checked"].clone()),
        (json!(250), json!(48))
    );
    assert_eq!(reviews() - before, 1 + 48);
    // A longer part narrows it: "many-14" matches ten, all checked.
    let (_, found) = dave.get("/namespaces?name=many-14").await;
    assert_eq!(found["namespaces"], json!(["many-142"]));
    assert_eq!(
        (found["matching"].clone(), found["checked"].clone()),
        (json!(10), json!(10))
    );
    assert_eq!(reviews() - before, 1 + 48 + 10);
    // The same search again, or /me, within the TTL asks nothing.
    let _ = dave.get("/namespaces?name=many-14").await;
    let _ = dave.get("/me").await;
    assert_eq!(reviews() - before, 1 + 48 + 10);
    let (status, body) = dave.get("/namespaces?name=many&limit=101").await;
    assert_eq!(status, 422, "{body}");
    server.stop();
}

/// Configured namespaces are the operator's: someone who may work in none
/// of them learns neither their names nor their number.
#[tokio::test]
async fn configured_namespaces_are_not_counted_for_someone_who_works_in_none() {
    let _serial = SERIAL.lock().await;
    let configured: Vec<String> = (0..250).map(|i| format!("many-{i:03}")).collect();
    let configured = format!("team-a,{}", configured.join(","));
    let server = TestServer::start(&["--namespaces", &configured]).await;
    let eve = ApiSession::new(&server.url, "eve").await;
    let (_, me) = eve.get("/me").await;
    assert_eq!(me["namespaces"], json!([]));
    assert_eq!(me["unchecked_namespaces"], json!(0), "{me}");
    for part in ["", "many", "team"] {
        let (status, found) = eve.get(&format!("/namespaces?name={part}")).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(
            found,
            json!({"namespaces": [], "guards": {}, "matching": 0, "checked": 0}),
            "{part}"
        );
    }
    // alice works in team-a: it is found, and only it is counted.
    let alice = ApiSession::new(&server.url, "alice").await;
    let (_, found) = alice.get("/namespaces?name=a").await;
    assert_eq!(found["namespaces"], json!(["team-a"]));
    assert_eq!(
        (found["matching"].clone(), found["checked"].clone()),
        (json!(1), json!(1))
    );
    server.stop();
}
