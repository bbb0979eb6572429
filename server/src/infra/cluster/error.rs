//! What goes wrong talking to the Kubernetes API, and how an error answer
//! is read: only the `Status` object's reason and message are kept, never
//! the body itself, which may hold secret values.

use http::StatusCode;

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
    /// A refusal Strongroom itself gives for the API server (when an access
    /// review said no), shaped like the API server's 403.
    pub fn forbidden() -> Self {
        KubeError::Api {
            code: 403,
            reason: "Forbidden".into(),
            message: String::new(),
            retry_after: None,
        }
    }
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

/// Decodes a Kubernetes `Status` error answer; keeps only its metadata.
pub(super) fn api_error(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> KubeError {
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

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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
    fn undecodable_error_body_is_not_echoed() {
        let err = api_error(
            StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            b"hunter2-secret-value",
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
