//! The audit trail against the real stack: one record per reveal and change,
//! written before the answer, fail closed, chained, correlated with the API
//! server's own audit log.

mod common;

use common::{CSRF, Stack, TestServer, b64, client, sign_in, unique};
use serde_json::{Value, json};

async fn signed_in(server: &TestServer, login: &str) -> reqwest::Client {
    let c = client();
    sign_in(&c, &server.url, login, "/").await;
    c
}

async fn post(c: &reqwest::Client, url: String, body: Value) -> (u16, Value, String) {
    let r = c
        .post(url)
        .header(CSRF.0, CSRF.1)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn create(c: &reqwest::Client, server: &TestServer, name: &str, value: &[u8]) -> Value {
    let (status, body, _) = post(c, format!("{}/api/v1/namespaces/team-a/secrets", server.url), json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "token", "value": b64(value)}]}})).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn reveal(c: &reqwest::Client, server: &TestServer, name: &str) -> (u16, Value, String) {
    post(
        c,
        format!(
            "{}/api/v1/namespaces/team-a/secrets/{name}/reveal",
            server.url
        ),
        json!({"keys": []}),
    )
    .await
}

/// The records of one secret (optionally of one action), newest first,
/// read straight from the server's audit store.
async fn secret_records(
    server: &TestServer,
    secret: &str,
    action: Option<&str>,
) -> Vec<strongroom_server::domain::audit::AuditRecord> {
    let query = strongroom_server::domain::audit::store::AuditQuery {
        secret: Some(secret.to_string()),
        action: action.map(str::to_string),
        ..Default::default()
    };
    server.state.audit.query(&query).await.unwrap()
}

