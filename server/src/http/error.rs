//! The one place errors become HTTP responses: a short message for the
//! person, the cause logged once on the server, never a secret value.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use strongroom_app::api::ApiError;

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
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid { .. } => "invalid",
            AppError::TooLarge(_) => "too_large",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
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
