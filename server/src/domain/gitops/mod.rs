//! Secrets that belong in Git: sealing for the sealed-secrets controller
//! ([`sealed`]), exporting for SOPS with age recipients ([`sops`]), and the
//! object a controller-owned secret comes from.
//!
//! Every operation runs as the signed-in user. Values are encrypted in
//! memory and only ciphertext leaves the server. An existing secret's
//! values are read with the user's own `get`, under the reveal rules (the
//! namespace's reason rule and the per-user rate), and the seal or export
//! is recorded with the values' fingerprints before the answer, like a
//! reveal. Sealing from the create form is recorded as a seal; creating
//! the SealedSecret in the cluster is a change, refused before Kubernetes
//! is asked when it could not be recorded.

pub mod sealed;
pub mod sops;
pub mod yaml;

use std::collections::BTreeMap;

use chrono::Utc;
use k8s_openapi::api::core::v1::Secret;
use strongroom_app::{
    api::{
        CreateSecretRequest,
        gitops::{
            Exported, OwnerKind, SealNewRequest, SealRequest, SealScope, Sealed,
            SealingCertificate, SopsNewRequest, SopsRequest, SourceObject,
        },
    },
    secrets::rules,
};

use crate::{
    domain::{
        KubeFailure,
        audit::{AuditScope, Audited, Fingerprint, Outcome},
        guard::Admission,
        secrets::{
            SecretsError, begin_change,
            build::{build, check_metadata},
            check_path, get_or_record, record_change,
            reveal::{RevealPolicy, admit, rate_limited},
            settle,
            view::HIDDEN_ANNOTATIONS,
        },
    },
    infra::cluster::{KubeError, UserKube, gitops::Controller},
};

/// Errors are the secrets domain's: the same kinds, the same answers.
pub type GitopsError = SecretsError;

/// The most keys one seal or export from the form carries (a record lists
/// them all).
pub const MAX_FORM_KEYS: usize = crate::domain::audit::MAX_FINGERPRINTS;

/// Annotations tools keep a copy of the whole object in (values included):
/// never written into a SealedSecret's template or a SOPS manifest.
pub const OBJECT_COPY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
    "kapp.k14s.io/original",
    "objectset.rio.cattle.io/applied",
];

/// How sealing is set up.
#[derive(Clone, Debug)]
pub struct Sealing {
    /// Where the controller serves its certificate.
    pub controller: Controller,
    /// The scopes people may seal with (a cluster-wide SealedSecret unseals
    /// in any namespace, so a platform may forbid it).
    pub scopes: Vec<SealScope>,
}

impl Default for Sealing {
    fn default() -> Self {
        Sealing {
            controller: Controller::default(),
            scopes: SealScope::ALL.to_vec(),
        }
    }
}

impl Sealing {
    fn check_scope(&self, scope: SealScope) -> Result<(), GitopsError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(SecretsError::invalid(
                "scope",
                format!(
                    "{} sealing is not allowed here; use {}",
                    scope.as_str(),
                    self.scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ))
        }
    }
}

/// A secret as `kubectl create secret` would make it, as the sealing and
/// SOPS formats read it.
pub struct SecretParts<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub type_: &'a str,
    pub data: &'a BTreeMap<String, Vec<u8>>,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub immutable: bool,
}

/// A secret's parts as sealing and exporting need them.
struct Plain {
    type_: String,
    data: BTreeMap<String, Vec<u8>>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    immutable: bool,
}

impl Plain {
    /// A new secret from the create form, built and checked as a create is.
    fn from_form(ns: &str, req: &CreateSecretRequest) -> Result<Plain, GitopsError> {
        check_path(ns, None)?;
        rules::check_name(&req.name).map_err(|m| SecretsError::invalid("name", m))?;
        check_metadata(&req.labels, &req.annotations)?;
        let (type_, data) = build(&req.input)?;
        if data.len() > MAX_FORM_KEYS {
            return Err(SecretsError::invalid(
                "data",
                format!("seal or export at most {MAX_FORM_KEYS} keys at once"),
            ));
        }
        Ok(Plain {
            annotations: without_copies(req.annotations.clone(), &data),
            type_,
            data,
            labels: req.labels.clone(),
            immutable: req.immutable,
        })
    }

