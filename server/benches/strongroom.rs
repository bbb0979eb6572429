//! Strongroom's benchmark: the release server, as a separate process, on the
//! local stack, measured against the direct Kubernetes API in the same run.
//!
//! Run it through `scripts/bench`, which starts the stack, builds the release
//! site and passes the binary's path. It prints a table (figure, value,
//! budget, ratio to the direct API, verdict) and writes it as Markdown to
//! `$STRONGROOM_BENCH_OUT` when set. Figures over budget are printed as such;
//! the benchmark fails only when something is wrong (an error answer, a
//! missing audit record), never on time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use common::{ApiSession, CSRF, Stack, b64, kubectl};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

/// Registered as redirect URIs at the local IdP (scripts/lib.sh).
const PORT: u16 = 23039;
const LIST_NS: &str = "bench-list";
const LIST_SECRETS: usize = 5_000;
const LIST_PAGE: usize = 500;
const REVEAL_NS: &str = "team-a";
const REVEAL_SECRET: &str = "bench-reveal";

#[tokio::main]
async fn main() {
    let bin = PathBuf::from(
        std::env::var("STRONGROOM_BENCH_SERVER")
            .expect("STRONGROOM_BENCH_SERVER: the release strongroom-server (run scripts/bench)"),
    );
    let site = PathBuf::from(
        std::env::var("STRONGROOM_BENCH_SITE_ROOT").expect("STRONGROOM_BENCH_SITE_ROOT"),
    );
    let quick = std::env::var("STRONGROOM_BENCH_QUICK").is_ok();
    if let Some(minutes) = std::env::var("STRONGROOM_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
    {
        return soak(&bin, &site, Duration::from_secs(minutes * 60)).await;
    }
    let mut table = Table::default();

    // 7. Start-up to ready, SQLite and PostgreSQL (median of 5 starts each).
    let stack = Stack::get();
    for (label, database) in [
        ("SQLite", None),
        ("PostgreSQL", Some(stack.var("POSTGRES_URL"))),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let server = Server::spawn(&bin, &site, database.as_deref(), true);
            times.push(server.ready_after);
            server.stop();
        }
        table.row(
            format!("Start-up to ready, {label} (median of 5)"),
            ms(median(&mut times)),
            "—",
            None,
            None,
        );
    }

    let server = Server::spawn(&bin, &site, None, false);
    let url = server.url.clone();
    table.row(
        "Server memory after start-up (RSS)",
        mib(server.rss()),
        "—",
        None,
        None,
    );

    // 2. First load, as served and compressed.
    let alice = ApiSession::new(&url, "alice").await;
    let load = first_load(&alice).await;
    table.row(
        "First load, brotli (HTML + JS + wasm + CSS)",
        kb(load.br),
        "≤ 200 KB",
        None,
        Some(load.br <= 200_000),
    );
    table.row("First load, gzip", kb(load.gzip), "—", None, None);
    table.row("First load, uncompressed", kb(load.raw), "—", None, None);
    for (name, br) in &load.parts {
        table.row(format!("  of which {name}"), kb(*br), "—", None, None);
    }

    // 3. Time to interactive in headless Chromium (median of at least 10).
    match tti(&url, if quick { 3 } else { 11 }) {
        Ok((cold, warm)) => {
            table.row(
                "Time to interactive, empty cache (median)",
                ms(cold),
                "—",
                None,
                None,
            );
            table.row(
                "Time to interactive, warm cache (median)",
                ms(warm),
                "—",
                None,
                None,
            );
        }
        Err(e) => table.row(
            "Time to interactive",
            format!("not measured: {e}"),
            "—",
            None,
            None,
        ),
    }

    // The direct API, as alice: the backend's own client with the same
    // impersonated identity Strongroom uses for her.
    let me = alice.get_json("/api/v1/me").await;
    let direct = Direct::as_user(&stack, &me).await;

    // 5. List overhead: 5,000 secrets, page by page.
    seed_list_namespace(&stack).await;
    let rounds = if quick { 2 } else { 7 };
    let mut via = Vec::new();
    let mut straight = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let n = list_via_strongroom(&alice).await;
        via.push(t.elapsed());
        assert_eq!(n, LIST_SECRETS, "Strongroom listed {n} secrets");
        let t = Instant::now();
        let n = direct.list_all().await;
        straight.push(t.elapsed());
        assert_eq!(n, LIST_SECRETS, "the API server listed {n} secrets");
    }
    let (via, straight) = (median(&mut via), median(&mut straight));
    let ratio = via.as_secs_f64() / straight.as_secs_f64();
    table.row(
        format!("List {LIST_SECRETS} secrets in pages of {LIST_PAGE} (median of {rounds})"),
        format!("{} (direct {})", ms(via), ms(straight)),
        "≤ 1.2× direct",
        Some(ratio),
        Some(ratio <= 1.2),
    );

    // 6. Reveal: latency and throughput with the durable audit write.
    seed_reveal_secret().await;
    let before = audit_reveals(&server.data_dir).await;
    let mut revealed = 0u64;
    for concurrency in [1usize, 8, 32] {
        let n = if quick { 100 } else { concurrency.max(4) * 100 };
        let via = load_run(n, concurrency, |_| {
            let alice = alice.clone();
            async move { reveal_value(&alice).await }
        })
        .await;
        revealed += n as u64;
        let straight = load_run(n, concurrency, |_| {
            let direct = direct.clone();
            async move { direct.get_secret().await }
        })
        .await;
        let ratio = via.throughput / straight.throughput;
        table.row(
            format!("Reveal, concurrency {concurrency}: p50 / p99"),
            format!(
                "{} / {} (direct {} / {})",
                ms(via.p50),
                ms(via.p99),
                ms(straight.p50),
                ms(straight.p99)
            ),
            "—",
            None,
            None,
        );
        let budget = concurrency == 32;
        table.row(
            format!("Reveal, concurrency {concurrency}: throughput"),
            format!(
                "{:.0}/s (direct {:.0}/s)",
                via.throughput, straight.throughput
            ),
            if budget { "≥ 0.7× direct" } else { "—" },
            Some(ratio),
            budget.then_some(ratio >= 0.7),
        );
    }
    let after = audit_reveals(&server.data_dir).await;
    assert_eq!(
        after - before,
        revealed,
        "the audit trail must hold exactly one record per reveal"
    );
    table.row(
        "Audit records written for the reveals",
        format!("{} for {revealed} reveals", after - before),
        "= reveals",
        None,
        Some(after - before == revealed),
    );

    // 4. Memory after 10,000 mixed requests from 50 sessions.
    let sessions = if quick { 10 } else { 50 };
    let total = if quick { 1_000 } else { 10_000 };
    let mut people = Vec::new();
    for i in 0..sessions {
        people.push(ApiSession::new(&url, if i % 2 == 0 { "alice" } else { "carol" }).await);
    }
    let people = Arc::new(people);
    let mixed = load_run(total, sessions, |i| {
        let people = people.clone();
        async move {
            let s = &people[i % people.len()];
            match (i / people.len()) % 10 {
                0..=3 => {
                    s.status("/api/v1/namespaces/team-a/secrets?limit=100")
                        .await
                }
                4..=5 => {
                    s.status(&format!(
                        "/api/v1/namespaces/team-a/secrets/{REVEAL_SECRET}"
                    ))
                    .await
                }
                6 => s.status("/api/v1/me").await,
                // carol may list but not read values: her reveals are 403s
                // by RBAC, which is an answer, not an error.
                _ => reveal_status(s).await,
            }
        }
    })
    .await;
    table.row(
        format!("Mixed API requests, {sessions} sessions"),
        format!(
            "{total} in {}, {:.0}/s",
            ms(mixed.elapsed),
            mixed.throughput
        ),
        "—",
        None,
        None,
    );
    let steady = server.rss();
    table.row(
        format!("Server memory after {total} mixed requests (RSS)"),
        mib(steady),
        "≤ 40 MiB",
        None,
        Some(steady <= 40 * 1024 * 1024),
    );
    table.row(
        "Server memory, peak (VmHWM)",
        mib(server.hwm()),
        "—",
        None,
        None,
    );
    server.stop();

    table.print();
    if let Ok(out) = std::env::var("STRONGROOM_BENCH_OUT") {
        std::fs::write(&out, table.markdown()).expect("write the Markdown table");
        eprintln!("table written to {out}");
    }
}

