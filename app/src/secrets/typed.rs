//! Builders for the typed secrets `kubectl create secret` knows, producing
//! byte-for-byte the same `type` and `data` (checked against the real kubectl
//! in the integration tests).

use base64::Engine;

/// `kubernetes.io/dockerconfigjson`, as `kubectl create secret docker-registry`.
pub const TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// `kubernetes.io/tls`, as `kubectl create secret tls`.
pub const TYPE_TLS: &str = "kubernetes.io/tls";
/// `kubernetes.io/basic-auth`.
pub const TYPE_BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// `kubernetes.io/ssh-auth`.
pub const TYPE_SSH_AUTH: &str = "kubernetes.io/ssh-auth";
/// `Opaque`, as `kubectl create secret generic`.
pub const TYPE_OPAQUE: &str = "Opaque";
/// The registry kubectl uses when none is given.
pub const DEFAULT_DOCKER_SERVER: &str = "https://index.docker.io/v1/";

/// The `.dockerconfigjson` value kubectl writes:
/// `{"auths":{SERVER:{"username":..,"password":..,"email":..,"auth":base64(user:pass)}}}`
/// with empty fields left out and Go's HTML-safe string escaping.
pub fn docker_config_json(server: &str, username: &str, password: &str, email: &str) -> Vec<u8> {
    let server = if server.is_empty() {
        DEFAULT_DOCKER_SERVER
    } else {
        server
    };
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut entry = String::from("{");
    let mut first = true;
    for (name, value) in [
        ("username", username),
        ("password", password),
        ("email", email),
        ("auth", auth.as_str()),
    ] {
        if value.is_empty() {
            continue;
        }
        if !first {
            entry.push(',');
        }
        first = false;
        entry.push_str(&go_json_string(name));
        entry.push(':');
        entry.push_str(&go_json_string(value));
    }
    entry.push('}');
    format!("{{\"auths\":{{{}:{entry}}}}}", go_json_string(server)).into_bytes()
}

/// A JSON string as Go's `encoding/json` writes it: like serde_json, but
/// `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u....`.
fn go_json_string(s: &str) -> String {
    let plain = serde_json::to_string(s).expect("strings always serialize");
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_matches_kubectls_shape() {
        let v = docker_config_json("registry.example.com", "u", "p", "u@example.com");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#"{"auths":{"registry.example.com":{"username":"u","password":"p","email":"u@example.com","auth":"dTpw"}}}"#
        );
    }

    #[test]
    fn docker_config_leaves_out_empty_email_and_defaults_the_server() {
        let v = String::from_utf8(docker_config_json("", "u", "p", "")).unwrap();
        assert_eq!(
            v,
            r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p","auth":"dTpw"}}}"#
        );
    }

    #[test]
    fn go_escapes_html_characters() {
        assert_eq!(go_json_string("a<b>&\"c"), r#""a\u003cb\u003e\u0026\"c""#);
    }
}