    /// An existing secret, without the annotations that copy values.
    fn from_secret(secret: Secret) -> Plain {
        let meta = secret.metadata;
        let mut annotations = meta.annotations.unwrap_or_default();
        annotations.retain(|k, _| !HIDDEN_ANNOTATIONS.contains(&k.as_str()));
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        Plain {
            type_: secret.type_.unwrap_or_else(|| "Opaque".into()),
            annotations: without_copies(annotations, &data),
            data,
            labels: meta.labels.unwrap_or_default(),
            immutable: secret.immutable.unwrap_or(false),
        }
    }

    fn keys(&self) -> Vec<String> {
        self.data.keys().cloned().collect()
    }

    fn fingerprints(&self, scope: &AuditScope) -> Vec<Fingerprint> {
        scope.fingerprint_all(self.data.iter().map(|(k, v)| (k, v.as_slice())))
    }

    fn parts<'a>(&'a self, ns: &'a str, name: &'a str) -> SecretParts<'a> {
        SecretParts {
            namespace: ns,
            name,
            type_: &self.type_,
            data: &self.data,
            labels: &self.labels,
            annotations: &self.annotations,
            immutable: self.immutable,
        }
    }
}

/// `annotations` without those that may carry a value: the known copies of
/// the whole object, and any whose text holds a value (of 4 bytes or more)
/// or its base64. Metadata stays readable in Git, so it must hold none.
fn without_copies(
    mut annotations: BTreeMap<String, String>,
    data: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let needles: Vec<(Vec<u8>, String)> = data
        .values()
        .filter(|v| v.len() >= 4)
        .map(|v| (v.clone(), b64.encode(v)))
        .collect();
    annotations.retain(|k, v| {
        !OBJECT_COPY_ANNOTATIONS.contains(&k.as_str())
            && !needles.iter().any(|(raw, encoded)| {
                v.contains(encoded.as_str())
                    || v.as_bytes().windows(raw.len()).any(|w| w == raw.as_slice())
            })
    });
    annotations
}

/// Sealing and SOPS encryption take CPU (an RSA operation per key): they
/// run off the async workers.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GitopsError> + Send + 'static,
) -> Result<T, GitopsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SecretsError::Internal(format!("encryption task failed: {e}")))?
}

/// A seal or export from the form writes a record in `ns`: only someone who
/// works with secrets there (may list them) may put one into its trail.
async fn may_work_in(kube: &UserKube, ns: &str) -> Result<(), GitopsError> {
    let user = kube.user().username.clone();
    let allowed = kube
        .can_i("list", "secrets", ns)
        .await
        .map_err(|e| KubeFailure::new(e, &user, "check access to", "secrets", Some(ns)))?;
    if allowed {
        Ok(())
    } else {
        Err(KubeFailure::new(KubeError::forbidden(), &user, "list", "secrets", Some(ns)).into())
    }
}

/// What a record says of a disclosure: where the values went, so a seal to
/// a certificate the person holds is told from one to the controller; with
/// the person's own reason first, when they gave one.
fn disclosure(reason: Option<&str>, what: String) -> Option<String> {
    Some(match reason {
        Some(r) => format!("{r} [{what}]"),
        None => what,
    })
}

/// The controller's sealing certificate, fetched as the handle's user
/// through the API server's service proxy, and checked.
pub async fn certificate(
    kube: &UserKube,
    controller: &Controller,
) -> Result<SealingCertificate, GitopsError> {
    Ok(sealing_key(kube, controller, None).await?.info)
}

/// The key to seal to: the pasted certificate when there is one, else the
/// controller's.
async fn sealing_key(
    kube: &UserKube,
    controller: &Controller,
    pasted: Option<&str>,
) -> Result<sealed::SealingKey, GitopsError> {
    if let Some(pem) = pasted.filter(|p| !p.trim().is_empty()) {
        return sealed::sealing_key(pem, "pasted", Utc::now());
    }
    let pem = kube
        .sealing_certificate(controller)
        .await
        .map_err(|e| controller_error(e, kube, controller))?;
    sealed::sealing_key(&pem, &format!("controller {controller}"), Utc::now())
}

