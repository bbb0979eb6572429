//! Access to the Kubernetes API, always as the signed-in user.
//!
//! The backend holds one shared [`kube::Client`] for its own connection (TLS,
//! connection pool, its service account token). That client is private to
//! this module: the only way other code reaches the API server is a
//! [`UserKube`] handle, which can only be made from an authenticated
//! [`Identity`] (in practice: the signed-in user's), and which stamps every
//! request with `Impersonate-User`, `Impersonate-Group` (and
//! `Impersonate-Uid`, and the audit correlation id as an
//! `Impersonate-Extra-*` value). A tower layer in the shared client refuses
//! any request that does not carry an impersonated user, so there is no path
//! that uses the backend's own authority by accident.
//!
//! This file holds the connection and the handle. Beside it: `guard` (which
//! identity values may be sent, and the layer that refuses the rest),
//! `error` ([`KubeError`] and how error answers are read), `retry`
//! ([`ReadRetry`]), `reviews` (access reviews and namespace names) and
//! [`secrets`] (typed Secret verbs) and [`workloads`] (the objects that
//! use secrets: typed lists, and the restart patch).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde::de::DeserializeOwned;
use tower::{Layer, Service};

use crate::infra::metrics::KubeCall;

mod error;
pub mod gitops;
mod guard;
mod retry;
mod reviews;
pub mod secrets;
pub mod workloads;

pub use error::KubeError;
use error::api_error;
pub use guard::{IdentityValueProblem, identity_value_problem};
use guard::{RESERVED_PREFIX, RequireImpersonationLayer};
pub use retry::ReadRetry;

/// Who a [`UserKube`] acts as: the values of the impersonation headers.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// Sent as `Impersonate-User`.
    pub username: String,
    /// Sent as `Impersonate-Group`, one header each.
    pub groups: Vec<String>,
    /// Sent as `Impersonate-Uid`.
    pub uid: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// The extra key that carries Strongroom's audit record id, so the API
/// server's audit event can be joined with Strongroom's record. The backend's
/// RBAC allows impersonating exactly this key. Constrained impersonation
/// (Kubernetes 1.36+) accepts only domain-prefixed keys, hence the prefix.
pub const AUDIT_EXTRA_KEY: &str = "strongroom.dev/audit-id";

/// How a call that ran out of time begins its error (and is told apart
/// from an unreachable API server in the metrics).
const NO_ANSWER: &str = "no answer within";
/// The largest answer read from the API server: a page of a metadata-only
/// list of huge annotations, say, is refused rather than held in memory.
/// (A Secret is at most 1 MiB; the certificate scan reads pages of them.)
const MAX_ANSWER: usize = 64 << 20;
/// How an answer over [`MAX_ANSWER`] begins its error.
const TOO_LARGE: &str = "the Kubernetes API's answer is larger than";

impl KubeError {
    /// Whether the API server's answer was refused for its size
    /// ([`MAX_ANSWER`]): a smaller page may be asked for instead.
    pub fn is_too_large(&self) -> bool {
        matches!(self, KubeError::Decode(why) if why.starts_with(TOO_LARGE))
    }
}

const IMPERSONATE_USER: HeaderName = HeaderName::from_static("impersonate-user");
const IMPERSONATE_GROUP: HeaderName = HeaderName::from_static("impersonate-group");
const IMPERSONATE_UID: HeaderName = HeaderName::from_static("impersonate-uid");

/// The backend's connection to the API server. Cheap to clone.
#[derive(Clone)]
pub struct KubeAccess {
    client: kube::Client,
    timeout: Duration,
    read_retry: ReadRetry,
}

