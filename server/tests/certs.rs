//! Certificates in secrets, as real users against the real API server:
//! one secret's certificates (audited), chains, bundles and broken values,
//! and the namespace's expiring view with who may see it. Certificates are
//! made with `openssl` (dates set with `openssl ca -startdate/-enddate`)
//! and the answers compared with what `openssl x509` prints.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use common::{ApiSession, TestServer, b64, kubectl, unique};
use serde_json::{Value, json};
use strongroom_server::domain::audit::store::AuditQuery;

/// A throwaway PKI: a root CA, an intermediate CA, and `openssl ca` set
/// up to sign leaves with any dates.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (it is needed for these tests)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn asn1(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(unique("strongroom-pki"));
        std::fs::create_dir_all(dir.join("new")).unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(
            dir.join("ca.cnf"),
            "[ ca ]\ndefault_ca = test\n[ test ]\ndir = .\ndatabase = ./index.txt\n\
             new_certs_dir = ./new\nserial = ./serial\ndefault_md = sha256\npolicy = any\n\
             copy_extensions = copy\nunique_subject = no\n[ any ]\norganizationName = optional\n\
             commonName = supplied\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-days",
                "3650",
                "-subj",
                "/O=Strongroom Test/CN=Test Root",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
            ],
        );
        let pki = Pki { dir };
        let now = Utc::now();
        pki.sign(
            "inter",
            "/O=Strongroom Test/CN=Test Intermediate",
            "basicConstraints=critical,CA:TRUE",
            ("root.pem", "root.key"),
            now - Duration::days(1),
            now + Duration::days(1000),
        );
        pki
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).unwrap()
    }

    /// Signs a new key's certificate `name.pem` (key `name.key`) with
    /// `issuer`, valid from `start` to `end`, with extension `ext`.
    fn sign(
        &self,
        name: &str,
        subject: &str,
        ext: &str,
        issuer: (&str, &str),
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            &self.dir,
            &[
                "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr,
                "-subj", subject, "-addext", ext,
            ],
        );
        openssl(
            &self.dir,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-rand_serial",
                "-notext",
                "-cert",
                issuer.0,
                "-keyfile",
                issuer.1,
                "-in",
                &csr,
                "-out",
                &pem,
                "-startdate",
                &asn1(start),
                "-enddate",
                &asn1(end),
            ],
        );
    }

    /// A leaf for `host` signed by the intermediate, ending `days` from now
    /// (negative: in the past). Its PEM and key.
    fn leaf(&self, host: &str, days: i64) -> (String, String) {
        let now = Utc::now();
        let end = now + Duration::days(days);
        self.sign(
            host,
            &format!("/O=Strongroom Test/CN={host}"),
            &format!(
                "subjectAltName=DNS:{host},DNS:www.{host},IP:10.1.2.3,email:ops@{host},URI:https://{host}/svc"
            ),
            ("inter.pem", "inter.key"),
            end.min(now) - Duration::days(30),
            end,
        );
        (
            self.read(&format!("{host}.pem")),
            self.read(&format!("{host}.key")),
        )
    }

    /// What `openssl x509` prints for `file`: serial, subject and issuer in
    /// x509-parser's spelling, and the SHA-256 fingerprint.
    fn facts(&self, file: &str) -> (String, String, String, String) {
        let out = openssl(
            &self.dir,
            &[
                "x509",
                "-in",
                file,
                "-noout",
                "-serial",
                "-subject",
                "-issuer",
                "-fingerprint",
                "-sha256",
            ],
        );
        let field = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("{prefix} in {out}"))
                .replace(" = ", "=")
        };
        (
            field("serial="),
            field("subject="),
            field("issuer="),
            field("sha256 Fingerprint="),
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates `name` in team-a from a manifest (type and base64 data) with
/// the admin's kubectl, which does not check what a tls secret holds.
fn apply(name: &str, type_: &str, data: &[(&str, &[u8])]) {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(b64(v))))
        .collect();
    let manifest = json!({
        "apiVersion": "v1", "kind": "Secret", "type": type_,
        "metadata": {"name": name, "namespace": "team-a"},
        "data": data,
    });
    let file = std::env::temp_dir().join(format!("{name}.json"));
    std::fs::write(&file, manifest.to_string()).unwrap();
    let out = kubectl(&["create", "-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "kubectl create {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn delete(names: &[&str]) {
    let mut args = vec!["delete", "secret", "-n", "team-a", "--ignore-not-found"];
    args.extend(names);
    let _ = kubectl(&args);
}

async fn inspect(user: &ApiSession, name: &str) -> (u16, Value, String) {
    let r = user
        .c
        .get(format!(
            "{}/api/v1/namespaces/team-a/secrets/{name}/certificates",
            user.url
        ))
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

fn entry<'a>(answer: &'a Value, key: &str) -> &'a Value {
    answer["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {answer}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn alice_inspects_tls_secrets_and_each_inspection_is_recorded() {
    let pki = Pki::new();
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let name = |tag: &str| unique(&format!("cert-{tag}"));
    let (soon, past, later) = (name("soon"), name("past"), name("later"));
    let mut keys = Vec::new();
    for (secret, host, days) in [
        (&soon, "soon.example.com", 10),
        (&past, "past.example.com", -1),
        (&later, "later.example.com", 365),
    ] {
        let (crt, key) = pki.leaf(host, days);
        // The leaf and its issuer: a chain, leaf first.
        let chain = format!("{crt}{}", pki.read("inter.pem"));
        apply(
            secret,
            "kubernetes.io/tls",
            &[("tls.crt", chain.as_bytes()), ("tls.key", key.as_bytes())],
        );
        keys.push(key);
    }

    let (status, answer, text) = inspect(&alice, &soon).await;
    assert_eq!(status, 200, "{text}");
    let audit_id = answer["audit_id"].as_str().unwrap().to_string();
    assert_eq!(answer["warning_days"], 30);
    let crt = entry(&answer, "tls.crt");
    assert_eq!(answer["keys"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(crt["key_matches"], true);
    let certs = crt["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "the chain, in order");
    let (leaf, inter) = (&certs[0], &certs[1]);
    let (serial, subject, issuer, fingerprint) = pki.facts("soon.example.com.pem");
    assert_eq!(leaf["position"], 0);
    assert_eq!(leaf["serial"], serial);
    assert_eq!(leaf["subject"], subject);
    assert_eq!(leaf["issuer"], issuer);
    assert_eq!(leaf["sha256_fingerprint"], fingerprint);
    assert_eq!(subject, "O=Strongroom Test, CN=soon.example.com");
    assert_eq!(
        strings(&leaf["dns_names"]),
        ["soon.example.com", "www.soon.example.com"]
    );
    assert_eq!(strings(&leaf["ip_addresses"]), ["10.1.2.3"]);
    assert_eq!(strings(&leaf["emails"]), ["ops@soon.example.com"]);
    assert_eq!(strings(&leaf["uris"]), ["https://soon.example.com/svc"]);
    assert_eq!(leaf["status"], "expiring-soon");
    assert!(matches!(leaf["days_left"].as_i64(), Some(9 | 10)), "{leaf}");
    assert_eq!(leaf["is_ca"], false);
    let not_after = DateTime::parse_from_rfc3339(leaf["not_after"].as_str().unwrap()).unwrap();
    assert!(
        (not_after.with_timezone(&Utc) - (Utc::now() + Duration::days(10)))
            .num_minutes()
            .abs()
            < 10
    );
    assert!(DateTime::parse_from_rfc3339(leaf["not_before"].as_str().unwrap()).is_ok());
    let (inter_serial, inter_subject, ..) = pki.facts("inter.pem");
    assert_eq!(inter["position"], 1);
    assert_eq!(inter["serial"], inter_serial);
    assert_eq!(inter["subject"], inter_subject);
    assert_eq!(inter["is_ca"], true);
    assert_eq!(inter["status"], "valid");
    // Public data only: nothing of the private key.
    assert!(!text.contains("PRIVATE KEY"));
    for key in &keys {
        for line in key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !text.contains(line),
                "a line of the private key in the answer"
            );
        }
    }

    for (secret, status) in [(&past, "expired"), (&later, "valid")] {
        let (code, answer, text) = inspect(&alice, secret).await;
        assert_eq!(code, 200, "{text}");
        let leaf = &entry(&answer, "tls.crt")["certificates"][0];
        assert_eq!(leaf["status"], status, "{secret}");
    }
    let (_, answer, _) = inspect(&alice, &past).await;
    assert!(
        entry(&answer, "tls.crt")["certificates"][0]["days_left"]
            .as_i64()
            .unwrap()
            < 0
    );

    // The inspection was recorded before the answer: action inspect, the key
    // read, a fingerprint of every value of the secret.
    let records = server
        .state
        .audit
        .query(&AuditQuery {
            secret: Some(soon.clone()),
            action: Some("inspect".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0].event;
    assert_eq!(record.id, audit_id, "the answer names its record");
    let record = serde_json::to_value(record).unwrap();
    assert_eq!(record["outcome"], "allowed");
    assert_eq!(record["keys"], json!(["tls.crt"]));
    let fingerprinted: Vec<&str> = record["fingerprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprinted, ["tls.crt", "tls.key"]);
    // The secret's access history shows it.
    let (status, history) = alice
        .get(&format!(
            "/namespaces/team-a/secrets/{soon}/history?limit=10"
        ))
        .await;
    assert_eq!(status, 200, "{history}");
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["action"] == "inspect"),
        "{history}"
    );
    delete(&[&soon, &past, &later]);
    server.stop();
}

#[tokio::test]
async fn bundles_garbage_private_keys_and_mismatched_keys_are_reported_clearly() {
    let pki = Pki::new();
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let (bundle, garbage, mismatch, broken) = (
        unique("cert-bundle"),
        unique("cert-garbage"),
        unique("cert-mismatch"),
        unique("cert-broken"),
    );
    let (root, inter) = (pki.read("root.pem"), pki.read("inter.pem"));
    let (crt, key) = pki.leaf("bundle.example.com", 90);
    let (_, other_key) = pki.leaf("other.example.com", 90);
    // A CA bundle in an Opaque secret, next to a password and a private key
    // under a name that is not a certificate's.
    apply(
        &bundle,
        "Opaque",
        &[
            ("ca.crt", format!("{root}{inter}").as_bytes()),
            ("password", b"hunter2-password"),
            ("client.pem", key.as_bytes()),
        ],
    );
    apply(
        &garbage,
        "Opaque",
        &[("ca.crt", b"hunter2 is not a certificate")],
    );
    apply(
        &mismatch,
        "kubernetes.io/tls",
        &[
            ("tls.crt", crt.as_bytes()),
            ("tls.key", other_key.as_bytes()),
        ],
    );
    apply(
        &broken,
        "kubernetes.io/tls",
        &[
            ("tls.crt", b"\x00\x01 not pem"),
            ("tls.key", key.as_bytes()),
        ],
    );

    let (status, answer, text) = inspect(&alice, &bundle).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        answer["keys"].as_array().unwrap().len(),
        1,
        "only ca.crt: {answer}"
    );
    let ca = entry(&answer, "ca.crt");
    let subjects: Vec<&str> = ca["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "O=Strongroom Test, CN=Test Root",
            "O=Strongroom Test, CN=Test Intermediate"
        ]
    );
    assert_eq!(ca["certificates"][0]["self_signed"], true);
    assert_eq!(ca["key_matches"], Value::Null);
    assert!(!text.contains("hunter2") && !text.contains("PRIVATE KEY"));

    let (status, answer, text) = inspect(&alice, &garbage).await;
    assert_eq!(status, 200, "{text}");
    let ca = entry(&answer, "ca.crt");
    assert_eq!(ca["certificates"], json!([]));
    assert!(
        ca["note"]
            .as_str()
            .unwrap()
            .starts_with("not a certificate")
    );
    assert!(!text.contains("hunter2"));

    let (status, answer, text) = inspect(&alice, &mismatch).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(entry(&answer, "tls.crt")["key_matches"], false);

    let (status, answer, text) = inspect(&alice, &broken).await;
    assert_eq!(status, 200, "{text}");
    let crt = entry(&answer, "tls.crt");
    assert_eq!(crt["certificates"], json!([]));
    assert_eq!(crt["key_matches"], Value::Null);
    assert!(
        crt["note"]
            .as_str()
            .unwrap()
            .starts_with("not a certificate")
    );
    assert!(!text.contains("PRIVATE KEY"));

    // A secret that does not exist: 404, and the refusal is recorded.
    let missing = unique("cert-missing");
    let (status, answer, _) = inspect(&alice, &missing).await;
    assert_eq!(status, 404, "{answer}");
    let records = server
        .state
        .audit
        .query(&AuditQuery {
            secret: Some(missing),
            action: Some("inspect".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        serde_json::to_value(&records[0].event).unwrap()["outcome"],
        "failed"
    );
    delete(&[&bundle, &garbage, &mismatch, &broken]);
    server.stop();
}

#[tokio::test]
async fn the_expiring_view_lists_expired_and_expiring_certificates_to_readers_only() {
    let pki = Pki::new();
    let server = TestServer::start(&[]).await;
    let (alice, carol, bob) = (
        ApiSession::new(&server.url, "alice").await,
        ApiSession::new(&server.url, "carol").await,
        ApiSession::new(&server.url, "bob").await,
    );
    let (past, soon, later, bundle) = (
        unique("exp-past"),
        unique("exp-soon"),
        unique("exp-later"),
        unique("exp-bundle"),
    );
    for (secret, host, days) in [
        (&past, "past.example.com", -1),
        (&soon, "soon.example.com", 10),
        (&later, "later.example.com", 365),
    ] {
        let (crt, key) = pki.leaf(host, days);
        apply(
            secret,
            "kubernetes.io/tls",
            &[("tls.crt", crt.as_bytes()), ("tls.key", key.as_bytes())],
        );
    }
    // A certificate in an Opaque secret's key is found too.
    let (bundle_crt, _) = pki.leaf("bundle.example.com", 5);
    apply(&bundle, "Opaque", &[("ca-bundle", bundle_crt.as_bytes())]);
    let ours = |answer: &Value| -> Vec<(String, String, String)> {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                [&past, &soon, &later, &bundle]
                    .iter()
                    .any(|n| i["secret"] == n.as_str())
            })
            .map(|i| {
                (
                    i["secret"].as_str().unwrap().to_string(),
                    i["key"].as_str().unwrap().to_string(),
                    i["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };

    let (status, answer) = alice.get("/namespaces/team-a/certificates").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["within_days"], 30);
    assert_eq!(
        ours(&answer),
        [
            (past.clone(), "tls.crt".to_string(), "expired".to_string()),
            (
                bundle.clone(),
                "ca-bundle".to_string(),
                "expiring-soon".to_string()
            ),
            (
                soon.clone(),
                "tls.crt".to_string(),
                "expiring-soon".to_string()
            ),
        ],
        "sorted by not-after, the one-year certificate left out"
    );
    let after: Vec<&str> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["not_after"].as_str().unwrap())
        .collect();
    assert!(after.is_sorted(), "{after:?}");
    // /metrics counts the namespace's secrets with such certificates.
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expiring: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("strongroom_secrets_certificates_expiring{namespace=\"team-a\"} ")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no expiring gauge for team-a: {metrics}"));
    assert!(expiring >= 3, "{metrics}");
    assert!(answer["scanned_secrets"].as_u64().unwrap() >= 4);
    assert_eq!(answer["truncated"], false);
    let soon_item = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["secret"] == soon.as_str())
        .unwrap();
    assert_eq!(
        soon_item["subject"],
        "O=Strongroom Test, CN=soon.example.com"
    );
    assert!(matches!(soon_item["days_left"].as_i64(), Some(9 | 10)));
    let text = answer.to_string();
    assert!(!text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"));

    // A wider window (from the same cached scan) takes in the one-year one.
    let (status, wide) = alice
        .get("/namespaces/team-a/certificates?within=400")
        .await;
    assert_eq!(status, 200, "{wide}");
    assert_eq!(ours(&wide).len(), 4);
    assert_eq!(
        wide["audit_id"], answer["audit_id"],
        "cached: the same scan"
    );
    for bad in ["0", "3651", "x"] {
        let (status, body) = alice
            .get(&format!("/namespaces/team-a/certificates?within={bad}"))
            .await;
        assert!(matches!(status, 400 | 422), "within={bad}: {status} {body}");
    }

    // One record for the scan, with no secret name.
    let scans = server
        .state
        .audit
        .query(&AuditQuery {
            namespace: Some("team-a".into()),
            secret: Some(String::new()),
            action: Some("inspect".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        scans.len(),
        1,
        "one record for the scan, none for the cached answer"
    );
    assert_eq!(scans[0].event.id, answer["audit_id"].as_str().unwrap());

    // carol may list team-a's secrets but not get them: no certificate data.
    let (status, body) = carol.get("/namespaces/team-a/certificates").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    let text = body.to_string();
    assert!(
        !text.contains(&soon) && !text.contains("CN=") && !text.contains("items"),
        "{text}"
    );
    let (status, _, text) = inspect(&carol, &soon).await;
    assert_eq!(status, 403, "{text}");
    // bob may do nothing in team-a.
    let (status, body) = bob.get("/namespaces/team-a/certificates").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    let denied = server
        .state
        .audit
        .query(&AuditQuery {
            secret: Some(String::new()),
            action: Some("inspect".into()),
            outcome: Some("denied".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 2, "carol's and bob's refusals are recorded");
    delete(&[&past, &soon, &later, &bundle]);
    server.stop();
}

#[tokio::test]
async fn concurrent_views_of_the_expiring_certificates_share_one_scan() {
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let answers =
        futures::future::join_all((0..6).map(|_| alice.get("/namespaces/team-a/certificates")))
            .await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["audit_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one scan, one record: {ids:?}");
    let dave = ApiSession::new(&server.url, "dave").await;
    let (_, trail) = dave
        .get("/audit?action=inspect&namespace=team-a&user=oidc:alice@example.com&limit=1000")
        .await;
    let recorded = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| ids.contains(r["id"].as_str().unwrap()))
        .count();
    assert_eq!(recorded, 1, "{trail}");
}
