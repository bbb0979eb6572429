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
    frontend::{first_load, tti},
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
    if std::env::var("STRONGROOM_BENCH_ONLY").as_deref() == Ok("scale") {
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

    // How it grows: 1,000 to 100,000 secrets, 100 to 10,000 namespaces.
    scale::scale(&mut table, &bin, &site, quick).await;
    finish(&table);
}

fn finish(table: &Table) {
    table.print();
    if let Ok(out) = std::env::var("STRONGROOM_BENCH_OUT") {
        std::fs::write(&out, table.markdown()).expect("write the Markdown table");
        eprintln!("table written to {out}");
    }
}
