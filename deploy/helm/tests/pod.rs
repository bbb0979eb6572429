//! The chart's own pod, run for real: the Deployment that `helm template`
//! renders becomes a Pod for `podman kube play`, keeping its securityContext,
//! environment, volume mounts, ports and probes. Only what a kubelet would
//! provide is filled in: each Secret, ConfigMap, PersistentVolumeClaim,
//! emptyDir and the projected ServiceAccount token becomes a host directory
//! holding the same files, `secretKeyRef` variables get the Secret's value,
//! and the Service's environment names the API server. A wrong mount path, a
//! directory the server must write that is not writable, a probe on the wrong
//! port or path, or a user the image cannot run as fails the test.
//!
//! `scripts/test` builds the image and runs this with `--ignored`.

use std::{
    collections::BTreeMap,
    os::unix::fs::{MetadataExt, PermissionsExt, chown},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    common::{
        Stack,
        podman::{
            PodFiles, UID, api_server, image, logs, podman, podman_ok, process_ids,
            sign_in_create_list_reveal_audit, state, walk,
        },
        test_port,
    },
    support::{find, must_template, objects},
};

/// The Secrets the test release refers to: name → key → value.
fn secrets(files: &PodFiles) -> BTreeMap<&'static str, BTreeMap<&'static str, String>> {
    let stack = Stack::get();
    let mut s = BTreeMap::new();
    s.insert(
        "strongroom-oidc",
        BTreeMap::from([("client-secret", stack.var("OIDC_CLIENT_SECRET"))]),
    );
    s.insert(
        "strongroom-audit",
        BTreeMap::from([
            ("hmac-key", "strongroom-test-fingerprint-key".to_string()),
            ("chain-key", "strongroom-test-chain-key".to_string()),
        ]),
    );
    s.insert(
        "strongroom-db",
        BTreeMap::from([("url", stack.var("POSTGRES_URL"))]),
    );
    s.insert(
        "strongroom-db-other-ca",
        BTreeMap::from([(
            "ca.crt",
            std::fs::read_to_string(stack.var("POSTGRES_OTHER_CA")).unwrap(),
        )]),
    );
    s.insert(
        "strongroom-db-ca",
        BTreeMap::from([(
            "ca.crt",
            std::fs::read_to_string(files.dir.join("db-ca/ca.crt")).unwrap(),
        )]),
    );
    s
}

/// A directory of files for one volume, as the kubelet would fill it.
fn volume_dir(files: &PodFiles, volume: &str, entries: &[(String, String)], owner: bool) -> String {
    let dir = files.dir.join("volumes").join(volume);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(files.dir.join("volumes"), PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o755)).unwrap();
    for (path, text) in entries {
        let p = dir.join(path);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, PermissionsExt::from_mode(0o444)).unwrap();
    }
    if owner {
        chown(&dir, Some(UID), Some(UID)).unwrap();
    }
    dir.display().to_string()
}