// ---------------------------------------------------------------------------
// The server under test

struct Server {
    child: Child,
    url: String,
    data_dir: PathBuf,
    ready_after: Duration,
}

impl Server {
    /// Starts the release binary and waits for `/readyz`.
    fn spawn(bin: &Path, site: &Path, database: Option<&str>, fresh: bool) -> Server {
        let url = format!("http://127.0.0.1:{PORT}");
        let data_dir = std::env::temp_dir().join(format!("strongroom-bench-{PORT}"));
        if fresh || !data_dir.exists() {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        // The benchmark reveals thousands of times as one user: the shared
        // command has the rate limit off.
        let mut cmd = common::server_command(bin, PORT, &data_dir);
        cmd.env("STRONGROOM_SITE_ROOT", site)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(db) = database {
            cmd.env("STRONGROOM_DATABASE_URL", db);
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("start the release server");
        let ready = format!("{url}/readyz");
        loop {
            if let Ok(r) = ureq_get(&ready)
                && r == 200
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        Server {
            child,
            url,
            data_dir,
            ready_after: started.elapsed(),
        }
    }

    fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status (Linux)");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{field} not in /proc/PID/status"))
    }

    fn rss(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    fn hwm(&self) -> u64 {
        self.status_field("VmHWM:")
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET that returns the status (start-up polling must not wait
/// on a runtime that the measurement shares).
fn ureq_get(url: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("not HTTP"))
}

// ---------------------------------------------------------------------------
// Reveals of the benchmark's secret, by a signed-in session (common::ApiSession)

/// POSTs a single-key reveal of the benchmark's secret.
async fn post_reveal(s: &ApiSession) -> Result<reqwest::Response, String> {
    s.c.post(format!(
        "{}/api/v1/namespaces/{REVEAL_NS}/secrets/{REVEAL_SECRET}/reveal",
        s.url
    ))
    .header(CSRF.0, CSRF.1)
    .json(&json!({ "keys": ["token"] }))
    .send()
    .await
    .map_err(|e| e.to_string())
}

/// A reveal whose answer may be a refusal (403 is RBAC speaking).
async fn reveal_status(s: &ApiSession) -> Result<(), String> {
    let r = post_reveal(s).await?;
    let status = r.status();
    let _ = r.bytes().await;
    if status.is_server_error() || status == 401 {
        return Err(format!("reveal: {status}"));
    }
    Ok(())
}

/// One single-key reveal that must succeed and return the value.
async fn reveal_value(s: &ApiSession) -> Result<(), String> {
    let r = post_reveal(s).await?;
    if r.status() != 200 {
        return Err(format!("reveal: {}", r.status()));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if body.to_string().contains(&b64(b"bench-value")) {
        Ok(())
    } else {
        Err("reveal answered without the value".into())
    }
}

// ---------------------------------------------------------------------------
// First load

struct FirstLoad {
    raw: u64,
    br: u64,
    gzip: u64,
    parts: Vec<(String, u64)>,
}

/// Downloads the first page after sign-in and everything it loads, as the
/// browser would, counting the bytes on the wire for each encoding.
async fn first_load(s: &ApiSession) -> FirstLoad {
    let html = s.get_text("/").await;
    let mut assets: Vec<String> = Vec::new();
    for attr in [
        "href=\"", "src=\"", "from '", "import('", "init('", "path: '",
    ] {
        for piece in html.split(attr).skip(1) {
            let end = piece.find(['"', '\'']).unwrap_or(0);
            let link = &piece[..end];
            if link.starts_with("/pkg/") && !assets.iter().any(|a| a == link) {
                assets.push(link.to_string());
            }
        }
    }
    // The JS glue names the wasm file; leptos preloads it too.
    assert!(
        assets.iter().any(|a| a.ends_with(".wasm")) && assets.iter().any(|a| a.ends_with(".js")),
        "the first page should load the wasm and its JS glue: {assets:?}"
    );
    let mut load = FirstLoad {
        raw: 0,
        br: 0,
        gzip: 0,
        parts: Vec::new(),
    };
    for (i, path) in std::iter::once("/".to_string()).chain(assets).enumerate() {
        let raw = wire_bytes(s, &path, "identity").await;
        let br = wire_bytes(s, &path, "br").await;
        let gz = wire_bytes(s, &path, "gzip").await;
        load.raw += raw;
        load.br += br;
        load.gzip += gz;
        let name = if i == 0 {
            "HTML".to_string()
        } else {
            match path.rsplit('.').next() {
                Some("wasm") => "wasm".to_string(),
                Some("js") => "JS".to_string(),
                Some("css") => "CSS".to_string(),
                _ => path.clone(),
            }
        };
        load.parts.push((name, br));
    }
    load
}

/// Bytes of the body as sent for `Accept-Encoding: encoding` (this client
/// does not decompress, so this is what crossed the wire).
async fn wire_bytes(s: &ApiSession, path: &str, encoding: &str) -> u64 {
    let r =
        s.c.get(format!("{}{path}", s.url))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    let sent = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    if encoding != "identity" {
        assert_eq!(
            sent.as_deref(),
            Some(encoding),
            "{path} should be served {encoding}-compressed"
        );
    }
    r.bytes().await.unwrap().len() as u64
}

/// Time to interactive through Playwright: (empty cache, warm cache) medians.
fn tti(url: &str, runs: usize) -> Result<(Duration, Duration), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    let out = Command::new("node")
        .arg("bench/tti.mjs")
        .current_dir(&root)
        .env("STRONGROOM_E2E_URL", url)
        .env("STRONGROOM_TTI_RUNS", runs.to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err("the Playwright script failed".into());
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let get = |k: &str| {
        v[k].as_f64()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .ok_or_else(|| format!("no {k} in the script's answer"))
    };
    Ok((get("cold_ms")?, get("warm_ms")?))
}

// ---------------------------------------------------------------------------
// The direct Kubernetes API, impersonating the same identity

#[derive(Clone)]
struct Direct {
    client: kube::Client,
}

impl Direct {
    async fn as_user(stack: &Stack, me: &Value) -> Direct {
        let mut config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(stack.var("BACKEND_KUBECONFIG")).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        config.auth_info.impersonate = Some(me["username"].as_str().unwrap().to_string());
        config.auth_info.impersonate_groups = Some(
            me["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_string())
                .collect(),
        );
        Direct {
            client: kube::Client::try_from(config).unwrap(),
        }
    }

    /// The whole namespace as metadata-only Table pages (what Strongroom asks
    /// the API server for), returning the number of rows.
    async fn list_all(&self) -> usize {
        let mut n = 0;
        let mut token: Option<String> = None;
        loop {
            let mut uri = format!("/api/v1/namespaces/{LIST_NS}/secrets?limit={LIST_PAGE}");
            if let Some(t) = &token {
                uri.push_str(&format!("&continue={}", common::urlencode(t)));
            }
            let req = http::Request::get(uri)
                .header(
                    "accept",
                    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
                )
                .body(Vec::new())
                .unwrap();
            let table: Value = self.client.request(req).await.expect("direct list");
            n += table["rows"].as_array().map_or(0, |r| r.len());
            token = table["metadata"]["continue"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return n;
            }
        }
    }

    async fn get_secret(&self) -> Result<(), String> {
        let req = http::Request::get(format!(
            "/api/v1/namespaces/{REVEAL_NS}/secrets/{REVEAL_SECRET}"
        ))
        .body(Vec::new())
        .unwrap();
        let secret: Value = self.client.request(req).await.map_err(|e| e.to_string())?;
        if secret["data"]["token"].as_str() == Some(b64(b"bench-value").as_str()) {
            Ok(())
        } else {
            Err("direct GET without the value".into())
        }
    }
}

/// Strongroom's list API, page by page; returns the number of secrets.
async fn list_via_strongroom(s: &ApiSession) -> usize {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/namespaces/{LIST_NS}/secrets?limit={LIST_PAGE}");
        if let Some(t) = &token {
            path.push_str(&format!("&continue={}", common::urlencode(t)));
        }
        let page = s.get_json(&path).await;
        n += page["items"].as_array().map_or(0, |i| i.len());
        token = page["continue"].as_str().map(str::to_string);
        if token.is_none() {
            return n;
        }
    }
}

// ---------------------------------------------------------------------------
// Seeding

async fn seed_list_namespace(stack: &Stack) {
    let out = kubectl(&[
        "get",
        "secrets",
        "-n",
        LIST_NS,
        "--no-headers",
        "-o",
        "name",
    ]);
    let existing = String::from_utf8_lossy(&out.stdout).lines().count();
    if existing >= LIST_SECRETS {
        return;
    }
    let _ = kubectl(&["create", "namespace", LIST_NS]);
    let _ = kubectl(&[
        "create",
        "rolebinding",
        "bench-listers",
        "-n",
        LIST_NS,
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
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(admin, LIST_NS);
    stream::iter(0..LIST_SECRETS)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let s: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
                    "metadata": {"name": format!("s-{i:05}"), "labels": {"app": "bench"}},
                    "data": {"k": b64(b"v")}
                }))
                .unwrap();
                let _ = api.create(&Default::default(), &s).await;
            }
        })
        .await;
}

