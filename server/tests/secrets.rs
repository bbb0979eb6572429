//! The secrets workflow through the JSON API, as real users against the real
//! API server: every create form, kubectl parity, validation, binary values,
//! conflicts, paging, and values never leaving except in a reveal.

mod common;

use common::{ApiSession, Stack, TestServer, b64, kubectl, kubectl_dry_run, make_cert, unique};
use serde_json::{Value, json};

/// The secret as the API server stores it, read with the admin kubectl.
fn stored(ns: &str, name: &str) -> Value {
    let out = kubectl(&["get", "secret", name, "-n", ns, "-o", "json"]);
    assert!(
        out.status.success(),
        "kubectl get: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_parity(ours: &Value, theirs: &Value) {
    // `kubectl create secret generic` leaves `type` out; the API server
    // stores its default, Opaque.
    let their_type = if theirs["type"].is_null() {
        json!("Opaque")
    } else {
        theirs["type"].clone()
    };
    assert_eq!(ours["type"], their_type, "type");
    assert_eq!(ours["data"], theirs["data"], "data bytes");
    assert!(ours.get("stringData").is_none());
    let annotations = ours["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
}

#[tokio::test]
async fn generic_literals_match_kubectl() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("lit");
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [
                {"key": "AWS_ACCESS_KEY_ID", "value": b64(b"AKIAEXAMPLE")},
                {"key": "AWS_SECRET_ACCESS_KEY", "value": b64(b"wJalr/XUtnFEMI=K7MDENG")},
                {"key": "empty", "value": ""}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["keys"],
        json!([{"name": "AWS_ACCESS_KEY_ID", "size": 11}, {"name": "AWS_SECRET_ACCESS_KEY", "size": 22}, {"name": "empty", "size": 0}])
    );
    let theirs = kubectl_dry_run(&[
        "generic",
        &name,
        "--from-literal=AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
        "--from-literal=AWS_SECRET_ACCESS_KEY=wJalr/XUtnFEMI=K7MDENG",
        "--from-literal=empty=",
    ]);
    assert_parity(&stored("team-a", &name), &theirs);
    server.stop();
}

#[tokio::test]
async fn files_are_binary_safe_and_match_kubectl() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("files");
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 0xff, 0xfe]).collect();
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("blob.bin"), &binary).unwrap();
    std::fs::write(dir.join("config.json"), b"{\"a\": 1}\n").unwrap();
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [
                {"key": "blob.bin", "value": b64(&binary)},
                {"key": "config.json", "value": b64(b"{\"a\": 1}\n")}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let theirs = kubectl_dry_run(&[
        "generic",
        &name,
        &format!("--from-file={}", dir.join("blob.bin").display()),
        &format!("--from-file={}", dir.join("config.json").display()),
    ]);
    assert_parity(&stored("team-a", &name), &theirs);

    // Round trip through a reveal, byte for byte; binary has no text form.
    let (status, revealed) = alice.reveal("team-a", &name, &["blob.bin"]).await;
    assert_eq!(status, 200);
    assert_eq!(revealed["values"][0]["base64"], b64(&binary));
    assert_eq!(revealed["values"][0]["text"], Value::Null);
    assert_eq!(revealed["values"][0]["size"], binary.len());
    server.stop();
}

#[tokio::test]
async fn env_files_match_kubectl() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("env");
    let text = "# database\nDB_HOST=db.internal\n  DB_PASSWORD=p@ss=word  \n\nEMPTY=\nQUOTED=\"kept as is\"\r\n";
    let file = std::env::temp_dir().join(format!("{name}.env"));
    std::fs::write(&file, text).unwrap();
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "env-file", "file": b64(text.as_bytes())}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let theirs = kubectl_dry_run(&[
        "generic",
        &name,
        &format!("--from-env-file={}", file.display()),
    ]);
    assert_parity(&stored("team-a", &name), &theirs);
    server.stop();
}

