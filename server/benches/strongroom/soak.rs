//! Load and soak (scripts/soak): 50 sessions mixing list, reveal, create and
//! delete for a while, memory sampled as it goes. Fails on any error answer
//! or when the audit trail does not hold one record per audited operation.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{
    common::{ApiSession, CSRF, b64},
    report::{Table, mib},
    requests::reveal_value,
    server::Server,
    stack::{audit_all, seed_reveal_secret},
};

pub(crate) async fn soak(bin: &Path, site: &Path, length: Duration) {
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
