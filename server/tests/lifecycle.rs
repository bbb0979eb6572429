//! The life of a secret after it is created (issue 17, items 4 and 5), as
//! real users against the real API server: which keys a rotation would
//! change before it is confirmed, what changed when and by whom, changes
//! made with kubectl noticed, and the age of values against a rotation
//! policy. All from fingerprints: no answer holds a value.

mod common;

use common::{ApiSession, TestServer, b64, kubectl, unique};
use serde_json::{Value, json};

/// The key state for `key` in a key-history answer.
fn key<'a>(history: &'a Value, key: &str) -> &'a Value {
    history["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no key {key} in {history}"))
}

fn assert_no_values(answer: &Value, values: &[&str]) {
    let text = answer.to_string();
    for v in values {
        assert!(!text.contains(v), "a value is in the answer: {text}");
        assert!(
            !text.contains(&b64(v.as_bytes())),
            "a value is in the answer: {text}"
        );
    }
}

#[tokio::test]
async fn what_changed_when_is_told_from_fingerprints_and_kubectl_changes_are_noticed() {
    let server = TestServer::start(&["--reveal-rate-limit", "off"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("life");
    let path = format!("/namespaces/team-a/secrets/{name}");
    let values = [
        "pw-one-7f3a",
        "user-one-c2b9",
        "user-two-9d1e",
        "pw-kubectl-55e0",
        "new-e81c",
    ];
    let (status, created) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [
                {"key": "password", "value": b64(values[0].as_bytes())},
                {"key": "user", "value": b64(values[1].as_bytes())},
                {"key": "gone", "value": b64(b"x")}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200);

    // Before a rotation is confirmed: which keys it would change, masked.
    let proposal = json!({
        "resource_version": created["resource_version"],
        "set": [
            {"key": "password", "value": b64(values[0].as_bytes())},
            {"key": "user", "value": b64(values[2].as_bytes())},
            {"key": "new", "value": b64(values[4].as_bytes())}
        ],
        "remove": ["gone"]
    });
    let (status, preview) = alice
        .post(&format!("{path}/preview"), proposal.clone())
        .await;
    assert_eq!(status, 200, "{preview}");
    let diff: Vec<(String, String)> = preview["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap().into(),
                k["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        diff,
        [
            ("gone", "removed"),
            ("new", "added"),
            ("password", "same"),
            ("user", "changed")
        ]
        .map(|(k, c)| (k.to_string(), c.to_string()))
    );
    assert_eq!(preview["resource_version"], created["resource_version"]);
    assert_no_values(&preview, &values);
    // The preview changed nothing, and it is on the record as a comparison.
    let stored = kubectl(&[
        "get",
        "secret",
        &name,
        "-n",
        "team-a",
        "-o",
        "jsonpath={.data.user}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&stored.stdout),
        b64(values[1].as_bytes())
    );
    let (_, history) = alice.get(&format!("{path}/history")).await;
    assert_eq!(history["items"][0]["action"], "compare", "{history}");
    assert_eq!(history["items"][0]["id"], preview["audit_id"]);

    // bob may not read team-a's secrets, so he may not compare either.
    let bob = ApiSession::new(&server.url, "bob").await;
    let (status, body) = bob.post(&format!("{path}/preview"), proposal.clone()).await;
    assert_eq!(status, 403, "{body}");

    // The rotation itself.
    let (status, updated) = alice.patch(&path, proposal).await;
    assert_eq!(status, 200, "{updated}");

    let (status, h) = alice.get(&format!("{path}/key-history")).await;
    assert_eq!(status, 200, "{h}");
    assert_no_values(&h, &values);
    assert_eq!(key(&h, "user")["last_change"]["change"], "changed");
    assert_eq!(
        key(&h, "user")["last_change"]["user"],
        "oidc:alice@example.com"
    );
    assert_eq!(key(&h, "new")["last_change"]["change"], "added");
    // Re-setting the same value is not a change: password is as created.
    assert_eq!(key(&h, "password")["last_change"]["change"], "added");
    assert_eq!(key(&h, "password")["unchanged_since_your_reveal"], true);
    assert!(
        key(&h, "user")["unchanged_since_your_reveal"].is_null(),
        "never revealed"
    );
    assert!(
        h["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["changed_outside_now"] == false)
    );
    let changes: Vec<(String, String)> = h["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().into(),
                c["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes[..3],
        [("gone", "removed"), ("new", "added"), ("user", "changed")]
            .map(|(k, c)| (k.to_string(), c.to_string()))
    );
    assert_eq!(h["age"]["from_change"], true);

    // Someone changes the password with kubectl: the next look shows it.
    let patch = json!({"data": {"password": b64(values[3].as_bytes())}}).to_string();
    let out = kubectl(&["patch", "secret", &name, "-n", "team-a", "-p", &patch]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, h) = alice.get(&format!("{path}/key-history")).await;
    assert_eq!(key(&h, "password")["changed_outside_now"], true, "{h}");
    assert_eq!(key(&h, "password")["unchanged_since_your_reveal"], false);
    assert_eq!(key(&h, "user")["changed_outside_now"], false);

    // The next reveal records the new fingerprint: the change made outside
    // Strongroom is now in the history, noticed at that reveal.
    let (status, _) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200);
    let (_, h) = alice.get(&format!("{path}/key-history")).await;
    assert_no_values(&h, &values);
    let first = &h["changes"][0];
    assert_eq!(first["key"], "password");
    assert_eq!(first["change"], "changed-outside");
    assert!(first["user"].is_null());
    assert_eq!(first["noticed_at"], "reveal by oidc:alice@example.com");
    assert_eq!(key(&h, "password")["changed_outside_now"], false);
    assert_eq!(key(&h, "password")["unchanged_since_your_reveal"], true);

    // Who may not get the secret sees no history of it: not on its page,
    // and not through the list's ages (which count from creation for her).
    let carol = ApiSession::new(&server.url, "carol").await;
    let (status, body) = carol.get(&format!("{path}/key-history")).await;
    assert_eq!(status, 403, "{body}");
    assert_no_values(&body, &values);
    let (status, page) = carol
        .get(&format!("/namespaces/team-a/secrets?name={name}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let row = &page["items"][0];
    assert_eq!(row["name"], name.as_str());
    assert_eq!(row["age"]["from_change"], false, "{row}");
    assert_eq!(row["age"]["values_since"], row["created"]);
    let (_, page) = alice
        .get(&format!("/namespaces/team-a/secrets?name={name}"))
        .await;
    assert_eq!(page["items"][0]["age"]["from_change"], true);
}

#[tokio::test]
async fn no_comparison_where_reveals_need_a_reason_but_the_change_can_be_saved() {
    let server = TestServer::start(&["--reveal-reason-namespaces", "team-a"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("reasoned");
    let (status, created) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "pw", "value": b64(b"guess-me")}]}),
        )
        .await;
    assert_eq!(status, 201);
    let change = json!({
        "resource_version": created["resource_version"],
        "set": [{"key": "pw", "value": b64(b"guess-me")}]
    });
    let path = format!("/namespaces/team-a/secrets/{name}");
    let (status, body) = alice.post(&format!("{path}/preview"), change.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "reason");
    assert!(!body.to_string().contains("same"), "{body}");
    let (status, body) = alice.patch(&path, change).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_preview_of_bad_input_or_a_missing_secret_says_what_is_wrong() {
    let server = TestServer::start(&["--reveal-rate-limit", "off"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let missing = unique("missing");
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{missing}/preview"),
            json!({"resource_version": "1", "set": [{"key": "a", "value": b64(b"v")}]}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{missing}/preview"),
            json!({"resource_version": "1", "set": [{"key": "bad key", "value": b64(b"v")}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "set.0.key");
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{missing}/preview"),
            json!({"resource_version": "1", "set": [{"key": "a", "value": "%%%"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "set.0.value");
}

#[tokio::test]
async fn the_age_of_values_counts_from_their_last_change_and_overdue_secrets_are_marked() {
    let server = TestServer::start(&["--rotate-every", "team-b=1s"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    // Made with kubectl, with a one-second policy of its own: its values
    // are as old as the secret.
    let stale = unique("stale");
    common::create_secret("team-a", &stale, "k", "v");
    let out = kubectl(&[
        "annotate",
        "secret",
        &stale,
        "-n",
        "team-a",
        "strongroom.dev/rotate-every=1s",
    ]);
    assert!(out.status.success());
    // Made through Strongroom with a policy of a year: its values date
    // from that create.
    let fresh = unique("fresh");
    let (status, _) = alice
        .post(
            "/namespaces/team-a/secrets",
            json!({"name": fresh, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]},
                   "annotations": {"strongroom.dev/rotate-every": "365d"}}),
        )
        .await;
    assert_eq!(status, 201);
    // team-b's policy from the configuration.
    let policed = unique("policed");
    common::create_secret("team-b", &policed, "k", "v");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    // The row of `name` in its namespace's list (found by its name: the
    // test namespaces hold many secrets).
    async fn row(who: &ApiSession, ns: &str, name: &str) -> Value {
        let (status, page) = who
            .get(&format!("/namespaces/{ns}/secrets?name={name}"))
            .await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {page}"))
    }
    let s = row(&alice, "team-a", &stale).await;
    assert_eq!(s["age"]["overdue"], true, "{s}");
    assert_eq!(s["age"]["from_change"], false);
    assert_eq!(s["age"]["rotate_every"], "1s");
    assert_eq!(s["age"]["values_since"], s["created"]);
    let f = row(&alice, "team-a", &fresh).await;
    assert_eq!(f["age"]["overdue"], false, "{f}");
    assert_eq!(f["age"]["from_change"], true);
    assert_eq!(f["age"]["rotate_every"], "365d");
    let (_, h) = alice
        .get(&format!("/namespaces/team-a/secrets/{stale}/key-history"))
        .await;
    assert_eq!(h["age"]["overdue"], true, "{h}");

    let bob = ApiSession::new(&server.url, "bob").await;
    let p = row(&bob, "team-b", &policed).await;
    assert_eq!(p["age"]["overdue"], true, "{p}");
    assert_eq!(p["age"]["rotate_every"], "1s");

    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |ns: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "strongroom_secrets_rotation_overdue{{namespace=\"{ns}\"}} "
                ))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("team-a") >= 1, "{metrics}");
    assert!(count("team-b") >= 1, "{metrics}");
}

#[tokio::test]
async fn key_history_and_ages_work_on_postgresql_too() {
    let db = common::Stack::get().var("POSTGRES_URL");
    let server = TestServer::start(&["--database-url", &db, "--reveal-rate-limit", "off"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("pg-life");
    let (status, created) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "pw", "value": b64(b"one")}]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/namespaces/team-a/secrets/{name}");
    let change = json!({"resource_version": created["resource_version"], "set": [{"key": "pw", "value": b64(b"two")}]});
    let (status, preview) = alice.post(&format!("{path}/preview"), change.clone()).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["keys"][0]["change"], "changed");
    let (status, _) = alice.patch(&path, change).await;
    assert_eq!(status, 200);
    let (status, h) = alice.get(&format!("{path}/key-history")).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(key(&h, "pw")["last_change"]["change"], "changed");
    assert_eq!(h["complete"], true);
    let (_, page) = alice
        .get(&format!("/namespaces/team-a/secrets?name={name}"))
        .await;
    let row = &page["items"][0];
    assert_eq!(row["age"]["from_change"], true, "{row}");
    assert_eq!(row["age"]["values_since"], h["age"]["values_since"]);
}
