//! The secret page's certificate view: public data only.
//!
//! Reading a secret's certificates is an audited inspection (the server
//! records it before answering), so the panel asks by itself only for a
//! `kubernetes.io/tls` secret, whose page is about its certificate. A
//! secret with keys named like certificates (`ca.crt`, `*.pem`) offers a
//! button instead; any other secret shows nothing.

use leptos::prelude::*;

use super::certs::CertBadge;
use crate::{
    api::{
        SecretDetail,
        certs::{CertificateInfo, CertificateKey, SecretCertificates},
    },
    client::{self, ClientError, urlencode},
    ui::layout::ErrorPanel,
};

/// Whether a key's name suggests a certificate (the server decides by the
/// value; this only decides whether to offer the button).
pub fn named_like_certificate(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [".crt", ".cer", ".cert", ".pem"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

/// `GET /namespaces/{ns}/secrets/{name}/certificates` (audited).
pub async fn fetch(ns: &str, name: &str) -> Result<SecretCertificates, ClientError> {
    client::get(&format!(
        "/namespaces/{}/secrets/{}/certificates",
        urlencode(ns),
        urlencode(name)
    ))
    .await
}

/// Whether the secret's page has a *Certificates* section: a TLS secret, or
/// one with keys named like certificates.
pub fn may_hold_certificates(detail: &SecretDetail) -> bool {
    detail.type_ == "kubernetes.io/tls"
        || detail.keys.iter().any(|k| named_like_certificate(&k.name))
}

/// The *Certificates* section of a secret's page, loaded when it opens.
pub async fn certificate_section(detail: SecretDetail) -> AnyView {
    view! { <CertificatePanel detail /> }.into_any()
}

/// The certificates the secret holds, when it holds any.
#[component]
pub fn CertificatePanel(detail: SecretDetail) -> impl IntoView {
    if !may_hold_certificates(&detail) {
        return ().into_any();
    }
    let tls = detail.type_ == "kubernetes.io/tls";
    let (ns, name) = (detail.namespace.clone(), detail.name.clone());
    let wanted = RwSignal::new(tls);
    let certs = LocalResource::new(move || {
        let go = wanted.get();
        let (ns, name) = (ns.clone(), name.clone());
        async move {
            if go {
                Some(fetch(&ns, &name).await)
            } else {
                None
            }
        }
    });
    view! {
        <div class="certificates">
            <Show when=move || !wanted.get()>
                <p class="hint">"Some keys look like certificates. Reading them is recorded in the audit trail; only public data (names, dates, fingerprints) is shown."</p>
                <button type="button" class="button ghost" data-testid="inspect-certificates"
                    on:click=move |_| wanted.set(true)>"Show certificate details"</button>
            </Show>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Reading certificates…"</p> }>
                {move || certs.get().flatten().map(|result| match result {
                    Ok(c) => view! { <CertificateKeys certs=c /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

#[component]
fn CertificateKeys(certs: SecretCertificates) -> impl IntoView {
    if certs.keys.is_empty() {
        return view! { <p class="muted" data-testid="no-certificates">"No key of this secret holds a certificate."</p> }.into_any();
    }
    certs
        .keys
        .into_iter()
        .map(|k| view! { <KeyView key=k /> })
        .collect_view()
        .into_any()
}

#[component]
fn KeyView(key: CertificateKey) -> impl IntoView {
    let total = key.certificates.len();
    let count = match total {
        0 => String::new(),
        1 => "one certificate".into(),
        n => format!("{n} certificates (a chain or bundle, in stored order)"),
    };
    let matches = key.key_matches.map(|m| {
        let (class, text) = if m {
            ("badge cert-valid", "tls.key matches the first certificate")
        } else {
            (
                "badge cert-expired",
                "tls.key does not match the first certificate",
            )
        };
        view! { <p data-testid="key-match" data-matches=m.to_string()><span class=class>{text}</span></p> }
    });
    view! {
        <div class="cert-key" data-testid="cert-key" data-key=key.key.clone()>
            <h3><code>{key.key.clone()}</code> " " <span class="muted">{count}</span></h3>
            {matches}
            {key.note.map(|n| view! { <p class="hint" data-testid="cert-note">{n}</p> })}
            {key.certificates.into_iter().map(|c| view! { <CertificateView cert=c total=total /> }).collect_view()}
        </div>
    }
}

fn position_label(position: usize, total: usize, is_ca: bool) -> String {
    let place = format!("{} of {total}", position + 1);
    match (position, is_ca) {
        (0, false) => format!("{place} (leaf)"),
        (_, true) => format!("{place} (CA)"),
        _ => place,
    }
}

#[component]
fn CertificateView(cert: CertificateInfo, total: usize) -> impl IntoView {
    let names: Vec<String> = cert
        .dns_names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .chain(cert.ip_addresses.iter().map(|n| format!("IP:{n}")))
        .chain(cert.emails.iter().map(|n| format!("email:{n}")))
        .chain(cert.uris.iter().map(|n| format!("URI:{n}")))
        .collect();
    let ca = match (cert.is_ca, cert.self_signed) {
        (true, true) => "yes (self-signed)",
        (true, false) => "yes",
        (false, true) => "no (self-signed)",
        (false, false) => "no",
    };
    view! {
        <dl class="facts" data-testid="certificate" data-position=cert.position>
            <dt>"Position"</dt><dd>{position_label(cert.position, total, cert.is_ca)}</dd>
            <dt>"Subject"</dt><dd><code data-testid="cert-subject">{cert.subject.clone()}</code></dd>
            <dt>"Alternative names"</dt><dd data-testid="cert-sans">{if names.is_empty() {
                view! { <span class="muted">"none"</span> }.into_any()
            } else {
                names.into_iter().map(|n| view! { <span class="badge">{n}</span> " " }).collect_view().into_any()
            }}</dd>
            <dt>"Issuer"</dt><dd><code>{cert.issuer.clone()}</code></dd>
            <dt>"Serial"</dt><dd><code data-testid="cert-serial">{cert.serial.clone()}</code></dd>
            <dt>"Valid from"</dt><dd><time datetime=cert.not_before.clone()>{cert.not_before.clone()}</time></dd>
            <dt>"Valid until"</dt><dd><time datetime=cert.not_after.clone()>{cert.not_after.clone()}</time> " "
                <CertBadge status=cert.status days_left=cert.days_left /></dd>
            <dt>"Certificate authority"</dt><dd>{ca}</dd>
            <dt>"SHA-256 fingerprint"</dt><dd><code class="fingerprint" data-testid="cert-fingerprint">{cert.sha256_fingerprint.clone()}</code></dd>
        </dl>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_named_like_certificates_offer_the_button() {
        for key in ["ca.crt", "tls.CRT", "server.pem", "root.cer", "x.cert"] {
            assert!(named_like_certificate(key), "{key}");
        }
        for key in ["tls.key", "password", "crt", "ca.crt.bak"] {
            assert!(!named_like_certificate(key), "{key}");
        }
    }

    #[test]
    fn positions_say_leaf_and_ca() {
        assert_eq!(position_label(0, 2, false), "1 of 2 (leaf)");
        assert_eq!(position_label(1, 2, true), "2 of 2 (CA)");
        assert_eq!(position_label(2, 3, false), "3 of 3");
    }
}
