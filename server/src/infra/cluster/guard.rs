//! The impersonation guard: which identity values may travel as
//! `Impersonate-*` headers, and the tower layer in the backend's own client
//! that refuses every request not impersonating exactly one sound user.
//!
//! `UserKube::impersonate` checks values before it sets them; the layer
//! checks again on the wire, so a request built any other way still cannot
//! use the backend's own authority.

use std::task::{Context, Poll};

use http::Request;
use kube::client::Body;
use tower::{Layer, Service};

use super::{IMPERSONATE_GROUP, IMPERSONATE_USER};

/// Names Kubernetes reserves for itself (`system:masters`, `system:admin`).
pub(super) const RESERVED_PREFIX: &str = "system:";

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

/// Refuses any request to the API server that does not impersonate a user:
/// the backend never acts with its own authority.
#[derive(Clone, Copy)]
pub(super) struct RequireImpersonationLayer;

impl<S> Layer<S> for RequireImpersonationLayer {
    type Service = RequireImpersonation<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireImpersonation { inner }
    }
}

#[derive(Clone)]
pub(super) struct RequireImpersonation<S> {
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
    use http::{HeaderName, HeaderValue};

    use super::*;

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
}
