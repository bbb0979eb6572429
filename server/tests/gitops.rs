//! Secrets that belong in Git (issue 16), against the real tools: the real
//! sealed-secrets controller (running against the local API server, its
//! certificate fetched through the service proxy as the signed-in user)
//! unseals what Strongroom seals into the Secret `kubectl create secret`
//! makes; `kubeseal --recovery-unseal` agrees for each scope and a strict
//! seal does not move; the real `sops` decrypts what Strongroom exports
//! and refuses a tampered file; controller-owned secrets say so.

mod common;

use std::path::{Path, PathBuf};

use common::{ApiSession, Stack, TestServer, b64, kubectl, kubectl_dry_run, make_cert, unique};
use serde_json::{Value, json};

fn tool(name: &str) -> PathBuf {
    PathBuf::from(Stack::get().var("GITOPS_TOOLS")).join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn get_json(args: &[&str]) -> Option<Value> {
    let out = kubectl(args);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn type_of(v: &Value) -> Value {
    if v["type"].is_null() {
        json!("Opaque")
    } else {
        v["type"].clone()
    }
}

/// Waits (up to 60 s) for the controller to unseal `ns/name`.
async fn unsealed(ns: &str, name: &str) -> Value {
    for _ in 0..300 {
        if let Some(s) = get_json(&["get", "secret", name, "-n", ns, "-o", "json"]) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let status = kubectl(&["get", "sealedsecret", name, "-n", ns, "-o", "yaml"]);
    panic!(
        "the controller did not unseal {ns}/{name}: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// The form inputs of the kubectl parity cases, with kubectl's arguments.
fn parity_cases(dir: &Path) -> Vec<(Value, Vec<String>)> {
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let bin_file = dir.join("blob.bin");
    std::fs::write(&bin_file, &binary).unwrap();
    let env_text = "# database\nDB_HOST=db.internal\n  DB_PASSWORD=p@ss=word  \n\nEMPTY=\nQUOTED=\"kept as is\"\r\n";
    let env_file = dir.join("app.env");
    std::fs::write(&env_file, env_text).unwrap();
    let (crt, key) = make_cert(dir, "sealed");
    let pem = |p: &Path| std::fs::read_to_string(p).unwrap();
    vec![
        (
            json!({"kind": "tls", "cert": pem(&crt), "key": pem(&key)}),
            vec![
                "tls".into(),
                format!("--cert={}", crt.display()),
                format!("--key={}", key.display()),
            ],
        ),
        (
            json!({"kind": "generic", "entries": [
                {"key": "password", "value": b64(b"s3cr3t value")},
                {"key": "blob.bin", "value": b64(&binary)},
                {"key": "empty", "value": ""}]}),
            vec![
                "generic".into(),
                "--from-literal=password=s3cr3t value".into(),
                format!("--from-file=blob.bin={}", bin_file.display()),
                "--from-literal=empty=".into(),
            ],
        ),
        (
            json!({"kind": "env-file", "file": b64(env_text.as_bytes())}),
            vec![
                "generic".into(),
                format!("--from-env-file={}", env_file.display()),
            ],
        ),
        (
            json!({"kind": "docker-registry", "server": "registry.example.com:5000", "username": "robot$ci", "password": "p<a>&ss", "email": "ci@example.com"}),
            vec![
                "docker-registry".into(),
                "--docker-username=robot$ci".into(),
                "--docker-password=p<a>&ss".into(),
                "--docker-server=registry.example.com:5000".into(),
                "--docker-email=ci@example.com".into(),
            ],
        ),
    ]
}

/// kubectl's arguments for `name`: the kind first, then the name.
fn dry_run_for(name: &str, args: &[String]) -> Value {
    let mut all: Vec<&str> = vec![args[0].as_str(), name];
    all.extend(args[1..].iter().map(String::as_str));
    kubectl_dry_run(&all)
}

#[tokio::test]
async fn the_real_controller_unseals_what_strongroom_seals_into_what_kubectl_creates() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let dir = scratch("seal");

    // The certificate, fetched as alice through the service proxy, is the
    // one kubeseal fetches.
    let (status, cert) = alice.get("/sealing/certificate").await;
    assert_eq!(status, 200, "{cert}");
    let theirs = std::process::Command::new(tool("kubeseal"))
        .args([
            "--fetch-cert",
            "--kubeconfig",
            &Stack::get().var("ADMIN_KUBECONFIG"),
        ])
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert_eq!(
        cert["pem"].as_str().unwrap().trim(),
        String::from_utf8_lossy(&theirs.stdout).trim()
    );
    assert_eq!(cert["bits"], 4096);
    assert!(cert["days_left"].as_i64().unwrap() > 3000, "{cert}");
    assert_eq!(
        cert["source"],
        "controller kube-system/sealed-secrets-controller"
    );

    for (input, args) in parity_cases(&dir) {
        let name = unique("sealed");
        let (status, sealed) = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"create": true, "secret": {"name": name, "input": input, "labels": {"app": "web"}}}),
            )
            .await;
        assert_eq!(status, 200, "{sealed}");
        assert_eq!(sealed["created"], true);
        assert_eq!(sealed["certificate"]["fingerprint"], cert["fingerprint"]);
        let yaml = sealed["yaml"].as_str().unwrap();
        assert!(yaml.contains("kind: \"SealedSecret\""), "{yaml}");
        let secret = unsealed("team-a", &name).await;
        let expected = dry_run_for(&name, &args);
        assert_eq!(type_of(&secret), type_of(&expected), "{name}");
        assert_eq!(
            secret["data"].as_object().cloned().unwrap_or_default(),
            expected["data"].as_object().cloned().unwrap_or_default(),
            "{name}: the controller's secret holds kubectl's bytes"
        );
        assert_eq!(secret["metadata"]["labels"]["app"], "web");
        // No value travels in the clear: the YAML holds none of them.
        for value in expected["data"].as_object().unwrap().values() {
            let v = value.as_str().unwrap();
            if v.len() > 4 {
                assert!(!yaml.contains(v), "{name}: a value in the YAML");
            }
        }

        // The secret says the SealedSecret owns it, on its page and its list row.
        let (_, detail) = alice
            .get(&format!("/namespaces/team-a/secrets/{name}"))
            .await;
        assert_eq!(detail["owner"]["kind"], "sealed-secret", "{detail}");
        assert_eq!(detail["owner"]["name"], name.as_str());
        let (_, page) = alice
            .get(&format!("/namespaces/team-a/secrets?name={name}"))
            .await;
        assert_eq!(page["items"][0]["owner"]["kind"], "sealed-secret", "{page}");
    }

    // The source object, as alice (who may read SealedSecrets) and as carol
    // (who may not).
    let name = unique("src");
    let (status, body) = alice
        .post(
            "/namespaces/team-a/sealed-secrets",
            json!({"create": true, "scope": "namespace-wide", "secret": {"name": name, "input": {"kind": "basic-auth", "username": "u", "password": "p"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    unsealed("team-a", &name).await;
    let (status, source) = alice
        .get(&format!("/namespaces/team-a/secrets/{name}/source"))
        .await;
    assert_eq!(status, 200, "{source}");
    assert_eq!(source["readable"], true, "{source}");
    let facts: Vec<(String, String)> = serde_json::from_value(source["facts"].clone()).unwrap();
    assert!(
        facts.contains(&("scope".into(), "namespace-wide".into())),
        "{source}"
    );
    assert!(
        facts.contains(&("sealed keys".into(), "password, username".into())),
        "{source}"
    );
    let carol = ApiSession::new(&server.url, "carol").await;
    let (status, source) = carol
        .get(&format!("/namespaces/team-a/secrets/{name}/source"))
        .await;
    assert_eq!(status, 403, "carol may not even get the secret: {source}");
    server.stop();
}

/// The controller's private keys, as PEM files `kubeseal
/// --recovery-private-key` takes.
fn controller_keys(dir: &Path) -> String {
    let list = get_json(&[
        "get",
        "secrets",
        "-n",
        "kube-system",
        "-l",
        "sealedsecrets.bitnami.com/sealed-secrets-key",
        "-o",
        "json",
    ])
    .unwrap();
    let mut files = vec![];
    for (i, s) in list["items"].as_array().unwrap().iter().enumerate() {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD
            .decode(s["data"]["tls.key"].as_str().unwrap())
            .unwrap();
        let path = dir.join(format!("key{i}.pem"));
        std::fs::write(&path, key).unwrap();
        files.push(path.display().to_string());
    }
    assert!(!files.is_empty(), "the controller has a key");
    files.join(",")
}

/// `kubeseal --recovery-unseal` of `sealed` (a SealedSecret as JSON).
fn recovery_unseal(dir: &Path, keys: &str, sealed: &Value) -> Result<Value, String> {
    let file = dir.join(format!("{}.json", unique("ss")));
    std::fs::write(&file, sealed.to_string()).unwrap();
    let out = std::process::Command::new(tool("kubeseal"))
        .args([
            "--recovery-unseal",
            "--recovery-private-key",
            keys,
            "-o",
            "json",
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// `sealed` moved to `ns` under `name`, as someone copying the file would.
fn moved(sealed: &Value, ns: &str, name: &str) -> Value {
    let mut v = sealed.clone();
    for path in ["/metadata", "/spec/template/metadata"] {
        let m = v.pointer_mut(path).unwrap();
        m["namespace"] = json!(ns);
        m["name"] = json!(name);
    }
    v
}

#[tokio::test]
async fn kubeseal_agrees_for_each_scope_and_a_strict_seal_does_not_move() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let dir = scratch("scopes");
    let keys = controller_keys(&dir);
    let value = b"\x00\xffbinary and text";
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let name = unique("scope");
        let (status, sealed) = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"scope": scope, "secret": {"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(value)}]}}}),
            )
            .await;
        assert_eq!(status, 200, "{sealed}");
        assert_eq!(sealed["created"], false);
        let object: Value = serde_norway::from_str(sealed["yaml"].as_str().unwrap()).unwrap();
        // Nothing was created: the form's seal only answers.
        assert!(get_json(&["get", "sealedsecret", &name, "-n", "team-a", "-o", "json"]).is_none());
        let here = recovery_unseal(&dir, &keys, &object).unwrap();
        assert_eq!(here["data"]["k"], b64(value), "{scope}");
        let renamed = recovery_unseal(&dir, &keys, &moved(&object, "team-a", "other"));
        let elsewhere = recovery_unseal(&dir, &keys, &moved(&object, "team-b", &name));
        match scope {
            "strict" => {
                assert!(renamed.is_err(), "strict: renamed");
                assert!(elsewhere.is_err(), "strict: another namespace");
            }
            "namespace-wide" => {
                assert!(renamed.is_ok(), "namespace-wide: renamed");
                assert!(elsewhere.is_err(), "namespace-wide: another namespace");
            }
            _ => {
                assert!(renamed.is_ok() && elsewhere.is_ok(), "cluster-wide moves");
            }
        }
    }

    // The real controller refuses a strict seal for team-a applied in team-b.
    let name = unique("moved");
    let (status, sealed) = alice
        .post(
            "/namespaces/team-a/sealed-secrets",
            json!({"secret": {"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
        )
        .await;
    assert_eq!(status, 200, "{sealed}");
    let object: Value = serde_norway::from_str(sealed["yaml"].as_str().unwrap()).unwrap();
    let file = dir.join("moved.json");
    std::fs::write(&file, moved(&object, "team-b", &name).to_string()).unwrap();
    let out = kubectl(&["apply", "-f", &file.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut refused = false;
    for _ in 0..150 {
        let ss = get_json(&["get", "sealedsecret", &name, "-n", "team-b", "-o", "json"]).unwrap();
        let conditions = ss["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c["type"] == "Synced" && c["status"] == "False")
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        refused,
        "the controller marks the moved SealedSecret unsynced"
    );
    assert!(get_json(&["get", "secret", &name, "-n", "team-b", "-o", "json"]).is_none());
    server.stop();
}

/// A generic secret alice creates in team-a through the API: its name.
async fn generic(alice: &ApiSession, prefix: &str, entries: &[(&str, &str)]) -> String {
    let name = unique(prefix);
    let entries: Vec<Value> = entries
        .iter()
        .map(|(k, v)| json!({"key": k, "value": b64(v.as_bytes())}))
        .collect();
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": entries}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    name
}

/// A recipient of a throwaway age identity.
fn age_recipient() -> String {
    age_identity(&scratch("age")).1
}

/// An age identity made by the real age-keygen: (identity file, recipient).
fn age_identity(dir: &Path) -> (PathBuf, String) {
    let file = dir.join(format!("{}.txt", unique("age")));
    let out = std::process::Command::new(tool("age-keygen"))
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(tool("age-keygen"))
        .arg("-y")
        .arg(&file)
        .output()
        .unwrap();
    (
        file,
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}

/// `sops --decrypt` of `yaml` with `identity`: the manifest as JSON, or
/// sops' complaint.
fn sops_decrypt(dir: &Path, identity: &Path, yaml: &str) -> Result<Value, String> {
    let file = dir.join(format!("{}.yaml", unique("sops")));
    std::fs::write(&file, yaml).unwrap();
    let out = std::process::Command::new(tool("sops"))
        .env("SOPS_AGE_KEY_FILE", identity)
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[tokio::test]
async fn the_real_sops_decrypts_exports_exactly_and_refuses_a_tampered_file() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let dir = scratch("sops");
    let (identity, recipient) = age_identity(&dir);
    let (other_identity, other_recipient) = age_identity(&dir);
    let (stranger, _) = age_identity(&dir);

    for (input, args) in parity_cases(&dir) {
        let name = unique("sops");
        let (status, exported) = alice
            .post(
                "/namespaces/team-a/sops",
                json!({"recipients": [recipient, other_recipient], "secret": {"name": name, "input": input, "annotations": {"team": "a", "note": "nel\u{85} sep\u{2028} del\u{7f} bom\u{feff}: # - ?"}}}),
            )
            .await;
        assert_eq!(status, 200, "{exported}");
        let yaml = exported["yaml"].as_str().unwrap();
        // Metadata stays readable for review; values do not.
        assert!(yaml.contains(&format!("name: \"{name}\"")), "{yaml}");
        assert!(
            yaml.contains("encrypted_regex: \"^(data|stringData)$\""),
            "{yaml}"
        );
        let expected = dry_run_for(&name, &args);
        for v in expected["data"].as_object().unwrap().values() {
            let v = v.as_str().unwrap();
            if v.len() > 4 {
                assert!(!yaml.contains(v), "a value in the export");
            }
        }
        for id in [&identity, &other_identity] {
            let plain = sops_decrypt(&dir, id, yaml).unwrap();
            assert_eq!(plain["data"], expected["data"], "{name}");
            assert_eq!(type_of(&plain), type_of(&expected));
            assert_eq!(plain["metadata"]["name"], name.as_str());
            assert_eq!(plain["metadata"]["namespace"], "team-a");
            assert_eq!(plain["metadata"]["annotations"]["team"], "a");
            assert_eq!(
                plain["metadata"]["annotations"]["note"],
                "nel\u{85} sep\u{2028} del\u{7f} bom\u{feff}: # - ?"
            );
        }
        assert!(
            sops_decrypt(&dir, &stranger, yaml).is_err(),
            "a stranger's identity"
        );
        // Nothing reached the cluster.
        assert!(get_json(&["get", "secret", &name, "-n", "team-a", "-o", "json"]).is_none());

        // Tampering with readable metadata (covered by the MAC) or with a
        // value is refused.
        let renamed = yaml.replace(&format!("name: \"{name}\""), "name: \"evil\"");
        let err = sops_decrypt(&dir, &identity, &renamed).unwrap_err();
        assert!(err.contains("MAC"), "{err}");
        let doc: Value = serde_norway::from_str(yaml).unwrap();
        let (key, enc) = doc["data"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, v)| v.as_str().unwrap().starts_with("ENC["))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .unwrap();
        let flipped = enc
            .replacen("data:", "data:A", 1)
            .replacen("data:AA", "data:B", 1);
        let err = sops_decrypt(&dir, &identity, &yaml.replace(&enc, &flipped)).unwrap_err();
        assert!(!err.is_empty(), "a changed value of {key} is refused");
    }

    // An existing secret, exported as alice: audited like a reveal.
    let name = generic(&alice, "exp", &[("token", "abc123")]).await;
    // Annotations that copy the object (kubecfg's, as the tool writes it) or
    // hold a value stay out of the readable metadata.
    let out = kubectl(&[
        "annotate",
        "secret",
        &name,
        "-n",
        "team-a",
        &format!(
            "kubecfg.ksonnet.io/last-applied-configuration={{\"data\":{{\"token\":\"{}\"}}}}",
            b64(b"abc123")
        ),
        "pasted-by-mistake=the token is abc123",
        "owner=team-a",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, exported) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{name}/sops"),
            json!({"recipients": [recipient], "reason": "moving to Flux"}),
        )
        .await;
    assert_eq!(status, 200, "{exported}");
    let yaml = exported["yaml"].as_str().unwrap();
    assert!(
        !yaml.contains(&b64(b"abc123")) && !yaml.contains("abc123"),
        "{yaml}"
    );
    let plain = sops_decrypt(&dir, &identity, yaml).unwrap();
    assert_eq!(plain["data"]["token"], b64(b"abc123"));
    assert_eq!(plain["metadata"]["annotations"], json!({"owner": "team-a"}));
    let (_, history) = alice
        .get(&format!(
            "/namespaces/team-a/secrets/{name}/history?limit=20"
        ))
        .await;
    let record = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == exported["audit_id"])
        .unwrap_or_else(|| panic!("the export's record in {history}"));
    assert_eq!(record["action"], "export");
    // The reason says where the values went: the recipients.
    assert_eq!(
        record["reason"],
        format!("moving to Flux [exported for SOPS to age recipients {recipient}]")
    );
    assert_eq!(record["keys"], json!(["token"]));
    assert!(!record.to_string().contains("abc123"));

    // An invalid recipient is named, and nothing is recorded or answered.
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{name}/sops"),
            json!({"recipients": [recipient, "age1notarecipient"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "recipients.1");
    server.stop();
}

#[tokio::test]
async fn sealing_an_existing_secret_needs_get_is_audited_like_a_reveal_and_bad_input_is_named() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let carol = ApiSession::new(&server.url, "carol").await;
    let dir = scratch("existing");
    let keys = controller_keys(&dir);
    let name = generic(&alice, "exist", &[("api-key", "k-123")]).await;

    // carol may list but not get: refused, and the refusal is recorded.
    let path = format!("/namespaces/team-a/secrets/{name}/seal");
    let (status, body) = carol.post(&path, json!({})).await;
    assert_eq!(status, 403, "{body}");

    let (status, sealed) = alice.post(&path, json!({"scope": "strict"})).await;
    assert_eq!(status, 200, "{sealed}");
    let object: Value = serde_norway::from_str(sealed["yaml"].as_str().unwrap()).unwrap();
    let opened = recovery_unseal(&dir, &keys, &object).unwrap();
    assert_eq!(opened["data"]["api-key"], b64(b"k-123"));
    assert_eq!(opened["metadata"]["name"], name.as_str());

    let dave = ApiSession::new(&server.url, "dave").await;
    let (status, trail) = dave.get(&format!("/audit?secret={name}&action=seal")).await;
    assert_eq!(status, 200, "{trail}");
    let outcomes: Vec<(String, String)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("oidc:alice@example.com".into(), "allowed".into())),
        "{trail}"
    );
    assert!(
        outcomes.contains(&("oidc:carol@example.com".into(), "denied".into())),
        "{trail}"
    );
    assert!(!trail.to_string().contains("k-123"));
    // The record says where the values went.
    let allowed = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["outcome"] == "allowed")
        .unwrap();
    let fingerprint = sealed["certificate"]["fingerprint"].as_str().unwrap();
    assert_eq!(
        allowed["reason"],
        format!(
            "sealed for Git, strict scope, to the controller kube-system/sealed-secrets-controller certificate SHA-256 {fingerprint}"
        )
    );

    // Creating a SealedSecret for an existing secret is refused (the
    // controller would not take over an unmanaged secret).
    let (status, body) = alice.post(&path, json!({"create": true})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "create");

    // Certificates that are not a current RSA certificate are named.
    let ec = dir.join("ec.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-days",
            "1",
            "-subj",
            "/CN=ec",
            "-out",
        ])
        .arg(&ec)
        .output()
        .unwrap();
    assert!(out.status.success());
    for (pem, needle) in [
        (std::fs::read_to_string(&ec).unwrap(), "not an RSA key"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_string(),
            "certificate",
        ),
    ] {
        let (status, body) = alice.post(&path, json!({"certificate": pem})).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "certificate", "{body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
        let (status, body) = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"certificate": pem, "create": true, "secret": {"name": unique("bad"), "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
    }

    // A pasted certificate (the controller's, fetched by kubeseal) works
    // like the fetched one.
    let (_, cert) = alice.get("/sealing/certificate").await;
    let (status, sealed) = alice.post(&path, json!({"certificate": cert["pem"]})).await;
    assert_eq!(status, 200, "{sealed}");
    assert_eq!(sealed["certificate"]["source"], "pasted");
    server.stop();

    // The reveal rules hold for seals and exports: the namespace's reason,
    // and the per-user rate (shared with reveals), each key disclosed
    // counting; a cluster-wide seal where the platform forbids it.
    let server = TestServer::start(&[
        "--reveal-rate-limit",
        "3/1h",
        "--reveal-reason-namespaces",
        "team-a",
        "--sealing-scopes",
        "strict,namespace-wide",
    ])
    .await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let (status, body) = alice.post(&path, json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "reason");
    let (status, body) = alice
        .post(&path, json!({"scope": "cluster-wide", "reason": "r"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "scope");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cluster-wide sealing is not allowed"),
        "{body}"
    );
    let (status, body) = alice
        .post(&path, json!({"reason": "moving to GitOps"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice.reveal("team-a", &name, &["api-key"]).await;
    assert_eq!(status, 422, "a reveal needs the reason too: {body}");
    let three = generic(&alice, "three", &[("a", "1"), ("b", "2"), ("c", "3")]).await;
    // One key used of three; a three-key export needs three.
    let (status, body) = alice
        .post(
            &format!("/namespaces/team-a/secrets/{three}/sops"),
            json!({"recipients": [age_recipient()], "reason": "moving to Flux"}),
        )
        .await;
    assert_eq!(status, 429, "each key counts: {body}");
    server.stop();

    // Sealing from the form writes into the namespace's trail: only for
    // those who work there.
    let server = TestServer::start(&[]).await;
    let eve = ApiSession::new(&server.url, "eve").await;
    let (status, body) = eve
        .post(
            "/namespaces/team-a/sealed-secrets",
            json!({"secret": {"name": unique("eve"), "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = eve
        .post(
            "/namespaces/team-a/sops",
            json!({"recipients": [age_recipient()], "secret": {"name": unique("eve"), "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    server.stop();

    // A controller alice may not reach: Kubernetes' refusal, named.
    let server = TestServer::start(&["--sealing-controller-name", "no-such-controller"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let (status, body) = alice.get("/sealing/certificate").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("get services/proxy no-such-controller"),
        "{body}"
    );
    server.stop();

    // A controller alice may reach that is missing or does not answer: a
    // clear 503 that says to paste the certificate. (The admin grants alice
    // the proxy on a Service without endpoints, and on a missing one.)
    let ns = "team-a";
    let svc = unique("nocontroller");
    let missing = unique("missing");
    let grant = dir.join("grant.json");
    std::fs::write(
        &grant,
        json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": ns},
                "spec": {"ports": [{"name": "http", "port": 8080}]}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": svc, "namespace": ns},
                "rules": [{"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"],
                    "resourceNames": [format!("{svc}:http"), format!("{missing}:http")]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": svc, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": svc},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oidc:team-a-editors"}]}]})
        .to_string(),
    )
    .unwrap();
    let out = kubectl(&["apply", "-f", &grant.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, needle) in [
        (svc.as_str(), "is not running"),
        (missing.as_str(), "is not running"),
    ] {
        let server = TestServer::start(&[
            "--sealing-controller-namespace",
            ns,
            "--sealing-controller-name",
            name,
        ])
        .await;
        let alice = ApiSession::new(&server.url, "alice").await;
        let (status, body) = alice.get("/sealing/certificate").await;
        assert_eq!(status, 503, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}");
        assert!(message.contains("paste its certificate"), "{body}");
        // Sealing from the form fails the same way, and nothing is created.
        let secret = unique("nocert");
        let (status, _) = alice
            .post(
                "/namespaces/team-a/sealed-secrets",
                json!({"create": true, "secret": {"name": secret, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}}),
            )
            .await;
        assert_eq!(status, 503);
        assert!(
            get_json(&["get", "sealedsecret", &secret, "-n", "team-a", "-o", "json"]).is_none()
        );
        server.stop();
    }
}

#[tokio::test]
async fn secrets_an_external_secret_or_a_helm_release_manages_say_so() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let carol = ApiSession::new(&server.url, "carol").await;
    let dir = scratch("owned");
    let es = unique("es");
    let file = dir.join("es.json");
    std::fs::write(
        &file,
        json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": es, "namespace": "team-a"},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
                "target": {"name": es}, "data": [{"secretKey": "password", "remoteRef": {"key": "prod/db"}}]}})
        .to_string(),
    )
    .unwrap();
    let out = kubectl(&["apply", "-f", &file.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uid = get_json(&["get", "externalsecret", &es, "-n", "team-a", "-o", "json"]).unwrap()
        ["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    // What the operator would write: a Secret it controls.
    let secret = dir.join("secret.json");
    std::fs::write(
        &secret,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": es, "namespace": "team-a",
            "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": es, "uid": uid, "controller": true}]},
            "data": {"password": b64(b"from-the-store")}})
        .to_string(),
    )
    .unwrap();
    let out = kubectl(&["apply", "-f", &secret.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (_, detail) = alice.get(&format!("/namespaces/team-a/secrets/{es}")).await;
    assert_eq!(detail["owner"]["kind"], "external-secret", "{detail}");
    let (status, source) = alice
        .get(&format!("/namespaces/team-a/secrets/{es}/source"))
        .await;
    assert_eq!(status, 200, "{source}");
    assert_eq!(source["readable"], true);
    let facts: Vec<(String, String)> = serde_json::from_value(source["facts"].clone()).unwrap();
    assert!(
        facts.contains(&("store".into(), "ClusterSecretStore aws".into())),
        "{source}"
    );
    assert!(
        facts.contains(&("refresh interval".into(), "1h".into())),
        "{source}"
    );
    // carol sees the row's owner but may not read the ExternalSecret.
    let (_, page) = carol
        .get(&format!("/namespaces/team-a/secrets?name={es}"))
        .await;
    assert_eq!(
        page["items"][0]["owner"]["kind"], "external-secret",
        "{page}"
    );

    // A Helm release's secret.
    let helm = unique("helm");
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        &helm,
        "-n",
        "team-a",
        "--from-literal=k=v",
    ]);
    assert!(out.status.success());
    kubectl(&[
        "label",
        "secret",
        &helm,
        "-n",
        "team-a",
        "app.kubernetes.io/managed-by=Helm",
    ]);
    kubectl(&[
        "annotate",
        "secret",
        &helm,
        "-n",
        "team-a",
        "meta.helm.sh/release-name=web",
    ]);
    let (_, page) = alice
        .get(&format!("/namespaces/team-a/secrets?name={helm}"))
        .await;
    assert_eq!(page["items"][0]["owner"]["kind"], "helm-release", "{page}");
    assert_eq!(page["items"][0]["owner"]["name"], "web");
    let (status, source) = alice
        .get(&format!("/namespaces/team-a/secrets/{helm}/source"))
        .await;
    assert_eq!(status, 200, "{source}");
    assert_eq!(source["readable"], false);
    server.stop();
}
