//! Running Strongroom's container image with podman, the way a pod runs
//! it: shared by the image tests (server/tests/container.rs) and the chart's
//! pod test (deploy/helm/tests/pod.rs). `scripts/test` builds the image
//! (`scripts/lib.sh` `build_image`) and names it in `STRONGROOM_IMAGE`, with
//! podman's settings in `STRONGROOM_PODMAN_CONF`.

use std::{
    os::unix::fs::{PermissionsExt, chown},
    path::PathBuf,
    process::{Command, Output},
    time::{Duration, Instant},
};

use serde_json::json;

use super::{ApiSession, Stack, b64, unique};

pub const NEEDS_IMAGE: &str =
    "needs the image: scripts/test builds it and runs these with --ignored";
/// The image's user (distroless' "nonroot").
pub const UID: u32 = 65532;

pub fn image() -> String {
    std::env::var("STRONGROOM_IMAGE")
        .unwrap_or_else(|_| panic!("STRONGROOM_IMAGE is not set: {NEEDS_IMAGE}"))
}

/// podman as `scripts/lib.sh` runs it on this machine (vfs, runc, its
/// containers.conf).
pub fn podman(args: &[&str]) -> Output {
    let conf = std::env::var("STRONGROOM_PODMAN_CONF")
        .unwrap_or_else(|_| panic!("STRONGROOM_PODMAN_CONF is not set: {NEEDS_IMAGE}"));
    Command::new("podman")
        .env("CONTAINERS_CONF", conf)
        .args(["--storage-driver=vfs", "--runtime", "runc"])
        .args(args)
        .output()
        .expect("run podman")
}

pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running container, removed (its log printed if the test failed) when
/// dropped.
pub struct Container {
    pub name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- logs of {} ---\n{}", self.name, logs(&self.name));
        }
        podman(&["rm", "-f", "-t", "2", &self.name]);
    }
}

