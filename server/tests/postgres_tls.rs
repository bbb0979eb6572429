//! PostgreSQL over TLS, as managed databases require it: `sslmode=require`
//! and `verify-full` with a CA bundle (`sslrootcert` in the URL, or the
//! `PGSSLMODE` / `PGSSLROOTCERT` variables the Helm chart sets), against the
//! local PostgreSQL, which `scripts/lib.sh` starts with a certificate from its
//! own test CA (`tls/ca.crt`; `tls/other-ca.crt` is an unrelated CA).

mod common;

use common::{ApiSession, Stack, TestServer, b64, unique};
use serde_json::json;
use strongroom_server::infra::db::Db;

fn postgres(query: &str) -> String {
    format!("{}?{query}", Stack::get().var("POSTGRES_URL"))
}

/// Whether this connection of `db` is encrypted, as the server sees it.
async fn encrypted(db: &Db) -> bool {
    let Db::Postgres(pool) = db else {
        panic!("not PostgreSQL")
    };
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn verify_full_with_the_ca_bundle_connects_encrypted() {
    let stack = Stack::get();
    let ca = stack.var("POSTGRES_CA");
    for query in [
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        "sslmode=require".to_string(),
    ] {
        let db = Db::connect(&postgres(&query))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert!(encrypted(&db).await, "{query}: the connection is TLS");
    }
    // The name in the certificate (DNS:localhost) is checked as well.
    let url = stack.var("POSTGRES_URL").replace("127.0.0.1", "localhost");
    let db = Db::connect(&format!("{url}?sslmode=verify-full&sslrootcert={ca}"))
        .await
        .unwrap();
    assert!(encrypted(&db).await);
    // Without TLS asked for, the connection may stay plain: the check above
    // is not vacuous.
    let db = Db::connect(&postgres("sslmode=disable")).await.unwrap();
    assert!(!encrypted(&db).await, "sslmode=disable is plain");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_with_a_clear_error() {
    let stack = Stack::get();
    let other = stack.var("POSTGRES_OTHER_CA");
    for mode in ["verify-full", "verify-ca"] {
        let err = Db::connect(&postgres(&format!("sslmode={mode}&sslrootcert={other}")))
            .await
            .err()
            .unwrap_or_else(|| panic!("{mode} with another CA must fail"));
        let text = err.to_string();
        assert!(
            text.to_lowercase().contains("certificate") || text.contains("UnknownIssuer"),
            "{mode}: the error names the certificate: {text}"
        );
    }
    // A CA bundle that does not exist: refused, the path named.
    let err = Db::connect(&postgres(
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
    ))
    .await
    .expect_err("a missing CA file fails");
    assert!(
        err.to_string()
            .contains("cannot read the PostgreSQL CA bundle /nonexistent/ca.crt"),
        "{err}"
    );
    // The right CA, but an address the certificate does not name (the test
    // PostgreSQL listens on 127.0.0.2 too; its certificate names localhost
    // and 127.0.0.1).
    let url = stack.var("POSTGRES_URL").replace("127.0.0.1", "127.0.0.2");
    let err = Db::connect(&format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        stack.var("POSTGRES_CA")
    ))
    .await
    .expect_err("a certificate for another name fails");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    // The server refuses to start on it, and says why.
    let args = [
        "strongroom-server",
        "--oidc-issuer",
        "http://127.0.0.1:1",
        "--oidc-client-id",
        "x",
        "--oidc-client-secret",
        "x",
        "--database-url",
        &postgres(&format!("sslmode=verify-full&sslrootcert={other}")),
        "--audit-hmac-key",
        "strongroom-test-fingerprint-key",
        "--audit-chain-key",
        "strongroom-test-chain-key",
    ];
    let cli = <strongroom_server::config::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let Err(err) = strongroom_server::AppState::build(cli.serve).await else {
        panic!("no start on an untrusted database certificate")
    };
    assert!(
        err.to_string().starts_with("cannot open the database"),
        "{err}"
    );
}

#[tokio::test]
async fn replicas_on_verify_full_serve_reveals_and_keep_one_chain() {
    let stack = Stack::get();
    let url = postgres(&format!(
        "sslmode=verify-full&sslrootcert={}",
        stack.var("POSTGRES_CA")
    ));
    let a = TestServer::start(&["--database-url", &url]).await;
    let b = TestServer::start(&["--database-url", &url]).await;
    assert!(encrypted(&a.state.db).await);
    let alice = ApiSession::new(&a.url, "alice").await;
    let name = unique("pgtls");
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "token", "value": b64(b"over-tls")}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = alice.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 200, "{body}");
    let on_b = ApiSession::new(&b.url, "alice").await;
    let (status, _) = on_b.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 200);
    let dave = ApiSession::new(&b.url, "dave").await;
    let (status, trail) = dave
        .get(&format!("/audit?secret={name}&action=reveal"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(trail["items"].as_array().unwrap().len(), 2, "{trail}");
    let verified = b.state.audit.verify(0).await.unwrap();
    assert!(verified.is_ok(), "one chain across replicas: {verified:?}");
    a.stop();
    b.stop();
}

#[test]
fn a_misspelt_pgsslmode_stops_the_server_instead_of_falling_back_to_prefer() {
    let stack = Stack::get();
    let dir = std::env::temp_dir().join(format!("strongroom-pgsslmode-{}", std::process::id()));
    let out = common::server_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_strongroom-server")),
        common::test_port(),
        &dir,
    )
    .env("STRONGROOM_DATABASE_URL", stack.var("POSTGRES_URL"))
    .env(
        "STRONGROOM_AUDIT_HMAC_KEY",
        "strongroom-test-fingerprint-key",
    )
    .env("STRONGROOM_AUDIT_CHAIN_KEY", "strongroom-test-chain-key")
    // With an unknown mode the driver would use `prefer`, which accepts any
    // certificate (here one from another CA) and plain text.
    .env("PGSSLMODE", "verify_full")
    .env("PGSSLROOTCERT", stack.var("POSTGRES_OTHER_CA"))
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server must not start: {stderr}");
    assert!(
        stderr.contains("PGSSLMODE=\"verify_full\" is not a TLS mode"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