#[tokio::test]
async fn docker_registry_secrets_match_kubectl() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    for (server_url, email) in [("registry.example.com:5000", "ci@example.com"), ("", "")] {
        let name = unique("docker");
        let (status, body) = alice
            .create("team-a", &name, json!({"kind": "docker-registry", "server": server_url, "username": "robot$ci", "password": "p<a>&ss", "email": email}))
            .await;
        assert_eq!(status, 201, "{body}");
        let mut args = vec![
            "docker-registry".to_string(),
            name.clone(),
            "--docker-username=robot$ci".into(),
            "--docker-password=p<a>&ss".into(),
        ];
        if !server_url.is_empty() {
            args.push(format!("--docker-server={server_url}"));
        }
        if !email.is_empty() {
            args.push(format!("--docker-email={email}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_parity(&stored("team-a", &name), &kubectl_dry_run(&args));
    }
    server.stop();
}

#[tokio::test]
async fn tls_secrets_match_kubectl_and_mismatched_pairs_are_refused() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let dir = std::env::temp_dir().join(unique("tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let (crt, key) = make_cert(&dir, "one");
    let (_, other_key) = make_cert(&dir, "two");
    let cert_pem = std::fs::read_to_string(&crt).unwrap();
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let name = unique("tls");
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "tls", "cert": cert_pem, "key": key_pem}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let theirs = kubectl_dry_run(&[
        "tls",
        &name,
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    assert_parity(&stored("team-a", &name), &theirs);

    let (status, body) = alice
        .create("team-a", &unique("tls-bad"), json!({"kind": "tls", "cert": cert_pem, "key": std::fs::read_to_string(&other_key).unwrap()}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "key");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not belong")
    );
    assert!(
        !body.to_string().contains("PRIVATE KEY"),
        "no key material in errors"
    );
    let (status, body) = alice
        .create(
            "team-a",
            &unique("tls-bad"),
            json!({"kind": "tls", "cert": "not a cert", "key": key_pem}),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("cert")));
    server.stop();
}

#[tokio::test]
async fn basic_auth_and_ssh_auth_have_their_types_and_keys() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("basic");
    let (status, _) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "basic-auth", "username": "admin", "password": "hunter2"}),
        )
        .await;
    assert_eq!(status, 201);
    let s = stored("team-a", &name);
    assert_eq!(s["type"], "kubernetes.io/basic-auth");
    assert_eq!(
        s["data"],
        json!({"username": b64(b"admin"), "password": b64(b"hunter2")})
    );
    let name = unique("ssh");
    let (status, _) = alice.create("team-a", &name, json!({"kind": "ssh-auth", "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"})).await;
    assert_eq!(status, 201);
    let s = stored("team-a", &name);
    assert_eq!(s["type"], "kubernetes.io/ssh-auth");
    assert_eq!(
        s["data"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["ssh-privatekey"]
    );
    server.stop();
}

#[tokio::test]
async fn validation_errors_name_the_field_and_create_nothing() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let cases = [
        (
            unique("v"),
            json!({"kind": "generic", "entries": [{"key": "bad key", "value": ""}]}),
            "data.0.key",
        ),
        (
            unique("v"),
            json!({"kind": "generic", "entries": [{"key": "..", "value": ""}]}),
            "data.0.key",
        ),
        (
            unique("v"),
            json!({"kind": "generic", "entries": [{"key": "a", "value": ""}, {"key": "a", "value": ""}]}),
            "data.1.key",
        ),
        (
            unique("v"),
            json!({"kind": "generic", "entries": [{"key": "x".repeat(254), "value": ""}]}),
            "data.0.key",
        ),
        (
            "Bad_Name".to_string(),
            json!({"kind": "generic", "entries": []}),
            "name",
        ),
        (
            unique("v"),
            json!({"kind": "env-file", "file": b64(b"NOEQUALS\n")}),
            "envFile",
        ),
        (
            unique("v"),
            json!({"kind": "generic", "entries": [{"key": "k", "value": "%%%not-base64"}]}),
            "data.0.value",
        ),
    ];
    for (name, input, field) in cases {
        let (status, body) = alice.create("team-a", &name, input).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["field"], field, "{body}");
        let out = kubectl(&["get", "secret", &name, "-n", "team-a"]);
        assert!(!out.status.success(), "{name} must not exist");
    }
    server.stop();
}

#[tokio::test]
async fn one_mebibyte_fits_and_one_byte_more_is_refused() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let limit = 1024 * 1024;
    let name = unique("big");
    let (status, body) = alice.create("team-a", &name, json!({"kind": "generic", "entries": [{"key": "blob", "value": b64(&vec![7u8; limit])}]})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = alice.create("team-a", &unique("toobig"), json!({"kind": "generic", "entries": [{"key": "blob", "value": b64(&vec![7u8; limit + 1])}]})).await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "data");
    server.stop();
}

