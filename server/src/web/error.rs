//! The one place errors become HTTP responses: a short message for the
//! person, the cause logged once on the server, never a secret value.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use strongroom_app::api::ApiError;

use crate::{
    domain::{
        KubeFailure,
        audit::{AuditError, Audited, reading::ReadError},
        auth::session::SessionError,
        secrets::SecretsError,
    },
    infra::cluster::KubeError,
};

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed: not JSON, a broken path or query (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not in a format the endpoint takes (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No signed-in user (401).
    #[error("sign in to continue")]
    Unauthenticated,
    /// The request is not allowed (403). The message says who was refused what.
    #[error("{0}")]
    Forbidden(String),
    /// A fresh sign-in is needed first (403, code `step_up_required`).
    #[error("{0}")]
    StepUpRequired(String),
    /// A second person's approval is needed first (403, code
    /// `approval_required`).
    #[error("{0}")]
    ApprovalRequired(String),
    /// The thing asked for does not exist or is hidden (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The input is invalid (422); `field` names the form field.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The request body is larger than allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests (429); `retry_after` seconds go out as `Retry-After`.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// A dependency (API server, database, audit sink, IdP) is unavailable (503).
    #[error("{0}")]
    Unavailable(String),
    /// A change was made but its audit record could not be committed (503,
    /// code `change_not_recorded`): the message says so, with the record's
    /// reference.
    #[error("{0}")]
    NotRecorded(String),
    /// A bug or an unexpected state (500). The detail is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// An internal error; `detail` is logged, the user sees a generic message.
    pub fn internal(detail: impl Into<String>) -> Self {
        AppError::Internal(detail.into())
    }

    /// A dependency failure: `what` is shown, the cause is logged.
    pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(dependency = what, error = %cause, "dependency unavailable");
        AppError::Unavailable(format!(
            "{what} is unavailable right now; please try again shortly"
        ))
    }

    /// An input error about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_)
            | AppError::StepUpRequired(_)
            | AppError::ApprovalRequired(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::StepUpRequired(_) => "step_up_required",
            AppError::ApprovalRequired(_) => "approval_required",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid { .. } => "invalid",
            AppError::TooLarge(_) => "too_large",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::NotRecorded(_) => "change_not_recorded",
            AppError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let status = self.status_code();
        let field = match &self {
            AppError::Invalid { field, .. } => field.clone(),
            _ => None,
        };
        let body = ApiError {
            code: self.code().to_string(),
            message: self.to_string(),
            field,
        };
        let mut response = (status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let AppError::TooManyRequests { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}

impl From<KubeFailure> for AppError {
    /// Says who was refused what, without internals; logs what the person
    /// cannot act on.
    fn from(f: KubeFailure) -> Self {
        let KubeFailure {
            source,
            user,
            verb,
            resource,
            namespace,
        } = f;
        let place = namespace
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_default();
        match source {
            KubeError::Api { code: 403, .. } => AppError::Forbidden(format!(
                "Kubernetes does not allow {user} to {verb} {resource}{place}."
            )),
            KubeError::Api { code: 404, .. } => {
                AppError::NotFound(format!("The {resource}{place} was not found."))
            }
            KubeError::Api {
                code: 409, reason, ..
            } if reason == "AlreadyExists" => {
                AppError::Conflict(format!("The {resource} already exists{place}."))
            }
            KubeError::Api { code: 409, .. } => AppError::Conflict(format!(
                "The {resource}{place} was changed by someone else since you loaded it. Reload to see the current version; your input is kept."
            )),
            KubeError::Api {
                code: 400 | 422,
                message,
                ..
            } => AppError::Invalid {
                field: None,
                message: format!("Kubernetes rejected the {resource}: {message}"),
            },
            KubeError::Api {
                code: 429,
                retry_after,
                ..
            } => {
                let seconds = retry_after.unwrap_or(1).max(1);
                AppError::TooManyRequests {
                    message: format!(
                        "The Kubernetes API is busy; nothing was changed. Please try again in {seconds} seconds."
                    ),
                    retry_after: seconds,
                }
            }
            KubeError::Api { code, reason, .. } => {
                tracing::error!(code, %reason, verb, resource, "Kubernetes API error");
                AppError::Unavailable(format!(
                    "The Kubernetes API answered with an error ({code}); please try again shortly."
                ))
            }
            KubeError::Unreachable(cause) => AppError::unavailable("The Kubernetes API", cause),
            KubeError::Decode(detail) | KubeError::Config(detail) => AppError::internal(detail),
        }
    }
}

impl From<SecretsError> for AppError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::Invalid { field, message } => AppError::Invalid { field, message },
            SecretsError::NotFound(m) => AppError::NotFound(m),
            SecretsError::Conflict(m) => AppError::Conflict(m),
            SecretsError::Forbidden(m) => AppError::Forbidden(m),
            SecretsError::StepUpRequired { .. } => AppError::StepUpRequired(e.to_string()),
            SecretsError::ApprovalRequired(m) => AppError::ApprovalRequired(m),
            SecretsError::Kube(f) => (*f).into(),
            SecretsError::ListExpired => AppError::Conflict(e.to_string()),
            SecretsError::RateLimited {
                message,
                retry_after,
            } => AppError::TooManyRequests {
                message,
                retry_after,
            },
            SecretsError::AuditUnavailable(source) => refuse(source),
            SecretsError::LimitUnavailable => AppError::Unavailable(e.to_string()),
            SecretsError::Unavailable(m) => AppError::Unavailable(m),
            SecretsError::Internal(m) => AppError::Internal(m),
            SecretsError::NotRecorded {
                change,
                audit_id,
                source,
            } => {
                tracing::error!(error = %source, audit.id = %audit_id, "a change was made but its audit record could not be written");
                AppError::NotRecorded(format!(
                    "The {change} in Kubernetes, but its audit record could not be written. Tell your platform team the reference {audit_id} (the API server's own audit log has it); do not repeat the request."
                ))
            }
        }
    }
}

/// No audit, no answer.
fn refuse(e: AuditError) -> AppError {
    tracing::error!(error = %e, "request refused: audit trail unavailable");
    AppError::Unavailable("The audit trail cannot be written right now, so this request was refused and nothing was revealed or changed. Please try again shortly.".into())
}

impl From<AuditError> for AppError {
    /// A failure reading the trail (writes fail through [`SecretsError`]).
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::InvalidQuery { field, message } => AppError::invalid(field, message),
            e => AppError::unavailable("The audit trail", e),
        }
    }
}

impl From<ReadError> for AppError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Forbidden(m) => AppError::Forbidden(m),
            ReadError::Kube(f) => f.into(),
            ReadError::Audit(a) => a.into(),
        }
    }
}

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        AppError::unavailable("the session store", e)
    }
}

/// An audited answer goes out as JSON, `no-store` like every API answer.
impl<T: serde::Serialize> IntoResponse for Audited<T> {
    fn into_response(self) -> Response {
        axum::Json(self.into_answer()).into_response()
    }
}

/// A small self-contained HTML page for errors outside the app (sign-in
/// problems), with the message escaped.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · Strongroom</title></head>\
         <body><main><h1>{title}</h1><p data-testid=\"error-message\">{message}</p><p><a href=\"/\">Try again</a></p></main></body></html>",
        title = escape(title),
        message = escape(message),
    );
    let mut response = (status, axum::response::Html(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_show_their_detail() {
        let response = AppError::internal("db password=hunter2 leaked").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let err = AppError::internal("db password=hunter2");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn error_pages_escape_html() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }
}
