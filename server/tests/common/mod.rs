//! Shared helpers for the integration tests: the local stack's coordinates,
//! an in-process Strongroom server, and sign-in through the real IdP.
//!
//! The tests run against the real control plane and OIDC provider that
//! `scripts/test` starts (`deploy/local/stack.sh`). Without them they fail
//! with a message saying so: nothing here is faked.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::atomic::{AtomicU16, Ordering},
};

pub mod podman;

use clap::Parser;
use strongroom_server::{AppState, config::Cli, web::router};

/// The local stack's settings, read from the env file the stack writes.
pub struct Stack {
    vars: HashMap<String, String>,
}

impl Stack {
    pub fn get() -> Stack {
        let dir = std::env::var("STRONGROOM_STACK_DIR").unwrap_or_else(|_| {
            panic!("STRONGROOM_STACK_DIR is not set: run the integration tests through scripts/test, which starts the local stack")
        });
        let path = PathBuf::from(&dir).join("env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; is the local stack running? (deploy/local/stack.sh start)",
                path.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export ").or(Some(l.trim())))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_string(),
                    v.trim().trim_matches('"').trim_matches('\'').to_string(),
                )
            })
            .collect();
        Stack { vars }
    }

    pub fn var(&self, name: &str) -> String {
        self.vars
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the stack env file has no {name}"))
    }

    pub fn oidc_issuer(&self) -> String {
        std::env::var("STRONGROOM_TEST_OIDC_ISSUER").unwrap_or_else(|_| self.var("OIDC_ISSUER"))
    }
}

/// Ports registered as redirect URIs at the local IdP for in-process test
/// servers (see `deploy/local/stack.sh`): 23000..=23019.
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

pub fn test_port() -> u16 {
    let base: u16 = std::env::var("STRONGROOM_TEST_PORT_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(23000);
    // Each test binary gets its own block of ports through the offset.
    let offset: u16 = std::env::var("STRONGROOM_TEST_PORT_OFFSET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    base + offset + NEXT_PORT.fetch_add(1, Ordering::SeqCst)
}

/// A Strongroom server running in this process on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub state: AppState,
    pub data_dir: PathBuf,
    /// The address of the separate `/metrics` listener, when the flags ask
    /// for one (`--metrics-listen`).
    pub metrics_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the stack's settings plus `extra` flags.
    pub async fn start(extra: &[&str]) -> TestServer {
        Self::start_on(test_port(), None, extra).await
    }

    pub async fn start_on(port: u16, data_dir: Option<PathBuf>, extra: &[&str]) -> TestServer {
        let stack = Stack::get();
        let data_dir = data_dir.unwrap_or_else(|| {
            let d = std::env::temp_dir().join(format!(
                "strongroom-test-{}-{}",
                std::process::id(),
                port
            ));
            let _ = std::fs::remove_dir_all(&d);
            d
        });
        let url = format!("http://127.0.0.1:{port}");
        let listen = format!("127.0.0.1:{port}");
        let issuer = stack.oidc_issuer();
        let mut args: Vec<String> = vec![
            "strongroom-server".into(),
            "--listen".into(),
            listen.clone(),
            "--public-url".into(),
            url.clone(),
            "--oidc-issuer".into(),
            issuer,
            "--oidc-client-id".into(),
            stack.var("OIDC_CLIENT_ID"),
            "--oidc-client-secret".into(),
            stack.var("OIDC_CLIENT_SECRET"),
            "--kubeconfig".into(),
            stack.var("BACKEND_KUBECONFIG"),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--cookie-secure".into(),
            "false".into(),
        ];
        if !extra.contains(&"--namespaces") {
            args.extend(["--namespaces", "team-a,team-b"].map(String::from));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        if extra.contains(&"--database-url") {
            // Replicas on PostgreSQL share configured audit keys (the same
            // in every run: the test database outlives runs).
            args.extend(
                [
                    "--audit-hmac-key",
                    "strongroom-test-fingerprint-key",
                    "--audit-chain-key",
                    "strongroom-test-chain-key",
                ]
                .map(String::from),
            );
        }
        let cli = Cli::try_parse_from(&args).expect("valid test flags");
        let state = AppState::build(cli.serve).await.expect("server state");
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .unwrap_or_else(|e| panic!("bind {listen}: {e}"));
        let addr = listener.local_addr().unwrap();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            strongroom_server::web::serve(listener, app, std::future::pending()).await;
        });
        let metrics = strongroom_server::web::metrics::start_listener(state.config.metrics_listen)
            .await
            .expect("the /metrics listener");
        TestServer {
            addr,
            url,
            state,
            data_dir,
            metrics_addr: metrics.as_ref().map(|(addr, _)| *addr),
            task,
            metrics_task: metrics.map(|(_, task)| task),
        }
    }

    pub fn stop(self) {
        self.task.abort();
        if let Some(task) = self.metrics_task {
            task.abort();
        }
    }
}

