//! Access to the Kubernetes API, always as the signed-in user.
//!
//! The backend holds one shared [`kube::Client`] for its own connection (TLS,
//! connection pool, its service account token). That client is private to
//! this module: the only way other code reaches the API server is a
//! [`UserKube`] handle, which can only be made from an authenticated
//! [`Identity`] (in practice: the signed-in user's), and which stamps every request with `Impersonate-User`,
//! `Impersonate-Group` (and `Impersonate-Uid`, and the audit correlation id as
//! an `Impersonate-Extra-*` value). A tower layer in the shared client refuses
//! any request that does not carry an impersonated user, so there is no path
//! that uses the backend's own authority by accident.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use kube::client::{Body, ClientBuilder};
use serde::de::DeserializeOwned;
use tower::{Layer, Service};

pub mod secrets;

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

const IMPERSONATE_USER: HeaderName = HeaderName::from_static("impersonate-user");
const IMPERSONATE_GROUP: HeaderName = HeaderName::from_static("impersonate-group");
const IMPERSONATE_UID: HeaderName = HeaderName::from_static("impersonate-uid");

/// Names Kubernetes reserves for itself (`system:masters`, `system:admin`).
const RESERVED_PREFIX: &str = "system:";

/// Why a username, group or uid cannot be sent as an impersonation value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityValueProblem {
    /// Nothing (or only whitespace) to impersonate.
    #[error("is empty")]
    Empty,
    /// Leading or trailing whitespace: HTTP servers (Go's among them) trim
    /// it from header values, so the API server would see another name.
    #[error("starts or ends with whitespace")]
    Untrimmed,
    /// A control character (C0, DEL or C1), which a header cannot carry.
    #[error("contains a control character")]
    ControlCharacter,
    /// An invisible or direction-changing character (zero-width spaces and
    /// joiners, soft hyphen, bidirectional overrides and isolates, BOM):
    /// Kubernetes would keep it, but people and audit logs would read the
    /// name as someone else's.
    #[error("contains an invisible or direction-changing character")]
    InvisibleCharacter,
}

/// Format characters (Unicode category Cf) that can occur in names people
/// read: each renders as nothing or reorders the text around it.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Checks that `value` reaches the API server exactly as written when sent
/// as an `Impersonate-*` header: not empty, already trimmed (by Unicode's
/// definition of whitespace, which covers HTTP's spaces and tabs), without
/// control characters, without invisible or direction-changing ones.
/// Printable non-ASCII text is kept: it travels as its UTF-8 bytes, which
/// the API server reads back unchanged.
pub fn identity_value_problem(value: &str) -> Option<IdentityValueProblem> {
    if value.trim().is_empty() {
        Some(IdentityValueProblem::Empty)
    } else if value.trim() != value {
        Some(IdentityValueProblem::Untrimmed)
    } else if value.chars().any(char::is_control) {
        Some(IdentityValueProblem::ControlCharacter)
    } else if value.chars().any(is_invisible) {
        Some(IdentityValueProblem::InvisibleCharacter)
    } else {
        None
    }
}

/// Errors talking to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The API server answered with an error status (403, 404, 409, 422, ...).
    #[error("the Kubernetes API refused the request: {code} {reason}: {message}")]
    Api {
        /// HTTP status code.
        code: u16,
        /// The `reason` of the `Status` object (e.g. `Forbidden`).
        reason: String,
        /// The API server's message. It names resources, never values.
        message: String,
        /// Seconds the API server asked to wait (`Retry-After`), if it did.
        retry_after: Option<u64>,
    },
    /// The API server could not be reached or did not answer in time.
    #[error("the Kubernetes API is unreachable: {0}")]
    Unreachable(String),
    /// The API server's answer could not be decoded. The body is not kept:
    /// it may contain secret values.
    #[error("unexpected answer from the Kubernetes API: {0}")]
    Decode(String),
    /// The backend's own configuration is unusable.
    #[error("Kubernetes client configuration: {0}")]
    Config(String),
}

impl KubeError {
    /// The HTTP status the API server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            KubeError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// How reads answer an API server that is shedding load (429 Too Many
/// Requests, as API Priority and Fairness sends): wait as long as its
/// `Retry-After` says (or back off exponentially from 250 ms when it says
/// nothing) and try again, at most `attempts` more times, never waiting
/// longer than `max_wait` at once and never past the request timeout. When
/// the server asks for longer than `max_wait`, the person is told at once
/// rather than kept waiting. Writes are never retried: whether a refused
/// write took effect is for the person to decide, with the current state in
/// front of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRetry {
    /// Retries after the first attempt (0 turns retrying off).
    pub attempts: u32,
    /// The longest single wait.
    pub max_wait: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        Self {
            attempts: 3,
            max_wait: Duration::from_secs(2),
        }
    }
}

