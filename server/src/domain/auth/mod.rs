//! Who is asking: OIDC sign-in, mapping verified claims to the identity
//! Kubernetes sees, the server-side session, and [`CurrentUser`].

pub mod identity;
pub mod namespaces;
pub mod oidc;
pub mod session;

use serde::{Deserialize, Serialize};

use crate::infra::cluster::Identity;

/// The signed-in user, as Kubernetes will see them. It exists only for a
/// request that carries a valid session; a Kubernetes handle can only be made
/// from one (see [`CurrentUser::identity`] and
/// [`crate::infra::cluster::KubeAccess::for_user`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Sent as `Impersonate-User`.
    pub username: String,
    /// Sent as `Impersonate-Group`.
    pub groups: Vec<String>,
    /// The ID token's subject, sent as `Impersonate-Uid`.
    pub uid: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// When the user last proved who they are at the IdP (the ID token's
    /// `auth_time`, Unix seconds), for the step-up guard; `None` when the
    /// IdP did not say.
    #[serde(default)]
    pub auth_time: Option<i64>,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl CurrentUser {
    /// The identity Kubernetes sees: the values of the impersonation headers.
    pub fn identity(&self) -> Identity {
        Identity {
            username: self.username.clone(),
            groups: self.groups.clone(),
            uid: self.uid.clone(),
        }
    }
}
