//! `GET /api/v1/me`: the signed-in identity and where it may work.

use axum::extract::State;
use strongroom_app::api::Me;

use super::{AppError, AppState, extract::Json};
use crate::domain::auth::CurrentUser;

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The signed-in user as Kubernetes sees them, and the namespaces they may list secrets in", body = Me)))]
pub async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Me>, AppError> {
    let kube = state.kube.for_user(user.identity());
    let namespaces = state
        .workable
        .get(&kube, &state.config.namespaces)
        .await?
        .to_vec();
    let guards = namespaces
        .iter()
        .map(|ns| (ns.clone(), state.guards.describe(ns)))
        .filter(|(_, g)| g.any())
        .collect();
    let approver = state.guards.is_approver(&user);
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
        approver,
        guards,
    }))
}