async fn seed_reveal_secret() {
    let _ = kubectl(&[
        "delete",
        "secret",
        REVEAL_SECRET,
        "-n",
        REVEAL_NS,
        "--ignore-not-found",
    ]);
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        REVEAL_SECRET,
        "-n",
        REVEAL_NS,
        "--from-literal=token=bench-value",
    ]);
    assert!(out.status.success(), "create {REVEAL_SECRET}");
}

/// Reveal records for the benchmark's secret in the server's SQLite trail.
async fn audit_reveals(data_dir: &Path) -> u64 {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("strongroom.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_records WHERE action = 'reveal' AND namespace = ? AND secret = ? AND outcome = 'allowed'",
    )
    .bind(REVEAL_NS)
    .bind(REVEAL_SECRET)
    .fetch_one(&mut db)
    .await
    .unwrap();
    n as u64
}

// ---------------------------------------------------------------------------
// Load and figures

struct Run {
    p50: Duration,
    p99: Duration,
    throughput: f64,
    elapsed: Duration,
}

/// Runs `n` operations `concurrency` at a time; every one must succeed.
async fn load_run<F, Fut>(n: usize, concurrency: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let results: Vec<(Duration, Result<(), String>)> = stream::iter(0..n)
        .map(|i| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                let r = fut.await;
                (t.elapsed(), r)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let errors: Vec<&String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} of {n} operations failed, first: {}",
        errors.len(),
        errors[0]
    );
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    Run {
        p50: latencies[latencies.len() / 2],
        p99: latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)],
        throughput: n as f64 / elapsed.as_secs_f64(),
        elapsed,
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[derive(Default)]
struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(
        &mut self,
        figure: impl Into<String>,
        value: impl Into<String>,
        budget: &str,
        ratio: Option<f64>,
        within: Option<bool>,
    ) {
        self.rows.push([
            figure.into(),
            value.into(),
            budget.to_string(),
            ratio.map_or("—".into(), |r| format!("{r:.2}×")),
            match within {
                Some(true) => "within".into(),
                Some(false) => "OVER BUDGET".into(),
                None => "".into(),
            },
        ]);
    }

    fn print(&self) {
        let head = ["Figure", "Value", "Budget", "vs direct", ""];
        let mut widths = head.map(|h| h.chars().count());
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 5]| {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!();
        println!("{}", line(&head.map(String::from)));
        println!("{}", "-".repeat(widths.iter().sum::<usize>() + 8));
        for row in &self.rows {
            println!("{}", line(row));
        }
    }

    fn markdown(&self) -> String {
        let mut s =
            String::from("| Figure | Value | Budget | vs direct | |\n|---|---|---|---|---|\n");
        for row in &self.rows {
            s.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Load and soak (scripts/soak): 50 sessions mixing list, reveal, create and
// delete for a while, memory sampled as it goes. Fails on any error answer
// or when the audit trail does not hold one record per audited operation.

async fn soak(bin: &Path, site: &Path, length: Duration) {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    seed_reveal_secret().await;
    let server = Server::spawn(bin, site, None, true);
    let url = server.url.clone();
    let mut sessions = Vec::new();
    for _ in 0..50 {
        sessions.push(ApiSession::new(&url, "alice").await);
    }
    let before = audit_all(&server.data_dir).await;
    let counts: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
    let (lists, reveals, creates, deletes, errors) = (0, 1, 2, 3, 4);
    let deadline = Instant::now() + length;
    let mut workers = Vec::new();
    for (w, s) in sessions.into_iter().enumerate() {
        let counts = counts.clone();
        workers.push(tokio::spawn(async move {
            let mut mine: Vec<String> = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let result = match i % 10 {
                    0..=4 => s
                        .status("/api/v1/namespaces/team-a/secrets?limit=100")
                        .await
                        .map(|()| lists),
                    5..=7 => reveal_value(&s).await.map(|()| reveals),
                    8 => {
                        let name = format!("soak-{w}-{i}-{}", std::process::id());
                        let r = s
                            .c
                            .post(format!("{}/api/v1/namespaces/team-a/secrets", s.url))
                            .header(CSRF.0, CSRF.1)
                            .json(&json!({"name": name, "input": {"kind": "generic", "entries": [{"key": "k", "value": b64(b"soak")}]}}))
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 201 => {
                                mine.push(name);
                                Ok(creates)
                            }
                            Ok(r) => Err(format!("create: {}", r.status())),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    _ => match mine.pop() {
                        None => continue,
                        Some(name) => {
                            let r = s
                                .c
                                .delete(format!("{}/api/v1/namespaces/team-a/secrets/{name}", s.url))
                                .header(CSRF.0, CSRF.1)
                                .json(&json!({"confirm": name}))
                                .send()
                                .await;
                            match r {
                                Ok(r) if r.status().is_success() => Ok(deletes),
                                Ok(r) => Err(format!("delete: {}", r.status())),
                                Err(e) => Err(e.to_string()),
                            }
                        }
                    },
                };
                match result {
                    Ok(kind) => counts[kind].fetch_add(1, Relaxed),
                    Err(e) => {
                        if counts[errors].fetch_add(1, Relaxed) < 5 {
                            eprintln!("soak error: {e}");
                        }
                        0
                    }
                };
            }
        }));
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(30).min(length)).await;
        samples.push((started.elapsed(), server.rss()));
        eprintln!(
            "soak: {:>4.0} s  RSS {}  requests {}",
            started.elapsed().as_secs_f64(),
            mib(server.rss()),
            counts.iter().map(|c| c.load(Relaxed)).sum::<u64>()
        );
    }
    for w in workers {
        w.await.expect("worker");
    }
    let after = audit_all(&server.data_dir).await;
    let n = |k: usize| counts[k].load(Relaxed);
    let audited = n(reveals) + n(creates) + n(deletes);
    let mut table = Table::default();
    table.row(
        "Soak length, sessions",
        format!("{} s, 50", length.as_secs()),
        "—",
        None,
        None,
    );
    table.row(
        "Operations: list / reveal / create / delete",
        format!(
            "{} / {} / {} / {}",
            n(lists),
            n(reveals),
            n(creates),
            n(deletes)
        ),
        "—",
        None,
        None,
    );
    table.row(
        "Throughput",
        format!(
            "{:.0}/s",
            (n(lists) + audited) as f64 / length.as_secs_f64()
        ),
        "—",
        None,
        None,
    );
    table.row(
        "Errors",
        n(errors).to_string(),
        "0",
        None,
        Some(n(errors) == 0),
    );
    table.row(
        "Audit records written",
        format!("{} for {audited} audited operations", after - before),
        "= operations",
        None,
        Some(after - before == audited),
    );
    let first = samples.first().map_or(0, |s| s.1);
    let last = samples.last().map_or(0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    table.row(
        "RSS: first sample / peak / last",
        format!("{} / {} / {}", mib(first), mib(peak), mib(last)),
        "flat",
        None,
        Some(last <= first + first / 5),
    );
    server.stop();
    table.print();
    if let Ok(out) = std::env::var("STRONGROOM_BENCH_OUT") {
        std::fs::write(&out, table.markdown()).expect("write the Markdown table");
    }
    assert_eq!(n(errors), 0, "errors during the soak");
    assert_eq!(
        after - before,
        audited,
        "one audit record per audited operation"
    );
}

/// Allowed records in the server's SQLite trail.
async fn audit_all(data_dir: &Path) -> u64 {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("strongroom.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE outcome = 'allowed'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    n as u64
}