/// The files of a `secret` or `configMap` volume source: its `items`, or
/// every key.
fn items(source: &Value, data: &BTreeMap<&str, String>, what: &str) -> Vec<(String, String)> {
    let value = |key: &str| {
        data.get(key)
            .unwrap_or_else(|| panic!("{what} has no key {key}"))
            .clone()
    };
    match source["items"].as_array() {
        Some(items) => items
            .iter()
            .map(|i| {
                (
                    i["path"].as_str().unwrap().to_string(),
                    value(i["key"].as_str().unwrap()),
                )
            })
            .collect(),
        None => data
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// The Deployment's pod template as a Pod podman can play.
fn pod_for_podman(deployment: &Value, files: &PodFiles, name: &str) -> Value {
    let secrets = secrets(files);
    let sa = [
        ("token", files.dir.join("serviceaccount/token")),
        ("ca.crt", files.dir.join("serviceaccount/ca.crt")),
        ("namespace", files.dir.join("serviceaccount/namespace")),
    ]
    .map(|(k, p)| (k, std::fs::read_to_string(p).unwrap()));
    let mut spec = deployment["spec"]["template"]["spec"].clone();
    let mut volumes = Vec::new();
    for v in spec["volumes"].as_array().cloned().unwrap_or_default() {
        let vname = v["name"].as_str().unwrap().to_string();
        let path = if let Some(secret) = v.get("secret") {
            let sname = secret["secretName"].as_str().unwrap();
            let data = secrets
                .get(sname)
                .unwrap_or_else(|| panic!("the pod mounts an unknown Secret {sname}"));
            volume_dir(files, &vname, &items(secret, data, sname), false)
        } else if let Some(projected) = v.get("projected") {
            // Only the ServiceAccount's own volume is projected: the token,
            // the cluster's CA and the namespace.
            let mut entries = Vec::new();
            for source in projected["sources"].as_array().unwrap() {
                if let Some(t) = source.get("serviceAccountToken") {
                    entries.push((t["path"].as_str().unwrap().to_string(), sa[0].1.clone()));
                } else if source.get("configMap").is_some() {
                    for i in source["configMap"]["items"].as_array().unwrap() {
                        assert_eq!(i["key"], "ca.crt", "{source}");
                        entries.push((i["path"].as_str().unwrap().to_string(), sa[1].1.clone()));
                    }
                } else if let Some(d) = source.get("downwardAPI") {
                    for i in d["items"].as_array().unwrap() {
                        assert_eq!(i["fieldRef"]["fieldPath"], "metadata.namespace");
                        entries.push((i["path"].as_str().unwrap().to_string(), sa[2].1.clone()));
                    }
                } else {
                    panic!("an unexpected projected source: {source}");
                }
            }
            volume_dir(files, &vname, &entries, false)
        } else if v.get("emptyDir").is_some() || v.get("persistentVolumeClaim").is_some() {
            // Writable by the pod's fsGroup, as the kubelet makes them.
            volume_dir(files, &vname, &[], true)
        } else {
            panic!("an unexpected volume: {v}");
        };
        volumes.push(json!({"name": vname, "hostPath": {"path": path, "type": "Directory"}}));
    }
    spec["volumes"] = Value::Array(volumes);
    assert_ne!(
        spec["automountServiceAccountToken"],
        Value::Bool(true),
        "the token is mounted by the chart's own projected volume"
    );
    let (host, port) = api_server();
    for c in spec["containers"].as_array_mut().unwrap() {
        assert_eq!(c["image"], json!(image()), "the chart names the image");
        assert_eq!(c["imagePullPolicy"], "Never");
        // On the host's network the ports are the container's own; podman
        // 4.3 would turn each into a host port mapping, which it refuses
        // with host networking. The test reads them from the rendered spec.
        c.as_object_mut().unwrap().remove("ports");
        let env = c["env"].as_array_mut().unwrap();
        for e in env.iter_mut() {
            if let Some(r) = e
                .get("valueFrom")
                .and_then(|f| f.get("secretKeyRef"))
                .cloned()
            {
                let (s, k) = (r["name"].as_str().unwrap(), r["key"].as_str().unwrap());
                let value = secrets[s]
                    .get(k)
                    .unwrap_or_else(|| panic!("{s} has no {k}"));
                *e = json!({"name": e["name"], "value": value});
            }
        }
        // What the kubelet adds for the `kubernetes` Service.
        env.push(json!({"name": "KUBERNETES_SERVICE_HOST", "value": host}));
        env.push(json!({"name": "KUBERNETES_SERVICE_PORT", "value": port}));
    }
    // The host's network, as the stack listens on loopback.
    spec["hostNetwork"] = json!(true);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": deployment["spec"]["template"]["metadata"]["labels"]},
        "spec": spec,
    })
}

