//! API conformance: schemathesis (PyPI) generates requests from the
//! server's own OpenAPI document (`/api/v1/openapi.json`) and sends them,
//! with a signed-in session, to a server on the real stack. The run passes
//! when no answer is a 5xx and every answer matches the document: status
//! codes, content types, headers and body schemas.
//!
//! `scripts/test` installs schemathesis and sets `STRONGROOM_SCHEMATHESIS`.

mod common;

use common::TestServer;

#[tokio::test]
async fn the_api_answers_as_its_openapi_document_says_under_schemathesis() {
    let tool = std::env::var("STRONGROOM_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!("STRONGROOM_SCHEMATHESIS is not set: run the tests through scripts/test, which installs schemathesis")
    });
    let server = TestServer::start(&["--reveal-rate-limit", "off"]).await;
    let (alice, session) = common::sign_in_for_cookie(&server.url, "alice").await;
    let report = server.data_dir.join("schemathesis");
    std::fs::create_dir_all(&report).unwrap();
    // The document's own security schemes, filled in: schemathesis then
    // knows which cookie and header authenticate, and also checks that
    // requests without them are refused.
    let config = report.join("schemathesis.toml");
    std::fs::write(
        &config,
        "[auth.openapi.session]\napi_key = \"${STRONGROOM_SESSION}\"\n\n[auth.openapi.csrf]\napi_key = \"1\"\n",
    )
    .unwrap();
    let max_examples = std::env::var("STRONGROOM_SCHEMATHESIS_EXAMPLES").unwrap_or("25".into());
    let out = tokio::process::Command::new(&tool)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url))
        // Every check but "valid data is accepted": RBAC rightly refuses
        // alice most namespaces a generator can think of.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--max-examples", &max_examples, "--seed", "20261128"])
        .args(["--workers", "2", "--request-timeout", "30"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report)
        // Its cache and reports stay with this run's data, out of the tree.
        .current_dir(&report)
        .env("STRONGROOM_SESSION", &session)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found answers that do not match the document:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The session was used throughout: the run did not just collect 401s.
    let me = alice
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(stdout.contains("passed"), "{stdout}");
    server.stop();
}