/// What container `name` printed (stdout, then stderr).
pub fn logs(name: &str) -> String {
    let out = podman(&["logs", name]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Container `name`'s state (`running`, `exited`, ...).
pub fn state(name: &str) -> String {
    podman_ok(&["inspect", "-f", "{{.State.Status}}", name])
}

/// Every file (not directory) under `dir`, symbolic links included as
/// files.
pub fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// What a pod gets from its Secrets and its ServiceAccount, as files in
/// `dir`, readable by the image's user as kubelet's secret volumes are.
pub struct PodFiles {
    pub dir: PathBuf,
}

impl PodFiles {
    pub fn new(tag: &str) -> PodFiles {
        let stack = Stack::get();
        let dir =
            std::env::temp_dir().join(format!("strongroom-container-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = |rel: &str, text: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        };
        file(
            "secrets/oidc-client-secret",
            &stack.var("OIDC_CLIENT_SECRET"),
        );
        file("secrets/audit-hmac-key", "strongroom-test-fingerprint-key");
        file("secrets/audit-chain-key", "strongroom-test-chain-key");
        let token = std::fs::read_to_string(stack.var("BACKEND_TOKEN_FILE")).unwrap();
        file("serviceaccount/token", token.trim());
        let ca = std::fs::read_to_string(stack.var("KUBE_CA_FILE")).unwrap();
        file("serviceaccount/ca.crt", &ca);
        file("serviceaccount/namespace", "strongroom-system");
        let db_ca = std::fs::read_to_string(stack.var("POSTGRES_CA")).unwrap();
        file("db-ca/ca.crt", &db_ca);
        for d in ["", "secrets", "serviceaccount", "db-ca"] {
            std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // The data volume belongs to the image's user (fsGroup in the chart).
        std::fs::create_dir_all(dir.join("data")).unwrap();
        chown(dir.join("data"), Some(UID), Some(UID)).unwrap();
        PodFiles { dir }
    }

    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }
}

impl Drop for PodFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The API server's host and port, as a Service's environment gives them.
pub fn api_server() -> (String, String) {
    let url = url::Url::parse(&Stack::get().var("KUBE_API_URL")).unwrap();
    (
        url.host_str().unwrap().to_string(),
        url.port().unwrap().to_string(),
    )
}

/// Starts the image on `port` as a pod would run it; `extra` adds
/// `podman run` arguments (environment, volumes) before the image.
pub fn run_image(name: &str, files: &PodFiles, port: u16, extra: &[&str]) -> Container {
    let stack = Stack::get();
    let (host, api_port) = api_server();
    let name = format!("{name}-{}", std::process::id());
    podman(&["rm", "-f", &name]);
    let env = [
        format!("STRONGROOM_LISTEN=127.0.0.1:{port}"),
        format!("STRONGROOM_PUBLIC_URL=http://127.0.0.1:{port}"),
        format!("STRONGROOM_OIDC_ISSUER={}", stack.oidc_issuer()),
        format!("STRONGROOM_OIDC_CLIENT_ID={}", stack.var("OIDC_CLIENT_ID")),
        "STRONGROOM_OIDC_CLIENT_SECRET_FILE=/etc/strongroom/secrets/oidc-client-secret".into(),
        "STRONGROOM_AUDIT_HMAC_KEY_FILE=/etc/strongroom/secrets/audit-hmac-key".into(),
        "STRONGROOM_AUDIT_CHAIN_KEY_FILE=/etc/strongroom/secrets/audit-chain-key".into(),
        format!("KUBERNETES_SERVICE_HOST={host}"),
        format!("KUBERNETES_SERVICE_PORT={api_port}"),
        "STRONGROOM_NAMESPACES=team-a,team-b".into(),
        "STRONGROOM_COOKIE_SECURE=false".into(),
    ];
    let secrets = format!("{}:/etc/strongroom/secrets:ro", files.path("secrets"));
    let sa = format!(
        "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
        files.path("serviceaccount")
    );
    // /metrics on a port of its own, as the image's default and the chart.
    let metrics = format!("STRONGROOM_METRICS_LISTEN=127.0.0.1:{}", port + 1000);
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        // Read-only, without the writable /run, /tmp and /var/tmp podman
        // adds by default; /tmp is an emptyDir in the chart.
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs",
        "/tmp",
        "-e",
        &metrics,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-v",
        &secrets,
        "-v",
        &sa,
    ]
    .map(String::from)
    .to_vec();
    for e in &env {
        args.push("-e".into());
        args.push(e.clone());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(image());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    podman_ok(&args);
    Container { name }
}

/// Waits until `url` answers 200; how long that took.
pub async fn ready(url: &str, container: &Container) -> Duration {
    let start = Instant::now();
    let c = reqwest::Client::new();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = c.get(url).send().await
            && r.status() == 200
        {
            return start.elapsed();
        }
        let state = podman_ok(&["inspect", "-f", "{{.State.Status}}", &container.name]);
        assert_eq!(
            state, "running",
            "{} stopped before it was ready",
            container.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} not ready within 60 s");
}

/// How the container's main process runs, from the host's
/// `/proc/PID/status`: (uid, gid, effective capabilities, no_new_privs).
pub fn process_ids(name: &str) -> (String, String, String, String) {
    let pid = podman_ok(&["inspect", "-f", "{{.State.Pid}}", name]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (
        field("Uid:"),
        field("Gid:"),
        field("CapEff:"),
        field("NoNewPrivs:"),
    )
}

/// Sign-in through the IdP, create, list, reveal, and the audit record of
/// the reveal, against the server at `url`.
pub async fn sign_in_create_list_reveal_audit(url: &str) -> String {
    let alice = ApiSession::new(url, "alice").await;
    let name = unique("image");
    let value = "from-the-image";
    let (status, body) = alice
        .create(
            "team-a",
            &name,
            json!({"kind": "generic", "entries": [{"key": "token", "value": b64(value.as_bytes())}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, list) = alice
        .get(&format!("/namespaces/team-a/secrets?name={name}"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list.to_string().contains(&name),
        "the list shows the new secret"
    );
    assert!(!list.to_string().contains(&b64(value.as_bytes())));
    let (status, revealed) = alice.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["values"][0]["text"], value);
    let dave = ApiSession::new(url, "dave").await;
    let (status, trail) = dave
        .get(&format!("/audit?secret={name}&action=reveal"))
        .await;
    assert_eq!(status, 200, "{trail}");
    let items = trail["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one record of the reveal: {trail}");
    assert_eq!(items[0]["user"], "oidc:alice@example.com");
    assert_eq!(items[0]["outcome"], "allowed");
    assert!(!trail.to_string().contains(value), "no value in the trail");
    name
}
