//! Faults on the real components: the API server killed and restarted,
//! hanging, and shedding load (429 with Retry-After, through a recording
//! front); the SQLite disk full (a real tmpfs in a mount namespace);
//! PostgreSQL stopped and restarted; and Strongroom itself killed with
//! SIGKILL in the middle of a burst of creates and reveals.
//!
//! These tests stop shared processes of the local stack, so they live in
//! their own test binary (cargo runs test binaries one at a time) and run
//! one after another inside it through a lock.

mod common;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{CSRF, Stack, TestServer, b64, client, create_secret, kubectl, sign_in, unique};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// One fault at a time: they take down processes every test depends on.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// The running kube-apiserver of the local stack: its pid file and the
/// command line it was started with, so it can be started again as it was.
struct ApiServer {
    pid_file: std::path::PathBuf,
}

impl ApiServer {
    fn get() -> ApiServer {
        let dir = std::env::var("STRONGROOM_STACK_DIR").expect("STRONGROOM_STACK_DIR");
        ApiServer {
            pid_file: std::path::Path::new(&dir).join("kube-apiserver.pid"),
        }
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(&self.pid_file)
            .expect("kube-apiserver.pid")
            .trim()
            .parse()
            .unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} kube-apiserver");
    }

    /// Stops it (SIGTERM, waits for the exit) and returns how to start it
    /// again: its exact command line.
    fn stop(&self) -> Vec<String> {
        let pid = self.pid();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        self.signal("-TERM");
        let started = Instant::now();
        let running = || {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| !s.contains(") Z "))
                    .unwrap_or(false)
        };
        let mut killed = false;
        while running() {
            // Open watches (the sealed-secrets controller's) can hold a
            // graceful stop for half a minute: then it is killed, which is
            // a stop all the same for what this test checks.
            if !killed && started.elapsed() > Duration::from_secs(15) {
                // It may have exited in between: the outcome is what counts.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                killed = true;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "kube-apiserver did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        args
    }

    /// Starts it again with the same command line and records the new pid
    /// where the stack's script looks for it.
    fn start(&self, args: &[String]) {
        let dir = self.pid_file.parent().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("kube-apiserver.log"))
            .unwrap();
        let child = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("restart kube-apiserver");
        std::fs::write(&self.pid_file, child.id().to_string()).unwrap();
        // Not waited for: it outlives this test, like the stack's own start.
        std::mem::forget(child);
        let started = Instant::now();
        while !kubectl(&["get", "--raw", "/readyz"]).status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "kube-apiserver did not come back"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

async fn reveal(c: &reqwest::Client, url: &str, name: &str) -> (u16, String) {
    let r = c
        .post(format!(
            "{url}/api/v1/namespaces/team-a/secrets/{name}/reveal"
        ))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"keys": ["token"]}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_api_server_stopped_mid_session_gives_a_clear_503_and_strongroom_recovers_when_it_returns()
 {
    let _one = SERIAL.lock().await;
    let server = TestServer::start(&["--kube-timeout", "3s"]).await;
    let name = unique("outage");
    create_secret("team-a", &name, "token", "outage-value");
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    assert_eq!(reveal(&alice, &server.url, &name).await.0, 200);

    let api = ApiServer::get();
    let args = api.stop();
    let (status, body) = reveal(&alice, &server.url, &name).await;
    let restart = std::thread::spawn({
        let args = args.clone();
        move || ApiServer::get().start(&args)
    });
    assert_eq!(status, 503, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "unavailable");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Kubernetes API"),
        "{body}"
    );
    assert!(!body.contains("outage-value") && !body.contains(&b64(b"outage-value")));
    // Listing is refused the same way, and the session is still there.
    let list = alice
        .get(format!("{}/api/v1/namespaces/team-a/secrets", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 503);

    tokio::task::spawn_blocking(move || restart.join().unwrap())
        .await
        .unwrap();
    // The same Strongroom process, the same session: it works again.
    let mut last = (0, String::new());
    for _ in 0..40 {
        last = reveal(&alice, &server.url, &name).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last.0, 200, "recovered without a restart: {}", last.1);
    assert!(last.1.contains(&b64(b"outage-value")));
    server.stop();
}

#[tokio::test]
async fn a_hanging_api_server_is_bounded_by_the_configured_timeout() {
    let _one = SERIAL.lock().await;
    let server = TestServer::start(&["--kube-timeout", "1s"]).await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let name = unique("hang");
    create_secret("team-a", &name, "token", "v");
    let api = ApiServer::get();
    // SIGSTOP: the process keeps its socket but answers nothing.
    api.signal("-STOP");
    // Without the Kubernetes timeout this request would wait for the
    // frozen API server until the client gives up (30 s) and fail the test.
    let (status, body) = reveal(&alice, &server.url, &name).await;
    api.signal("-CONT");
    assert_eq!(status, 503, "{body}");
    // A create during a hang is not retried blindly afterwards: it either
    // exists once or not at all, and Strongroom says which it could not tell.
    let mut ok = false;
    for _ in 0..40 {
        if reveal(&alice, &server.url, &name).await.0 == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "works again once the API server answers");
    server.stop();
}

/// The release-like server binary as its own process (so it can be killed).
fn spawn_binary(port: u16, data_dir: &std::path::Path) -> Child {
    common::server_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_strongroom-server")),
        port,
        data_dir,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start strongroom-server")
}

async fn wait_ready(url: &str) {
    let c = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = c.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{url} not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `strongroom-server audit verify` on a data directory: the hash chain is whole.
fn audit_verify(data_dir: &std::path::Path) {
    let verify = Command::new(env!("CARGO_BIN_EXE_strongroom-server"))
        .args(["audit", "verify"])
        .env_clear()
        .env("STRONGROOM_DATA_DIR", data_dir)
        .env("STRONGROOM_OIDC_ISSUER", Stack::get().oidc_issuer())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test]
async fn sigkill_during_a_burst_loses_no_audit_record_and_leaves_no_partial_secret() {
    let _one = SERIAL.lock().await;
    let port = common::test_port();
    let url = format!("http://127.0.0.1:{port}");
    let data_dir = std::env::temp_dir().join(format!("strongroom-sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut child = spawn_binary(port, &data_dir);
    wait_ready(&url).await;
    let alice = client();
    sign_in(&alice, &url, "alice", "/").await;
    let target = unique("burst-reveal");
    create_secret("team-a", &target, "token", "burst-value");
    let prefix = unique("burst");

    // 16 workers create (three keys each) and reveal until the process dies.
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for w in 0..16 {
        let (alice, url, target, prefix, answered) = (
            alice.clone(),
            url.clone(),
            target.clone(),
            prefix.clone(),
            answered.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let r = if i % 2 == 0 {
                    alice
                        .post(format!("{url}/api/v1/namespaces/team-a/secrets"))
                        .header(CSRF.0, CSRF.1)
                        .json(&json!({"name": format!("{prefix}-{w}-{i}"), "input": {"kind": "generic", "entries": [
                            {"key": "a", "value": b64(b"1")}, {"key": "b", "value": b64(b"2")}, {"key": "c", "value": b64(b"3")}]}}))
                        .send()
                        .await
                } else {
                    alice
                        .post(format!("{url}/api/v1/namespaces/team-a/secrets/{target}/reveal"))
                        .header(CSRF.0, CSRF.1)
                        .json(&json!({"keys": ["token"]}))
                        .send()
                        .await
                };
                let Ok(r) = r else { return };
                if r.status() == 200 && i % 2 == 1 {
                    let Ok(body) = r.json::<Value>().await else { return };
                    assert!(body.to_string().contains(&b64(b"burst-value")));
                    answered
                        .lock()
                        .unwrap()
                        .push(body["audit_id"].as_str().unwrap().to_string());
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    for w in workers {
        let _ = w.await;
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        !answered.is_empty(),
        "some reveals were answered before the kill"
    );

    // After a restart on the same data: the chain verifies, every value
    // that left the server has its committed record.
    let mut child = spawn_binary(port, &data_dir);
    wait_ready(&url).await;
    audit_verify(&data_dir);
    use sqlx::Connection;
    let db_url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("strongroom.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&db_url).await.unwrap();
    for id in &answered {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE id = ?")
            .bind(id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(n, 1, "the reveal answered with audit id {id} has no record");
    }

    // Every secret of the burst is whole: all three keys, or absent.
    let out = kubectl(&["get", "secrets", "-n", "team-a", "-o", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut created = 0;
    for item in list["items"].as_array().unwrap() {
        let name = item["metadata"]["name"].as_str().unwrap();
        if name.starts_with(&format!("{prefix}-")) {
            created += 1;
            let keys: Vec<&String> = item["data"].as_object().unwrap().keys().collect();
            assert_eq!(keys, ["a", "b", "c"], "{name} is partial");
        }
    }
    assert!(created > 0, "some creates went through before the kill");
    let _ = child.kill();
    let _ = child.wait();
}

/// While the store of sessions and audit records cannot write: a reveal of
/// `name` (whose `token` is `value`) is refused without its value, a create
/// is refused and leaves nothing, a delete is refused and the secret stays,
/// and a newcomer's sign-in gets an HTML page saying what is wrong.
async fn assert_fails_closed(alice: &reqwest::Client, url: &str, name: &str, value: &str) {
    let (status, body) = reveal(alice, url, name).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains(value) && !body.contains(&b64(value.as_bytes())));
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "unavailable");

    let created = unique("refused-create");
    let r = alice
        .post(format!("{url}/api/v1/namespaces/team-a/secrets"))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"name": created, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"v")}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        !kubectl(&["get", "secret", &created, "-n", "team-a"])
            .status
            .success(),
        "nothing was created unaudited"
    );

    let r = alice
        .delete(format!("{url}/api/v1/namespaces/team-a/secrets/{name}"))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"confirm": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        kubectl(&["get", "secret", name, "-n", "team-a"])
            .status
            .success(),
        "nothing was deleted unaudited"
    );

    let r = client()
        .get(format!("{url}/auth/login?next=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("unavailable"), "{page}");
}

/// PostgreSQL of the local stack, stopped and started as scripts/lib.sh does.
fn postgres(action: &str) {
    let stack = Stack::get();
    let dir = stack.var("POSTGRES_DIR");
    let port = stack.var("POSTGRES_PORT");
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_ctl")))
        .filter(|p| p.exists())
        .max()
        .expect("pg_ctl");
    let mut args: Vec<String> = vec![
        bin.display().to_string(),
        "-D".into(),
        dir.clone(),
        "-w".into(),
    ];
    match action {
        "stop" => args.extend(["-m".into(), "fast".into(), "stop".into()]),
        _ => args.extend([
            "-l".into(),
            format!("{dir}/server.log"),
            "-t".into(),
            "30".into(),
            "-o".into(),
            // The rest (addresses, TLS) is in the data directory's
            // configuration, which scripts/lib.sh writes.
            format!("-p {port} -k {dir}"),
            "start".into(),
        ]),
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let status = if root {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(&args)
            .status()
    } else {
        Command::new(&args[0]).args(&args[1..]).status()
    }
    .unwrap();
    assert!(status.success(), "pg_ctl {action}");
}

#[tokio::test]
async fn postgresql_stopped_and_restarted_fails_closed_with_clear_answers_and_recovers() {
    let _one = SERIAL.lock().await;
    let stack = Stack::get();
    let pg = stack.var("POSTGRES_URL");
    let server = TestServer::start(&["--database-url", &pg, "--audit-timeout", "2s"]).await;
    let name = unique("pgdown");
    create_secret("team-a", &name, "token", "pg-value");
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    assert_eq!(reveal(&alice, &server.url, &name).await.0, 200);

    postgres("stop");
    let outcome =
        std::panic::AssertUnwindSafe(assert_fails_closed(&alice, &server.url, &name, "pg-value"));
    let result = futures::FutureExt::catch_unwind(outcome).await;
    postgres("start");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    // Same process, same session: everything works again.
    let mut last = (0, String::new());
    for _ in 0..40 {
        last = reveal(&alice, &server.url, &name).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last.0, 200, "recovered: {}", last.1);
    let newcomer = client();
    sign_in(&newcomer, &server.url, "bob", "/").await;
    server.stop();
}

/// `(method, path)` → how many more 429s to answer, and the Retry-After to
/// send with them.
type Refusals = std::collections::HashMap<(String, String), (u32, Option<u64>)>;

/// An HTTP front for the real API server that answers chosen requests with
/// 429 Too Many Requests (as API Priority and Fairness does) and records
/// every request it sees, so a test can tell what Strongroom sent and when.
#[derive(Clone, Default)]
struct Busy {
    rules: std::sync::Arc<std::sync::Mutex<Refusals>>,
    /// How long every request waits before it is passed on.
    slow: std::sync::Arc<std::sync::Mutex<std::time::Duration>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Instant)>>>,
}

impl Busy {
    fn refuse(&self, method: &str, path: &str, times: u32, retry_after: Option<u64>) {
        self.rules
            .lock()
            .unwrap()
            .insert((method.into(), path.into()), (times, retry_after));
    }

    /// When each request for `method path` arrived.
    fn arrivals(&self, method: &str, path: &str) -> Vec<Instant> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, t)| *t)
            .collect()
    }

    /// Delays every request by `delay` from now on.
    fn slow_down(&self, delay: std::time::Duration) {
        *self.slow.lock().unwrap() = delay;
    }

    fn clear(&self) {
        self.rules.lock().unwrap().clear();
        self.seen.lock().unwrap().clear();
    }

    /// Serves on a loopback port in front of the stack's API server and
    /// returns a kubeconfig (the backend's identity) that points at it.
    async fn start(&self) -> std::path::PathBuf {
        let stack = Stack::get();
        let ca = std::fs::read(stack.var("KUBE_CA_FILE")).unwrap();
        let upstream = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let api = stack.var("KUBE_API_URL");
        let busy = self.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (busy, upstream, api) = (busy.clone(), upstream.clone(), api.clone());
            async move {
                let method = request.method().to_string();
                let path = request.uri().path().to_string();
                busy.seen
                    .lock()
                    .unwrap()
                    .push((method.clone(), path.clone(), Instant::now()));
                let delay = *busy.slow.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let refusal = {
                    let mut rules = busy.rules.lock().unwrap();
                    match rules.get_mut(&(method.clone(), path.clone())) {
                        Some((left, retry_after)) if *left > 0 => {
                            *left -= 1;
                            Some(*retry_after)
                        }
                        _ => None,
                    }
                };
                if let Some(retry_after) = refusal {
                    let mut response = axum::response::Response::builder()
                        .status(429)
                        .header("content-type", "application/json");
                    if let Some(seconds) = retry_after {
                        response = response.header("retry-after", seconds.to_string());
                    }
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "Too many requests, please try again later.",
                        "reason": "TooManyRequests", "code": 429});
                    return response
                        .body(axum::body::Body::from(status.to_string()))
                        .unwrap();
                }
                let url = format!(
                    "{api}{}",
                    request
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                let mut headers = request.headers().clone();
                headers.remove("host");
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let answer = upstream
                    .request(method.parse().unwrap(), url)
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "transfer-encoding" && name != "content-length" {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        // The backend's kubeconfig, pointed at this front over plain HTTP.
        let backend = std::fs::read_to_string(stack.var("BACKEND_KUBECONFIG")).unwrap();
        let kubeconfig: String = backend
            .lines()
            .filter(|l| !l.trim_start().starts_with("certificate-authority"))
            .map(|l| {
                if l.trim_start().starts_with("server:") {
                    format!("      server: http://127.0.0.1:{port}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let path = std::env::temp_dir().join(format!("strongroom-busy-{port}.kubeconfig"));
        std::fs::write(&path, kubeconfig).unwrap();
        path
    }
}

#[tokio::test]
async fn a_busy_api_server_gets_reads_retried_as_its_retry_after_says_and_writes_never() {
    let _one = SERIAL.lock().await;
    let busy = Busy::default();
    let kubeconfig = busy.start().await;
    let server = TestServer::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--kube-read-retries",
        "3",
        "--kube-retry-max-wait",
        "2s",
    ])
    .await;
    let alice = client();
    sign_in(&alice, &server.url, "alice", "/").await;
    let name = unique("busy");
    create_secret("team-a", &name, "token", "busy-value");
    let secret_path = format!("/api/v1/namespaces/team-a/secrets/{name}");

    // Two 429s with Retry-After: 1, then an answer: the reveal succeeds,
    // after three GETs, each retry at least a second after the refusal.
    busy.refuse("GET", &secret_path, 2, Some(1));
    let (status, body) = reveal(&alice, &server.url, &name).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&b64(b"busy-value")));
    let gets = busy.arrivals("GET", &secret_path);
    assert_eq!(gets.len(), 3, "one read and two retries");
    for pair in gets.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(950),
            "a retry came before the Retry-After had passed: {:?}",
            pair[1] - pair[0]
        );
    }

    // Retry-After longer than the cap: no waiting an hour, no retry; the
    // person is told how long the API server asked for.
    busy.clear();
    busy.refuse("GET", &secret_path, 1, Some(3600));
    let r = alice
        .get(format!("{}{secret_path}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3600");
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert!(error["message"].as_str().unwrap().contains("busy"));
    assert_eq!(busy.arrivals("GET", &secret_path).len(), 1);

    // Refused every time and no Retry-After: backoff, then give up after
    // the configured number of retries.
    busy.clear();
    busy.refuse("GET", &secret_path, 100, None);
    let (status, body) = reveal(&alice, &server.url, &name).await;
    assert_eq!(status, 429, "{body}");
    assert!(!body.contains(&b64(b"busy-value")));
    assert_eq!(busy.arrivals("GET", &secret_path).len(), 4, "1 + 3 retries");

    // A write refused with 429 is sent exactly once and not repeated; the
    // secret does not exist, and the same create works once it is let through.
    busy.clear();
    let created = unique("busy-create");
    let create_path = "/api/v1/namespaces/team-a/secrets";
    busy.refuse("POST", create_path, 5, Some(1));
    let create = || {
        alice
            .post(format!("{}/api/v1/namespaces/team-a/secrets", server.url))
            .header(CSRF.0, CSRF.1)
            .json(&json!({"name": created, "input": {"kind": "generic",
                "entries": [{"key": "k", "value": b64(b"create-value")}]}}))
            .send()
    };
    let r = create().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(!r.text().await.unwrap().contains("create-value"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        busy.arrivals("POST", create_path).len(),
        1,
        "a refused write is never resent"
    );
    let get = kubectl(&["get", "secret", &created, "-n", "team-a"]);
    assert!(!get.status.success(), "the refused create left nothing");
    // Deletes are writes too.
    let delete_path = format!("/api/v1/namespaces/team-a/secrets/{name}");
    busy.refuse("DELETE", &delete_path, 5, Some(1));
    let r = alice
        .delete(format!("{}{delete_path}", server.url))
        .header(CSRF.0, CSRF.1)
        .json(&json!({"confirm": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(busy.arrivals("DELETE", &delete_path).len(), 1);
    assert!(
        kubectl(&["get", "secret", &name, "-n", "team-a"])
            .status
            .success()
    );

    busy.clear();
    assert_eq!(create().await.unwrap().status(), 201);
    assert_eq!(busy.arrivals("POST", create_path).len(), 1);
    server.stop();
}

/// How to enter a new mount namespace on this machine (`unshare -m` as
/// root, `unshare -r -m` through a user namespace otherwise), or `None`
/// when neither may mount a tmpfs.
fn mount_namespace_args() -> Option<&'static [&'static str]> {
    let probe_dir = std::env::temp_dir().join("strongroom-tmpfs-probe");
    std::fs::create_dir_all(&probe_dir).unwrap();
    [&["-m"][..], &["-r", "-m"][..]].into_iter().find(|args| {
        Command::new("unshare")
            .args(*args)
            .args(["mount", "-t", "tmpfs", "-o", "size=1m", "probe"])
            .arg(&probe_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server binary in its own mount namespace with its data
/// directory on a 16 MiB tmpfs, so the test can fill that disk for real
/// (from outside, through `/proc/PID/root`).
fn spawn_on_small_disk(unshare: &[&str], port: u16, data_dir: &std::path::Path) -> Child {
    let server = common::server_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_strongroom-server")),
        port,
        data_dir,
    );
    let mut cmd = Command::new("unshare");
    cmd.args(unshare)
        .args([
            "sh",
            "-c",
            r#"mount -t tmpfs -o size=16m strongroom-test "$0" && exec "$@""#,
        ])
        .arg(data_dir)
        .arg(server.get_program())
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in server.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd.spawn().expect("start strongroom-server under unshare")
}

#[tokio::test]
async fn a_full_sqlite_disk_fails_closed_and_recovers_when_space_returns() {
    let _one = SERIAL.lock().await;
    let port = common::test_port();
    let url = format!("http://127.0.0.1:{port}");
    let data_dir = std::env::temp_dir().join(format!("strongroom-diskfull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let Some(unshare) = mount_namespace_args() else {
        eprintln!(
            "SKIPPED: this machine cannot mount a tmpfs in a new mount namespace (unshare -m), so a full disk cannot be made"
        );
        return;
    };
    let child = KillOnDrop(spawn_on_small_disk(unshare, port, &data_dir));
    wait_ready(&url).await;
    // The server's view of its data directory: the tmpfs.
    let disk = std::path::PathBuf::from(format!("/proc/{}/root", child.0.id()))
        .join(data_dir.strip_prefix("/").unwrap());
    assert!(
        disk.join("strongroom.db").exists(),
        "the database is on the tmpfs"
    );
    assert!(
        !data_dir.join("strongroom.db").exists(),
        "and not on the real disk"
    );
    let alice = client();
    sign_in(&alice, &url, "alice", "/").await;
    let name = unique("diskfull");
    create_secret("team-a", &name, "token", "full-value");
    assert_eq!(reveal(&alice, &url, &name).await.0, 200);

    // Fill the disk to the last byte.
    let filler = disk.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        assert!(f.write(&[0u8; 4096]).is_err(), "the disk is full");
    }

    let outcome =
        std::panic::AssertUnwindSafe(assert_fails_closed(&alice, &url, &name, "full-value"));
    let result = futures::FutureExt::catch_unwind(outcome).await;
    std::fs::remove_file(&filler).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }

    // Space is back: the same process, the same session, everything works,
    // and the trail is whole.
    let (status, body) = reveal(&alice, &url, &name).await;
    assert_eq!(status, 200, "{body}");
    let audit_id = serde_json::from_str::<Value>(&body).unwrap()["audit_id"]
        .as_str()
        .unwrap()
        .to_string();
    sign_in(&client(), &url, "bob", "/").await;
    audit_verify(&disk);
    // The reveals that were answered are in the secret's history; the
    // refused ones left no value behind and no half-written record.
    let history: Value = alice
        .get(format!(
            "{url}/api/v1/namespaces/team-a/secrets/{name}/history"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reveals: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reveal")
        .collect();
    assert_eq!(reveals.len(), 2, "{history}");
    assert!(reveals.iter().any(|e| e["id"] == audit_id.as_str()));
}

#[tokio::test]
async fn a_request_in_flight_cannot_undo_a_sign_out() {
    let _one = SERIAL.lock().await;
    let busy = Busy::default();
    let kubeconfig = busy.start().await;
    let server = TestServer::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--session-idle-timeout",
        "4s",
        "--session-max-lifetime",
        "1h",
    ])
    .await;
    let (alice, session) = common::sign_in_for_cookie(&server.url, "alice").await;
    let cookie = format!("strongroom={session}");
    let stolen = reqwest::Client::new();
    // The idle timer is due for renewal: the slow read will save the
    // session after it answers.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    busy.slow_down(std::time::Duration::from_secs(3));
    let slow = tokio::spawn({
        let (stolen, cookie) = (stolen.clone(), cookie.clone());
        let url = format!("{}/api/v1/namespaces/team-a/secrets", server.url);
        async move {
            stolen
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let out = alice
        .post(format!("{}/auth/logout", server.url))
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap();
    assert!(
        out.status().is_redirection(),
        "signed out: {}",
        out.status()
    );
    assert_eq!(
        slow.await.unwrap(),
        200,
        "the slow read finished after the sign-out"
    );
    busy.slow_down(std::time::Duration::ZERO);
    let again = stolen
        .get(format!("{}/api/v1/me", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "the cookie stays dead after sign-out");
    // And the store keeps no session id, only its hash.
    let mut db = std::fs::read(server.data_dir.join("strongroom.db")).unwrap_or_default();
    db.extend(std::fs::read(server.data_dir.join("strongroom.db-wal")).unwrap_or_default());
    let needle = session.as_bytes();
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "the session id is not stored in clear"
    );
    // Nor any token or user of a session: session data is sealed.
    for clear in [&b"eyJhbGciOi"[..], b"alice@example.com\",\"groups"] {
        assert!(
            !db.windows(clear.len()).any(|w| w == clear),
            "{} is not stored in clear",
            String::from_utf8_lossy(clear)
        );
    }
    server.stop();
}
