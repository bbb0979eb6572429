//! Secrets that belong in Git (issue 16): the seal and SOPS forms shared by
//! the create page and a secret's page, their output (YAML to download or
//! copy: ciphertext only), and the note on a secret a controller owns.

use leptos::prelude::*;

use crate::{
    api::{
        CreateSecretRequest, SecretDetail,
        gitops::{
            Exported, OwnerKind, SealNewRequest, SealRequest, SealScope, Sealed,
            SealingCertificate, SopsNewRequest, SopsRequest, SourceObject,
        },
    },
    client::{self, ClientError, urlencode as enc},
    ui::layout::ErrorPanel,
};

/// Where the create form sends the secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Destination {
    /// Created in the cluster as a Secret.
    #[default]
    Cluster,
    /// Sealed for Git (a SealedSecret), optionally created in the cluster.
    Seal,
    /// Exported as a SOPS-encrypted manifest.
    Sops,
}

impl Destination {
    pub const ALL: [Destination; 3] = [Destination::Cluster, Destination::Seal, Destination::Sops];

    pub fn id(self) -> &'static str {
        match self {
            Destination::Cluster => "cluster",
            Destination::Seal => "seal",
            Destination::Sops => "sops",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Destination::Cluster => "Create it in the cluster",
            Destination::Seal => "Seal it for Git (SealedSecret)",
            Destination::Sops => "Export it for SOPS (age)",
        }
    }
}

/// The seal form's state.
#[derive(Clone, Copy)]
pub struct SealOptions {
    pub scope: RwSignal<SealScope>,
    /// Seal to a pasted certificate instead of the controller's.
    pub paste: RwSignal<bool>,
    pub pasted: RwSignal<String>,
    /// Also create the SealedSecret in the cluster (new secrets only).
    pub create: RwSignal<bool>,
}

impl SealOptions {
    pub fn new() -> Self {
        SealOptions {
            scope: RwSignal::new(SealScope::Strict),
            paste: RwSignal::new(false),
            pasted: RwSignal::new(String::new()),
            create: RwSignal::new(false),
        }
    }

    fn certificate(&self) -> Option<String> {
        self.paste
            .get_untracked()
            .then(|| self.pasted.get_untracked())
            .filter(|p| !p.trim().is_empty())
    }

    pub fn new_request(&self, secret: CreateSecretRequest) -> SealNewRequest {
        SealNewRequest {
            scope: self.scope.get_untracked(),
            certificate: self.certificate(),
            create: self.create.get_untracked(),
            secret,
        }
    }

    fn request(&self, reason: Option<String>) -> SealRequest {
        SealRequest {
            scope: self.scope.get_untracked(),
            certificate: self.certificate(),
            create: false,
            reason,
        }
    }
}

impl Default for SealOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The recipients typed one per line (or separated by commas).
pub fn recipients(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect()
}

pub async fn seal_new(ns: &str, req: &SealNewRequest) -> Result<Sealed, ClientError> {
    client::post(&format!("/namespaces/{}/sealed-secrets", enc(ns)), req).await
}

pub async fn export_new(ns: &str, req: &SopsNewRequest) -> Result<Exported, ClientError> {
    client::post(&format!("/namespaces/{}/sops", enc(ns)), req).await
}

