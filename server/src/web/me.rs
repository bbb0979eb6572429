//! `GET /api/v1/me`: the signed-in identity and where it may work.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Deserialize;
use strongroom_app::api::{Me, NamespaceSearch, guards::NamespaceGuards};

use super::{
    AppError, AppState,
    extract::{Json, Query},
};
use crate::domain::auth::CurrentUser;

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The signed-in user as Kubernetes sees them, and the namespaces they may list secrets in", body = Me)))]
pub async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Me>, AppError> {
    let kube = state.kube.for_user(user.identity());
    let workable = state.workable.get(&kube, &state.config.namespaces).await?;
    let namespaces = workable.namespaces.clone();
    let guards = guards_of(&state, &namespaces);
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
        unchecked_namespaces: workable.unchecked,
    }))
}

/// The guards of those of `namespaces` that have any.
fn guards_of(state: &AppState, namespaces: &[String]) -> BTreeMap<String, NamespaceGuards> {
    namespaces
        .iter()
        .map(|ns| (ns.clone(), state.guards.describe(ns)))
        .filter(|(_, g)| g.any())
        .collect()
}

/// What `GET /api/v1/namespaces` is asked.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindQuery {
    /// Part of the namespace's name.
    #[serde(default)]
    pub name: String,
    /// How many to answer at most (1-100; 20 when not given).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/namespaces", tag = "identity",
    params(FindQuery),
    responses((status = 200, description = "Namespaces whose name contains `name` where the user may list secrets; a bounded number of candidates is checked per search", body = NamespaceSearch)))]
pub async fn find_namespaces(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<FindQuery>,
) -> Result<Json<NamespaceSearch>, AppError> {
    let limit = match q.limit {
        None => 20,
        Some(n @ 1..=100) => n,
        Some(_) => {
            return Err(AppError::invalid(
                "limit",
                "limit must be between 1 and 100",
            ));
        }
    };
    let kube = state.kube.for_user(user.identity());
    let found = state
        .workable
        .find(&kube, &state.config.namespaces, &q.name, limit)
        .await?;
    Ok(Json(NamespaceSearch {
        guards: guards_of(&state, &found.namespaces),
        namespaces: found.namespaces,
        matching: found.matching,
        checked: found.checked,
    }))
}
