//! The OpenAPI 3.1 description of the JSON API, served at
//! `/api/v1/openapi.json`. It is generated from the handlers and the shared
//! API types (utoipa), so it cannot drift from what the server does; the
//! test suite runs schemathesis against it on the real stack.

use std::sync::OnceLock;

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        path::Operation,
        security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme},
    },
};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom API",
        description = "Kubernetes Secrets as the signed-in user: every call is made by impersonating the user, so the cluster's RBAC decides. Values leave the server only in the answer to a reveal, after its audit record is committed. Sign in through the browser (`/auth/login`); the API uses the session cookie. State-changing requests must carry the `x-strongroom-csrf` header (any value).",
    ),
    paths(
        super::me::get_me,
        super::me::find_namespaces,
        super::secrets::list,
        super::secrets::create,
        super::secrets::detail,
        super::secrets::update,
        super::secrets::delete,
        super::secrets::reveal,
        super::secrets::preview,
        super::secrets::key_history,
        super::usage::usage,
        super::usage::restart,
        super::audit::trail,
        super::audit::history,
        super::certs::secret_certificates,
        super::certs::namespace_certificates,
        super::gitops::certificate,
        super::gitops::seal_new,
        super::gitops::seal_existing,
        super::gitops::export_new,
        super::gitops::export_existing,
        super::gitops::source,
        super::guards::request,
        super::guards::list,
        super::guards::approve,
        super::guards::deny,
        super::guards::revoke,
    ),
    components(schemas(strongroom_app::api::ApiError, super::audit::ExportFormat)),
    modifiers(&CommonAnswers),
    tags(
        (name = "identity", description = "Who the signed-in user is to Kubernetes"),
        (name = "secrets", description = "Secrets in a namespace, as the signed-in user"),
        (name = "audit", description = "The audit trail"),
        (name = "certificates", description = "Certificates held in secrets: public data only"),
        (name = "usage", description = "Who uses a secret, and restarting them after a change"),
        (name = "gitops", description = "Secrets that belong in Git: SealedSecrets, SOPS exports, controller-owned secrets"),
        (name = "guards", description = "Guarded namespaces: access requests and a second person's approval before a value is revealed"),
    ),
)]
struct ApiDoc;

/// What every operation can answer besides its own success, the session
/// cookie as the way to authenticate, and the CSRF header on changes.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiError")))
                    .build(),
            )
        };
        let common = [
            ("400", "The path, query or body is malformed"),
            ("401", "No signed-in session (or it expired)"),
            (
                "403",
                "Kubernetes RBAC refused the signed-in user, or a cross-origin request was refused",
            ),
            ("404", "No such namespace or secret"),
            ("422", "Invalid input; `field` names the part at fault"),
            (
                "503",
                "The Kubernetes API, the database or the audit trail is unavailable; nothing was changed and no value left the server",
            ),
        ];
        let changes = [
            (
                "409",
                "A conflict: the secret exists, or changed since it was read",
            ),
            ("413", "The request body is larger than allowed"),
            ("415", "The body is not application/json"),
        ];
        let busy =
            error("Too many requests: the reveal rate limit, or the Kubernetes API shedding load")
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(0)),
                        )
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                )
                .build();
        for item in openapi.paths.paths.values_mut() {
            let ops: [(&mut Option<Operation>, bool); 4] = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (op, changes_state) in ops {
                let Some(op) = op.as_mut() else { continue };
                let answers = &mut op.responses.responses;
                for (code, description) in common {
                    answers
                        .entry(code.into())
                        .or_insert_with(|| error(description).build().into());
                }
                answers
                    .entry("429".into())
                    .or_insert_with(|| busy.clone().into());
                if changes_state {
                    for (code, description) in changes {
                        answers
                            .entry(code.into())
                            .or_insert_with(|| error(description).build().into());
                    }
                    // Both are needed together: one requirement object.
                    op.security = Some(vec![
                        SecurityRequirement::new("session", Vec::<String>::new())
                            .add("csrf", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

/// The document for a server whose session cookie is `cookie`.
fn document(cookie: &str) -> String {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            cookie,
            "The session cookie set by signing in at /auth/login",
        ))),
    );
    components.add_security_scheme(
        "csrf",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            strongroom_app::api::CSRF_HEADER,
            "Any value; required on every state-changing request",
        ))),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "session",
        Vec::<String>::new(),
    )]);
    doc.to_pretty_json()
        .expect("the OpenAPI document serializes")
}

/// `GET /api/v1/openapi.json`.
pub async fn serve(State(state): State<AppState>) -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| {
        document(crate::domain::auth::session::cookie_name(
            state.config.cookie_secure,
        ))
    });
    let mut response = body.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_api_is_described_with_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(&document("strongroom")).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/api/v1/me", &["get"][..]),
            ("/api/v1/namespaces/{ns}/secrets", &["get", "post"]),
            (
                "/api/v1/namespaces/{ns}/secrets/{name}",
                &["get", "patch", "delete"],
            ),
            ("/api/v1/namespaces/{ns}/secrets/{name}/reveal", &["post"]),
            ("/api/v1/namespaces/{ns}/secrets/{name}/history", &["get"]),
            ("/api/v1/audit", &["get"]),
            (
                "/api/v1/namespaces/{ns}/secrets/{name}/certificates",
                &["get"],
            ),
            ("/api/v1/namespaces/{ns}/certificates", &["get"]),
        ] {
            for method in methods {
                let op = &paths[path][method];
                assert!(op.is_object(), "{method} {path} is described");
                for code in ["401", "403", "429", "503"] {
                    assert!(op["responses"][code].is_object(), "{method} {path} {code}");
                }
                if *method != "get" {
                    assert!(op["security"][0]["csrf"].is_array(), "{method} {path} csrf");
                }
            }
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["session"]["name"],
            "strongroom"
        );
    }
}