/// What a failed certificate fetch tells the person: who refused what, or
/// that the controller is not where it is expected, and what to do.
fn controller_error(e: KubeError, kube: &UserKube, controller: &Controller) -> GitopsError {
    let paste = "or paste its certificate (kubeseal --fetch-cert prints it)";
    match &e {
        KubeError::Api { code: 403, .. } => KubeFailure::new(
            e,
            &kube.user().username,
            "get",
            format!(
                "services/proxy {} (the sealed-secrets controller's certificate)",
                controller.service
            ),
            Some(&controller.namespace),
        )
        .into(),
        KubeError::Api { code: 404, .. } => SecretsError::Unavailable(format!(
            "The sealed-secrets controller's Service {controller} was not found; ask your platform team where the controller runs, {paste}."
        )),
        KubeError::Api {
            code: 503, message, ..
        } if message.contains("no endpoints") => SecretsError::Unavailable(format!(
            "The sealed-secrets controller {controller} is not running (its Service has no endpoints, or there is no such Service); ask your platform team, {paste}."
        )),
        KubeError::Api { code, .. } => SecretsError::Unavailable(format!(
            "The sealed-secrets controller {controller} did not answer through the API server ({code}); ask your platform team, {paste}."
        )),
        other => SecretsError::Unavailable(format!(
            "The sealed-secrets controller {controller} could not be reached ({other}); ask your platform team, {paste}."
        )),
    }
}

/// The YAML of a SealedSecret, to download or commit.
fn to_yaml(v: &serde_json::Value) -> Result<String, GitopsError> {
    Ok(yaml::to_string(&yaml::Node::from_json(v)))
}

/// Seals a secret from the create form; with `create`, also creates the
/// SealedSecret in `ns` as the handle's user (a change, audited; nothing
/// is sent when it could not be recorded). Charged one unit of the
/// person's reveal rate.
pub async fn seal_new(
    kube: &UserKube,
    mut scope: AuditScope,
    policy: RevealPolicy<'_>,
    sealing: &Sealing,
    ns: &str,
    req: &SealNewRequest,
) -> Result<Audited<Sealed>, GitopsError> {
    sealing.check_scope(req.scope)?;
    let plain = Plain::from_form(ns, &req.secret)?;
    let name = req.secret.name.clone();
    let key = sealing_key(kube, &sealing.controller, req.certificate.as_deref()).await?;
    may_work_in(kube, ns).await?;
    scope.set_keys(plain.keys());
    scope.set_reason(disclosure(
        None,
        format!(
            "sealed from the form, {} scope, to the {} certificate SHA-256 {}{}",
            req.scope.as_str(),
            key.info.source,
            key.info.fingerprint,
            if req.create {
                ", SealedSecret create asked"
            } else {
                ""
            }
        ),
    ));
    let reason = scope.reason().map(String::from);
    // Values from the form: no secret's guard applies, only the rate.
    let policy = RevealPolicy {
        reason_required: false,
        gate: None,
        ..policy
    };
    let (mut scope, _open) = admit(scope, policy, ns, None, 1).await?;
    scope.set_reason(reason);
    let fingerprints = plain.fingerprints(&scope);
    let keys = plain.keys();
    let object = {
        let (key, sealed_scope, ns, name) = (key.clone(), req.scope, ns.to_string(), name.clone());
        off_the_runtime(move || sealed::sealed_secret(&key, sealed_scope, &plain.parts(&ns, &name)))
            .await?
    };
    let yaml = to_yaml(&object)?;
    let answer = |audit_id: &str, created: bool| Sealed {
        yaml: yaml.clone(),
        scope: req.scope,
        keys: keys.clone(),
        certificate: key.info.clone(),
        created,
        audit_id: audit_id.to_string(),
    };
    if !req.create {
        let receipt = scope
            .record(Outcome::Allowed, Some(200), fingerprints)
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        let sealed = answer(receipt.id(), false);
        return Ok(Audited::new(receipt, sealed));
    }
    let (audit_id, kube, user) = begin_change(kube, &scope).await?;
    let result = kube
        .create_object("bitnami.com/v1alpha1", "sealedsecrets", ns, &object)
        .await;
    let recorded = record_change(scope, &result, 201, fingerprints).await;
    let result = result.map_err(|e| match e {
        KubeError::Api { code: 404, .. } => SecretsError::NotFound(
            "The SealedSecret resource (sealedsecrets.bitnami.com) is not installed in this cluster; nothing was created. Download the YAML and commit it instead.".into(),
        ),
        e => KubeFailure::new(e, &user, "create", format!("sealedsecret {name}"), Some(ns)).into(),
    });
    let (receipt, _) = settle_sealed(recorded, result, &name, &audit_id)?;
    tracing::info!(audit.id = %audit_id, user.name = %user, secret.namespace = %ns, secret.name = %name, "sealed secret created");
    let sealed = answer(&audit_id, true);
    Ok(Audited::new(receipt, sealed))
}

