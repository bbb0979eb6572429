//! Who, from where: the request facts every audit record carries.

use std::net::IpAddr;

use super::{Action, AuditEvent, Fingerprint, Outcome};
use crate::domain::auth::CurrentUser;

/// Request id, source address and user agent of the current request (the
/// edge fills them in from the request).
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The client's address: the peer, unless the peer is a trusted proxy, in
/// which case the right-most address in `X-Forwarded-For` that is not itself
/// a trusted proxy.
pub fn source_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    chain
        .split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

impl RequestFacts {
    /// A new event for `user` acting on a secret.
    #[expect(
        clippy::too_many_arguments,
        reason = "an audit event has this many facts"
    )]
    pub fn event(
        &self,
        id: &str,
        cluster: &str,
        user: &CurrentUser,
        action: Action,
        namespace: &str,
        secret: &str,
        keys: Vec<String>,
        outcome: Outcome,
        status: Option<u16>,
        fingerprints: Vec<Fingerprint>,
        reason: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            id: id.to_string(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            request_id: self.request_id.clone(),
            user: user.username.clone(),
            groups: user.groups.clone(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            action,
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
            secret: secret.to_string(),
            keys,
            outcome,
            status,
            fingerprints,
            before: vec![],
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        assert_eq!(
            source_ip(Some(ip("10.0.0.5")), Some("1.2.3.4"), &[]),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn forwarded_for_is_used_from_trusted_proxies() {
        let trusted = [ip("10.0.0.1")];
        assert_eq!(
            source_ip(Some(ip("10.0.0.1")), Some("6.6.6.6, 1.2.3.4"), &trusted),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            source_ip(Some(ip("10.0.0.1")), Some("garbage"), &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}
