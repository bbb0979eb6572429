//! What handlers share: [`AppState`], built once by the composition root
//! (`crate::app`).

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use tower_sessions::SessionManagerLayer;

use crate::{
    config::ServeArgs,
    domain::{
        audit::AuditStore,
        auth::{CurrentUser, identity::IdentityMapping, oidc::Oidc, session::Store},
        guard::{Gate, GuardPolicy, approval::Approvals, notify::Notifier, requests::Desk},
        secrets::{age::RotationPolicy, limit::RevealLimit},
    },
    infra::{cluster::KubeAccess, db::Db},
};

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub struct Inner {
    pub config: ServeArgs,
    pub origin: String,
    /// The IdP's origin, where the sign-out form ends up.
    pub oidc_origin: String,
    pub leptos: LeptosOptions,
    pub kube: KubeAccess,
    pub oidc: Oidc,
    pub identity: IdentityMapping,
    /// `identity.fingerprint()`, computed once: every request compares it.
    pub identity_rules: String,
    pub db: Db,
    pub sessions: SessionManagerLayer<Store>,
    /// The store behind `sessions`, for a read that must not come from memory.
    pub session_store: Store,
    pub audit: AuditStore,
    /// Reveals per user, when limited.
    pub reveal_limit: Option<RevealLimit>,
    /// Rotation periods per namespace.
    pub rotation: RotationPolicy,
    /// Recent "may get secrets here?" answers for the list's ages.
    pub may_get: crate::domain::secrets::age::MayGetCache,
    /// Recent answers of "where may this person list secrets?" (`/me`).
    pub workable: crate::domain::auth::namespaces::WorkableCache,
    /// Recent namespace certificate scans, per user and namespace.
    pub cert_scans: crate::domain::secrets::certs::scan::ScanCache,
    /// Where the sealed-secrets controller serves its certificate, and the
    /// scopes people may seal with.
    pub sealing: crate::domain::gitops::Sealing,
    /// The namespaces' guards (step-up, approval, notification).
    pub guards: GuardPolicy,
    /// Access requests and their decisions.
    pub approvals: Approvals,
    /// Announcements to the webhooks.
    pub notifier: Notifier,
}

impl Inner {
    /// The rules a disclosure of values in `ns` by `user` is held to.
    pub fn reveal_policy(
        &self,
        ns: &str,
        user: &CurrentUser,
    ) -> crate::domain::secrets::reveal::RevealPolicy<'_> {
        let guards = self.guards.of(ns);
        crate::domain::secrets::reveal::RevealPolicy {
            reason_required: guards.reason,
            limit: self.reveal_limit.as_ref(),
            gate: (guards.beyond_reason() || self.guards.announced(ns)).then_some(Gate {
                guards,
                policy: &self.guards,
                approvals: &self.approvals,
                notifier: &self.notifier,
                auth_time: user.auth_time,
            }),
        }
    }

    /// What the access-request operations share.
    pub fn desk(&self) -> Desk<'_> {
        Desk {
            policy: &self.guards,
            approvals: &self.approvals,
            notifier: &self.notifier,
            audit: &self.audit,
        }
    }

    /// What lists need to show the age of secrets' values.
    pub fn ages(&self) -> crate::domain::secrets::age::Ages<'_> {
        crate::domain::secrets::age::Ages {
            store: &self.audit,
            policy: &self.rotation,
            may_get: &self.may_get,
        }
    }

    /// How sessions are checked again at the IdP.
    pub fn revalidator(&self) -> crate::domain::auth::session::Revalidator<'_> {
        crate::domain::auth::session::Revalidator {
            oidc: &self.oidc,
            mapping: &self.identity,
            every: self.config.identity_revalidate_every,
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
