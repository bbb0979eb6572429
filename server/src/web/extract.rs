//! The API's extractors: axum's `Json`, `Path` and `Query`, whose
//! rejections become the API's own JSON errors (with the field at fault)
//! instead of plain-text bodies, and never echo what was sent: a rejected
//! body may hold a secret value.

use axum::{
    extract::{
        FromRequest, FromRequestParts,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::AppError;

/// A JSON request body or response.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                let (field, problem) = data_error(&e);
                AppError::Invalid {
                    message: format!("The request body is invalid at `{field}`: {problem}."),
                    field: Some(field),
                }
            }
            JsonRejection::JsonSyntaxError(_) => {
                AppError::BadRequest("The request body is not valid JSON.".into())
            }
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
                "Send the request body as Content-Type: application/json.".into(),
            ),
            other if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::TooLarge("The request body is larger than allowed.".into())
            }
            _ => AppError::BadRequest("The request body could not be read.".into()),
        }
    }
}

/// Where in the body deserializing failed, and a description that cannot
/// contain the rejected value (serde's "invalid type: string \"...\"" can).
fn data_error(e: &(dyn std::error::Error + 'static)) -> (String, String) {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(at) = err.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let inner = at.inner().to_string();
            let problem = [
                "missing field",
                "unknown field",
                "unknown variant",
                "duplicate field",
            ]
            .iter()
            .find(|p| inner.starts_with(*p))
            .map(|_| {
                // "unknown variant `x`, expected one of ..." names only
                // the schema's own words and what was sent as a tag.
                inner
                    .split(" at line ")
                    .next()
                    .unwrap_or(&inner)
                    .to_string()
            })
            .unwrap_or_else(|| "a value of the wrong type or format".into());
            return (at.path().to_string(), problem);
        }
        source = err.source();
    }
    (".".into(), "it does not match the expected shape".into())
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::BadRequest("The URL path is not valid for this endpoint.".into())
    }
}

impl From<QueryRejection> for AppError {
    fn from(_: QueryRejection) -> Self {
        AppError::BadRequest("A query parameter has an invalid value.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::Request};

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Entry {
        key: String,
        count: u32,
    }

    async fn reject(body: &str, content_type: &str) -> AppError {
        let request = Request::post("/")
            .header("content-type", content_type)
            .body(Body::from(body.to_string()))
            .unwrap();
        Json::<Vec<Entry>>::from_request(request, &())
            .await
            .expect_err("rejected")
    }

    #[tokio::test]
    async fn a_wrong_type_names_the_field_but_not_the_value() {
        let err = reject(r#"[{"key": "k", "count": "hunter2"}]"#, "application/json").await;
        assert_eq!(err.status_code(), 422);
        let AppError::Invalid { field, message } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(field.as_deref(), Some("[0].count"));
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[tokio::test]
    async fn a_missing_field_is_named() {
        let err = reject(r#"[{"count": 1}]"#, "application/json").await;
        assert!(err.to_string().contains("missing field `key`"), "{err}");
    }

    #[tokio::test]
    async fn syntax_and_content_type_errors_are_json_errors_too() {
        assert_eq!(reject("[{", "application/json").await.status_code(), 400);
        assert_eq!(reject("[]", "text/plain").await.status_code(), 415);
    }
}