/// The scope and certificate fields of a seal.
#[component]
pub fn SealFields(options: SealOptions, #[prop(optional)] offer_create: bool) -> impl IntoView {
    let cert = LocalResource::new(move || {
        let fetch = !options.paste.get();
        async move {
            if fetch {
                Some(client::get::<SealingCertificate>("/sealing/certificate").await)
            } else {
                None
            }
        }
    });
    view! {
        <fieldset class="rows" data-testid="seal-scope">
            <legend>"Scope"</legend>
            {SealScope::ALL.into_iter().map(|s| view! {
                <label class="check">
                    <input type="radio" name="seal-scope" value=s.as_str()
                        prop:checked=move || options.scope.get() == s
                        on:change=move |_| options.scope.set(s) />
                    " " <code>{s.as_str()}</code> ": " {s.explain()}
                </label>
            }).collect_view()}
        </fieldset>
        <fieldset class="rows">
            <legend>"Sealing certificate"</legend>
            <label class="check">
                <input type="radio" name="cert-source" prop:checked=move || !options.paste.get()
                    on:change=move |_| options.paste.set(false) />
                " The cluster's sealed-secrets controller (fetched as you)"
            </label>
            <label class="check">
                <input type="radio" name="cert-source" data-testid="paste-cert" prop:checked=move || options.paste.get()
                    on:change=move |_| options.paste.set(true) />
                " A certificate I paste (kubeseal --fetch-cert)"
            </label>
            <Show when=move || options.paste.get()>
                <label class="field">
                    <span>"Certificate (PEM)"</span>
                    <textarea name="certificate" class="mono" rows="5" spellcheck="false"
                        prop:value=options.pasted on:input=move |ev| options.pasted.set(event_target_value(&ev))></textarea>
                </label>
            </Show>
            <Suspense fallback=|| view! { <p class="loading" role="status">"Fetching the certificate…"</p> }>
                {move || cert.get().flatten().map(|r| match r {
                    Ok(c) => view! { <CertificateFacts cert=c /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                })}
            </Suspense>
        </fieldset>
        {offer_create.then(|| view! {
            <label class="check">
                <input type="checkbox" name="create-sealed" data-testid="create-sealed" prop:checked=options.create
                    on:change=move |ev| options.create.set(event_target_checked(&ev)) />
                " Also create the SealedSecret in the cluster (the controller makes the Secret)"
            </label>
        })}
    }
}

#[component]
fn CertificateFacts(cert: SealingCertificate) -> impl IntoView {
    let warn = cert.days_left < 30;
    view! {
        <dl class="facts" data-testid="sealing-certificate">
            <dt>"From"</dt><dd>{cert.source.clone()}</dd>
            <dt>"SHA-256"</dt><dd><code data-testid="sealing-fingerprint">{cert.fingerprint.clone()}</code></dd>
            <dt>"Valid until"</dt><dd data-testid="sealing-valid-until">
                {cert.not_after.clone()} " "
                <span class=if warn { "badge warn" } else { "badge cert-valid" }>{format!("{} days left", cert.days_left)}</span>
            </dd>
            <dt>"Key"</dt><dd>{format!("RSA {} bits", cert.bits)}</dd>
        </dl>
    }
}

/// The recipients field of a SOPS export.
#[component]
pub fn RecipientsField(value: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field">
            <span>"age recipients (age1…, one per line): who can decrypt it"</span>
            <textarea name="recipients" class="mono" rows="3" spellcheck="false" data-testid="sops-recipients"
                prop:value=value on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        </label>
    }
}

/// A manifest safe to commit: shown, downloadable and copyable.
#[component]
pub fn GitOutput(
    yaml: String,
    file_name: String,
    testid: &'static str,
    note: String,
) -> impl IntoView {
    let href = format!("data:application/yaml;charset=utf-8,{}", enc(&yaml));
    let copy = yaml.clone();
    view! {
        <div class="git-output" role="region" aria-label="Manifest to commit">
            <p class="hint" data-testid=format!("{testid}-note")>{note}</p>
            <pre class="mono" tabindex="0" aria-label="The manifest" data-testid=testid>{yaml}</pre>
            <div class="actions">
                <a class="button" href=href download=file_name>"Download"</a>
                <button type="button" class="button ghost" on:click=move |_| copy_ciphertext(&copy)>"Copy"</button>
            </div>
        </div>
    }
}