/// The header (and the value) every state-changing API request carries.
pub const CSRF: (&str, &str) = (strongroom_app::api::CSRF_HEADER, "1");

/// A browser-like session signed in through the real IdP, with helpers for
/// the JSON API (paths under `/api/v1` unless a helper says otherwise).
#[derive(Clone)]
pub struct ApiSession {
    pub c: reqwest::Client,
    pub url: String,
}

impl ApiSession {
    /// Signs `login` in to the server at `url` through the IdP's forms.
    pub async fn new(url: &str, login: &str) -> ApiSession {
        let c = client();
        sign_in(&c, url, login, "/").await;
        ApiSession {
            c,
            url: url.to_string(),
        }
    }

    /// GET `/api/v1{path}`: the status and the JSON body (null if none).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .c
            .get(format!("{}/api/v1{path}", self.url))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// `method` on `/api/v1{path}` with a JSON body and the CSRF header.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .c
            .request(method, format!("{}/api/v1{path}", self.url))
            .header(CSRF.0, CSRF.1)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, body).await
    }

    /// Creates secret `name` in `ns` from the API's `input` form.
    pub async fn create(
        &self,
        ns: &str,
        name: &str,
        input: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.post(
            &format!("/namespaces/{ns}/secrets"),
            serde_json::json!({ "name": name, "input": input }),
        )
        .await
    }

    /// Reveals `keys` of secret `name` in `ns`.
    pub async fn reveal(&self, ns: &str, name: &str, keys: &[&str]) -> (u16, serde_json::Value) {
        self.post(
            &format!("/namespaces/{ns}/secrets/{name}/reveal"),
            serde_json::json!({ "keys": keys }),
        )
        .await
    }

    /// GET `path` (from the server's root) whose answer must be a success;
    /// its JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self
            .c
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// GET `path` (from the server's root) whose answer must be 200; its
    /// body as text.
    pub async fn get_text(&self, path: &str) -> String {
        let r = self
            .c
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.text().await.unwrap()
    }

    /// GET `path` (from the server's root); Ok for any answer below 500
    /// other than 401 (403 is RBAC speaking).
    pub async fn status(&self, path: &str) -> Result<(), String> {
        let r = self
            .c
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let _ = r.bytes().await;
        if status.is_server_error() || status == 401 {
            return Err(format!("GET {path}: {status}"));
        }
        Ok(())
    }
}

/// A browser-like HTTP client: cookie jar, no automatic redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs `login` in with a browser-like client and returns it with the
/// value of its session cookie, for tests that speak HTTP by other means.
pub async fn sign_in_for_cookie(server: &str, login: &str) -> (reqwest::Client, String) {
    use reqwest::cookie::CookieStore;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    sign_in(&client, server, login, "/").await;
    let cookies = jar
        .cookies(&server.parse().unwrap())
        .expect("signed in: a session cookie");
    let session = cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix("strongroom="))
        .expect("the session cookie")
        .to_string();
    (client, session)
}

/// Follows redirects by hand (so tests can see each hop), returning the
/// final response and the URL it came from.
pub async fn follow(
    client: &reqwest::Client,
    mut response: reqwest::Response,
) -> (String, reqwest::Response) {
    let mut url = response.url().to_string();
    for _ in 0..20 {
        if !response.status().is_redirection() {
            return (url, response);
        }
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let next = reqwest::Url::parse(&url).unwrap().join(&location).unwrap();
        url = next.to_string();
        response = client.get(next).send().await.unwrap();
    }
    panic!("too many redirects, last at {url}");
}

