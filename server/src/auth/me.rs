//! `GET /api/v1/me`: the signed-in identity and where it may work.

use axum::extract::State;

use crate::http::extract::Json;
use futures::future::join_all;
use strongroom_app::api::Me;

use super::CurrentUser;
use crate::{AppState, http::AppError, kube::KubeError};

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The signed-in user as Kubernetes sees them, and the namespaces they may list secrets in", body = Me)))]
pub async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Me>, AppError> {
    let kube = state.kube.for_user(&user);
    // Candidates: the configured list, else every namespace the user may see.
    let candidates = if state.config.namespaces.is_empty() {
        match kube.namespace_names().await {
            Ok(names) => names,
            Err(KubeError::Api { code: 403, .. }) => Vec::new(),
            Err(e) => {
                return Err(crate::secrets::kube_error(
                    e,
                    &user,
                    "list",
                    "namespaces",
                    None,
                ));
            }
        }
    } else {
        state.config.namespaces.clone()
    };
    let checks = candidates
        .iter()
        .map(|ns| kube.can_i("list", "secrets", ns));
    let mut namespaces = Vec::new();
    for (ns, allowed) in candidates.iter().zip(join_all(checks).await) {
        match allowed {
            Ok(true) => namespaces.push(ns.clone()),
            Ok(false) => {}
            Err(e) => {
                return Err(crate::secrets::kube_error(
                    e,
                    &user,
                    "create",
                    "selfsubjectaccessreviews",
                    None,
                ));
            }
        }
    }
    namespaces.sort();
    Ok(Json(Me {
        auditor: user
            .groups
            .iter()
            .any(|g| *g == state.config.auditors_group),
        username: user.username,
        groups: user.groups,
        name: user.name,
        namespaces,
        clipboard_clear_seconds: state.config.clipboard_clear_after.as_secs().max(1),
        reveal_rehide_seconds: state.config.reveal_rehide_after.as_secs().max(1),
    }))
}