/// Copies ciphertext (nothing to clear later: it is safe to commit).
fn copy_ciphertext(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Whether the Git section opens with the page: for a secret a
/// SealedSecret writes, re-sealing is how it changes.
pub fn git_first(detail: &SecretDetail) -> bool {
    detail
        .owner
        .as_ref()
        .is_some_and(|o| o.kind == OwnerKind::SealedSecret)
}

/// The *Seal for Git or export for SOPS* section of a secret's page, loaded
/// when it opens.
pub async fn git_section(detail: SecretDetail, refresh: RwSignal<u32>) -> AnyView {
    view! { <GitPanel detail refresh /> }.into_any()
}

/// A secret's page: "Seal for Git" and "Export for SOPS" of its current
/// values (each recorded like a reveal; `refresh` is bumped after each, so
/// the access history shows it).
#[component]
pub fn GitPanel(detail: SecretDetail, refresh: RwSignal<u32>) -> impl IntoView {
    let (ns, name) = (detail.namespace.clone(), detail.name.clone());
    let options = SealOptions::new();
    let recipients_text = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let sealed = RwSignal::new(None::<Sealed>);
    let exported = RwSignal::new(None::<Exported>);
    let (error, set_error) = signal(None::<ClientError>);
    let path = StoredValue::new(format!("/namespaces/{}/secrets/{}", enc(&ns), enc(&name)));
    let reason_value = move || Some(reason.get_untracked()).filter(|r| !r.trim().is_empty());
    let seal = Action::new_local(move |_: &()| {
        let req = options.request(reason_value());
        let path = path.get_value();
        async move {
            match client::post::<_, Sealed>(&format!("{path}/seal"), &req).await {
                Ok(s) => {
                    set_error.set(None);
                    sealed.set(Some(s));
                }
                Err(e) => set_error.set(Some(e)),
            }
            refresh.update(|n| *n += 1);
        }
    });
    let export = Action::new_local(move |_: &()| {
        let req = SopsRequest {
            recipients: recipients(&recipients_text.get_untracked()),
            reason: reason_value(),
        };
        let path = path.get_value();
        async move {
            match client::post::<_, Exported>(&format!("{path}/sops"), &req).await {
                Ok(x) => {
                    set_error.set(None);
                    exported.set(Some(x));
                }
                Err(e) => set_error.set(Some(e)),
            }
            refresh.update(|n| *n += 1);
        }
    });
    let file = name.clone();
    view! {
        <p class="hint">"The values are encrypted on the server and only ciphertext comes back, safe to commit. Each seal or export is recorded like a reveal."</p>
        {move || error.get().map(|e| view! { <ErrorPanel error=e /> })}
        <label class="field reason">
            <span>"Reason (recorded; some namespaces require one)"</span>
            <input name="git-reason" autocomplete="off" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev)) />
        </label>
        <h3>"Seal for Git (Sealed Secrets)"</h3>
        <form class="form" on:submit=move |ev| { ev.prevent_default(); seal.dispatch(()); }>
            <SealFields options=options />
            <div class="actions">
                <button type="submit" class="button" data-testid="seal-submit" disabled=move || seal.pending().get()>"Seal"</button>
            </div>
        </form>
        {
            let file = file.clone();
            move || sealed.get().map(|s| view! {
                <GitOutput yaml=s.yaml file_name=format!("{file}.sealedsecret.yaml") testid="sealed-yaml"
                    note=format!("SealedSecret, {} scope, keys {}; sealed to {}.", s.scope.as_str(), s.keys.join(", "), s.certificate.fingerprint) />
            })
        }
        <h3>"Export for SOPS"</h3>
        <form class="form" on:submit=move |ev| { ev.prevent_default(); export.dispatch(()); }>
            <RecipientsField value=recipients_text />
            <div class="actions">
                <button type="submit" class="button" data-testid="sops-submit" disabled=move || export.pending().get()>"Export"</button>
            </div>
        </form>
        {move || exported.get().map(|x| view! {
            <GitOutput yaml=x.yaml file_name=format!("{file}.sops.yaml") testid="sops-yaml"
                note=format!("Secret manifest for SOPS, keys {}; decrypts with sops --decrypt and the identity of {}.", x.keys.join(", "), x.recipients.join(", ")) />
        })}
    }
}

/// The note on a secret something manages: what, what an edit would do,
/// and its source object on request.
#[component]
pub fn OwnerNote(detail: SecretDetail) -> impl IntoView {
    let Some(owner) = detail.owner.clone() else {
        return ().into_any();
    };
    let (ns, name) = (detail.namespace.clone(), detail.name.clone());
    let wanted = RwSignal::new(false);
    let source = LocalResource::new(move || {
        let go = wanted.get();
        let path = format!("/namespaces/{}/secrets/{}/source", enc(&ns), enc(&name));
        async move {
            if go {
                Some(client::get::<SourceObject>(&path).await)
            } else {
                None
            }
        }
    });
    let readable_kind = matches!(
        owner.kind,
        OwnerKind::SealedSecret | OwnerKind::ExternalSecret
    );
    view! {
        <div class="panel owner-note" role="note" data-testid="owner-note">
            <p><span class="badge warn" data-testid="owner-badge">{format!("Managed by {}", owner.label())}</span></p>
            <p data-testid="owner-warning">{owner.warning()}</p>
            {readable_kind.then(|| view! {
                <button type="button" class="button ghost" data-testid="show-source" on:click=move |_| wanted.set(true)>
                    {format!("Show the {}", owner.label())}
                </button>
            })}
            <Suspense fallback=|| ()>
                {move || source.get().flatten().map(|r| match r {
                    Ok(s) => view! { <SourceFacts source=s /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

#[component]
fn SourceFacts(source: SourceObject) -> impl IntoView {
    if !source.readable {
        return view! { <p class="hint" data-testid="source-note">{source.note.unwrap_or_default()}</p> }
            .into_any();
    }
    view! {
        <dl class="facts" data-testid="source-facts">
            <dt>"Object"</dt><dd>{format!("{}/{}", source.owner.object_kind.clone().unwrap_or_default(), source.owner.name)}</dd>
            {source.facts.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            <dt>"Conditions"</dt><dd>{if source.conditions.is_empty() { "none reported".to_string() } else { source.conditions.join("; ") }}</dd>
        </dl>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_split_on_lines_and_commas() {
        assert_eq!(
            recipients(" age1a \n\nage1b, age1c,"),
            vec!["age1a", "age1b", "age1c"]
        );
        assert!(recipients("  \n ").is_empty());
    }
}