/// Signs in as `login` through the IdP's real login and consent forms and
/// returns the URL Strongroom finally sent the browser to.
pub async fn sign_in(client: &reqwest::Client, server: &str, login: &str, next: &str) -> String {
    sign_in_answer(client, server, login, next)
        .await
        .url()
        .to_string()
}

/// Like [`sign_in`], but returns Strongroom's final answer (the page it
/// ends on), for tests of sign-ins that must be refused.
pub async fn sign_in_answer(
    client: &reqwest::Client,
    server: &str,
    login: &str,
    next: &str,
) -> reqwest::Response {
    let start = client
        .get(format!("{server}/auth/login?next={}", urlencode(next)))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "login should redirect to the IdP");
    let (form_url, page) = follow(client, start).await;
    assert_eq!(page.status(), 200, "IdP login page at {form_url}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"login\""),
        "expected the IdP login form, got: {html}"
    );
    let after_login = client
        .post(&form_url)
        .form(&[("prompt", "login"), ("login", login), ("password", "demo")])
        .send()
        .await
        .unwrap();
    let (consent_url, consent) = follow(client, after_login).await;
    if consent_url.starts_with(server) {
        consent
    } else {
        let html = consent.text().await.unwrap();
        assert!(
            html.contains("Continue") || html.contains("consent"),
            "expected the consent form at {consent_url}: {html}"
        );
        let after_consent = client
            .post(&consent_url)
            .form(&[("prompt", "consent")])
            .send()
            .await
            .unwrap();
        let (_, r) = follow_until(client, after_consent, server).await;
        r
    }
}

/// Follows redirects until the next hop would leave the IdP for `server`'s
/// final page, returning the server's final answer.
async fn follow_until(
    client: &reqwest::Client,
    response: reqwest::Response,
    _server: &str,
) -> (String, reqwest::Response) {
    follow(client, response).await
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The admin's kubectl, for seeding and for checking what tests did.
pub fn kubectl(args: &[&str]) -> std::process::Output {
    let stack = Stack::get();
    std::process::Command::new(stack.var("KUBECTL"))
        .arg("--kubeconfig")
        .arg(stack.var("ADMIN_KUBECONFIG"))
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Base64 as Kubernetes stores secret data.
/// `bin` (a strongroom-server binary) set up as a separate process for the
/// local stack on `port` with its data in `data_dir`, the reveal rate limit
/// off; the caller adds what else it needs and spawns it.
pub fn server_command(
    bin: &std::path::Path,
    port: u16,
    data_dir: &std::path::Path,
) -> std::process::Command {
    let stack = Stack::get();
    let mut cmd = std::process::Command::new(bin);
    cmd.env_clear()
        .env("STRONGROOM_LISTEN", format!("127.0.0.1:{port}"))
        .env("STRONGROOM_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("STRONGROOM_OIDC_ISSUER", stack.oidc_issuer())
        .env("STRONGROOM_OIDC_CLIENT_ID", stack.var("OIDC_CLIENT_ID"))
        .env(
            "STRONGROOM_OIDC_CLIENT_SECRET",
            stack.var("OIDC_CLIENT_SECRET"),
        )
        .env("STRONGROOM_KUBECONFIG", stack.var("BACKEND_KUBECONFIG"))
        .env("STRONGROOM_NAMESPACES", "team-a,team-b")
        .env("STRONGROOM_DATA_DIR", data_dir)
        .env("STRONGROOM_COOKIE_SECURE", "false")
        .env("STRONGROOM_REVEAL_RATE_LIMIT", "off")
        .env("STRONGROOM_LOG", "warn");
    cmd
}

/// What `kubectl create secret ARGS --dry-run=client -o json` makes: the
/// reference every kubectl parity test compares with.
pub fn kubectl_dry_run(args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(Stack::get().var("KUBECTL"))
        .args(["create", "secret"])
        .args(args)
        .args(["--dry-run=client", "-o", "json"])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A self-signed certificate for `NAME.example.com` and its key, made by
/// openssl in `dir`: (certificate file, key file).
pub fn make_cert(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            &format!("/CN={name}.example.com"),
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (crt, key)
}

/// Creates a one-key generic secret with kubectl as the admin, for set-up.
pub fn create_secret(ns: &str, name: &str, key: &str, value: &str) {
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        name,
        "-n",
        ns,
        &format!("--from-literal={key}={value}"),
    ]);
    assert!(
        out.status.success(),
        "kubectl create secret {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