impl ReadRetry {
    /// How long to wait before retry number `retry` (0-based) after a 429
    /// that asked for `retry_after` seconds, or `None` to give up.
    fn wait(&self, retry: u32, retry_after: Option<u64>, left: Duration) -> Option<Duration> {
        if retry >= self.attempts {
            return None;
        }
        let wait = match retry_after {
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_millis(250)
                .saturating_mul(2u32.saturating_pow(retry))
                .min(self.max_wait),
        };
        (wait <= self.max_wait && wait < left).then_some(wait)
    }
}

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
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.connect_timeout = Some(timeout);
        // kube's own retry layer would retry writes too (and wait up to
        // 1000 s); reads are retried here, under `ReadRetry`'s rules.
        config.default_retry = false;
        let client = ClientBuilder::try_from(config)
            .map_err(|e| KubeError::Config(e.to_string()))?
            .with_layer(&RequireImpersonationLayer)
            .build();
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
        let bytes = self.call_raw(request).await?;
        // Never include the body in the error: it may hold secret values.
        serde_json::from_slice(&bytes).map_err(|e| {
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
        let started = tokio::time::Instant::now();
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
            .map_err(|_| KubeError::Unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| KubeError::Unreachable(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout_at(deadline, body.collect())
            .await
            .map_err(|_| KubeError::Unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| KubeError::Unreachable(e.to_string()))?
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

/// Decodes a Kubernetes `Status` error answer; keeps only its metadata.
fn api_error(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> KubeError {
    #[derive(serde::Deserialize)]
    struct StatusBody {
        #[serde(default)]
        reason: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Option<StatusBody> = serde_json::from_slice(body).ok();
    let (reason, message) = match parsed {
        Some(s) => (s.reason, s.message),
        None => (
            status.canonical_reason().unwrap_or("").to_string(),
            String::new(),
        ),
    };
    let retry_after = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    KubeError::Api {
        code: status.as_u16(),
        reason,
        message,
        retry_after,
    }
}

/// Refuses any request to the API server that does not impersonate a user:
/// the backend never acts with its own authority.
#[derive(Clone, Copy)]
struct RequireImpersonationLayer;

impl<S> Layer<S> for RequireImpersonationLayer {
    type Service = RequireImpersonation<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireImpersonation { inner }
    }
}

#[derive(Clone)]
struct RequireImpersonation<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for RequireImpersonation<S>
where
    S: Service<Request<Body>>,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(refusal) = impersonation_refusal(request.headers()) {
            return Box::pin(async move { Err(refusal.into()) });
        }
        let fut = self.inner.call(request);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// Why the guard refuses a request's impersonation headers, if it does:
/// no `Impersonate-User`, more than one, or any `Impersonate-*` value that
/// is empty, untrimmed or not text the API server reads back unchanged.
fn impersonation_refusal(headers: &http::HeaderMap) -> Option<&'static str> {
    let users = headers.get_all(IMPERSONATE_USER).iter().count();
    if users != 1 {
        return Some("refused: a Kubernetes request must impersonate exactly one user");
    }
    let all_sound = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("impersonate-"))
        .all(|(_, v)| {
            std::str::from_utf8(v.as_bytes()).is_ok_and(|v| identity_value_problem(v).is_none())
        });
    if !all_sound {
        return Some(
            "refused: an impersonation header value is empty, untrimmed or not plain text",
        );
    }
    // Kubernetes' reserved names are never anyone a person signed in as.
    let reserved = headers
        .get_all(IMPERSONATE_USER)
        .iter()
        .chain(headers.get_all(IMPERSONATE_GROUP).iter())
        .any(|v| v.as_bytes().starts_with(RESERVED_PREFIX.as_bytes()));
    reserved.then_some("refused: a Kubernetes request may not impersonate a system: user or group")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_keeps_reason_and_message_only() {
        let body = br#"{"kind":"Status","reason":"Forbidden","message":"secrets \"x\" is forbidden","code":403}"#;
        let err = api_error(StatusCode::FORBIDDEN, &http::HeaderMap::new(), body);
        match err {
            KubeError::Api {
                code,
                reason,
                message,
                ..
            } => {
                assert_eq!(code, 403);
                assert_eq!(reason, "Forbidden");
                assert!(message.contains("forbidden"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_429_keeps_the_servers_retry_after() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let err = api_error(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}");
        assert!(matches!(
            err,
            KubeError::Api {
                code: 429,
                retry_after: Some(7),
                ..
            }
        ));
    }

    #[test]
    fn read_retries_honour_retry_after_within_the_cap_and_the_time_left() {
        let rule = ReadRetry {
            attempts: 3,
            max_wait: Duration::from_secs(2),
        };
        let plenty = Duration::from_secs(10);
        assert_eq!(rule.wait(0, Some(1), plenty), Some(Duration::from_secs(1)));
        assert_eq!(rule.wait(0, Some(0), plenty), Some(Duration::ZERO));
        // Longer than the cap: tell the person instead of holding them.
        assert_eq!(rule.wait(0, Some(3600), plenty), None);
        // Past the request's own timeout: give up.
        assert_eq!(rule.wait(0, Some(2), Duration::from_secs(1)), None);
        // No Retry-After: exponential backoff, capped.
        assert_eq!(rule.wait(0, None, plenty), Some(Duration::from_millis(250)));
        assert_eq!(rule.wait(1, None, plenty), Some(Duration::from_millis(500)));
        assert_eq!(rule.wait(2, None, plenty), Some(Duration::from_secs(1)));
        // Out of attempts.
        assert_eq!(rule.wait(3, Some(1), plenty), None);
        let off = ReadRetry {
            attempts: 0,
            ..rule
        };
        assert_eq!(off.wait(0, Some(1), plenty), None);
        let short = ReadRetry {
            attempts: 10,
            max_wait: Duration::from_millis(300),
        };
        assert_eq!(
            short.wait(5, None, plenty),
            Some(Duration::from_millis(300))
        );
    }

    #[test]
    fn undecodable_error_body_is_not_echoed() {
        let err = api_error(
            StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            b"hunter2-secret-value",
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

impl UserKube {
    /// Asks the API server whether the user may do `verb` on `resource` in
    /// `namespace` (a SelfSubjectAccessReview, made as the user).
    pub async fn can_i(
        &self,
        verb: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<bool, KubeError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_string()),
                    verb: Some(verb.to_string()),
                    resource: Some(resource.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let body = serde_json::to_vec(&review).map_err(|e| KubeError::Decode(e.to_string()))?;
        let request =
            kube::core::Request::new("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                .create(&kube::api::PostParams::default(), body)
                .map_err(|e| KubeError::Config(e.to_string()))?;
        let answer: SelfSubjectAccessReview = self.call(request).await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }

    /// Names of all namespaces, if the user may list them.
    pub async fn namespace_names(&self) -> Result<Vec<String>, KubeError> {
        use k8s_openapi::api::core::v1::Namespace;
        use kube::core::{ObjectList, PartialObjectMeta};
        let request = kube::core::Request::new("/api/v1/namespaces")
            .list_metadata(&kube::api::ListParams::default())
            .map_err(|e| KubeError::Config(e.to_string()))?;
        let list: ObjectList<PartialObjectMeta<Namespace>> = self.call(request).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|i| i.metadata.name)
            .collect())
    }
}

#[cfg(test)]
mod header_tests {
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

    fn headers(pairs: &[(&str, &[u8])]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_guard_refuses_missing_empty_doubled_or_untrimmed_impersonation() {
        let refused: &[&[(&str, &[u8])]] = &[
            &[],
            &[("impersonate-group", b"oidc:team-a-editors")],
            &[("impersonate-user", b"")],
            &[("impersonate-user", b"   ")],
            &[("impersonate-user", b"\t")],
            &[("impersonate-user", b" oidc:alice")],
            &[
                ("impersonate-user", b"oidc:alice"),
                ("impersonate-user", b"oidc:bob"),
            ],
            &[
                ("impersonate-user", b"oidc:alice"),
                ("impersonate-group", b" system:masters"),
            ],
            &[
                ("impersonate-user", b"oidc:alice"),
                ("impersonate-group", b""),
            ],
            &[
                ("impersonate-user", b"oidc:alice"),
                ("impersonate-uid", b"1 "),
            ],
            &[("impersonate-user", b"oidc:\xff")],
            &[("impersonate-user", b"system:admin")],
            &[
                ("impersonate-user", b"oidc:alice"),
                ("impersonate-group", b"system:masters"),
            ],
            &[("impersonate-user", "oidc:al\u{202e}ice".as_bytes())],
            &[("impersonate-user", "oidc:al\u{200b}ice".as_bytes())],
        ];
        for case in refused {
            assert!(impersonation_refusal(&headers(case)).is_some(), "{case:?}");
        }
        let fine = headers(&[
            ("impersonate-user", "oidc:josé@example.com".as_bytes()),
            ("impersonate-group", b"oidc:team-a-editors"),
            ("impersonate-extra-strongroom.dev%2faudit-id", b"abc"),
        ]);
        assert_eq!(impersonation_refusal(&fine), None);
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
