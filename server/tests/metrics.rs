//! `/metrics` as operators scrape it, against the real stack: on a listener
//! of its own (the main one answers 404), request latency by route template
//! with no secret's name in any label, Kubernetes calls by verb with their
//! errors, audit commits per sink, signed-in sessions, reveal rate-limit
//! refusals; and `Strict-Transport-Security` exactly when the public URL is
//! https.

mod common;

use common::{ApiSession, TestServer, create_secret, unique};

/// The tests here compare counters before and after what they do, in one
/// process-wide registry: they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// GET `url` and its body, which must be a 200 in the text format.
async fn scrape(url: &str) -> String {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

/// The value of the series `series` (name and labels exactly as written),
/// 0 when it is absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_on_their_own_port_show_route_templates_kube_calls_and_no_secret_names() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(&["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics_url = format!(
        "http://{}/metrics",
        server.metrics_addr.expect("a metrics listener")
    );

    // The main listener no longer serves /metrics.
    let main = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    assert!(
        !main.text().await.unwrap().contains("# TYPE strongroom_"),
        "the main port shows no metric"
    );

    let before = scrape(&metrics_url).await;
    let name = unique("metered");
    create_secret("team-a", &name, "password", "metered-hunter2");
    let alice = ApiSession::new(&server.url, "alice").await;
    let (status, _) = alice.get("/namespaces/team-a/secrets").await;
    assert_eq!(status, 200);
    let (status, body) = alice.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 200, "{body}");
    // carol may list team-a but not get its secrets: the API server's 403.
    let carol = ApiSession::new(&server.url, "carol").await;
    let (status, body) = carol.reveal("team-a", &name, &["password"]).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = alice
        .get(&format!("/namespaces/team-a/secrets/{name}"))
        .await;
    assert_eq!(status, 200);

    let after = scrape(&metrics_url).await;
    let grew = |series: &str| value(&after, series) - value(&before, series);

    // Latency by route template, method and status.
    let list = "strongroom_http_request_duration_seconds_count{route=\"/api/v1/namespaces/{ns}/secrets\",method=\"GET\",status=\"200\"}";
    assert!(grew(list) >= 1.0, "{after}");
    let reveal = "strongroom_http_request_duration_seconds_count{route=\"/api/v1/namespaces/{ns}/secrets/{name}/reveal\",method=\"POST\",status=\"200\"}";
    assert!(grew(reveal) >= 1.0, "{after}");
    let refused = "strongroom_http_request_duration_seconds_count{route=\"/api/v1/namespaces/{ns}/secrets/{name}/reveal\",method=\"POST\",status=\"403\"}";
    assert!(grew(refused) >= 1.0, "{after}");
    assert!(
        after.contains("strongroom_http_request_duration_seconds_bucket{route=\"/api/v1/namespaces/{ns}/secrets/{name}\",method=\"GET\",status=\"200\",le=\"+Inf\"}"),
        "{after}"
    );
    // The main port's 404 for /metrics matched no route.
    assert!(
        value(
            &after,
            "strongroom_http_request_duration_seconds_count{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ) >= 1.0,
        "{after}"
    );
    // No raw path, no secret's name, no value anywhere.
    assert!(!after.contains(&name), "a secret's name in the metrics");
    assert!(!after.contains("metered-hunter2"));
    assert!(!after.contains("route=\"/api/v1/namespaces/team-a"));

    // The Kubernetes calls behind them, by verb, and carol's 403 by class.
    assert!(
        grew("strongroom_kube_request_duration_seconds_count{verb=\"list\",resource=\"secrets\"}")
            >= 1.0,
        "{after}"
    );
    assert!(
        grew("strongroom_kube_request_duration_seconds_count{verb=\"get\",resource=\"secrets\"}")
            >= 2.0,
        "{after}"
    );
    assert!(
        grew(
            "strongroom_kube_request_errors_total{verb=\"get\",resource=\"secrets\",class=\"403\"}"
        ) >= 1.0,
        "{after}"
    );

    // The reveals' records, and how long they took to commit.
    assert!(
        grew("strongroom_audit_writes_total{sink=\"database\"}") >= 2.0,
        "{after}"
    );
    assert!(
        grew("strongroom_audit_write_duration_seconds_count{sink=\"database\"}") >= 2.0,
        "{after}"
    );
    assert_eq!(
        value(
            &after,
            "strongroom_audit_write_failures_total{sink=\"database\"}"
        ),
        value(
            &before,
            "strongroom_audit_write_failures_total{sink=\"database\"}"
        ),
    );
    server.stop();
}

#[tokio::test]
async fn a_rate_limited_reveal_is_counted_as_a_refusal() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(&["--reveal-rate-limit", "2/1h"]).await;
    let metrics_url = format!("{}/metrics", server.url);
    let name = unique("counted");
    create_secret("team-a", &name, "token", "counted-value");
    let alice = ApiSession::new(&server.url, "alice").await;
    let before = scrape(&metrics_url).await;
    for _ in 0..2 {
        let (status, body) = alice.reveal("team-a", &name, &["token"]).await;
        assert_eq!(status, 200, "{body}");
    }
    let mid = scrape(&metrics_url).await;
    assert_eq!(
        value(&mid, "strongroom_reveal_rate_limited_total"),
        value(&before, "strongroom_reveal_rate_limited_total"),
        "reveals within the limit are no refusals"
    );
    let (status, body) = alice.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 429, "{body}");
    let after = scrape(&metrics_url).await;
    assert_eq!(
        value(&after, "strongroom_reveal_rate_limited_total")
            - value(&before, "strongroom_reveal_rate_limited_total"),
        1.0,
        "{after}"
    );
    let limited = "strongroom_http_request_duration_seconds_count{route=\"/api/v1/namespaces/{ns}/secrets/{name}/reveal\",method=\"POST\",status=\"429\"}";
    assert_eq!(value(&after, limited) - value(&before, limited), 1.0);
    server.stop();
}

#[tokio::test]
async fn signed_in_sessions_count_as_active_until_they_sign_out() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(&[]).await;
    let metrics_url = format!("{}/metrics", server.url);
    let active = |text: &str| value(text, "strongroom_sessions_active");
    let before = active(&scrape(&metrics_url).await);
    let bob = ApiSession::new(&server.url, "bob").await;
    let (status, _) = bob.get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(active(&scrape(&metrics_url).await), before + 1.0);
    // Requests of the same session do not count it twice.
    let (status, _) = bob.get("/me").await;
    assert_eq!(status, 200);
    assert_eq!(active(&scrape(&metrics_url).await), before + 1.0);
    let out = bob
        .c
        .post(format!("{}/auth/logout", server.url))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    assert_eq!(active(&scrape(&metrics_url).await), before);
    server.stop();
}

#[tokio::test]
async fn hsts_is_sent_with_an_https_public_url_and_never_with_http() {
    let _serial = SERIAL.lock().await;
    let port = common::test_port();
    let https = TestServer::start_on(
        port,
        None,
        &["--public-url", &format!("https://127.0.0.1:{port}")],
    )
    .await;
    let plain = TestServer::start(&[]).await;
    for path in ["/healthz", "/api/v1/me", "/no-such-page", "/metrics"] {
        let r = reqwest::get(format!("{}{path}", https.url)).await.unwrap();
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path} with an https public URL"
        );
        let r = reqwest::get(format!("{}{path}", plain.url)).await.unwrap();
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "{path} with an http public URL"
        );
    }
    https.stop();
    plain.stop();
}
