//! The `.dockerconfigjson` builder: for any server, username, password and
//! email, the output is JSON whose `auth` decodes to `username:password`.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use strongroom_app::secrets::typed::{DEFAULT_DOCKER_SERVER, docker_config_json};

fuzz_target!(|input: (String, String, String, String)| {
    let (server, username, password, email) = input;
    let json = docker_config_json(&server, &username, &password, &email);
    let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let server = if server.is_empty() { DEFAULT_DOCKER_SERVER } else { &server };
    let entry = &value["auths"][server];
    let auth = entry["auth"].as_str().expect("an auth field");
    let decoded = base64::engine::general_purpose::STANDARD.decode(auth).unwrap();
    assert_eq!(decoded, format!("{username}:{password}").into_bytes());
    assert_eq!(entry["username"].as_str().unwrap_or_default(), username);
    assert_eq!(entry["password"].as_str().unwrap_or_default(), password);
});
