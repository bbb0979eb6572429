//! Strongroom's benchmark: the release server, as a separate process, on the
//! local stack, measured against the direct Kubernetes API in the same run.
//!
//! Run it through `scripts/bench`, which starts the stack, builds the release
//! site and passes the binary's path. It prints a table (figure, value,
//! budget, ratio to the direct API, verdict) and writes it as Markdown to
//! `$STRONGROOM_BENCH_OUT` when set. Figures over budget are printed as such;
//! the benchmark fails only when something is wrong (an error answer, a
//! missing audit record), never on time.

#[path = "../../tests/common/mod.rs"]
mod common;
mod direct;
mod frontend;
mod load;
mod report;
mod requests;
mod scale;
mod server;
mod soak;
mod stack;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use common::{ApiSession, Stack};

use crate::{
    direct::Direct,
    frontend::{brotli_bytes, first_load, tti},
    load::{load_run, median},
    report::{Table, kb, mib, ms},
    requests::{list_via_strongroom, reveal_status, reveal_value},
    server::Server,
    soak::soak,
    stack::{audit_reveals, seed_list_namespace, seed_reveal_secret},
};

/// Registered as redirect URIs at the local IdP (scripts/lib.sh).
const PORT: u16 = 23039;
const LIST_NS: &str = "bench-list";
const LIST_SECRETS: usize = 5_000;
const LIST_PAGE: usize = 500;
const REVEAL_NS: &str = "team-a";
const REVEAL_SECRET: &str = "bench-reveal";
/// The benchmark server's metrics listener.
const METRICS: &str = "127.0.0.1:24039";
/// How long the second memory reading waits after a burst: the server
/// gives free heap pages back once a second has passed without requests
/// (checked every second, so 1-2 s after the last one).
const SETTLE: Duration = Duration::from_secs(3);

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
    // STRONGROOM_BENCH_ONLY=scale (or =namespaces): only how it grows.
    if matches!(
        std::env::var("STRONGROOM_BENCH_ONLY").as_deref(),
        Ok("scale" | "namespaces")
    ) {
        scale::scale(&mut table, &bin, &site, quick).await;
        return finish(&table);
    }

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

    let server = Server::spawn_with(&bin, &site, &[("STRONGROOM_METRICS_LISTEN", METRICS)]);
    let url = server.url.clone();
    table.row(
        "Server memory after start-up (RSS)",
        mib(server.rss()),
        "—",
        None,
        None,
    );
    table.row(
        "  of which anonymous (heap, stacks)",
        mib(server.rss_anon()),
        "—",
        None,
        None,
    );

    // 3. Time to interactive in headless Chromium (median of at least 10),
    // and which files the first page and each later route download.
    let alice = ApiSession::new(&url, "alice").await;
    let routes = [
        "/ns/team-a",
        "/ns/team-a/new",
        "/ns/team-a/secrets/bench-reveal",
        "/ns/team-a/certificates",
        "/me",
        "/audit",
        "/approvals",
    ];
    let browser = tti(&url, if quick { 3 } else { 11 }, &routes);

    // 2. First load, as served and compressed.
    let load = first_load(&alice, browser.as_ref().ok().map(|b| b.first.as_slice())).await;
    table.row(
        "First load, brotli (HTML + JS + wasm + CSS)",
        kb(load.br),
        "≤ 150 KB",
        None,
        Some(load.br <= 150_000),
    );
    table.row("First load, gzip", kb(load.gzip), "—", None, None);
    table.row("First load, uncompressed", kb(load.raw), "—", None, None);
    for (name, br) in &load.parts {
        table.row(format!("  of which {name}"), kb(*br), "—", None, None);
    }
    match browser {
        Ok(b) => {
            for (route, files) in &b.later {
                let br = brotli_bytes(&alice, files).await;
                table.row(
                    format!(
                        "Then {route}: extra download, brotli ({} files)",
                        files.len()
                    ),
                    kb(br),
                    "≤ 60 KB",
                    None,
                    Some(br <= 60_000),
                );
            }
            table.row(
                "Time to interactive, empty cache (median)",
                ms(b.cold),
                "—",
                None,
                None,
            );
            table.row(
                "Time to interactive, warm cache (median)",
                ms(b.warm),
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
        let before = Timings::scrape().await;
        let via = load_run(n, concurrency, |_| {
            let alice = alice.clone();
            async move { reveal_value(&alice).await }
        })
        .await;
        revealed += n as u64;
        if concurrency == 1 {
            // Where a reveal's time goes, from the server's own metrics.
            let spent = Timings::scrape().await.since(&before);
            table.row(
                "Reveal, concurrency 1: mean time in the server / API server GET / audit commit",
                format!(
                    "{} / {} / {}",
                    ms(spent.request),
                    ms(spent.kube_get),
                    ms(spent.audit)
                ),
                "—",
                None,
                None,
            );
        }
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
    // One HTTP/2 connection carries every request to the API server.
    let api_port = stack
        .var("KUBE_API_URL")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("KUBE_API_URL has a port");
    table.row(
        "Connections to the API server after the reveals (HTTP/2)",
        server.connections_to(api_port).to_string(),
        "—",
        None,
        None,
    );
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
    // Right after the last answer (the budget), and once the server has
    // been quiet for a moment and given the burst's free heap pages back
    // (infra/memory.rs).
    let (steady, steady_anon) = (server.rss(), server.rss_anon());
    table.row(
        format!("Server memory after {total} mixed requests (RSS)"),
        mib(steady),
        "≤ 40 MiB",
        None,
        Some(steady <= 40 * 1024 * 1024),
    );
    table.row(
        "  of which anonymous (heap, stacks; the rest is the binary's pages)",
        mib(steady_anon),
        "—",
        None,
        None,
    );
    tokio::time::sleep(SETTLE).await;
    table.row(
        format!(
            "  {} s later, after the idle trim (RSS / anonymous)",
            SETTLE.as_secs()
        ),
        format!("{} / {}", mib(server.rss()), mib(server.rss_anon())),
        "—",
        None,
        None,
    );
    table.row(
        "Server memory, peak (VmHWM)",
        mib(server.hwm()),
        "—",
        None,
        None,
    );
    server.stop();

    // How it grows: 1,000 to 100,000 secrets, 100 to 10,000 namespaces
    // (STRONGROOM_BENCH_ONLY=main leaves it out).
    if std::env::var("STRONGROOM_BENCH_ONLY").as_deref() != Ok("main") {
        scale::scale(&mut table, &bin, &site, quick).await;
    }
    finish(&table);
}

/// Cumulative time of reveals, of the API server's secret GETs and of audit
/// commits, from the server's metrics.
#[derive(Default)]
struct Timings {
    request: (f64, f64),
    kube_get: (f64, f64),
    audit: (f64, f64),
}

struct Spent {
    request: Duration,
    kube_get: Duration,
    audit: Duration,
}

impl Timings {
    async fn scrape() -> Timings {
        let text = reqwest::get(format!("http://{METRICS}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        Timings {
            request: pair_labelled(
                &text,
                "strongroom_http_request_duration_seconds",
                "route=\"/api/v1/namespaces/{ns}/secrets/{name}/reveal\",method=\"POST\",status=\"200\"",
            ),
            kube_get: pair_labelled(
                &text,
                "strongroom_kube_request_duration_seconds",
                "verb=\"get\",resource=\"secrets\"",
            ),
            audit: pair_labelled(
                &text,
                "strongroom_audit_write_duration_seconds",
                "sink=\"database\"",
            ),
        }
    }

    fn since(&self, before: &Timings) -> Spent {
        let mean = |a: (f64, f64), b: (f64, f64)| {
            let n = a.1 - b.1;
            Duration::from_secs_f64(if n > 0.0 { (a.0 - b.0) / n } else { 0.0 })
        };
        Spent {
            request: mean(self.request, before.request),
            kube_get: mean(self.kube_get, before.kube_get),
            audit: mean(self.audit, before.audit),
        }
    }
}

/// (sum, count) of a histogram's series with exactly these labels.
fn pair_labelled(text: &str, name: &str, labels: &str) -> (f64, f64) {
    let get = |suffix: &str| {
        let prefix = format!("{name}_{suffix}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0.0, |v| v.trim().parse().unwrap_or(0.0))
    };
    (get("sum"), get("count"))
}

fn finish(table: &Table) {
    table.print();
    if let Ok(out) = std::env::var("STRONGROOM_BENCH_OUT") {
        std::fs::write(&out, table.markdown()).expect("write the Markdown table");
        eprintln!("table written to {out}");
    }
}
