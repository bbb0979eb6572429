//! Hostile input against the real stack: defensive headers on every page,
//! CSRF refusals, oversize bodies, and the per-user reveal rate limit.

mod common;

use std::io::{Read, Write};

use common::{CSRF, Stack, TestServer, client, create_secret, kubectl, sign_in, unique};
use serde_json::{Value, json};
use strongroom_server::domain::audit::store::AuditQuery;

#[tokio::test]
async fn every_page_carries_the_security_headers_and_data_is_never_cached() {
    let server = TestServer::start(&[]).await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    for path in [
        "/",
        "/me",
        "/audit",
        "/ns/team-a",
        "/ns/team-a/new",
        "/ns/team-a/secrets/anything",
        "/no/such/page",
    ] {
        let r = alice
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    for path in ["/api/v1/me", "/api/v1/namespaces/team-a/secrets"] {
        let r = alice
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    server.stop();
}

#[tokio::test]
async fn cross_origin_posts_and_posts_without_the_custom_header_are_refused() {
    let server = TestServer::start(&[]).await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let name = unique("csrf");
    let body = json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": "dg=="}]}});
    let url = format!("{}/api/v1/namespaces/team-a/secrets", server.url);
    let cross = alice
        .post(&url)
        .header(CSRF.0, CSRF.1)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let cross_site = alice
        .post(&url)
        .header(CSRF.0, CSRF.1)
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let headerless = alice.post(&url).json(&body).send().await.unwrap();
    assert_eq!(headerless.status(), 403);
    let out = kubectl(&["get", "secret", &name, "-n", "team-a"]);
    assert!(
        !out.status.success(),
        "no refused request may create {name}"
    );
    server.stop();
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_413_before_they_are_read() {
    let server = TestServer::start(&["--max-request-bytes", "65536"]).await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let name = unique("big");
    let big = "A".repeat(100_000);
    let r = alice
        .post(format!("{}/api/v1/namespaces/team-a/secrets", server.url))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": big}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        !kubectl(&["get", "secret", &name, "-n", "team-a"])
            .status
            .success()
    );

    // A client announcing 1 GB and sending nothing gets its answer at once:
    // the server does not wait for (or buffer) the body.
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            s,
            "POST /api/v1/namespaces/team-a/secrets HTTP/1.1\r\nHost: {addr}\r\n\
             {}: {}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n",
            CSRF.0, CSRF.1
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).map(|_| head)
    })
    .await
    .unwrap()
    .expect("an answer before the body");
    assert_eq!(&head_status(&answer), "413");
    server.stop();
}

fn head_status(head: &[u8; 12]) -> String {
    String::from_utf8_lossy(&head[9..12]).into_owned()
}

