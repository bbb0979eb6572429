//! What the certificate views share: the expiry badge (the same on the
//! secret page, in the list and on the namespace's expiring view) and the
//! namespace scan's client call.

use leptos::prelude::*;

use crate::{
    api::certs::{CertStatus, NamespaceCertificates},
    client::{self, ClientError, urlencode},
};

/// `GET /namespaces/{ns}/certificates`: the namespace's expired and
/// expiring certificates (within the server's window, or `within` days).
pub async fn expiring(ns: &str, within: Option<u32>) -> Result<NamespaceCertificates, ClientError> {
    let query = within.map(|w| format!("?within={w}")).unwrap_or_default();
    client::get(&format!(
        "/namespaces/{}/certificates{query}",
        urlencode(ns)
    ))
    .await
}

/// The badge's words: "expires in 10 days", "expired".
pub fn expiry_text(status: CertStatus, days_left: i64) -> String {
    match status {
        CertStatus::Expired => "expired".into(),
        CertStatus::NotYetValid => "not yet valid".into(),
        CertStatus::ExpiringSoon | CertStatus::Valid => match days_left {
            i64::MIN..=0 => "expires today".into(),
            1 => "expires in 1 day".into(),
            n if status == CertStatus::ExpiringSoon => format!("expires in {n} days"),
            n => format!("valid, {n} days left"),
        },
    }
}

/// A badge for a certificate's status, coloured by urgency.
#[component]
pub fn CertBadge(status: CertStatus, days_left: i64) -> impl IntoView {
    view! {
        <span class=format!("badge cert-{}", status.as_str()) data-testid="cert-status" data-status=status.as_str()>
            {expiry_text(status, days_left)}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_badge_says_how_long_is_left() {
        assert_eq!(
            expiry_text(CertStatus::ExpiringSoon, 10),
            "expires in 10 days"
        );
        assert_eq!(expiry_text(CertStatus::ExpiringSoon, 1), "expires in 1 day");
        assert_eq!(expiry_text(CertStatus::ExpiringSoon, 0), "expires today");
        assert_eq!(expiry_text(CertStatus::Expired, -3), "expired");
        assert_eq!(expiry_text(CertStatus::Valid, 365), "valid, 365 days left");
        assert_eq!(expiry_text(CertStatus::NotYetValid, 400), "not yet valid");
    }
}
