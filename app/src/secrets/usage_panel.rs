//! The secret page's "Used by" panel and the restart of its consumers.

use leptos::prelude::*;

use crate::api::SecretDetail;

/// Workloads that use the secret; after a change of values (`changed`
/// holds the changed keys), an offer to restart those that need it.
#[component]
pub fn UsagePanel(detail: SecretDetail, changed: Signal<Vec<String>>) -> impl IntoView {
    let _ = (detail, changed);
}