impl KubeAccess {
    /// Connects with the backend's identity: the given kubeconfig, or the
    /// in-cluster service account. Impersonation settings from the kubeconfig
    /// or `KUBE_RS_DEBUG_IMPERSONATE_*` are cleared: identity comes only from
    /// the signed-in user.
    pub async fn connect(
        kubeconfig: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Self, KubeError> {
        let mut config = match kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| KubeError::Config(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(
                    kc,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(|e| KubeError::Config(e.to_string()))?
            }
            None => kube::Config::incluster().map_err(|e| KubeError::Config(e.to_string()))?,
        };
        config.auth_info.impersonate = None;
        config.auth_info.impersonate_groups = None;
        config.auth_info.impersonate_uid = None;
        config.auth_info.impersonate_user_extra = None;
        config.headers.clear();
        if let Some(proxy) = &config.proxy_url {
            return Err(KubeError::Config(format!(
                "the kubeconfig's proxy-url ({proxy}) is not supported: Strongroom connects to the API server directly"
            )));
        }
        let client = shared_client(config, timeout)?;
        Ok(Self {
            client,
            timeout,
            read_retry: ReadRetry::default(),
        })
    }

    /// The same connection with another retry rule for reads.
    pub fn with_read_retry(mut self, read_retry: ReadRetry) -> Self {
        self.read_retry = read_retry;
        self
    }

    /// The backend's connection over any transport (a recording service in
    /// in-process tests), behind the same impersonation guard.
    pub fn over<S>(transport: S, timeout: Duration) -> Self
    where
        S: Service<Request<Body>, Response = http::Response<Body>> + Send + Clone + 'static,
        S::Future: Send + 'static,
        S::Error: Into<tower::BoxError>,
    {
        let guarded = RequireImpersonationLayer.layer(transport);
        Self {
            client: kube::Client::new(guarded, "default"),
            timeout,
            read_retry: ReadRetry::default(),
        }
    }

    /// A handle that acts as `identity`. This is the only way to reach the API.
    pub fn for_user(&self, identity: Identity) -> UserKube {
        UserKube {
            client: self.client.clone(),
            timeout: self.timeout,
            read_retry: self.read_retry,
            user: identity,
            audit_id: None,
        }
    }
}

/// How many idle connections to the API server are kept. With HTTP/2
/// (what every API server offers) one connection carries every request, so
/// this only bounds an HTTP/1 server's pool: each idle TLS connection keeps
/// its buffers, which is most of what the server's memory grows by.
const MAX_IDLE_CONNECTIONS: usize = 4;
/// How long an idle connection to the API server is kept.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// How often a connection to the API server is pinged (HTTP/2), and how
/// long the answer may take: a connection that died without closing (a
/// lost node, a load balancer's failover) is given up within seconds,
/// not after the pool's idle time.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The shared client: kube's layers (base URI, the backend's credentials;
/// not its extra-headers layer, which would only carry the kubeconfig's
/// impersonation settings that `connect` clears) over a hyper client that offers HTTP/2 by ALPN, with the
/// impersonation guard last before the wire, so it sees every header sent.
/// kube's own builder speaks HTTP/1.1 only, and under concurrent load opens
/// a TLS connection per request in flight. Each call has its own deadline
/// ([`UserKube::call_raw`]); a connect (TCP and TLS) has `timeout` too.
/// kube's retry layer is left out (it would retry writes); reads are
/// retried under [`ReadRetry`]'s rules.
fn shared_client(config: kube::Config, timeout: Duration) -> Result<kube::Client, KubeError> {
    use hyper_util::client::legacy::{Client, connect::HttpConnector};
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    use kube::client::ConfigExt;

    let config_error = |e: kube::Error| KubeError::Config(e.to_string());
    let tls = config.rustls_client_config().map_err(config_error)?;
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_keepalive(Some(IDLE_CONNECTION));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let https = match &config.tls_server_name {
        Some(name) => https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
            name.clone().try_into().map_err(|_| {
                KubeError::Config(format!(
                    "tls-server-name {name:?} is not a valid server name"
                ))
            })?,
        )),
        None => https,
    };
    let https = https.enable_http1().enable_http2().wrap_connector(tcp);
    // One time limit on the whole connect, TCP and TLS handshake.
    let mut https = hyper_timeout::TimeoutConnector::new(https);
    https.set_connect_timeout(Some(timeout));
    let transport = Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_CONNECTION)
        .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
        .http2_keep_alive_interval(KEEP_ALIVE)
        .http2_keep_alive_timeout(KEEP_ALIVE)
        .http2_keep_alive_while_idle(true)
        .build::<_, Body>(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(config_error)?)
        .layer(RequireImpersonationLayer)
        .map_err(tower::BoxError::from)
        .service(transport);
    Ok(kube::Client::new(service, config.default_namespace))
}