#[tokio::test]
async fn reveals_are_rate_limited_per_user_and_the_refusal_is_audited() {
    let server = TestServer::start(&["--reveal-rate-limit", "3/1h"]).await;
    let name = unique("limited");
    create_secret("team-a", &name, "token", "limited-value");
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let reveal = |who: &reqwest::Client, ns: &str, secret: &str| {
        who.post(format!(
            "{}/api/v1/namespaces/{ns}/secrets/{secret}/reveal",
            server.url
        ))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"keys": ["token"]}))
        .send()
    };
    for _ in 0..3 {
        assert_eq!(reveal(&alice, "team-a", &name).await.unwrap().status(), 200);
    }
    let limited = reveal(&alice, "team-a", &name).await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    let body: Value = limited.json().await.unwrap();
    assert!(!body.to_string().contains("limited-value"));
    assert!(body["message"].as_str().unwrap().contains("try again"));

    // Another user has a budget of their own.
    let other = unique("bobs");
    create_secret("team-b", &other, "token", "b");
    let bob = client();
    sign_in(&bob, &server.url, "bob", "/").await;
    assert_eq!(reveal(&bob, "team-b", &other).await.unwrap().status(), 200);

    // The trail holds three allowed reveals and one denied by the limit.
    let records = server
        .state
        .audit
        .query(&AuditQuery {
            secret: Some(name.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_value(r.event.outcome).unwrap().to_string())
        .collect();
    assert_eq!(records.len(), 4, "{outcomes:?}");
    let denied: Vec<_> = records
        .iter()
        .filter(|r| serde_json::to_value(r.event.outcome).unwrap() == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "{outcomes:?}");
    assert!(
        denied[0]
            .event
            .reason
            .as_deref()
            .unwrap()
            .contains("rate limited")
    );
    assert_eq!(denied[0].event.status, Some(429));
    server.stop();
}

/// The reveal's audit record for `secret`, as the server stored it.
async fn source_ip_of_reveal(server: &TestServer, secret: &str) -> Option<String> {
    let records = server
        .state
        .audit
        .query(&AuditQuery {
            secret: Some(secret.to_string()),
            action: Some("reveal".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    records[0].event.source_ip.clone()
}

#[tokio::test]
async fn forwarded_headers_are_ignored_unless_they_come_from_a_trusted_proxy() {
    let name = unique("xff");
    create_secret("team-a", &name, "token", "xff-value");
    for (trusted, expected) in [(false, "127.0.0.1"), (true, "203.0.113.7")] {
        let extra: &[&str] = if trusted {
            &["--trusted-proxies", "127.0.0.1"]
        } else {
            &[]
        };
        let server = TestServer::start(extra).await;
        let alice = client();
        sign_in(&alice, &server.url, "alice", "/").await;
        let r = alice
            .post(format!(
                "{}/api/v1/namespaces/team-a/secrets/{name}/reveal",
                server.url
            ))
            .header(CSRF.0, CSRF.1)
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .json(&json!({"keys": ["token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            source_ip_of_reveal(&server, &name).await.as_deref(),
            Some(expected),
            "trusted proxy: {trusted}"
        );
        // Sign-in links are built from the configured public URL, never
        // from forwarded host or scheme.
        let login = client()
            .get(format!("{}/auth/login?next=/", server.url))
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        let location = login.headers()["location"].to_str().unwrap().to_string();
        assert!(!location.contains("evil.example"), "{location}");
        assert!(
            location.contains(&format!(
                "127.0.0.1%3A{}%2Fauth%2Fcallback",
                server.addr.port()
            )),
            "{location}"
        );
        server.stop();
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_by_timeouts() {
    let server = TestServer::start(&["--request-timeout", "2s"]).await;
    let addr = server.addr;
    // Headers that never finish: the connection is closed after the header
    // timeout.
    let closed_after = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        // The server closing the connection reads as 0 bytes; a server that
        // waits forever makes this read fail after 30 s.
        let mut buf = [0u8; 256];
        s.read(&mut buf)
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .await
    .unwrap();
    let closed = closed_after.expect("the server closes a connection whose headers never finish");
    assert!(!closed.contains("200 OK"), "{closed}");

    // A signed-in client whose body stalls halfway: 408 after the request
    // timeout.
    let (_alice, session) = common::sign_in_for_cookie(&server.url, "alice").await;
    let cookie = format!("strongroom={session}");
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        write!(
            s,
            "POST /api/v1/namespaces/team-a/secrets HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n{}: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
            CSRF.0, CSRF.1
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head)
            .expect("an answer before the client's 30 s read timeout");
        head
    })
    .await
    .unwrap();
    assert_eq!(&head_status(&answer), "408");
    server.stop();
}

#[tokio::test]
async fn a_user_without_rights_cannot_fill_the_audit_store() {
    // Eve may do nothing. Before this bound, each refused reveal wrote a
    // full record, key list included (up to the 3 MB body limit): enough
    // of them fill the store, and then everyone's reveals get 503.
    let server = TestServer::start(&["--reveal-rate-limit", "off"]).await;
    let eve = client();
    sign_in(&eve, &server.url, "eve", "/").await;
    let name = unique("target");
    create_secret("team-a", &name, "k", "v");
    let url = format!(
        "{}/api/v1/namespaces/team-a/secrets/{name}/reveal",
        server.url
    );
    // 10,000-key bodies: refused before anything is asked or recorded.
    let huge: Vec<String> = (0..10_000).map(|i| format!("key-{i:05}")).collect();
    for _ in 0..50 {
        if let Ok(r) = eve
            .post(&url)
            .header(CSRF.0, CSRF.1)
            .json(&json!({ "keys": huge }))
            .send()
            .await
        {
            assert!(matches!(r.status().as_u16(), 413 | 422), "{}", r.status());
        }
    }
    // The most a reveal may name, each key as long as keys get: Kubernetes
    // refuses eve a thousand times.
    let most: Vec<String> = (0..64)
        .map(|i| format!("{}-{i:02}", "k".repeat(240)))
        .collect();
    let mut forbidden = 0;
    for _ in 0..1000 {
        let r = eve
            .post(&url)
            .header(CSRF.0, CSRF.1)
            .json(&json!({ "keys": most }))
            .send()
            .await
            .unwrap();
        forbidden += usize::from(r.status() == 403);
    }
    assert_eq!(forbidden, 1000, "every one refused");
    let records = server
        .state
        .audit
        .query(&AuditQuery {
            user: Some("oidc:eve@example.com".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    // The stated bound: at most 20 records a minute for one user (the test
    // may straddle a minute), each listing at most 64 keys.
    assert!(records.len() <= 40, "{} records", records.len());
    assert!(
        records.len() >= 20,
        "refusals are still recorded: {}",
        records.len()
    );
    let bytes: usize = records
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap().len())
        .sum();
    assert!(
        bytes < 40 * 20 * 1024,
        "{bytes} bytes of records for 1,050 refusals"
    );
    server.stop();
}

#[tokio::test]
async fn reveal_and_remove_keys_must_be_key_names() {
    let server = TestServer::start(&[]).await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let name = unique("keys");
    create_secret("team-a", &name, "k", "v");
    let base = format!("{}/api/v1/namespaces/team-a/secrets/{name}", server.url);
    let r = alice
        .post(format!("{base}/reveal"))
        .header(CSRF.0, CSRF.1)
        .json(&json!({ "keys": ["k", "not a key!"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "keys.1");
    let r = alice
        .patch(&base)
        .header(CSRF.0, CSRF.1)
        .json(&json!({ "resource_version": "1", "remove": ["../etc"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "remove.0");
    server.stop();
}

#[tokio::test]
async fn the_reveal_rate_limit_holds_across_replicas_and_reveal_all_counts_each_key() {
    let stack = Stack::get();
    let db = stack.var("POSTGRES_URL");
    // Bob's count starts afresh (other tests share this database).
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let _ = sqlx::query("DELETE FROM reveal_counts WHERE username = 'oidc:bob@example.com'")
        .execute(&pool)
        .await;
    let limit = ["--database-url", db.as_str(), "--reveal-rate-limit", "4/1h"];
    let a = TestServer::start(&limit).await;
    let b = TestServer::start(&limit).await;
    let bob = client();
    sign_in(&bob, &a.url, "bob", "/").await;
    let name = unique("limited");
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        &name,
        "-n",
        "team-b",
        "--from-literal=k1=1",
        "--from-literal=k2=2",
        "--from-literal=k3=3",
        "--from-literal=k4=4",
        "--from-literal=k5=5",
    ]);
    assert!(out.status.success());
    let reveal = |url: &str, keys: Vec<&'static str>| {
        let bob = bob.clone();
        let url = format!("{url}/api/v1/namespaces/team-b/secrets/{name}/reveal");
        async move {
            bob.post(url)
                .header(CSRF.0, CSRF.1)
                .json(&json!({ "keys": keys }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(reveal(&a.url, vec!["k1"]).await, 200);
    assert_eq!(
        reveal(&b.url, vec!["k2"]).await,
        200,
        "one count across replicas"
    );
    // Reveal all takes five: over the four a period allows.
    assert_eq!(
        reveal(&a.url, vec![]).await,
        429,
        "reveal all counts each key"
    );
    assert_eq!(
        reveal(&b.url, vec!["k1"]).await,
        429,
        "the other replica knows"
    );
    a.stop();
    b.stop();
}
