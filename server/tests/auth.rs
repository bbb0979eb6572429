//! Sign-in through the real IdP, sessions, identity mapping and the
//! guarantees around them (ARCHITECTURE.md invariants 1, 2 and 5).

mod common;

use common::{Stack, TestServer, client, follow, sign_in, sign_in_answer};
use serde_json::Value;

async fn me(client: &reqwest::Client, server: &str) -> (u16, Value) {
    let r = client
        .get(format!("{server}/api/v1/me"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn unauthenticated_api_calls_get_401_json_and_pages_redirect_to_login() {
    let server = TestServer::start(&[]).await;
    let c = client();
    let r = c
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated");

    let page = c
        .get(format!("{}/ns/team-a?x=1", server.url))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_redirection());
    assert_eq!(
        page.headers()["location"],
        "/auth/login?next=%2Fns%2Fteam-a%3Fx%3D1"
    );
    server.stop();
}

#[tokio::test]
async fn alice_signs_in_and_sees_her_identity_groups_and_team_a() {
    let server = TestServer::start(&[]).await;
    let c = client();
    let landed = sign_in(&c, &server.url, "alice", "/me").await;
    assert_eq!(
        landed,
        format!("{}/me", server.url),
        "back on the page asked for"
    );
    let (status, me) = me(&c, &server.url).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "oidc:alice@example.com");
    assert_eq!(me["groups"], serde_json::json!(["oidc:team-a-editors"]));
    assert_eq!(me["namespaces"], serde_json::json!(["team-a"]));
    assert_eq!(me["auditor"], false);
    server.stop();
}

#[tokio::test]
async fn bob_sees_team_b_eve_sees_nothing_dave_is_an_auditor() {
    let server = TestServer::start(&[]).await;
    for (login, namespaces, auditor) in [
        ("bob", vec!["team-b"], false),
        ("eve", vec![], false),
        ("dave", vec![], true),
        ("carol", vec!["team-a"], false),
    ] {
        let c = client();
        sign_in(&c, &server.url, login, "/").await;
        let (status, me) = me(&c, &server.url).await;
        assert_eq!(status, 200, "{login}");
        assert_eq!(me["namespaces"], serde_json::json!(namespaces), "{login}");
        assert_eq!(me["auditor"], auditor, "{login}");
    }
    server.stop();
}

#[tokio::test]
async fn system_groups_from_the_idp_are_dropped() {
    let server = TestServer::start(&[]).await;
    let c = client();
    sign_in(&c, &server.url, "mallory", "/").await;
    let (_, me) = me(&c, &server.url).await;
    assert_eq!(me["groups"], serde_json::json!(["oidc:team-a-viewers"]));
    // system:masters would see every namespace; mallory only gets carol's view.
    assert_eq!(me["namespaces"], serde_json::json!(["team-a"]));
    server.stop();
}

/// Signs `login` in and expects Strongroom to refuse: a 403 page whose text
/// contains `names`, no session afterwards (the API answers 401).
async fn assert_sign_in_refused(server: &str, login: &str, names: &str) {
    let c = client();
    let answer = sign_in_answer(&c, server, login, "/").await;
    assert_eq!(answer.status(), 403, "{login} must be refused");
    let page = answer.text().await.unwrap();
    assert!(page.contains("Sign-in refused"), "{login}: {page}");
    assert!(
        page.contains(names),
        "{login}: the page names {names}: {page}"
    );
    let (status, _) = me(&c, server).await;
    assert_eq!(
        status, 401,
        "{login} has no session after a refused sign-in"
    );
}

#[tokio::test]
async fn hostile_claims_cannot_sign_in_as_someone_else() {
    let server = TestServer::start(&[]).await;
    // Alice's address, unverified: would be oidc:alice@example.com.
    assert_sign_in_refused(&server.url, "mallet", "email_verified").await;
    // "team-a-editors " would arrive as oidc:team-a-editors.
    assert_sign_in_refused(&server.url, "trailer", "&quot;groups&quot;").await;
    // "alice@example.com\t" would arrive as oidc:alice@example.com.
    assert_sign_in_refused(&server.url, "tabby", "&quot;email&quot;").await;
    // No username: never a request without (or with an empty) Impersonate-User.
    assert_sign_in_refused(&server.url, "nameless", "&quot;email&quot;").await;
    assert_sign_in_refused(&server.url, "blank", "&quot;email&quot;").await;
    // The real owner of the address still signs in as herself.
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    assert_eq!(
        me(&c, &server.url).await.1["username"],
        "oidc:alice@example.com"
    );
    server.stop();
}

#[tokio::test]
async fn with_an_empty_groups_prefix_a_padded_system_masters_is_refused() {
    // The API server's own default groups prefix is empty; operators copy it.
    let server = TestServer::start(&["--groups-prefix="]).await;
    assert_sign_in_refused(&server.url, "spacey", "&quot;groups&quot;").await;
    // mallory's plain system:masters is still dropped, her other group kept.
    let c = client();
    sign_in(&c, &server.url, "mallory", "/").await;
    assert_eq!(
        me(&c, &server.url).await.1["groups"],
        serde_json::json!(["team-a-viewers"])
    );
    server.stop();
}

#[tokio::test]
async fn required_claims_admit_only_the_configured_tenant() {
    let server = TestServer::start(&["--oidc-required-claims", "hd=example.com"]).await;
    assert_sign_in_refused(&server.url, "outsider", "&quot;hd&quot;").await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    assert_eq!(me(&c, &server.url).await.0, 200);
    server.stop();
}

#[tokio::test]
async fn a_session_signed_in_under_other_identity_rules_ends() {
    // Signed in while any tenant was admitted; the operator then requires
    // hd=example.com. The session must not outlive the rules it was made
    // under (nor a fix of the mapping itself).
    let port = common::test_port();
    let first = TestServer::start_on(port, None, &[]).await;
    let data_dir = first.data_dir.clone();
    let c = client();
    sign_in(&c, &first.url, "alice", "/").await;
    assert_eq!(me(&c, &first.url).await.0, 200);
    first.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let same = TestServer::start_on(port, Some(data_dir.clone()), &[]).await;
    assert_eq!(
        me(&c, &same.url).await.0,
        200,
        "same rules: still signed in"
    );
    same.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stricter = TestServer::start_on(
        port,
        Some(data_dir),
        &["--oidc-required-claims", "hd=example.com"],
    )
    .await;
    assert_eq!(
        me(&c, &stricter.url).await.0,
        401,
        "other rules: signed out"
    );
    stricter.stop();
}

#[tokio::test]
async fn forged_impersonation_headers_from_the_browser_have_no_effect() {
    let server = TestServer::start(&[]).await;
    let c = client();
    sign_in(&c, &server.url, "eve", "/").await;
    let r = c
        .get(format!("{}/api/v1/me", server.url))
        .header("Impersonate-Group", "system:masters")
        .header("Impersonate-User", "admin")
        .send()
        .await
        .unwrap();
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["username"], "oidc:eve@example.com");
    assert_eq!(me["groups"], serde_json::json!([]));
    assert_eq!(
        me["namespaces"],
        serde_json::json!([]),
        "eve gained nothing from the forged headers"
    );
    server.stop();
}