#[tokio::test]
async fn a_concurrent_update_is_a_conflict_and_loses_nothing() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("conflict");
    let (_, created) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "a", "value": b64(b"1")}]}),
        )
        .await;
    let rv = created["resource_version"].as_str().unwrap().to_string();
    let path = format!("/namespaces/team-a/secrets/{name}");
    let (s1, b1) = alice
        .patch(
            &path,
            json!({"resource_version": rv, "set": [{"key": "a", "value": b64(b"2")}]}),
        )
        .await;
    assert_eq!(s1, 200, "{b1}");
    let (s2, b2) = alice
        .patch(
            &path,
            json!({"resource_version": rv, "set": [{"key": "a", "value": b64(b"3")}]}),
        )
        .await;
    assert_eq!(s2, 409, "{b2}");
    assert!(
        b2["message"]
            .as_str()
            .unwrap()
            .contains("changed by someone else")
    );
    assert_eq!(
        stored("team-a", &name)["data"]["a"],
        b64(b"2"),
        "the first update is kept, the second did not overwrite it"
    );
    server.stop();
}

#[tokio::test]
async fn rotating_and_removing_keys_and_deleting_with_confirmation() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("rotate");
    let (_, created) = alice.create("team-a", &name, json!({"kind": "generic", "entries": [{"key": "a", "value": b64(b"1")}, {"key": "b", "value": b64(b"2")}]})).await;
    let path = format!("/namespaces/team-a/secrets/{name}");
    let (status, updated) = alice
        .patch(&path, json!({"resource_version": created["resource_version"], "set": [{"key": "a", "value": b64(b"new")}, {"key": "c", "value": b64(b"3")}], "remove": ["b"]}))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        stored("team-a", &name)["data"],
        json!({"a": b64(b"new"), "c": b64(b"3")})
    );
    let (status, relabelled) = alice
        .patch(&path, json!({"resource_version": updated["resource_version"], "labels": {"team": "payments"}, "annotations": {"owner": "alice@example.com"}}))
        .await;
    assert_eq!(status, 200, "{relabelled}");
    let s = stored("team-a", &name);
    assert_eq!(s["metadata"]["labels"], json!({"team": "payments"}));
    assert_eq!(s["metadata"]["annotations"]["owner"], "alice@example.com");
    assert_eq!(
        s["data"],
        json!({"a": b64(b"new"), "c": b64(b"3")}),
        "data untouched by a metadata edit"
    );
    let (status, body) = alice
        .patch(&path, json!({"resource_version": relabelled["resource_version"], "labels": {"bad key!": "x"}}))
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("labels")));
    let (status, _) = alice.delete(&path, json!({"confirm": "wrong"})).await;
    assert_eq!(status, 422);
    assert!(
        kubectl(&["get", "secret", &name, "-n", "team-a"])
            .status
            .success(),
        "still there"
    );
    let (status, _) = alice.delete(&path, json!({"confirm": name})).await;
    assert_eq!(status, 200);
    assert!(
        !kubectl(&["get", "secret", &name, "-n", "team-a"])
            .status
            .success(),
        "deleted"
    );
    server.stop();
}

#[tokio::test]
async fn editing_annotations_keeps_the_ones_the_user_was_not_shown() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("applied");
    // Made with kubectl apply: it keeps its last-applied-configuration.
    let manifest = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "team-a", "annotations": {"team": "payments", "drop-me": "x"}},
        "data": {"k": b64(b"v")},
    });
    let file = std::env::temp_dir().join(format!("{name}.json"));
    std::fs::write(&file, manifest.to_string()).unwrap();
    let out = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = format!("/namespaces/team-a/secrets/{name}");
    let (_, detail) = alice.get(&path).await;
    assert!(
        detail["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "never shown: {detail}"
    );
    // The person keeps `team`, removes `drop-me`, adds `owner`.
    let (status, body) = alice
        .patch(&path, json!({"resource_version": detail["resource_version"], "annotations": {"team": "payments", "owner": "alice"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let annotations = &stored("team-a", &name)["metadata"]["annotations"];
    assert_eq!(annotations["team"], "payments");
    assert_eq!(annotations["owner"], "alice");
    assert!(annotations.get("drop-me").is_none(), "{annotations}");
    assert!(
        annotations
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some(),
        "kubectl's annotation survives an edit it was not part of: {annotations}"
    );
    let _ = std::fs::remove_file(file);
    server.stop();
}

#[tokio::test]
async fn an_env_file_error_never_repeats_the_line() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    // A private key pasted into the env-file field by mistake.
    let pem = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let file = format!("API_URL=https://example.com\n{pem}\n");
    let name = unique("envleak");
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "env-file", "file": b64(file.as_bytes())}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "envFile");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("line 2"), "{message}");
    assert!(
        !message.contains("MIIEvQ"),
        "the line is not echoed: {message}"
    );
    server.stop();
}

