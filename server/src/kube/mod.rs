//! Access to the Kubernetes API, always as the signed-in user.
//!
//! The backend holds one shared [`kube::Client`] for its own connection (TLS,
//! connection pool, its service account token). That client is private to
//! this module: the only way other code reaches the API server is a
//! [`UserKube`] handle, which can only be made from an authenticated
//! [`CurrentUser`], and which stamps every request with `Impersonate-User`,
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

use crate::auth::CurrentUser;

/// The extra key that carries Strongroom's audit record id, so the API
/// server's audit event can be joined with Strongroom's record. The backend's
/// RBAC allows impersonating exactly this key. Constrained impersonation
/// (Kubernetes 1.36+) accepts only domain-prefixed keys, hence the prefix.
pub const AUDIT_EXTRA_KEY: &str = "strongroom.dev/audit-id";

const IMPERSONATE_USER: HeaderName = HeaderName::from_static("impersonate-user");
const IMPERSONATE_GROUP: HeaderName = HeaderName::from_static("impersonate-group");
const IMPERSONATE_UID: HeaderName = HeaderName::from_static("impersonate-uid");

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

/// The backend's connection to the API server. Cheap to clone.
#[derive(Clone)]
pub struct KubeAccess {
    client: kube::Client,
    timeout: Duration,
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
        let client = ClientBuilder::try_from(config)
            .map_err(|e| KubeError::Config(e.to_string()))?
            .with_layer(&RequireImpersonationLayer)
            .build();
        Ok(Self { client, timeout })
    }

    /// A handle that acts as `user`. This is the only way to reach the API.
    pub fn for_user(&self, user: &CurrentUser) -> UserKube {
        UserKube {
            client: self.client.clone(),
            timeout: self.timeout,
            user: user.clone(),
            audit_id: None,
        }
    }
}

/// Kubernetes access as one signed-in user.
#[derive(Clone)]
pub struct UserKube {
    client: kube::Client,
    timeout: Duration,
    user: CurrentUser,
    audit_id: Option<String>,
}

impl UserKube {
    /// The user this handle acts as.
    pub fn user(&self) -> &CurrentUser {
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
    pub async fn call_raw(&self, mut request: Request<Vec<u8>>) -> Result<Bytes, KubeError> {
        self.impersonate(request.headers_mut())?;
        let send = self.client.send(request.map(Body::from));
        let response = tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| KubeError::Unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| KubeError::Unreachable(e.to_string()))?;
        let status = response.status();
        let body = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| KubeError::Unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| KubeError::Unreachable(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        Err(api_error(status, &body))
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
            HeaderValue::from_str(v).map_err(|_| {
                KubeError::Config(format!("identity value {v:?} cannot be sent as a header"))
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
fn api_error(status: StatusCode, body: &[u8]) -> KubeError {
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
    KubeError::Api {
        code: status.as_u16(),
        reason,
        message,
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
        if !request.headers().contains_key(IMPERSONATE_USER) {
            return Box::pin(async {
                Err("refused: a Kubernetes request without an impersonated user".into())
            });
        }
        let fut = self.inner.call(request);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_keeps_reason_and_message_only() {
        let body = br#"{"kind":"Status","reason":"Forbidden","message":"secrets \"x\" is forbidden","code":403}"#;
        let err = api_error(StatusCode::FORBIDDEN, body);
        match err {
            KubeError::Api {
                code,
                reason,
                message,
            } => {
                assert_eq!(code, 403);
                assert_eq!(reason, "Forbidden");
                assert!(message.contains("forbidden"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn undecodable_error_body_is_not_echoed() {
        let err = api_error(StatusCode::BAD_GATEWAY, b"hunter2-secret-value");
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
        let user = CurrentUser {
            username: "u".into(),
            groups: vec!["g".into()],
            uid: Some("1".into()),
            name: None,
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
}