/// Kubernetes access as one signed-in user.
#[derive(Clone)]
pub struct UserKube {
    client: kube::Client,
    timeout: Duration,
    read_retry: ReadRetry,
    user: Identity,
    audit_id: Option<String>,
}

impl UserKube {
    /// The identity this handle acts as.
    pub fn user(&self) -> &Identity {
        &self.user
    }

    /// The same handle, with requests tagged by an audit record id.
    pub fn with_audit_id(&self, audit_id: &str) -> Self {
        Self {
            audit_id: Some(audit_id.to_string()),
            ..self.clone()
        }
    }

    /// Sends a request built with [`kube::core::Request`] as the user and
    /// decodes the JSON answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<T, KubeError> {
        let call = KubeCall::of(request.method(), request.uri().path());
        let bytes = self.call_raw(request).await?;
        // Never include the body in the error: it may hold secret values.
        serde_json::from_slice(&bytes).map_err(|e| {
            call.failed("decode");
            KubeError::Decode(format!(
                "{:?} at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    /// Sends a request as the user and returns the body of a 2xx answer.
    /// Reads (GET) answered with 429 are retried under [`ReadRetry`];
    /// nothing else is ever sent twice.
    pub async fn call_raw(&self, mut request: Request<Vec<u8>>) -> Result<Bytes, KubeError> {
        self.impersonate(request.headers_mut())?;
        let call = KubeCall::of(request.method(), request.uri().path());
        let started = tokio::time::Instant::now();
        let answer = self.send_as_user(request, started).await;
        let failure = answer.as_ref().err().map(|e| match e {
            KubeError::Api { code, .. } => code.to_string(),
            KubeError::Unreachable(why) if why.starts_with(NO_ANSWER) => "timeout".into(),
            KubeError::Unreachable(_) => "unreachable".into(),
            KubeError::Decode(_) => "decode".into(),
            KubeError::Config(_) => "config".into(),
        });
        call.finished(started.elapsed(), failure.as_deref());
        answer
    }

    /// [`UserKube::call_raw`] without its metrics: the round trips, and the
    /// retries of a read, within one deadline from `started`.
    async fn send_as_user(
        &self,
        mut request: Request<Vec<u8>>,
        started: tokio::time::Instant,
    ) -> Result<Bytes, KubeError> {
        // One deadline for the whole call, retries and their waits included.
        let deadline = started + self.timeout;
        let is_read = request.method() == http::Method::GET;
        let mut retry = 0;
        loop {
            let attempt = if is_read {
                let mut copy = Request::new(request.body().clone());
                *copy.method_mut() = request.method().clone();
                *copy.uri_mut() = request.uri().clone();
                *copy.headers_mut() = request.headers().clone();
                copy
            } else {
                std::mem::take(&mut request)
            };
            let (status, headers, body) = self.send_once(attempt, deadline).await?;
            if status.is_success() {
                return Ok(body);
            }
            let error = api_error(status, &headers, &body);
            if is_read
                && let KubeError::Api {
                    code: 429,
                    retry_after,
                    ..
                } = &error
                && let Some(wait) = self.read_retry.wait(
                    retry,
                    *retry_after,
                    self.timeout.saturating_sub(started.elapsed()),
                )
            {
                tracing::debug!(retry, wait_ms = wait.as_millis() as u64, uri = %request.uri().path(), "the Kubernetes API is busy; retrying the read");
                crate::infra::metrics::kube_read_retry();
                tokio::time::sleep(wait).await;
                retry += 1;
                continue;
            }
            return Err(error);
        }
    }

    /// One round trip, finished by `deadline`: status, headers and body.
    async fn send_once(
        &self,
        request: Request<Vec<u8>>,
        deadline: tokio::time::Instant,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), KubeError> {
        let send = self.client.send(request.map(Body::from));
        let response = tokio::time::timeout_at(deadline, send)
            .await
            .map_err(|_| KubeError::Unreachable(format!("{NO_ANSWER} {:?}", self.timeout)))?
            .map_err(|e| KubeError::Unreachable(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_ANSWER);
        let body = tokio::time::timeout_at(deadline, body.collect())
            .await
            .map_err(|_| KubeError::Unreachable(format!("{NO_ANSWER} {:?}", self.timeout)))?
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    KubeError::Decode(format!("{TOO_LARGE} {} MiB", MAX_ANSWER >> 20))
                } else {
                    KubeError::Unreachable(e.to_string())
                }
            })?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// Replaces whatever impersonation headers a request has with the user's.
    fn impersonate(&self, headers: &mut http::HeaderMap) -> Result<(), KubeError> {
        let stale: Vec<HeaderName> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("impersonate-"))
            .cloned()
            .collect();
        for name in stale {
            headers.remove(name);
        }
        let value = |v: &str| {
            if v.starts_with(RESERVED_PREFIX) {
                return Err(KubeError::Config(
                    "a system: user or group cannot be impersonated".into(),
                ));
            }
            if let Some(problem) = identity_value_problem(v) {
                return Err(KubeError::Config(format!(
                    "an identity value that {problem} cannot be impersonated"
                )));
            }
            HeaderValue::from_str(v).map_err(|_| {
                KubeError::Config("an identity value cannot be sent as a header".into())
            })
        };
        headers.insert(IMPERSONATE_USER, value(&self.user.username)?);
        for group in &self.user.groups {
            headers.append(IMPERSONATE_GROUP, value(group)?);
        }
        if let Some(uid) = &self.user.uid {
            headers.insert(IMPERSONATE_UID, value(uid)?);
        }
        if let Some(id) = &self.audit_id {
            let name =
                // Header names cannot hold '/': the API server percent-decodes the key.
                HeaderName::from_bytes(format!("impersonate-extra-{}", AUDIT_EXTRA_KEY.replace('/', "%2f")).as_bytes())
                    .map_err(|e| KubeError::Config(e.to_string()))?;
            headers.insert(name, value(id)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_audit_extra_header_name_is_valid() {
        let user = Identity {
            username: "u".into(),
            groups: vec!["g".into()],
            uid: Some("1".into()),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "impersonate-group",
            HeaderValue::from_static("system:masters"),
        );
        let kube = UserKube {
            client: kube::Client::new(
                tower::service_fn(|_req: Request<Body>| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
                }),
                "default",
            ),
            timeout: Duration::from_secs(1),
            read_retry: ReadRetry::default(),
            user,
            audit_id: Some("abc".into()),
        };
        kube.impersonate(&mut headers).unwrap();
        assert_eq!(
            headers
                .get_all("impersonate-group")
                .iter()
                .collect::<Vec<_>>(),
            vec!["g"],
            "forged groups are replaced"
        );
        assert_eq!(
            headers["impersonate-extra-strongroom.dev%2faudit-id"],
            "abc"
        );
    }

    #[tokio::test]
    async fn an_unsafe_identity_is_never_sent() {
        let kube = |username: &str, groups: &[&str]| UserKube {
            client: kube::Client::new(
                tower::service_fn(|_req: Request<Body>| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
                }),
                "default",
            ),
            timeout: Duration::from_secs(1),
            read_retry: ReadRetry::default(),
            user: Identity {
                username: username.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                uid: None,
            },
            audit_id: None,
        };
        for (user, groups) in [
            ("", &[][..]),
            (" ", &[][..]),
            ("oidc:alice ", &[][..]),
            ("oidc:alice", &[" system:masters"][..]),
            ("oidc:alice", &["a\u{85}"][..]),
            ("system:admin", &[][..]),
            ("oidc:alice", &["system:masters"][..]),
            ("oidc:alice", &["a\u{2066}b"][..]),
        ] {
            let mut h = http::HeaderMap::new();
            assert!(
                kube(user, groups).impersonate(&mut h).is_err(),
                "{user:?} {groups:?}"
            );
        }
    }
}
