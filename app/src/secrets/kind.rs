//! The kinds of secret the create form knows, as one enum: the tab ids, the
//! labels and the kubectl equivalent live here instead of in strings
//! compared across the form.

/// A kind of secret on the create form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// Key/value pairs from literals and files (`Opaque`).
    #[default]
    Generic,
    /// Key/value pairs from an env file (`Opaque`).
    EnvFile,
    /// `kubernetes.io/dockerconfigjson`.
    DockerRegistry,
    /// `kubernetes.io/tls`.
    Tls,
    /// `kubernetes.io/basic-auth`.
    BasicAuth,
    /// `kubernetes.io/ssh-auth`.
    SshAuth,
}

impl SecretKind {
    /// Every kind, in tab order.
    pub const ALL: [SecretKind; 6] = [
        SecretKind::Generic,
        SecretKind::EnvFile,
        SecretKind::DockerRegistry,
        SecretKind::Tls,
        SecretKind::BasicAuth,
        SecretKind::SshAuth,
    ];

    /// The stable id (tab ids, `data-kind`, saved drafts).
    pub fn id(self) -> &'static str {
        match self {
            SecretKind::Generic => "generic",
            SecretKind::EnvFile => "env-file",
            SecretKind::DockerRegistry => "docker-registry",
            SecretKind::Tls => "tls",
            SecretKind::BasicAuth => "basic-auth",
            SecretKind::SshAuth => "ssh-auth",
        }
    }

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::Generic => "Generic",
            SecretKind::EnvFile => "Env file",
            SecretKind::DockerRegistry => "Docker registry",
            SecretKind::Tls => "TLS",
            SecretKind::BasicAuth => "Basic auth",
            SecretKind::SshAuth => "SSH auth",
        }
    }

    /// The kind with this id, if any.
    pub fn from_id(id: &str) -> Option<SecretKind> {
        SecretKind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The kind `steps` tabs after this one (wrapping).
    pub fn offset(self, steps: usize) -> SecretKind {
        let index = SecretKind::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SecretKind::ALL[(index + steps) % SecretKind::ALL.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::SecretKind;

    #[test]
    fn ids_round_trip_and_tabs_wrap() {
        for kind in SecretKind::ALL {
            assert_eq!(SecretKind::from_id(kind.id()), Some(kind));
        }
        assert_eq!(SecretKind::from_id("nope"), None);
        assert_eq!(SecretKind::SshAuth.offset(1), SecretKind::Generic);
        assert_eq!(
            SecretKind::Generic.offset(SecretKind::ALL.len() - 1),
            SecretKind::SshAuth
        );
    }
}
