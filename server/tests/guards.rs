//! Guarded namespaces (issue 18) against the real IdP, API server and
//! databases: step-up sign-in with `max_age`/`auth_time`, two-person
//! approval, and signed webhooks.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{ApiSession, Stack, TestServer, b64, follow, kubectl, unique, urlencode};
use serde_json::{Value, json};

const APPROVERS: &str = "oidc:secret-approvers";

/// A two-key secret in `ns`, made by the admin.
fn seed(ns: &str) -> String {
    let name = unique("guarded");
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        &name,
        "-n",
        ns,
        "--from-literal=password=hunter2-guarded",
        "--from-literal=user=app",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    name
}

/// The history of `ns/name` as `s` sees it: (action, outcome, reason).
async fn history(s: &ApiSession, ns: &str, name: &str) -> Vec<(String, String, String)> {
    let (status, body) = s
        .get(&format!(
            "/namespaces/{ns}/secrets/{name}/history?limit=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_string(),
                r["outcome"].as_str().unwrap_or_default().to_string(),
                r["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Sets whether the IdP ignores `max_age` (its test switch).
async fn idp_ignores_max_age(ignore: bool) {
    let issuer = Stack::get().oidc_issuer();
    let r = reqwest::Client::new()
        .put(format!("{issuer}/test/ignore-max-age"))
        .json(&json!({ "ignore": ignore }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "the IdP's test switch (OIDC_TEST_ADMIN=1)");
}

/// A step-up sign-in as `login` from `s`'s browser: `/auth/login?step_up=1`,
/// the IdP's login form if it shows one, and the answer Strongroom ends on.
/// Also answers whether the IdP asked for the password again.
async fn step_up(s: &ApiSession, login: &str, next: &str) -> (reqwest::Response, bool) {
    let start =
        s.c.get(format!(
            "{}/auth/login?step_up=1&next={}",
            s.url,
            urlencode(next)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("max_age="),
        "the IdP is asked for max_age: {location}"
    );
    let (url, page) = follow(&s.c, start).await;
    if url.starts_with(&s.url) {
        return (page, false);
    }
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"login\""),
        "the IdP's login form: {html}"
    );
    let after =
        s.c.post(&url)
            .form(&[("prompt", "login"), ("login", login), ("password", "demo")])
            .send()
            .await
            .unwrap();
    let (url, page) = follow(&s.c, after).await;
    if url.starts_with(&s.url) {
        return (page, true);
    }
    let consent =
        s.c.post(&url)
            .form(&[("prompt", "consent")])
            .send()
            .await
            .unwrap();
    (follow(&s.c, consent).await.1, true)
}

#[tokio::test]
async fn step_up_asks_the_idp_again_and_refuses_a_stale_auth_time() {
    idp_ignores_max_age(false).await;
    let server = TestServer::start(&[
        "--namespace-guards",
        "team-a=step-up",
        "--step-up-max-age",
        "3s",
    ])
    .await;
    let name = seed("team-a");
    let alice = ApiSession::new(&server.url, "alice").await;
    let (_, me) = alice.get("/me").await;
    assert_eq!(me["guards"]["team-a"]["step_up_max_age_seconds"], 3);
    assert!(me["guards"].get("team-b").is_none());

    // Older than the guard allows: refused before Kubernetes is asked.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_required")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("sign in again"));
    assert!(!body.to_string().contains("hunter2"));
    // A seal or an export of the secret is a disclosure too.
    let identity = age::x25519::Identity::generate();
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{name}/sops"),
            json!({ "recipients": [identity.to_public().to_string()] }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_required")),
        "{body}"
    );

    // The step-up: the IdP asks for the password again, and alice lands
    // back on the page she came from, where the reveal now works.
    let page = format!("/ns/team-a/secrets/{name}");
    let (landed, asked) = step_up(&alice, "alice", &page).await;
    assert!(
        asked,
        "the IdP must ask again when its sign-in is older than max_age"
    );
    assert_eq!(landed.status(), 200);
    assert!(landed.url().as_str().ends_with(&page), "{}", landed.url());
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["values"][0]["text"], "hunter2-guarded");

    // An IdP that ignores max_age answers with the old auth_time: refused,
    // and the session stays as it was (signed in, not stepped up).
    tokio::time::sleep(Duration::from_secs(4)).await;
    idp_ignores_max_age(true).await;
    let (landed, asked) = step_up(&alice, "alice", &page).await;
    idp_ignores_max_age(false).await;
    assert!(!asked, "an IdP that ignores max_age does not ask");
    assert_eq!(landed.status(), 403);
    let html = landed.text().await.unwrap();
    assert!(html.contains("Fresh sign-in not confirmed"), "{html}");
    assert!(html.contains("max_age"), "{html}");
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_required")),
        "{body}"
    );
    let (status, _) = alice.get("/me").await;
    assert_eq!(status, 200, "still signed in");
    // Unguarded namespaces never ask.
    let bob = ApiSession::new(&server.url, "bob").await;
    let other = seed("team-b");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(bob.reveal("team-b", &other, &["user"]).await.0, 200);
    server.stop();
}

async fn request(
    s: &ApiSession,
    ns: &str,
    name: &str,
    keys: &[&str],
    seconds: u64,
) -> (u16, Value) {
    s.post(
        &format!("/namespaces/{ns}/secrets/{name}/access-requests"),
        json!({ "keys": keys, "reason": "incident 4711: the payment job fails", "duration_seconds": seconds }),
    )
    .await
}

async fn decide(s: &ApiSession, id: &str, how: &str, comment: &str) -> (u16, Value) {
    s.post(
        &format!("/access-requests/{id}/{how}"),
        json!({ "comment": comment }),
    )
    .await
}

#[tokio::test]
async fn a_second_person_approves_and_the_window_closes() {
    let stack = Stack::get();
    let db = stack.var("POSTGRES_URL");
    // The database outlives runs: a run that fails half-way leaves
    // requests that lapse within minutes, not a day.
    let flags = [
        "--database-url",
        db.as_str(),
        "--namespace-guards",
        "team-a=approval",
        "--approver-groups",
        APPROVERS,
        "--access-request-ttl",
        "2m",
    ];
    // Two replicas on one database: the request, the decision and the
    // reveal go to different ones.
    let a = TestServer::start(&flags).await;
    let b = TestServer::start(&flags).await;
    let name = seed("team-a");
    let alice = ApiSession::new(&a.url, "alice").await;
    let grace = ApiSession::new(&b.url, "grace").await;
    let bob = ApiSession::new(&a.url, "bob").await;
    let henry = ApiSession::new(&b.url, "henry").await;
    let (_, me) = alice.get("/me").await;
    assert_eq!(me["guards"]["team-a"]["approval"], true);
    assert_eq!(me["approver"], false);
    assert_eq!(grace.get("/me").await.1["approver"], true);

    // No approval yet: refused, and the refusal is recorded.
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval_required")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains(APPROVERS));

    // Bad requests, each with its own answer, nothing stored.
    let (status, body) = request(&alice, "team-a", &name, &["nope"], 60).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{name}/access-requests"),
            json!({ "keys": ["password"], "reason": " " }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{name}/access-requests"),
            json!({ "keys": ["password"], "reason": "x".repeat(501) }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, body) = request(&alice, "team-a", &name, &["password"], 24 * 3600).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("duration_seconds")),
        "{body}"
    );
    let unguarded = seed("team-b");
    let (status, body) = request(&bob, "team-b", &unguarded, &["user"], 60).await;
    assert_eq!(status, 409, "a namespace without the policy: {body}");
    // One may only ask for what one may read.
    let (status, body) = request(&bob, "team-a", &name, &["password"], 60).await;
    assert_eq!(status, 403, "{body}");

    let (status, req) = request(&alice, "team-a", &name, &["password"], 4).await;
    assert_eq!(status, 200, "{req}");
    assert_eq!(req["status"], "pending");
    assert_eq!(req["keys"], json!(["password"]));
    let id = req["id"].as_str().unwrap().to_string();
    let (status, body) = request(&alice, "team-a", &name, &["user"], 60).await;
    assert_eq!(status, 409, "one waiting request per secret: {body}");

    // Who may not decide: the requester, a non-approver, an approver who
    // may not read the secret. Each refusal is recorded.
    let (status, body) = decide(&alice, &id, "approve", "me").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("your own request")
    );
    let (status, body) = decide(&bob, &id, "approve", "").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = decide(&henry, &id, "approve", "").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("get the secret"),
        "{body}"
    );
    assert!(
        henry.get("/access-requests").await.1["to_decide"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != id)
    );

    // grace sees it on the other replica and approves.
    let (_, list) = grace.get("/access-requests").await;
    let pending = list["to_decide"].as_array().unwrap();
    let mine = pending
        .iter()
        .find(|r| r["id"] == id)
        .expect("grace sees the request");
    assert_eq!(mine["can_decide"], true);
    assert_eq!(mine["reason"], "incident 4711: the payment job fails");
    let (status, approved) = decide(&grace, &id, "approve", "ok for the incident").await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], "oidc:grace@example.com");
    assert!(approved["valid_until"].is_string());
    let (status, body) = decide(&grace, &id, "approve", "again").await;
    assert_eq!(status, 409, "approving twice: {body}");
    let (status, body) = decide(&grace, &id, "deny", "changed my mind").await;
    assert_eq!(status, 409, "{body}");

    // Within the window, on the other replica: the approved key only.
    let alice_b = ApiSession::new(&b.url, "alice").await;
    let (status, body) = alice_b.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["values"][0]["text"], "hunter2-guarded");
    let (status, body) = alice_b.reveal("team-a", &name, &["user"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval_required")),
        "{body}"
    );
    let (status, _) = alice_b.reveal("team-a", &name, &[]).await;
    assert_eq!(status, 403, "reveal all asks for keys the approval lacks");
    // (Other tests on this database ask as alice too: find this one.)
    let status_of = |list: Value, id: &str| -> Value {
        list["mine"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].clone())
            .unwrap_or(Value::Null)
    };
    let (_, mine) = alice.get("/access-requests").await;
    assert_eq!(status_of(mine, &id), "approved");

    // After the window: refused again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval_required")),
        "{body}"
    );
    let (_, mine) = alice.get("/access-requests").await;
    assert_eq!(status_of(mine, &id), "expired");
    let (status, body) = decide(&grace, &id, "revoke", "").await;
    assert_eq!(status, 409, "an ended approval cannot be revoked: {body}");

    // A denial, and a withdrawal.
    let (_, second) = request(&alice, "team-a", &name, &["password"], 60).await;
    let second = second["id"].as_str().unwrap().to_string();
    let (status, denied) = decide(&grace, &second, "deny", "use the runbook").await;
    assert_eq!((status, denied["status"].as_str()), (200, Some("denied")));
    assert_eq!(alice.reveal("team-a", &name, &["password"]).await.0, 403);
    let (_, third) = request(&alice, "team-a", &name, &[], 60).await;
    assert_eq!(
        third["keys"],
        json!(["password", "user"]),
        "no keys: all of them"
    );
    let third = third["id"].as_str().unwrap().to_string();
    let (status, body) = decide(&grace, &third, "approve", "").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = alice.reveal("team-a", &name, &[]).await;
    assert_eq!(status, 200, "all keys approved");
    // The requester ends it early.
    let (status, body) = decide(&alice, &third, "revoke", "done").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("revoked")),
        "{body}"
    );
    assert_eq!(alice.reveal("team-a", &name, &["user"]).await.0, 403);

    // Every step is in the secret's history, with its own action.
    let trail = history(&alice, "team-a", &name).await;
    let has =
        |action: &str, outcome: &str| trail.iter().any(|(a, o, _)| a == action && o == outcome);
    for (action, outcome) in [
        ("request", "allowed"),
        ("approve", "allowed"),
        ("approve", "denied"),
        ("deny", "allowed"),
        ("revoke", "allowed"),
        ("reveal", "allowed"),
        ("reveal", "denied"),
    ] {
        assert!(has(action, outcome), "{action}/{outcome} in {trail:#?}");
    }
    assert!(
        trail
            .iter()
            .any(|(a, _, r)| a == "reveal" && r.contains(&format!("request {id}"))),
        "the reveal names the approval: {trail:#?}"
    );
    assert!(trail.iter().all(|(_, _, r)| !r.contains("hunter2")));
    a.stop();
    b.stop();
}