/// A container port of `container` by name or number.
fn port(container: &Value, port: &Value) -> u16 {
    if let Some(n) = port.as_u64() {
        return n as u16;
    }
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == *port)
        .unwrap_or_else(|| panic!("no container port named {port}"))["containerPort"]
        .as_u64()
        .unwrap() as u16
}

/// Forwards `from` (on loopback) to `to`, as a Service would.
async fn forward(from: u16, to: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", from))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// `podman kube down` of the played file when dropped (the log of its
/// container `name` printed first if the test failed).
struct Played {
    file: std::path::PathBuf,
    name: String,
}

impl Drop for Played {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- logs of {} ---\n{}", self.name, logs(&self.name));
        }
        podman(&["kube", "down", &self.file.display().to_string()]);
    }
}

/// The pod listens on the chart's fixed ports on the host's network: one
/// at a time.
static ONE_POD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Plays the chart's pod rendered with `values`; with `refused`, expects
/// the server to stop at start-up with that text in its log instead.
async fn play_the_chart(tag: &str, values: &[&str], refused: Option<&str>) {
    let _one = ONE_POD.lock().await;
    let files = PodFiles::new(tag);
    let front = test_port();
    let public = format!("http://127.0.0.1:{front}");
    let stack = Stack::get();
    let image = image();
    let (repository, image_tag) = image.rsplit_once(':').unwrap();
    let mut args = vec![
        "--set".to_string(),
        format!("image.repository={repository}"),
        "--set".into(),
        format!("image.tag={image_tag}"),
        // The image is on this machine, not in a registry.
        "--set".into(),
        "image.pullPolicy=Never".into(),
        "--set".into(),
        format!("publicUrl={public}"),
        "--set".into(),
        format!("oidc.issuer={}", stack.oidc_issuer()),
        "--set".into(),
        format!("oidc.clientId={}", stack.var("OIDC_CLIENT_ID")),
        "--set".into(),
        "oidc.existingSecret=strongroom-oidc".into(),
        "--set".into(),
        "audit.hmacKey.existingSecret=strongroom-audit".into(),
        "--set".into(),
        "audit.hmacKey.existingSecretKey=hmac-key".into(),
        "--set".into(),
        "audit.chainKey.existingSecret=strongroom-audit".into(),
        "--set".into(),
        "audit.chainKey.existingSecretKey=chain-key".into(),
        "--set".into(),
        "namespaces={team-a,team-b}".into(),
        "--set".into(),
        "cookieSecure=false".into(),
    ];
    args.extend(values.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rendered = objects(&must_template(&format!("pod-{tag}"), &args));
    let deployment = find(&rendered, "Deployment");
    let container = deployment["spec"]["template"]["spec"]["containers"][0].clone();
    let pod_name = format!("strongroom-chart-{tag}-{}", std::process::id());
    let pod = pod_for_podman(deployment, &files, &pod_name);
    let file = files.dir.join("pod.yaml");
    std::fs::write(&file, serde_norway::to_string(&pod).unwrap()).unwrap();
    podman(&["kube", "down", &file.display().to_string()]);
    podman_ok(&["kube", "play", &file.display().to_string()]);
    let played = Played {
        file: file.clone(),
        name: format!("{pod_name}-{}", container["name"].as_str().unwrap()),
    };

    if let Some(text) = refused {
        // The pod's restartPolicy (Always) starts it again and again; its
        // log says why each time, and it is never ready.
        let start = std::time::Instant::now();
        let http = port(&container, &json!("http"));
        loop {
            let logs = logs(&played.name);
            if logs.contains(text) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {text:?} in the log: {logs}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ready = reqwest::get(format!("http://127.0.0.1:{http}/readyz")).await;
        assert!(
            ready.is_err() || !ready.unwrap().status().is_success(),
            "never ready"
        );
        return;
    }

    // Every probe of the spec answers, on the port and path it names.
    let client = reqwest::Client::new();
    let http = port(&container, &json!("http"));
    let start = std::time::Instant::now();
    for kind in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let Some(probe) = container.get(kind) else {
            continue;
        };
        let get = &probe["httpGet"];
        let url = format!(
            "http://127.0.0.1:{}{}",
            port(&container, &get["port"]),
            get["path"].as_str().unwrap()
        );
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                break;
            }
            assert_eq!(
                state(&played.name),
                "running",
                "the container stopped; {kind} {url}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{kind} {url} never succeeded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!(
        "chart pod {tag}: probes answered {:.0} ms after kube play",
        start.elapsed().as_secs_f64() * 1000.0
    );

    // Run as the chart says: its user, read-only root, no capabilities.
    let sc = &container["securityContext"];
    let pod_sc = &deployment["spec"]["template"]["spec"]["securityContext"];
    let want_uid = sc["runAsUser"]
        .as_u64()
        .or(pod_sc["runAsUser"].as_u64())
        .unwrap();
    let (uid, _gid, caps, no_new_privs) = process_ids(&played.name);
    assert_eq!(uid, want_uid.to_string());
    assert_eq!(caps, "0000000000000000");
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(no_new_privs, "1", "allowPrivilegeEscalation: false");
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    let ro = podman_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.ReadonlyRootfs}}",
        &played.name,
    ]);
    assert_eq!(ro, "true", "kube play kept readOnlyRootFilesystem");

    // /metrics on its own port when the chart names one, and not on http.
    if container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "metrics")
    {
        let m = port(&container, &json!("metrics"));
        let r = client
            .get(format!("http://127.0.0.1:{m}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("strongroom_"));
        let r = client
            .get(format!("http://127.0.0.1:{http}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "/metrics is not on the public port");
    }

    // Through a "Service" on the public URL's port: the whole flow.
    let fwd = forward(front, http).await;
    sign_in_create_list_reveal_audit(&public).await;
    fwd.abort();

    // What the server wrote, it wrote to its volumes, as the pod's user.
    for v in std::fs::read_dir(files.dir.join("volumes")).unwrap() {
        let v = v.unwrap().path();
        for f in walk(&v) {
            let meta = std::fs::metadata(&f).unwrap();
            if meta.mode() & 0o200 != 0 && meta.uid() != 0 {
                assert_eq!(meta.uid(), UID, "{} written by the pod's user", f.display());
            }
        }
    }
    drop(played);
}

#[tokio::test]
#[ignore = "needs the image: scripts/test builds it and runs these with --ignored"]
async fn the_charts_pod_runs_under_podman_with_sqlite() {
    play_the_chart("sqlite", &[], None).await;
}

#[tokio::test]
#[ignore = "needs the image: scripts/test builds it and runs these with --ignored"]
async fn the_charts_pod_runs_under_podman_on_postgres_over_verify_full() {
    let values = postgres_values("strongroom-db-ca");
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    play_the_chart("postgres", &values, None).await;
}

#[tokio::test]
#[ignore = "needs the image: scripts/test builds it and runs these with --ignored"]
async fn the_charts_pod_refuses_a_database_certificate_from_another_ca() {
    // Proves the chart's PGSSLMODE and PGSSLROOTCERT reach the driver: with
    // `prefer` (no mode) the CA would be ignored and the pod would start.
    let values = postgres_values("strongroom-db-other-ca");
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    play_the_chart(
        "postgres-other-ca",
        &values,
        Some("invalid peer certificate: UnknownIssuer"),
    )
    .await;
}

fn postgres_values(ca_secret: &str) -> Vec<String> {
    [
        "--set",
        "database.mode=postgres",
        "--set",
        "database.postgres.existingSecret=strongroom-db",
        "--set",
        "database.postgres.tls.mode=verify-full",
        "--set",
        &format!("database.postgres.tls.caSecret={ca_secret}"),
        "--set",
        "replicaCount=1",
    ]
    .map(String::from)
    .to_vec()
}