/// [`settle`] for a SealedSecret create, whose failure may already be a
/// [`SecretsError`] (the CRD is missing).
fn settle_sealed(
    recorded: Result<Option<crate::domain::audit::Receipt>, crate::domain::audit::AuditError>,
    result: Result<serde_json::Value, SecretsError>,
    name: &str,
    audit_id: &str,
) -> Result<(crate::domain::audit::Receipt, serde_json::Value), GitopsError> {
    match result {
        Ok(v) => settle(
            recorded,
            Ok::<_, KubeFailure>(v),
            || format!("SealedSecret {name} was created"),
            audit_id,
        ),
        Err(SecretsError::Kube(f)) => settle(
            recorded,
            Err::<serde_json::Value, _>(*f),
            || format!("SealedSecret {name} was created"),
            audit_id,
        ),
        Err(e) => {
            // A refusal Kubernetes answered (the resource does not exist):
            // nothing was created; its record's fate decides the answer.
            recorded.map_err(SecretsError::AuditUnavailable)?;
            Err(e)
        }
    }
}

/// Reads `ns/name` for a seal or an export (`what`): the reveal rules and
/// the namespace's guards, then the user's own `get` (a refusal is
/// recorded); in a `notify` namespace the announcement is delivered first.
#[allow(clippy::too_many_arguments)]
async fn read_existing<'a>(
    kube: &UserKube,
    mut scope: AuditScope,
    policy: RevealPolicy<'a>,
    ns: &str,
    name: &str,
    reason: Option<String>,
    what: &str,
) -> Result<(Plain, AuditScope, Admission<'a>), GitopsError> {
    check_path(ns, Some(name))?;
    scope.set_keys(Vec::new());
    let (scope, mut admission) = admit(scope, policy, ns, reason, 1).await?;
    let kube = kube.with_audit_id(scope.id());
    let (secret, mut scope) = get_or_record(&kube, scope, ns, name).await?;
    let uid = secret.metadata.uid.clone();
    let plain = Plain::from_secret(secret);
    scope.set_keys(plain.keys());
    let scope = admission
        .cover(scope, &plain.keys(), uid.as_deref())
        .await?;
    // Every key disclosed counts, as for "Reveal all" (one was charged).
    if let Some(limit) = policy.limit
        && plain.data.len() > 1
        && let Err(over) = limit
            .take(
                &kube.user().username,
                u32::try_from(plain.data.len() - 1).unwrap_or(u32::MAX),
            )
            .await
    {
        return Err(rate_limited(scope, limit, over).await);
    }
    let scope = admission.announce_first(scope, what).await?;
    Ok((plain, scope, admission))
}