async fn trail(c: &reqwest::Client, server: &TestServer, query: &str) -> Value {
    let r = c
        .get(format!("{}/api/v1/audit?{query}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn concurrent_reveals_make_exactly_one_chained_record_each_and_survive_a_restart() {
    let port = common::test_port();
    let server = TestServer::start_on(port, None, &[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("burst");
    create(&alice, &server, &name, b"burst-value").await;
    let dave = signed_in(&server, "dave").await;
    let carol = signed_in(&server, "carol").await;
    const N: usize = 24;
    let futures = (0..N).map(|i| {
        let c = if i % 3 == 2 { &carol } else { &alice };
        reveal(c, &server, &name)
    });
    let results = futures::future::join_all(futures).await;
    let allowed = results.iter().filter(|r| r.0 == 200).count();
    let denied = results.iter().filter(|r| r.0 == 403).count();
    assert_eq!(allowed + denied, N);
    assert_eq!(denied, N / 3, "carol's reveals are refused");

    let records = trail(
        &dave,
        &server,
        &format!("secret={name}&action=reveal&limit=1000"),
    )
    .await;
    let items = records["items"].as_array().unwrap();
    assert_eq!(items.len(), N, "one record per reveal");
    assert_eq!(
        items
            .iter()
            .filter(|i| i["outcome"] == "denied" && i["status"] == 403)
            .count(),
        N / 3
    );
    let seqs: Vec<i64> = items.iter().map(|i| i["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, strictly ordered"
    );

    // Restart on the same data: nothing lost, the chain verifies.
    let data_dir = server.data_dir.clone();
    server.stop();
    let again = TestServer::start_on(port, Some(data_dir.clone()), &[]).await;
    let records = trail(
        &dave,
        &again,
        &format!("secret={name}&action=reveal&limit=1000"),
    )
    .await;
    assert_eq!(records["items"].as_array().unwrap().len(), N);
    let verified = again.state.audit.verify(0).await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    again.stop();

    // The CLI says the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strongroom-server"))
        .args([
            "--data-dir",
            &data_dir.display().to_string(),
            "audit",
            "verify",
        ])
        .env("STRONGROOM_OIDC_ISSUER", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit chain intact"));
}

#[tokio::test]
async fn a_tampered_record_is_reported_by_audit_verify() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("tamper");
    create(&alice, &server, &name, b"x").await;
    reveal(&alice, &server, &name).await;
    reveal(&alice, &server, &name).await;
    let data_dir = server.data_dir.clone();
    server.stop();
    let db = data_dir.join("strongroom.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_records SET event = replace(event, 'oidc:alice@example.com', 'oidc:mallory@example.com') WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strongroom-server"))
        .args([
            "--data-dir",
            &data_dir.display().to_string(),
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken at record 2"), "{err}");
}

#[tokio::test]
async fn fingerprints_match_for_the_same_value_and_differ_after_rotation() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("fp");
    let created = create(&alice, &server, &name, b"v1").await;
    reveal(&alice, &server, &name).await;
    reveal(&alice, &server, &name).await;
    let r = alice
        .patch(format!("{}/api/v1/namespaces/team-a/secrets/{name}", server.url))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"resource_version": created["resource_version"], "set": [{"key": "token", "value": b64(b"v2")}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    reveal(&alice, &server, &name).await;
    let records = secret_records(&server, &name, Some("reveal")).await;
    let fps: Vec<String> = records
        .iter()
        .map(|r| r.event.fingerprints[0].hmac.clone())
        .collect();
    assert_eq!(fps.len(), 3);
    // Newest first: [after rotation, before, before].
    assert_eq!(fps[1], fps[2], "same value, same fingerprint");
    assert_ne!(fps[0], fps[1], "rotated value, new fingerprint");
    for r in &records {
        let json = serde_json::to_string(r).unwrap();
        assert!(
            !json.contains(&b64(b"v1")) && !json.contains("\"v1\""),
            "no value in the record"
        );
    }
    // Create and update were recorded too.
    let all = secret_records(&server, &name, None).await;
    let actions: Vec<&str> = all.iter().map(|r| r.event.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["reveal", "update", "reveal", "reveal", "create"]
    );
    server.stop();
}

#[tokio::test]
async fn the_api_servers_audit_log_carries_the_same_audit_id() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("corr");
    create(&alice, &server, &name, b"x").await;
    let (status, body, _) = reveal(&alice, &server, &name).await;
    assert_eq!(status, 200);
    let audit_id = body["audit_id"].as_str().unwrap().to_string();
    let log = Stack::get().var("KUBE_AUDIT_LOG");
    let mut found = None;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        found = text
            .lines()
            .filter(|l| l.contains(&audit_id))
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .next();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event = found.expect("the API server logged the impersonated request with our audit id");
    assert_eq!(
        event["impersonatedUser"]["username"],
        "oidc:alice@example.com"
    );
    assert_eq!(
        event["impersonatedUser"]["extra"]["strongroom.dev/audit-id"][0],
        audit_id
    );
    assert_eq!(event["objectRef"]["name"], name);
    assert_eq!(event["verb"], "get");
    server.stop();
}

#[tokio::test]
async fn an_unwritable_audit_store_refuses_reveals_and_changes_with_503() {
    let server = TestServer::start(&["--audit-timeout", "1s"]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("closed");
    let value = format!("never-shown-{}", uuid::Uuid::new_v4());
    create(&alice, &server, &name, value.as_bytes()).await;

    // Another process holds the SQLite write lock: the audit sink cannot write.
    let db = server.data_dir.join("strongroom.db");
    let locker = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
    use sqlx::ConnectOptions;
    let mut lock = locker.connect().await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();

    let (status, body, text) = reveal(&alice, &server, &name).await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(body["code"], "unavailable");
    assert!(
        !text.contains(&value) && !text.contains(&b64(value.as_bytes())),
        "no value in a refused answer"
    );

    let (status, _, _) = post(
        &alice,
        format!("{}/api/v1/namespaces/team-a/secrets", server.url),
        json!({"name": unique("nope"), "input": {"kind": "generic", "entries": []}}),
    )
    .await;
    assert_eq!(status, 503, "changes are refused up front too");

    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);
    let (status, body, _) = reveal(&alice, &server, &name).await;
    assert_eq!(status, 200, "recovers once the store is writable: {body}");
    server.stop();
}

#[tokio::test]
async fn only_auditors_read_the_trail_and_exports_work() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("export");
    create(&alice, &server, &name, b"x").await;
    reveal(&alice, &server, &name).await;
    let eve = signed_in(&server, "eve").await;
    let r = eve
        .get(format!("{}/api/v1/audit", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let dave = signed_in(&server, "dave").await;
    let r = dave
        .get(format!(
            "{}/api/v1/audit?secret={name}&format=csv",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("seq,id,time,user"));
    assert_eq!(csv.lines().count(), 3, "header + create + reveal");
    let r = dave
        .get(format!(
            "{}/api/v1/audit?secret={name}&format=jsonl",
            server.url
        ))
        .send()
        .await
        .unwrap();
    let lines: Vec<Value> = r
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["action"], "reveal");
    // alice sees her secret's history; carol (no get) does not.
    let r = alice
        .get(format!(
            "{}/api/v1/namespaces/team-a/secrets/{name}/history",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["items"][0]["user"], "oidc:alice@example.com");
    let carol = signed_in(&server, "carol").await;
    let r = carol
        .get(format!(
            "{}/api/v1/namespaces/team-a/secrets/{name}/history",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.stop();
}

#[tokio::test]
async fn metrics_count_audit_writes() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("metrics");
    create(&alice, &server, &name, b"x").await;
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("strongroom_audit_writes_total{sink=\"database\"}"))
        .unwrap();
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1, "{line}");
    server.stop();
}

#[tokio::test]
async fn retention_prunes_old_records_records_the_pruning_and_the_chain_still_verifies() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("retain");
    create(&alice, &server, &name, b"x").await;
    reveal(&alice, &server, &name).await;
    let before = server.state.audit.count().await.unwrap();
    assert!(before >= 2);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let event = strongroom_server::domain::audit::system_event(
        "test",
        strongroom_server::domain::audit::Action::Prune,
    );
    let pruned = server.state.audit.prune(&cutoff, event).await.unwrap();
    assert_eq!(pruned as i64, before);
    assert_eq!(
        server.state.audit.count().await.unwrap(),
        1,
        "only the pruning record is left"
    );
    let records = server.state.audit.query(&Default::default()).await.unwrap();
    assert_eq!(records[0].event.action.as_str(), "prune");
    assert!(
        records[0]
            .event
            .reason
            .as_deref()
            .unwrap()
            .contains(&format!("pruned {before} records"))
    );
    assert!(
        server.state.audit.verify(0).await.unwrap().is_ok(),
        "the kept chain verifies"
    );
    reveal(&alice, &server, &name).await;
    assert!(server.state.audit.verify(0).await.unwrap().is_ok());
    server.stop();
}

#[tokio::test]
async fn a_namespace_can_require_a_reason_before_a_reveal() {
    let server = TestServer::start(&["--reveal-reason-namespaces", "team-a"]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("why");
    create(&alice, &server, &name, b"x").await;
    let (status, body, _) = reveal(&alice, &server, &name).await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "reason");
    let (status, body, _) = post(
        &alice,
        format!(
            "{}/api/v1/namespaces/team-a/secrets/{name}/reveal",
            server.url
        ),
        json!({"keys": [], "reason": "INC-1234 rotating the database"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let records = secret_records(&server, &name, Some("reveal")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].event.reason.as_deref(),
        Some("INC-1234 rotating the database")
    );
    server.stop();
}

#[tokio::test]
async fn two_replicas_on_postgresql_share_sessions_and_one_valid_audit_chain() {
    let db = Stack::get().var("POSTGRES_URL");
    let a = TestServer::start(&["--database-url", &db]).await;
    let b = TestServer::start(&["--database-url", &db]).await;
    // Sign in through replica a ...
    let alice = signed_in(&a, "alice").await;
    let name = unique("replicas");
    create(&alice, &a, &name, b"shared").await;
    // ... and reveal through both, alternating, concurrently (cookies are per
    // host, so the same session reaches both).
    let reveals = (0..10).map(|i| reveal(&alice, if i % 2 == 0 { &a } else { &b }, &name));
    let results = futures::future::join_all(reveals).await;
    assert!(
        results.iter().all(|r| r.0 == 200),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for server in [&a, &b] {
        let records = secret_records(server, &name, None).await;
        assert_eq!(
            records.len(),
            11,
            "both replicas see the same 1 create + 10 reveals"
        );
    }
    let verified = b.state.audit.verify(0).await.unwrap();
    assert!(verified.is_ok(), "one chain across replicas: {verified:?}");
    a.stop();
    b.stop();
}

/// Runs `strongroom-server audit verify` on a data directory: (passed, stderr).
fn verify_dir(data_dir: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strongroom-server"))
        .args([
            "--data-dir",
            &data_dir.display().to_string(),
            "audit",
            "verify",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of a stopped server's data directory (database, WAL, keys).
fn copy_dir(from: &std::path::Path, name: &str) -> std::path::PathBuf {
    let to = from.with_file_name(format!(
        "{}-{name}",
        from.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
    to
}

/// A copy of `data_dir` named `name` with `sql` run on its database, and
/// what `audit verify` (with `extra`) says of it.
async fn tampered(
    data_dir: &std::path::Path,
    name: &str,
    sql: &str,
    extra: &[&str],
) -> (bool, String) {
    let copy = copy_dir(data_dir, name);
    let pool = sqlite(&copy).await;
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
    verify_dir(&copy, extra)
}

async fn sqlite(dir: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("strongroom.db").display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_keyed_chain_finds_edits_removals_at_both_ends_and_links_recomputed_without_the_key() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("keyed");
    create(&alice, &server, &name, b"x").await;
    for _ in 0..3 {
        reveal(&alice, &server, &name).await;
    }
    let data_dir = server.data_dir.clone();
    let (head_seq, head_link) = server.state.audit.head().await.unwrap();
    assert!(head_link.starts_with("k1:"), "links are keyed: {head_link}");
    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The key is not in the database.
    let keys = std::fs::read_to_string(data_dir.join("audit.keys")).unwrap();
    let chain_key: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let db_bytes = std::fs::read(data_dir.join("strongroom.db")).unwrap();
    let key_hex = chain_key["chain"].as_str().unwrap().as_bytes();
    assert!(!db_bytes.windows(key_hex.len()).any(|w| w == key_hex));

    let intact = copy_dir(&data_dir, "intact");
    let anchor = format!("{head_seq}:{head_link}");
    let (ok, err) = verify_dir(&intact, &["--anchor", &anchor]);
    assert!(ok, "untouched, with its published anchor: {err}");

    // An edited record.
    let (ok, err) = tampered(&data_dir, "edited", "UPDATE audit_records SET event = replace(event, 'oidc:alice@example.com', 'oidc:mallory@example.com') WHERE seq = 2", &[]).await;
    assert!(!ok && err.contains("broken at record 2"), "{err}");

    // Only a searchable column changed (to hide a record from filtered views).
    let (ok, err) = tampered(
        &data_dir,
        "column",
        "UPDATE audit_records SET username = 'oidc:nobody' WHERE seq = 3",
        &[],
    )
    .await;
    assert!(!ok && err.contains("searchable columns"), "{err}");

    // The newest record removed.
    let newest = copy_dir(&data_dir, "newest");
    let pool = sqlite(&newest).await;
    sqlx::query("DELETE FROM audit_records WHERE seq = (SELECT MAX(seq) FROM audit_records)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (ok, err) = verify_dir(&newest, &[]);
    assert!(!ok && err.contains("removed from the end"), "{err}");
    // ... even with the head rewound to match: the published anchor says otherwise.
    let pool = sqlite(&newest).await;
    sqlx::query("UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_records), hash = (SELECT hash FROM audit_records WHERE seq = (SELECT MAX(seq) FROM audit_records)) WHERE id = 1")
        .execute(&pool).await.unwrap();
    pool.close().await;
    let (ok, err) = verify_dir(&newest, &["--anchor", &anchor]);
    assert!(!ok && err.contains("does not hold the anchor"), "{err}");

    // The oldest record removed.
    let (ok, err) = tampered(
        &data_dir,
        "oldest",
        "DELETE FROM audit_records WHERE seq = 1",
        &[],
    )
    .await;
    assert!(!ok && err.contains("removed from the start"), "{err}");

    // A record edited and every link recomputed, as anyone without the key
    // can: with the head moved along (its MAC gives it away), and without.
    for move_head in [true, false] {
        let relinked = copy_dir(&data_dir, &format!("relinked-{move_head}"));
        let pool = sqlite(&relinked).await;
        sqlx::query("UPDATE audit_records SET event = replace(event, 'oidc:alice@example.com', 'oidc:mallory@example.com'), username = 'oidc:mallory@example.com' WHERE seq = 2")
            .execute(&pool).await.unwrap();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, event FROM audit_records ORDER BY seq")
                .fetch_all(&pool)
                .await
                .unwrap();
        let mut prev = strongroom_server::domain::audit::GENESIS_HASH.to_string();
        for (seq, event) in rows {
            let event = serde_json::from_str(&event).unwrap();
            let hash = strongroom_server::domain::audit::chain_hash(&prev, seq, &event);
            sqlx::query("UPDATE audit_records SET prev_hash = $1, hash = $2 WHERE seq = $3")
                .bind(&prev)
                .bind(&hash)
                .bind(seq)
                .execute(&pool)
                .await
                .unwrap();
            if move_head {
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&hash)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            prev = hash;
        }
        pool.close().await;
        let (ok, err) = verify_dir(&relinked, &[]);
        let expected = if move_head {
            "does not carry its MAC"
        } else {
            "not keyed"
        };
        assert!(
            !ok && err.contains(expected),
            "head moved: {move_head}: {err}"
        );
    }
}

#[tokio::test]
async fn a_chain_key_that_did_not_sign_the_trail_refuses_start_up() {
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("otherkey");
    create(&alice, &server, &name, b"x").await;
    let data_dir = server.data_dir.clone();
    server.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strongroom-server"));
    let mut child = common::server_command(&bin, common::test_port(), &data_dir)
        .env("STRONGROOM_AUDIT_HMAC_KEY", "some-fingerprint-key")
        .env("STRONGROOM_AUDIT_CHAIN_KEY", "not-the-key-that-signed")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started with a chain key that did not sign the trail");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("does not match this audit trail"), "{err}");
}

#[tokio::test]
async fn a_csv_export_defuses_formulas_behind_a_tab_or_carriage_return() {
    // The reveal reason is the person's own text, and it goes into the CSV.
    let server = TestServer::start(&[]).await;
    let alice = signed_in(&server, "alice").await;
    let name = unique("csv");
    create(&alice, &server, &name, b"x").await;
    let url = format!(
        "{}/api/v1/namespaces/team-a/secrets/{name}/reveal",
        server.url
    );
    for reason in [
        "\t=HYPERLINK(\"http://evil.example\")",
        "\r@SUM(1)",
        "+cmd|' /C calc'!A0",
    ] {
        let (status, _, text) =
            post(&alice, url.clone(), json!({"keys": [], "reason": reason})).await;
        assert_eq!(status, 200, "{text}");
    }
    let dave = signed_in(&server, "dave").await;
    let csv = dave
        .get(format!(
            "{}/api/v1/audit?secret={name}&format=csv",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv.split('\n').skip(1).filter(|l| !l.is_empty()).peekable();
    assert!(reader.peek().is_some());
    // Every reason cell starts with the defusing quote, whatever came first.
    for needle in ["'\t=HYPERLINK", "'\r@SUM", "'+cmd"] {
        assert!(csv.contains(needle), "{needle:?} defused in {csv:?}");
    }
    for raw in [
        ",\t=HYPERLINK",
        ",\"\t=HYPERLINK",
        ",\"\r@SUM",
        ",+cmd",
        ",\"+cmd",
    ] {
        assert!(!csv.contains(raw), "{raw:?} left live in {csv:?}");
    }
}

#[tokio::test]
async fn the_chain_head_is_published_as_anchors_that_verify_checks() {
    let port = common::test_port();
    let url = format!("http://127.0.0.1:{port}");
    let data_dir = std::env::temp_dir().join(format!("strongroom-anchors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strongroom-server"));
    let child = common::server_command(&bin, port, &data_dir)
        .env("STRONGROOM_AUDIT_ANCHOR_EVERY", "1s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = scopeguard_kill(child);
    let c = reqwest::Client::new();
    for _ in 0..300 {
        if c.get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alice = common::ApiSession::new(&url, "alice").await;
    let name = unique("anchored");
    let (status, _) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}),
        )
        .await;
    assert_eq!(status, 201);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut child = child.take();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let anchors: Vec<(i64, String)> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let a = v.get("audit_anchor")?;
            Some((a["seq"].as_i64()?, a["link"].as_str()?.to_string()))
        })
        .collect();
    let (seq, link) = anchors
        .iter()
        .rev()
        .find(|(seq, _)| *seq > 0)
        .cloned()
        .unwrap_or_else(|| panic!("an anchor after the create in: {stdout}"));
    assert!(link.starts_with("k1:"));
    let anchor = format!("{seq}:{link}");
    let (ok, err) = verify_dir(&data_dir, &["--anchor", &anchor]);
    assert!(ok, "{err}");
    let forged = format!("{seq}:k1:{}", "0".repeat(64));
    let (ok, err) = verify_dir(&data_dir, &["--anchor", &forged]);
    assert!(!ok && err.contains("does not hold the anchor"), "{err}");
    let ahead = format!("{}:{link}", seq + 10);
    let (ok, err) = verify_dir(&data_dir, &["--anchor", &ahead]);
    assert!(!ok && err.contains("rewound"), "{err}");
}

/// Kills the child if the test panics before it takes it back.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn take(&mut self) -> std::process::Child {
        self.0.take().unwrap()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
        }
    }
}

fn scopeguard_kill(child: std::process::Child) -> KillOnDrop {
    KillOnDrop(Some(child))
}