#[tokio::test]
async fn values_appear_only_in_reveals() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("leak");
    let value = format!("canary-{}", uuid::Uuid::new_v4());
    let (status, created) = alice.create("team-a", &name, json!({"kind": "generic", "entries": [{"key": "token", "value": b64(value.as_bytes())}]})).await;
    assert_eq!(status, 201);
    let forms = [value.clone(), b64(value.as_bytes())];
    let mut seen = vec![created.to_string()];
    seen.push(alice.get("/namespaces/team-a/secrets").await.1.to_string());
    seen.push(
        alice
            .get(&format!("/namespaces/team-a/secrets/{name}"))
            .await
            .1
            .to_string(),
    );
    seen.push(alice.get("/me").await.1.to_string());
    for page in [
        "/",
        "/me",
        "/ns/team-a",
        &format!("/ns/team-a/secrets/{name}"),
        "/ns/team-a/new",
    ] {
        let r = alice
            .c
            .get(format!("{}{page}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        seen.push(r.text().await.unwrap());
    }
    for body in &seen {
        for f in &forms {
            assert!(
                !body.contains(f.as_str()),
                "a value leaked outside a reveal"
            );
        }
    }
    let (status, revealed) = alice.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 200);
    assert_eq!(
        revealed["values"][0]["text"], value,
        "the reveal does carry it"
    );
    server.stop();
}

#[tokio::test]
async fn carol_can_list_but_not_reveal_and_bob_cannot_see_team_a() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = unique("shared");
    alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}),
        )
        .await;
    let carol = ApiSession::new(&server.url, "carol").await;
    let (status, page) = carol
        .get(&format!("/namespaces/team-a/secrets?name={name}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["name"], name);
    assert_eq!(page["items"][0]["keys"], 1);
    let (status, body) = carol.reveal("team-a", &name, &[]).await;
    assert_eq!(status, 403);
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains("oidc:carol@example.com") && msg.contains("get") && msg.contains("team-a"),
        "{msg}"
    );
    let bob = ApiSession::new(&server.url, "bob").await;
    let (status, body) = bob.get("/namespaces/team-a/secrets").await;
    assert_eq!(status, 403);
    assert!(body["message"].as_str().unwrap().contains("list"));
    server.stop();
}

#[tokio::test]
async fn ten_thousand_secrets_are_listed_page_by_page() {
    const N: usize = 10_000;
    let ns = "bulk";
    // Seed once per stack: a namespace alice's group may read, with N small secrets.
    let count = kubectl(&["get", "secrets", "-n", ns, "--no-headers", "-o", "name"]);
    let existing = String::from_utf8_lossy(&count.stdout).lines().count();
    if existing < N {
        let stack = Stack::get();
        let _ = kubectl(&["create", "namespace", ns]);
        let _ = kubectl(&[
            "create",
            "rolebinding",
            "bulk-editors",
            "-n",
            ns,
            "--clusterrole=secret-editor",
            "--group=oidc:team-a-editors",
        ]);
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(stack.var("ADMIN_KUBECONFIG")).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        let admin = kube::Client::try_from(config).unwrap();
        let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(admin, ns);
        use futures::StreamExt;
        futures::stream::iter(existing..N)
            .for_each_concurrent(32, |i| {
                let api = api.clone();
                async move {
                    let s: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
                        "metadata": {"name": format!("s-{i:05}")},
                        "data": {"k": b64(b"v")}
                    }))
                    .unwrap();
                    let _ = api.create(&Default::default(), &s).await;
                }
            })
            .await;
    }
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let mut names = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &token {
            Some(t) => format!("?limit=500&continue={}", common::urlencode(t)),
            None => "?limit=500".into(),
        };
        let (status, page) = alice.get(&format!("/namespaces/{ns}/secrets{q}")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 500);
        names.extend(
            items
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match page["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert!(names.len() >= N, "saw {} secrets", names.len());
    assert!(pages >= N / 500, "{pages} pages");
    // A name filter reads on through the list: the last secret is found in
    // one answer, not on page 20 of mostly empty pages.
    let (status, page) = alice
        .get(&format!("/namespaces/{ns}/secrets?name=s-09999"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["name"], "s-09999");
    server.stop();
}