/// Seals the existing secret `ns/name` for Git. Recorded like a reveal
/// (action `seal`, the values' fingerprints, where they went) before the
/// answer, under the reveal rules; each key counts against the rate.
pub async fn seal_existing(
    kube: &UserKube,
    scope: AuditScope,
    policy: RevealPolicy<'_>,
    sealing: &Sealing,
    ns: &str,
    name: &str,
    req: &SealRequest,
) -> Result<Audited<Sealed>, GitopsError> {
    check_path(ns, Some(name))?;
    if req.create {
        return Err(SecretsError::invalid(
            "create",
            "an existing secret is sealed for Git only: commit the SealedSecret, and the controller takes the secret over once it is annotated sealedsecrets.bitnami.com/managed=true",
        ));
    }
    sealing.check_scope(req.scope)?;
    // The key first: a wrong certificate costs no read and no record.
    let key = sealing_key(kube, &sealing.controller, req.certificate.as_deref()).await?;
    let (plain, mut scope, admission) =
        read_existing(kube, scope, policy, ns, name, req.reason.clone(), "seal").await?;
    let what = format!(
        "sealed for Git, {} scope, to the {} certificate SHA-256 {}",
        req.scope.as_str(),
        key.info.source,
        key.info.fingerprint
    );
    let reason = disclosure(scope.reason(), what);
    scope.set_reason(reason);
    let fingerprints = plain.fingerprints(&scope);
    let keys = plain.keys();
    let object = {
        let (key, sealed_scope, ns, name) =
            (key.clone(), req.scope, ns.to_string(), name.to_string());
        off_the_runtime(move || sealed::sealed_secret(&key, sealed_scope, &plain.parts(&ns, &name)))
            .await?
    };
    let yaml = to_yaml(&object)?;
    let event = admission.event(&scope, "seal");
    let receipt = scope
        .record(Outcome::Allowed, Some(200), fingerprints)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    admission.announce_after(&receipt, event);
    let sealed = Sealed {
        yaml,
        scope: req.scope,
        keys,
        certificate: key.info,
        created: false,
        audit_id: receipt.id().to_string(),
    };
    Ok(Audited::new(receipt, sealed))
}

/// Exports a secret from the create form for SOPS. Charged one unit of the
/// person's reveal rate; the record names the recipients.
pub async fn export_new(
    kube: &UserKube,
    mut scope: AuditScope,
    policy: RevealPolicy<'_>,
    ns: &str,
    req: &SopsNewRequest,
) -> Result<Audited<Exported>, GitopsError> {
    let recipients = sops::recipients(&req.recipients)?;
    let plain = Plain::from_form(ns, &req.secret)?;
    may_work_in(kube, ns).await?;
    scope.set_keys(plain.keys());
    let policy = RevealPolicy {
        reason_required: false,
        gate: None,
        ..policy
    };
    let (scope, _open) = admit(scope, policy, ns, None, 1).await?;
    export(
        scope,
        plain,
        recipients,
        "exported from the form",
        ns,
        &req.secret.name,
        &Admission::open(),
    )
    .await
}

/// Exports the existing secret `ns/name` for SOPS. Recorded like a reveal
/// (action `export`, the values' fingerprints, the recipients) before the
/// answer, under the reveal rules; each key counts against the rate.
pub async fn export_existing(
    kube: &UserKube,
    scope: AuditScope,
    policy: RevealPolicy<'_>,
    ns: &str,
    name: &str,
    req: &SopsRequest,
) -> Result<Audited<Exported>, GitopsError> {
    check_path(ns, Some(name))?;
    // Recipients first: a typo costs no read and no record.
    let recipients = sops::recipients(&req.recipients)?;
    let (plain, scope, admission) =
        read_existing(kube, scope, policy, ns, name, req.reason.clone(), "export").await?;
    export(scope, plain, recipients, "exported", ns, name, &admission).await
}

/// The end of an export: the record (fingerprints, the person's reason and
/// the recipients), committed before the answer; the encryption off the
/// runtime.
async fn export(
    mut scope: AuditScope,
    plain: Plain,
    recipients: Vec<age::x25519::Recipient>,
    how: &str,
    ns: &str,
    name: &str,
    admission: &Admission<'_>,
) -> Result<Audited<Exported>, GitopsError> {
    let named: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
    let reason = disclosure(
        scope.reason(),
        format!("{how} for SOPS to age recipients {}", named.join(", ")),
    );
    scope.set_reason(reason);
    let fingerprints = plain.fingerprints(&scope);
    let keys = plain.keys();
    let yaml = {
        let (ns, name) = (ns.to_string(), name.to_string());
        off_the_runtime(move || sops::encrypt(&plain.parts(&ns, &name), &recipients, Utc::now()))
            .await?
    };
    let event = admission.event(&scope, "export");
    let receipt = scope
        .record(Outcome::Allowed, Some(200), fingerprints)
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    admission.announce_after(&receipt, event);
    let exported = Exported {
        yaml,
        recipients: named,
        keys,
        audit_id: receipt.id().to_string(),
    };
    Ok(Audited::new(receipt, exported))
}

