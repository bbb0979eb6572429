//! The secret page's certificate view: public data only.

use leptos::prelude::*;

use crate::api::SecretDetail;

/// The certificates the secret holds, when it holds any.
#[component]
pub fn CertificatePanel(detail: SecretDetail) -> impl IntoView {
    let _ = detail;
}