#[tokio::test]
async fn a_tampered_session_cookie_is_rejected() {
    let server = TestServer::start(&[]).await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    let forged = reqwest::Client::new();
    for cookie in [
        "strongroom=AAAAAAAAAAAAAAAAAAAAAA",
        "strongroom=not-a-session-id",
        "strongroom=",
    ] {
        let r = forged
            .get(format!("{}/api/v1/me", server.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{cookie}");
    }
    server.stop();
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_logout_destroys_the_session() {
    let server = TestServer::start(&[]).await;
    let c = client();
    // Start a login: the pre-login session gets a cookie.
    let r = c
        .get(format!("{}/auth/login", server.url))
        .send()
        .await
        .unwrap();
    let pre = session_cookie(&r).expect("pre-login session cookie");
    let (_, page) = follow(&c, r).await;
    let form_url = page.url().to_string();
    let r = c
        .post(&form_url)
        .form(&[("prompt", "login"), ("login", "alice"), ("password", "x")])
        .send()
        .await
        .unwrap();
    let (consent_url, _) = follow(&c, r).await;
    let r = c
        .post(&consent_url)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap();
    // Follow to the callback and capture the cookie it sets.
    let mut r = r;
    let mut post = None;
    for _ in 0..10 {
        if let Some(v) = session_cookie(&r) {
            post = Some(v);
        }
        if !r.status().is_redirection() {
            break;
        }
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let next = r.url().join(&loc).unwrap();
        r = c.get(next).send().await.unwrap();
    }
    let post = post.expect("a session cookie at sign-in");
    assert_ne!(pre, post, "session id rotated at login");
    assert_eq!(me(&c, &server.url).await.0, 200);

    // The old pre-login id is worthless.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.url))
        .header("cookie", format!("strongroom={pre}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Logout destroys the server-side session: replaying the cookie fails.
    let r = c
        .post(format!("{}/auth/logout", server.url))
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.url))
        .header("cookie", format!("strongroom={post}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a logged-out session cookie must not work");
    server.stop();
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("strongroom=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        })
        .filter(|v| !v.is_empty())
}

#[tokio::test]
async fn a_callback_with_a_wrong_state_or_a_replayed_code_is_refused() {
    let server = TestServer::start(&[]).await;
    let c = client();
    let r = c
        .get(format!("{}/auth/login", server.url))
        .send()
        .await
        .unwrap();
    let (_, page) = follow(&c, r).await;
    let form_url = page.url().to_string();
    let r = c
        .post(&form_url)
        .form(&[("prompt", "login"), ("login", "alice"), ("password", "x")])
        .send()
        .await
        .unwrap();
    let (consent_url, _) = follow(&c, r).await;
    let mut r = c
        .post(&consent_url)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap();
    // Walk the IdP's redirects until the one that points at our callback.
    let callback = loop {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let next = r.url().join(&loc).unwrap();
        if next.path() == "/auth/callback" {
            break next;
        }
        r = c.get(next).send().await.unwrap();
    };
    let mut wrong_state = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let forged = k == "state";
            (
                k.into_owned(),
                if forged {
                    "forged".to_string()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    wrong_state.query_pairs_mut().clear().extend_pairs(pairs);
    let r = c.get(wrong_state).send().await.unwrap();
    assert_eq!(r.status(), 400, "wrong state refused");
    assert_eq!(me(&c, &server.url).await.0, 401);

    // The pending login was consumed: the genuine callback now fails too
    // (a replay of a callback can never sign anyone in).
    let r = c.get(callback.clone()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(me(&c, &server.url).await.0, 401);

    // In a fresh login, replaying an already used code is refused by the IdP.
    let c2 = client();
    sign_in(&c2, &server.url, "alice", "/").await;
    let replay = c2.get(callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    server.stop();
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let server = TestServer::start(&[]).await;
    for next in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/x",
    ] {
        let c = client();
        let landed = sign_in(&c, &server.url, "alice", next).await;
        assert_eq!(
            landed,
            format!("{}/", server.url),
            "{next} must not leave the site"
        );
    }
    server.stop();
}

#[tokio::test]
async fn cross_origin_logout_is_refused() {
    let server = TestServer::start(&[]).await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    let r = c
        .post(format!("{}/auth/logout", server.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(me(&c, &server.url).await.0, 200, "still signed in");
    server.stop();
}

#[tokio::test]
async fn a_session_survives_a_server_restart_with_the_sqlite_store() {
    let port = common::test_port();
    let first = TestServer::start_on(port, None, &[]).await;
    let data_dir = first.data_dir.clone();
    let c = client();
    sign_in(&c, &first.url, "alice", "/").await;
    assert_eq!(me(&c, &first.url).await.0, 200);
    first.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = TestServer::start_on(port, Some(data_dir), &[]).await;
    let (status, body) = me(&c, &second.url).await;
    assert_eq!(status, 200, "session kept across restart");
    assert_eq!(body["username"], "oidc:alice@example.com");
    second.stop();
}

#[tokio::test]
async fn two_servers_on_one_postgresql_share_a_session() {
    let stack = Stack::get();
    let db = stack.var("POSTGRES_URL");
    let a = TestServer::start(&["--database-url", &db]).await;
    let b = TestServer::start(&["--database-url", &db]).await;
    let c = client();
    sign_in(&c, &a.url, "bob", "/").await;
    // Cookies are per host, not per port: the same cookie reaches server b.
    let (status, body) = me(&c, &b.url).await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "oidc:bob@example.com");
    a.stop();
    b.stop();
}

#[tokio::test]
async fn a_sign_out_reaches_every_replica_within_the_session_cache_time() {
    let db = Stack::get().var("POSTGRES_URL");
    let remembering = ["--database-url", &db, "--session-cache", "2s"];
    let a = TestServer::start(&remembering).await;
    let b = TestServer::start(&remembering).await;
    let strict = TestServer::start(&["--database-url", &db, "--session-cache", "0s"]).await;
    let (alice, session) = common::sign_in_for_cookie(&a.url, "alice").await;
    // The stolen cookie, sent as is (alice's own jar drops it at sign-out).
    let stolen = reqwest::Client::new();
    let with_cookie = |server: &TestServer| {
        stolen
            .get(format!("{}/api/v1/me", server.url))
            .header("cookie", format!("strongroom={session}"))
            .send()
    };
    // Every replica has just read the session (a and b remember it).
    for server in [&a, &b, &strict] {
        assert_eq!(with_cookie(server).await.unwrap().status(), 200);
    }
    let out = alice
        .post(format!("{}/auth/logout", a.url))
        .header("origin", &a.url)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    assert_eq!(
        with_cookie(&a).await.unwrap().status(),
        401,
        "dead at once on the replica that signed it out, though it remembered it"
    );
    assert_eq!(
        with_cookie(&strict).await.unwrap().status(),
        401,
        "dead at once on a replica that remembers nothing"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_eq!(
        with_cookie(&b).await.unwrap().status(),
        401,
        "dead on the other replica once its memory of the session is older than the cache time"
    );
    a.stop();
    b.stop();
    strict.stop();
}

#[tokio::test]
async fn an_absolute_lifetime_ends_a_busy_session() {
    let server = TestServer::start(&[
        "--session-idle-timeout",
        "1s",
        "--session-max-lifetime",
        "2s",
    ])
    .await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    assert_eq!(me(&c, &server.url).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    assert_eq!(
        me(&c, &server.url).await.0,
        401,
        "expired after the absolute lifetime"
    );
    server.stop();
}

#[tokio::test]
async fn with_the_idp_down_login_shows_a_clear_page_and_live_sessions_keep_working() {
    // A second, private IdP instance that this test can stop.
    let port = 25990 + (std::process::id() % 5) as u16;
    let issuer = format!("http://127.0.0.1:{port}");
    let oidc_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/oidc");
    let server_port = common::test_port();
    let server_url = format!("http://127.0.0.1:{server_port}");
    let state_dir = std::env::temp_dir().join(format!("strongroom-oidc-{port}"));
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} for the private IdP is taken (a stale process?)"
    );
    let idp = std::process::Command::new("node")
        .arg("server.mjs")
        .current_dir(&oidc_dir)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_ISSUER", &issuer)
        .env("OIDC_STATE_DIR", &state_dir)
        .env("OIDC_REDIRECT_URIS", format!("{server_url}/auth/callback"))
        .env("OIDC_POST_LOGOUT_REDIRECT_URIS", format!("{server_url}/"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a private IdP");
    // Killed on every path out of this test, panics included.
    let mut idp = KillOnDrop(idp);
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "private IdP did not start");
    let server = TestServer::start_on(server_port, None, &["--oidc-issuer", &issuer]).await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    assert_eq!(me(&c, &server.url).await.0, 200);

    idp.0.kill().unwrap();
    idp.0.wait().unwrap();

    assert_eq!(
        me(&c, &server.url).await.0,
        200,
        "a live session keeps working while the IdP is down"
    );
    // Discovery is cached for a while; a fresh server has no cache at all.
    let cold = TestServer::start(&["--oidc-issuer", &issuer]).await;
    let r = client()
        .get(format!("{}/auth/login", cold.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sign-in service unreachable"), "{html}");
    assert!(
        reqwest::get(format!("{}/healthz", cold.url))
            .await
            .unwrap()
            .status()
            .is_success(),
        "the server stays up"
    );
    server.stop();
    cold.stop();
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_browser_timers_are_configured_on_the_server() {
    let server = TestServer::start(&[
        "--clipboard-clear-after",
        "12s",
        "--reveal-rehide-after",
        "2m",
    ])
    .await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    let (_, me) = me(&c, &server.url).await;
    assert_eq!(me["clipboard_clear_seconds"], 12);
    assert_eq!(me["reveal_rehide_seconds"], 120);
    server.stop();
}

#[tokio::test]
async fn activity_keeps_a_session_past_its_idle_timeout_and_idleness_ends_it() {
    let server = TestServer::start(&[
        "--session-idle-timeout",
        "4s",
        "--session-max-lifetime",
        "1h",
    ])
    .await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    // Busy for twice the idle timeout: still signed in.
    for _ in 0..8 {
        assert_eq!(me(&c, &server.url).await.0, 200);
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    }
    assert_eq!(
        me(&c, &server.url).await.0,
        200,
        "activity renews the idle timer"
    );
    // Idle for longer than the timeout: signed out.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(
        me(&c, &server.url).await.0,
        401,
        "idleness ends the session"
    );
    server.stop();
}

#[tokio::test]
async fn a_change_is_never_followed_by_a_session_save_that_could_fail_it() {
    // The session is saved after the handler answers; if that save failed
    // after a change was made, the change's answer would become an error.
    // So only reads renew the idle timer: a change never saves the session.
    let server = TestServer::start(&[
        "--session-idle-timeout",
        "4s",
        "--session-max-lifetime",
        "1h",
    ])
    .await;
    let (c, _) = common::sign_in_for_cookie(&server.url, "alice").await;
    let name = common::unique("nosave");
    // Renewal is due (a quarter of the idle timeout has passed).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let created = c
        .post(format!("{}/api/v1/namespaces/team-a/secrets", server.url))
        .header(common::CSRF.0, common::CSRF.1)
        .header("origin", &server.url)
        .json(&serde_json::json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": common::b64(b"v")}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers().get("set-cookie").is_none(),
        "a change does not save the session"
    );
    // A read renews it instead.
    let read = c
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert!(
        read.headers().get("set-cookie").is_some(),
        "a read renews the idle timer"
    );
    let _ = common::kubectl(&["delete", "secret", &name, "-n", "team-a"]);
    server.stop();
}

/// Changes an account at the test IdP, as an administrator would.
async fn idp_account(login: &str, change: Value) {
    let issuer = Stack::get().oidc_issuer();
    let r = reqwest::Client::new()
        .put(format!("{issuer}/test/accounts/{login}"))
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "the test IdP changes {login}");
}

#[tokio::test]
async fn a_group_removed_or_a_user_disabled_at_the_idp_takes_effect_within_the_interval() {
    let server = TestServer::start(&["--identity-revalidate-every", "1s"]).await;
    let c = client();
    sign_in(&c, &server.url, "frank", "/").await;
    let list = || {
        let c = c.clone();
        let url = format!("{}/api/v1/namespaces/team-a/secrets", server.url);
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(list().await, 200, "frank edits team-a");
    // Off-boarding: frank leaves team-a-editors at the IdP.
    idp_account("frank", serde_json::json!({"groups": []})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(list().await, 403, "the group is gone after the interval");
    let (status, who) = me(&c, &server.url).await;
    assert_eq!(status, 200);
    assert_eq!(who["groups"], serde_json::json!([]));
    // Disabled at the IdP: signed out.
    idp_account("frank", serde_json::json!({"disabled": true})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(
        me(&c, &server.url).await.0,
        401,
        "the IdP no longer accepts frank"
    );
    idp_account(
        "frank",
        serde_json::json!({"groups": ["team-a-editors"], "disabled": false}),
    )
    .await;
    server.stop();
}

#[tokio::test]
async fn a_sign_out_the_store_cannot_carry_out_says_so_and_the_session_is_unchanged() {
    let server = TestServer::start(&[]).await;
    let c = client();
    sign_in(&c, &server.url, "alice", "/").await;
    // Another process holds SQLite's write lock: the session cannot be deleted
    // (reads still work in WAL mode).
    let db = server.data_dir.join("strongroom.db");
    use sqlx::ConnectOptions;
    let mut lock = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();
    let out = c
        .post(format!("{}/auth/logout", server.url))
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 503, "not a redirect that looks like success");
    let page = out.text().await.unwrap();
    assert!(page.contains("Sign-out failed"), "{page}");
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);
    assert_eq!(
        me(&c, &server.url).await.0,
        200,
        "still signed in, as the page says"
    );
    let out = c
        .post(format!("{}/auth/logout", server.url))
        .header("origin", &server.url)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection());
    assert_eq!(me(&c, &server.url).await.0, 401);
    server.stop();
}