/// Where the kinds of owner Strongroom can read live (plural).
fn plural(kind: OwnerKind) -> Option<&'static str> {
    match kind {
        OwnerKind::SealedSecret => Some("sealedsecrets"),
        OwnerKind::ExternalSecret => Some("externalsecrets"),
        _ => None,
    }
}

/// The object the secret `ns/name` comes from, read as the handle's user:
/// its status conditions and a few public facts; never a value (a
/// SealedSecret's ciphertext is not shown either, only its key names).
pub async fn source(kube: &UserKube, ns: &str, name: &str) -> Result<SourceObject, GitopsError> {
    let detail = crate::domain::secrets::list::detail(kube, ns, name).await?;
    let Some(owner) = detail.owner else {
        return Err(SecretsError::NotFound(format!(
            "Nothing manages the secret {name}: it has no controller, release or source object."
        )));
    };
    let unreadable = |note: String| SourceObject {
        owner: owner.clone(),
        readable: false,
        conditions: vec![],
        facts: vec![],
        note: Some(note),
    };
    let (Some(plural), Some(api_version)) = (plural(owner.kind), owner.api_version.clone()) else {
        return Ok(unreadable(format!(
            "Strongroom does not read {} objects; look it up with your usual tools.",
            owner.label()
        )));
    };
    let object = match kube.get_object(&api_version, plural, ns, &owner.name).await {
        Ok(object) => object,
        Err(KubeError::Api { code: 403, .. }) => {
            return Ok(unreadable(format!(
                "You may not read the {} (get {plural} in {ns}).",
                owner.label()
            )));
        }
        Err(KubeError::Api { code: 404, .. }) => {
            return Ok(unreadable(format!(
                "The {} no longer exists (or its resource is not installed).",
                owner.label()
            )));
        }
        Err(e) => {
            return Err(
                KubeFailure::new(e, &kube.user().username, "get", owner.label(), Some(ns)).into(),
            );
        }
    };
    let text = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => s.chars().take(200).collect(),
            other => other.to_string().chars().take(200).collect(),
        }
    };
    let conditions = object["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .take(20)
                .map(|c| {
                    let message = text(&c["message"]);
                    format!(
                        "{}={}{}",
                        text(&c["type"]),
                        text(&c["status"]),
                        if message.is_empty() || message == "null" {
                            String::new()
                        } else {
                            format!(": {message}")
                        }
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut facts = Vec::new();
    match owner.kind {
        OwnerKind::SealedSecret => {
            let annotations = &object["metadata"]["annotations"];
            let scope = if annotations[sealed::CLUSTER_WIDE] == "true" {
                "cluster-wide"
            } else if annotations[sealed::NAMESPACE_WIDE] == "true" {
                "namespace-wide"
            } else {
                "strict"
            };
            facts.push(("scope".to_string(), scope.to_string()));
            let keys: Vec<&str> = object["spec"]["encryptedData"]
                .as_object()
                .map(|m| m.keys().take(100).map(String::as_str).collect())
                .unwrap_or_default();
            facts.push(("sealed keys".to_string(), keys.join(", ")));
        }
        OwnerKind::ExternalSecret => {
            let spec = &object["spec"];
            facts.push((
                "store".to_string(),
                format!(
                    "{} {}",
                    text(&spec["secretStoreRef"]["kind"]),
                    text(&spec["secretStoreRef"]["name"])
                ),
            ));
            facts.push((
                "refresh interval".to_string(),
                text(&spec["refreshInterval"]),
            ));
        }
        _ => {}
    }
    Ok(SourceObject {
        owner,
        readable: true,
        conditions,
        facts,
        note: None,
    })
}