#[tokio::test]
async fn a_lapsed_request_or_an_approver_who_lost_get_cannot_approve() {
    let server = TestServer::start(&[
        "--namespace-guards",
        "team-a=approval",
        "--approver-groups",
        APPROVERS,
        "--access-request-ttl",
        "2s",
    ])
    .await;
    let name = seed("team-a");
    let alice = ApiSession::new(&server.url, "alice").await;
    let grace = ApiSession::new(&server.url, "grace").await;
    let henry = ApiSession::new(&server.url, "henry").await;

    // Nobody decided in time.
    let (_, req) = request(&alice, "team-a", &name, &["password"], 60).await;
    let id = req["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = decide(&grace, &id, "approve", "").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    assert_eq!(alice.reveal("team-a", &name, &["password"]).await.0, 403);

    // henry may read this one secret while alice asks, and loses it before
    // he decides: the access review at decision time refuses him.
    let binding = unique("henry-reads");
    for args in [
        vec![
            "create",
            "role",
            &binding,
            "-n",
            "team-a",
            "--verb=get",
            "--resource=secrets",
        ],
        vec![
            "create",
            "rolebinding",
            &binding,
            "-n",
            "team-a",
            "--role",
            &binding,
            "--user=oidc:henry@example.com",
        ],
    ] {
        let mut args = args;
        if args[1] == "role" {
            args.push("--resource-name");
            args.push(&name);
        }
        let out = kubectl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_, req) = request(&alice, "team-a", &name, &["password"], 60).await;
    let id = req["id"].as_str().unwrap().to_string();
    let (_, list) = henry.get("/access-requests").await;
    assert!(
        list["to_decide"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id),
        "while he may read it, henry may decide: {list}"
    );
    let out = kubectl(&["delete", "rolebinding", &binding, "-n", "team-a"]);
    assert!(out.status.success());
    let (status, body) = decide(&henry, &id, "approve", "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(alice.reveal("team-a", &name, &["password"]).await.0, 403);
    // The request is still pending for someone who may decide.
    let (status, body) = decide(&grace, &id, "approve", "").await;
    assert_eq!(status, 200, "{body}");
    let _ = kubectl(&["delete", "role", &binding, "-n", "team-a"]);

    // A second approval for the other key: each key is covered by the
    // approval that names it, whichever ends last.
    let (_, req) = request(&alice, "team-a", &name, &["user"], 30).await;
    let second = req["id"].as_str().unwrap().to_string();
    assert_eq!(decide(&grace, &second, "approve", "").await.0, 200);
    assert_eq!(alice.reveal("team-a", &name, &["password"]).await.0, 200);
    assert_eq!(alice.reveal("team-a", &name, &["user"]).await.0, 200);
    let (status, _) = alice.reveal("team-a", &name, &[]).await;
    assert_eq!(status, 403, "no single approval covers both keys");

    // The secret deleted and made again under its name: the approvals were
    // for the old one.
    assert!(
        kubectl(&["delete", "secret", &name, "-n", "team-a"])
            .status
            .success()
    );
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        &name,
        "-n",
        "team-a",
        "--from-literal=password=a-new-value",
        "--from-literal=user=app",
    ]);
    assert!(out.status.success());
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval_required")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("made again"),
        "{body}"
    );
    assert!(!body.to_string().contains("a-new-value"));
    server.stop();
}

