//! Property: any value — empty, binary, invalid UTF-8, long — comes back
//! byte for byte through Strongroom's create and reveal, and Kubernetes
//! stores exactly those bytes.

mod common;

use base64::Engine;
use common::{CSRF, TestServer, client, kubectl, sign_in, unique};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn any_value_round_trips_byte_for_byte_through_create_and_reveal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, alice) = rt.block_on(async {
        let server = TestServer::start(&["--reveal-rate-limit", "off"]).await;
        let alice = client();
        sign_in(&alice, &server.url, "alice", "/").await;
        (server, alice)
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    let config = ProptestConfig {
        cases: 40,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let strategy = (
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}",
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(any::<u8>(), 0..65_536),
            ".*".prop_map(String::into_bytes),
        ],
    );
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&strategy, |(key, value)| {
            rt.block_on(async {
                let name = unique("prop");
                let url = format!("{}/api/v1/namespaces/team-a/secrets", server.url);
                let created = alice
                    .post(&url)
                    .header(CSRF.0, CSRF.1)
                    .json(&json!({"name": name, "input": {"kind": "generic", "entries": [{"key": key, "value": b64.encode(&value)}]}}))
                    .send()
                    .await
                    .unwrap();
                prop_assert_eq!(created.status().as_u16(), 201);
                let revealed: Value = alice
                    .post(format!("{url}/{name}/reveal"))
                    .header(CSRF.0, CSRF.1)
                    .json(&json!({"keys": [key]}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let back = b64
                    .decode(revealed["values"][0]["base64"].as_str().unwrap())
                    .unwrap();
                prop_assert_eq!(&back, &value);
                // The text view is the value itself when it is UTF-8, and absent otherwise.
                match std::str::from_utf8(&value) {
                    Ok(text) => prop_assert_eq!(revealed["values"][0]["text"].as_str(), Some(text)),
                    Err(_) => prop_assert!(revealed["values"][0]["text"].is_null()),
                }
                let stored = kubectl(&["get", "secret", &name, "-n", "team-a", "-o", "json"]);
                let stored: Value = serde_json::from_slice(&stored.stdout).unwrap();
                let data = stored["data"][&key].as_str().unwrap_or("");
                prop_assert_eq!(b64.decode(data).unwrap(), value);
                kubectl(&["delete", "secret", &name, "-n", "team-a", "--wait=false"]);
                Ok(())
            })
        })
        .unwrap();
    server.stop();
}
