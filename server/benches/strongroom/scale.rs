//! How Strongroom grows with the cluster: list, search and reveal in
//! namespaces of 1,000, 10,000 and 100,000 secrets, and `/api/v1/me` with
//! 100 and 10,000 namespaces, each against the direct API server in the same
//! run, with the server's memory after each.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    common::{self, ApiSession, CSRF, Stack, b64},
    direct::Direct,
    load::{load_run, median},
    report::{Table, mib, ms},
    server::Server,
    stack::{bulk_name, seed_namespaces, seed_secrets},
};

/// The secrets scales, and the namespaces' for `/me`.
const SECRETS: [usize; 3] = [1_000, 10_000, 100_000];
const NAMESPACES: usize = 10_000;

fn count(n: usize) -> String {
    strongroom_app::ui::format::count(n as u64)
}

pub(crate) async fn scale(table: &mut Table, bin: &Path, site: &Path, quick: bool) {
    let stack = Stack::get();
    let only_namespaces = std::env::var("STRONGROOM_BENCH_ONLY").as_deref() == Ok("namespaces");
    for n in SECRETS {
        if (quick && n > 10_000) || only_namespaces {
            continue;
        }
        let ns = format!("bench-{}k", n / 1000);
        seed_secrets(&stack, &ns, n).await;
        let server = Server::spawn(bin, site, None, true);
        let alice = ApiSession::new(&server.url, "alice").await;
        let me = alice.get_json("/api/v1/me").await;
        let direct = Direct::as_user(&stack, &me).await;
        let label = format!("{} secrets", count(n));

        // First page of 100, p50 of 9.
        let (mut via, mut straight) = (Vec::new(), Vec::new());
        for _ in 0..9 {
            let t = Instant::now();
            let page = alice
                .get_json(&format!("/api/v1/namespaces/{ns}/secrets?limit=100"))
                .await;
            via.push(t.elapsed());
            assert_eq!(page["items"].as_array().unwrap().len(), 100);
            let t = Instant::now();
            let (names, _) = direct.list_page(&ns, 100, None).await;
            straight.push(t.elapsed());
            assert_eq!(names.len(), 100);
        }
        let (v, d) = (median(&mut via), median(&mut straight));
        table.row(
            format!("{label}: first page of 100 (p50 of 9)"),
            format!("{} (direct {})", ms(v), ms(d)),
            "—",
            Some(v.as_secs_f64() / d.as_secs_f64()),
            None,
        );

        // Every page of 500.
        let t = Instant::now();
        let listed = list_all(&alice, &ns).await;
        let v = t.elapsed();
        assert_eq!(listed, n);
        let t = Instant::now();
        assert_eq!(direct.list_all_in(&ns, 500).await, n);
        let d = t.elapsed();
        table.row(
            format!("{label}: every page of 500"),
            format!("{} (direct {})", ms(v), ms(d)),
            "≤ 1.2× direct",
            Some(v.as_secs_f64() / d.as_secs_f64()),
            Some(v.as_secs_f64() / d.as_secs_f64() <= 1.2),
        );

        // Search for the last name: answers until it is found.
        let last = bulk_name(n, n - 1);
        let search = search_until_found(&alice, &ns, &last).await;
        let t = Instant::now();
        let mut token = None;
        let found = loop {
            let (names, next) = direct.list_page(&ns, 2_000, token.as_deref()).await;
            if names.contains(&last) {
                break true;
            }
            match next {
                Some(next) => token = Some(next),
                None => break false,
            }
        };
        let d = t.elapsed();
        assert!(found, "the API server lists {last}");
        table.row(
            format!("{label}: search for the last name, until found"),
            format!(
                "{} in {} answers, longest {} (direct scan {})",
                ms(search.total),
                search.answers,
                ms(search.longest),
                ms(d)
            ),
            "found; each answer ≤ 1 s",
            Some(search.total.as_secs_f64() / d.as_secs_f64()),
            Some(search.longest <= Duration::from_secs(1)),
        );
        let first = bulk_name(n, 0);
        let t = Instant::now();
        let early = alice
            .get_json(&format!(
                "/api/v1/namespaces/{ns}/secrets?limit=100&name={first}"
            ))
            .await;
        let early_time = t.elapsed();
        assert!(
            early["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == json!(first)),
            "{first} found"
        );
        table.row(
            format!("{label}: search for the first name"),
            format!("{} ({} read)", ms(early_time), early["searched"]["read"]),
            "≤ 1 s",
            None,
            Some(early_time <= Duration::from_secs(1)),
        );

        // Reveal one key, concurrency 1.
        let name = bulk_name(n, n / 2);
        let via = load_run(30, 1, |_| reveal(&alice, &ns, &name)).await;
        let straight = load_run(30, 1, |_| {
            let direct = direct.clone();
            let (ns, name) = (ns.clone(), name.clone());
            async move { direct.get_value(&ns, &name, "k", b"v").await }
        })
        .await;
        table.row(
            format!("{label}: reveal p50, concurrency 1"),
            format!("{} (direct {})", ms(via.p50), ms(straight.p50)),
            "≤ 2× direct",
            Some(via.p50.as_secs_f64() / straight.p50.as_secs_f64()),
            Some(via.p50.as_secs_f64() / straight.p50.as_secs_f64() <= 2.0),
        );
        table.row(
            format!("{label}: server memory after (RSS / peak)"),
            format!("{} / {}", mib(server.rss()), mib(server.hwm())),
            "≤ 40 MiB",
            None,
            Some(server.hwm() <= 40 * 1024 * 1024),
        );
        server.stop();
    }
    namespaces(table, bin, site, quick).await;
}

async fn list_all(s: &ApiSession, ns: &str) -> usize {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/namespaces/{ns}/secrets?limit=500");
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

struct Search {
    total: Duration,
    longest: Duration,
    answers: usize,
}

async fn search_until_found(s: &ApiSession, ns: &str, name: &str) -> Search {
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    let mut answers = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/namespaces/{ns}/secrets?limit=100&name={name}");
        if let Some(t) = &token {
            path.push_str(&format!("&continue={}", common::urlencode(t)));
        }
        let t = Instant::now();
        let page = s.get_json(&path).await;
        longest = longest.max(t.elapsed());
        answers += 1;
        let items = page["items"].as_array().unwrap();
        if items.iter().any(|i| i["name"] == json!(name)) {
            return Search {
                total: started.elapsed(),
                longest,
                answers,
            };
        }
        token = page["continue"].as_str().map(str::to_string);
        assert!(token.is_some(), "the search ended without {name}: {page}");
    }
}

async fn reveal(s: &ApiSession, ns: &str, name: &str) -> Result<(), String> {
    let r =
        s.c.post(format!(
            "{}/api/v1/namespaces/{ns}/secrets/{name}/reveal",
            s.url
        ))
        .header(CSRF.0, CSRF.1)
        .json(&json!({ "keys": ["k"] }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("reveal: {}", r.status()));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if body.to_string().contains(&b64(b"v")) {
        Ok(())
    } else {
        Err("reveal answered without the value".into())
    }
}

/// Kubernetes calls the server has made, from its metrics.
async fn kube_calls(metrics: &str) -> u64 {
    let text = reqwest::get(metrics).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("strongroom_kube_request_duration_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `/api/v1/me` as dave (who may list namespaces, and secrets in a few):
/// with 100 configured namespaces, each checked, and with every namespace of
/// the cluster (10,000 and more) discovered, none checked up front.
async fn namespaces(table: &mut Table, bin: &Path, site: &Path, quick: bool) {
    let stack = Stack::get();
    seed_namespaces(&stack, if quick { 1_000 } else { NAMESPACES }).await;
    let hundred: Vec<String> = (0..100).map(|i| format!("scale-ns-{i:05}")).collect();
    for (label, configured) in [
        (
            "100 namespaces (configured, each checked)",
            hundred.join(","),
        ),
        ("every namespace (discovered)", String::new()),
    ] {
        let (mut cold, mut warm, mut find) = (Vec::new(), Vec::new(), Vec::new());
        let mut calls = Vec::new();
        let mut candidates = 0;
        let mut rss = 0;
        for _ in 0..5 {
            let server = Server::spawn_with(
                bin,
                site,
                &[
                    ("STRONGROOM_NAMESPACES", configured.as_str()),
                    ("STRONGROOM_METRICS_LISTEN", "127.0.0.1:24039"),
                ],
            );
            let metrics = "http://127.0.0.1:24039/metrics";
            let dave = ApiSession::new(&server.url, "dave").await;
            let before = kube_calls(metrics).await;
            let t = Instant::now();
            let me = dave.get_json("/api/v1/me").await;
            cold.push(t.elapsed());
            calls.push(kube_calls(metrics).await - before);
            candidates = me["namespaces"].as_array().unwrap().len()
                + me["unchecked_namespaces"].as_u64().unwrap_or(0) as usize;
            let t = Instant::now();
            let _ = dave.get_json("/api/v1/me").await;
            warm.push(t.elapsed());
            let t = Instant::now();
            let found = dave.get_json("/api/v1/namespaces?name=scale-ns-0").await;
            find.push(t.elapsed());
            assert!(
                found["namespaces"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("scale-ns-00000")),
                "{found}"
            );
            rss = rss.max(server.hwm());
            server.stop();
        }
        table.row(
            format!("/me, {label}: first call / later calls (p50 of 5)"),
            format!(
                "{} / {} ({} namespaces, {} API calls)",
                ms(median(&mut cold)),
                ms(median(&mut warm)),
                count(candidates),
                calls.iter().max().unwrap()
            ),
            "≤ 300 ms",
            None,
            Some(median(&mut cold) <= Duration::from_millis(300)),
        );
        table.row(
            format!("/me, {label}: namespace search, first (p50 of 5)"),
            ms(median(&mut find)),
            "—",
            None,
            None,
        );
        table.row(
            format!("/me, {label}: server memory, peak"),
            mib(rss),
            "≤ 40 MiB",
            None,
            Some(rss <= 40 * 1024 * 1024),
        );
    }
}