/// A webhook receiver on a free port: it checks each delivery's signature
/// (and answers 401 to a bad one) and keeps the bodies it accepted.
async fn receiver(secret: &'static str) -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::{body::Bytes, http::HeaderMap, routing::post};
    use hmac::{Hmac, Mac};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(header("x-strongroom-timestamp").as_bytes());
                mac.update(b".");
                mac.update(&body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                if expected != header("x-strongroom-signature") {
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                let mut event: Value = serde_json::from_slice(&body).unwrap();
                event["_raw"] = Value::String(String::from_utf8_lossy(&body).into_owned());
                event["_delivery"] = Value::String(header("x-strongroom-delivery"));
                store.lock().unwrap().push(event);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn metric(text: &str, line: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn webhooks_hear_each_step_signed_and_a_required_one_fails_closed() {
    const SECRET: &str = "strongroom-test-webhook-key";
    let (url, seen) = receiver(SECRET).await;
    let server = TestServer::start(&[
        "--namespace-guards",
        "team-a=approval+notify,team-b=reason",
        "--approver-groups",
        APPROVERS,
        "--webhook-urls",
        &url,
        "--webhook-secret",
        SECRET,
    ])
    .await;
    let name = seed("team-a");
    let alice = ApiSession::new(&server.url, "alice").await;
    let grace = ApiSession::new(&server.url, "grace").await;
    let (_, req) = request(&alice, "team-a", &name, &["password"], 60).await;
    let id = req["id"].as_str().unwrap().to_string();
    assert_eq!(decide(&grace, &id, "approve", "go").await.0, 200);
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    // The reveal's announcement was delivered before the answer; the
    // request's and the approval's are queued, so wait for them.
    let kinds = |seen: &Arc<Mutex<Vec<Value>>>| -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        kinds(&seen).contains(&"reveal".to_string()),
        "{:?}",
        kinds(&seen)
    );
    for _ in 0..50 {
        if kinds(&seen).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = seen.lock().unwrap().clone();
    for kind in ["access_requested", "access_approved", "reveal"] {
        let e = events
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {events:#?}"));
        assert_eq!(e["namespace"], "team-a");
        assert_eq!(e["secret"], name.as_str());
        assert!(
            e["text"].as_str().unwrap().contains(&name),
            "a Slack-compatible text: {e}"
        );
        assert!(
            !e["_raw"].as_str().unwrap().contains("hunter2"),
            "never a value"
        );
        assert!(
            !e["_raw"]
                .as_str()
                .unwrap()
                .contains(&b64(b"hunter2-guarded"))
        );
        assert_eq!(e["_delivery"], e["id"]);
    }
    let reveal = events.iter().find(|e| e["type"] == "reveal").unwrap();
    assert_eq!(reveal["actor"], "oidc:alice@example.com");
    assert_eq!(reveal["keys"], json!(["password"]));
    assert_eq!(reveal["request"]["id"], id.as_str());
    server.stop();

    // The receiver is down. Where notification is required, the reveal is
    // refused (and recorded); elsewhere it goes on and the failure counts.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let server = TestServer::start(&[
        "--namespace-guards",
        "team-a=notify,team-b=reason",
        "--webhook-urls",
        &closed,
        "--webhook-secret",
        SECRET,
        "--webhook-attempts",
        "2",
        "--webhook-timeout",
        "1s",
    ])
    .await;
    let metrics = || async {
        reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let failed_before = metric(
        &metrics().await,
        "strongroom_webhook_deliveries_total{outcome=\"failed\"}",
    );
    let alice = ApiSession::new(&server.url, "alice").await;
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("announcement"),
        "{body}"
    );
    assert!(!body.to_string().contains("hunter2"));
    let trail = history(&alice, "team-a", &name).await;
    assert!(
        trail
            .iter()
            .any(|(a, o, r)| a == "reveal" && o == "failed" && r.contains("announcement")),
        "{trail:#?}"
    );
    let bob = ApiSession::new(&server.url, "bob").await;
    let other = seed("team-b");
    let (status, body) = bob
        .post(
            &format!("/namespaces/team-b/secrets/{other}/reveal"),
            json!({ "keys": ["user"], "reason": "checking the user name" }),
        )
        .await;
    assert_eq!(status, 200, "not required here: {body}");
    let mut failed = 0;
    for _ in 0..100 {
        failed = metric(
            &metrics().await,
            "strongroom_webhook_deliveries_total{outcome=\"failed\"}",
        );
        if failed >= failed_before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        failed >= failed_before + 2,
        "both failures count on /metrics"
    );
    server.stop();
}

/// Replica `b` of a PostgreSQL pair runs as its own process with a clock
/// ten minutes ahead (libfaketime): approvals and their windows follow the
/// database's clock, so both replicas agree.
#[tokio::test]
async fn replicas_whose_clocks_disagree_agree_on_approvals() {
    let stack = Stack::get();
    let db = stack.var("POSTGRES_URL");
    let guards = [
        "--namespace-guards",
        "team-a=approval",
        "--approver-groups",
        APPROVERS,
        "--access-request-ttl",
        "5m",
    ];
    let mut flags = vec!["--database-url", db.as_str()];
    flags.extend(guards);
    let a = TestServer::start(&flags).await;
    let port = common::test_port();
    let dir = std::env::temp_dir().join(format!("strongroom-skewed-{}", std::process::id()));
    let plain = common::server_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_strongroom-server")),
        port,
        &dir,
    );
    // libfaketime preloaded into the server itself (not the `faketime`
    // wrapper, which would outlive a kill as its parent).
    let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
    assert!(
        std::path::Path::new(lib).exists(),
        "{lib}: Debian's faketime package (scripts/lib.sh installs it)"
    );
    let mut skewed = plain;
    skewed
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", "+10m")
        .env("STRONGROOM_DATABASE_URL", &db)
        .env(
            "STRONGROOM_AUDIT_HMAC_KEY",
            "strongroom-test-fingerprint-key",
        )
        .env("STRONGROOM_AUDIT_CHAIN_KEY", "strongroom-test-chain-key")
        .env("STRONGROOM_NAMESPACE_GUARDS", "team-a=approval")
        .env("STRONGROOM_APPROVER_GROUPS", APPROVERS)
        .env("STRONGROOM_ACCESS_REQUEST_TTL", "5m")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    /// Stops the replica however the test ends.
    struct Replica(std::process::Child);
    impl Drop for Replica {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _replica = Replica(skewed.spawn().expect("start the skewed replica"));
    let b_url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(format!("{b_url}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the skewed replica starts");
    let date = |url: String| async move {
        let r = reqwest::get(format!("{url}/healthz")).await.unwrap();
        let d = r.headers()["date"].to_str().unwrap().to_string();
        chrono::DateTime::parse_from_rfc2822(&d)
            .unwrap()
            .timestamp()
    };
    let ahead = date(b_url.clone()).await - date(a.url.clone()).await;
    assert!(
        (590..=610).contains(&ahead),
        "b's clock is ten minutes ahead: {ahead} s"
    );

    let name = seed("team-a");
    let alice = ApiSession::new(&a.url, "alice").await;
    let grace = ApiSession::new(&a.url, "grace").await;
    // The same browser sessions on replica b (cookies are per host).
    let alice_b = ApiSession {
        c: alice.c.clone(),
        url: b_url.clone(),
    };
    let grace_b = ApiSession {
        c: grace.c.clone(),
        url: b_url.clone(),
    };
    let (status, req) = request(&alice, "team-a", &name, &["password"], 60).await;
    assert_eq!(status, 200, "{req}");
    let id = req["id"].as_str().unwrap().to_string();
    // To b's clock the request is ten minutes old, past its five: the
    // database says it is new, and it is.
    let (_, list) = grace_b.get("/access-requests").await;
    assert!(
        list["to_decide"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id),
        "{list}"
    );
    let (status, body) = decide(&grace_b, &id, "approve", "from the skewed replica").await;
    assert_eq!(status, 200, "{body}");
    // A one-minute window, opened by b's decision: a itself reveals, and b
    // (to whom the window would have closed nine minutes ago) too.
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice_b.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    a.stop();
}
