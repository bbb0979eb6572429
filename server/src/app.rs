//! The composition root: the one place that reads the raw configuration
//! and builds every part ([`AppState`] for the edge, the domain's stores and
//! settings, the infrastructure's connections) from it.

use std::{path::PathBuf, sync::Arc};

use leptos::prelude::LeptosOptions;

use crate::{
    config::{ConfigError, ServeArgs, secret_setting},
    domain::{
        audit::{
            AuditSettings, AuditStore, ChainKey,
            store::{AuditKeys, forget_legacy_fingerprint_key, take_legacy_fingerprint_key},
        },
        auth::{identity::IdentityMapping, oidc::Oidc, session::Store},
        guard::{
            GuardPolicy, GuardSettings,
            approval::Approvals,
            notify::{Notifier, WebhookSettings},
        },
        secrets::limit::RevealLimit,
    },
    infra::{
        cluster::{KubeAccess, KubeError, ReadRetry},
        db::Db,
    },
    web::{AppState, Inner},
};

/// Errors while starting up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Audit(#[from] crate::domain::audit::AuditError),
}

impl AppState {
    /// Builds the state from validated configuration. Touches the database
    /// (migrations) but neither the IdP nor the API server, so Strongroom
    /// starts while they are down and serves clear errors until they return.
    pub async fn build(config: ServeArgs) -> Result<Self, StartError> {
        config.validate()?;
        let issuer = config
            .oidc_issuer
            .clone()
            .ok_or(ConfigError::Missing("STRONGROOM_OIDC_ISSUER"))?;
        let client_secret = secret_setting(
            "STRONGROOM_OIDC_CLIENT_SECRET",
            &config.oidc_client_secret,
            &config.oidc_client_secret_file,
        )?;
        let db = Db::connect(&config.database_url()?).await?;
        let store = Store::new(&db, config.session_cache).await?;
        store.spawn_expiry_sweeper();
        let sessions = store
            .clone()
            .layer(config.cookie_secure, config.session_idle_timeout);
        let kube = KubeAccess::connect(config.kubeconfig.as_deref(), config.kube_timeout)
            .await?
            .with_read_retry(ReadRetry {
                attempts: config.kube_read_retries,
                max_wait: config.kube_retry_max_wait,
            });
        let oidc_origin = issuer.origin().ascii_serialization();
        let oidc = Oidc::new(
            issuer,
            config.oidc_client_id.clone(),
            client_secret,
            config.redirect_url(),
            config.public_url.clone(),
            &config.oidc_scopes,
        )?;
        let identity = IdentityMapping {
            username_claim: config.username_claim.clone(),
            username_prefix: config.username_prefix.clone(),
            groups_claim: config.groups_claim.clone(),
            groups_prefix: config.groups_prefix.clone(),
            required_claims: config.oidc_required_claims.clone(),
        };
        let audit = AuditStore::open(
            db.clone(),
            AuditSettings {
                database: config.audit_sinks.iter().any(|s| s == "database"),
                stdout: config.audit_sinks.iter().any(|s| s == "stdout"),
                database_required: config.audit_required.iter().any(|s| s == "database"),
                stdout_required: config.audit_required.iter().any(|s| s == "stdout"),
                timeout: config.audit_timeout,
                cluster: config.cluster_name.clone(),
            },
            audit_keys(&config, &db).await?,
        )
        .await?;
        audit.check_key_matches().await?;
        let leptos = leptos_options(config.site_root.clone());
        // Replicas share PostgreSQL, and so the reveal count; one replica on
        // SQLite counts in memory (no disk write per reveal).
        let reveal_limit = match (config.reveal_rate_limit.0, &db) {
            (None, _) => None,
            (Some(rate), Db::Postgres(_)) => {
                RevealLimit::shared(rate.count, rate.period, db.clone()).await?
            }
            (Some(rate), Db::Sqlite(_)) => RevealLimit::in_memory(rate.count, rate.period),
        };
        let config_warning_days = config.cert_expiry_warning_days();
        let sealing = crate::domain::gitops::Sealing {
            controller: config.sealing_controller(),
            scopes: config.sealing_scopes()?,
        };
        let webhook_secret = secret_setting(
            "STRONGROOM_WEBHOOK_SECRET",
            &config.webhook_secret,
            &config.webhook_secret_file,
        )?;
        let notifier = webhooks(&config, webhook_secret)?;
        let guards = GuardPolicy::parse(
            &config.namespace_guards,
            &config.reveal_reason_namespaces,
            GuardSettings {
                step_up_max_age: config.step_up_max_age,
                approver_groups: config.approver_groups.clone(),
                window: config.approval_window,
                max_window: config.approval_max_window,
                request_ttl: config.access_request_ttl,
                webhooks: !config.webhook_urls.is_empty(),
            },
        )
        .map_err(|reason| ConfigError::Invalid {
            name: "STRONGROOM_NAMESPACE_GUARDS",
            reason,
        })?;
        let approvals = Approvals::open(db.clone()).await?;
        let rotation = crate::domain::secrets::age::RotationPolicy::parse(&config.rotate_every)
            .map_err(|reason| ConfigError::Invalid {
                name: "STRONGROOM_ROTATE_EVERY",
                reason,
            })?;
        Ok(AppState(Arc::new(Inner {
            rotation,
            may_get: Default::default(),
            workable: Default::default(),
            origin: config.origin(),
            oidc_origin,
            config,
            leptos,
            kube,
            oidc,
            identity_rules: identity.fingerprint(),
            identity,
            db,
            sessions,
            session_store: store,
            audit,
            reveal_limit,
            cert_scans: crate::domain::secrets::certs::scan::ScanCache::default()
                .with_warning_days(config_warning_days),
            sealing,
            guards,
            approvals,
            notifier,
        })))
    }
}

/// The webhooks' notifier: every URL http(s) and a signing key of at least
/// 16 bytes, or none configured at all.
fn webhooks(config: &ServeArgs, secret: Option<String>) -> Result<Notifier, StartError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "STRONGROOM_WEBHOOK_URLS",
        reason,
    };
    let mut urls = Vec::new();
    // A webhook URL can hold a token (Slack's do): errors name its
    // position, never its text.
    for (i, raw) in config
        .webhook_urls
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .enumerate()
    {
        let url = url::Url::parse(raw)
            .map_err(|e| invalid(format!("URL {} is not a URL: {e}", i + 1)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid(format!("URL {} is not an http(s) URL", i + 1)).into());
        }
        urls.push(url);
    }
    if urls.is_empty() {
        return Ok(Notifier::disabled());
    }
    let secret = secret.ok_or(ConfigError::Missing("STRONGROOM_WEBHOOK_SECRET_FILE"))?;
    if secret.len() < 16 {
        return Err(ConfigError::Invalid {
            name: "STRONGROOM_WEBHOOK_SECRET",
            reason: "use at least 16 bytes (32 random bytes, hex-encoded, say)".into(),
        }
        .into());
    }
    Ok(Notifier::start(WebhookSettings {
        urls,
        secret: secret.into_bytes(),
        timeout: config.webhook_timeout,
        attempts: config.webhook_attempts,
    })?)
}

/// Leptos options for serving the built site.
fn leptos_options(site_root: Option<PathBuf>) -> LeptosOptions {
    let site_root = site_root.unwrap_or_else(|| {
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("site")))
            .filter(|d| d.is_dir());
        beside_binary.unwrap_or_else(|| PathBuf::from("target/site"))
    });
    // cargo-leptos writes the hashes of the built files next to the server
    // binary; without that file (a test binary, say) the plain names serve.
    let hashed = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("hash.txt")))
        .is_some_and(|p| p.is_file());
    LeptosOptions::builder()
        .output_name("strongroom")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .hash_files(hashed)
        .build()
}

/// Opens the configured audit trail read-mostly, for `audit verify`.
pub async fn audit_store_for_verify(config: &ServeArgs) -> Result<AuditStore, StartError> {
    let db = Db::connect(&config.database_url()?).await?;
    let settings = AuditSettings {
        database: true,
        stdout: false,
        database_required: true,
        stdout_required: false,
        timeout: config.audit_timeout,
        cluster: config.cluster_name.clone(),
    };
    let keys = audit_keys(config, &db).await?;
    Ok(AuditStore::open(db, settings, keys).await?)
}

/// The audit trail's keys, from configuration, else (one replica on SQLite)
/// from `DATA_DIR/audit.keys`, created on first start. Never from the
/// database: a fingerprint key an older version kept there moves to the
/// file (so fingerprints stay comparable) and is deleted from the database.
async fn audit_keys(config: &ServeArgs, db: &Db) -> Result<AuditKeys, StartError> {
    let fingerprint = secret_setting(
        "STRONGROOM_AUDIT_HMAC_KEY",
        &config.audit_hmac_key,
        &config.audit_hmac_key_file,
    )?
    .map(String::into_bytes);
    let chain = secret_setting(
        "STRONGROOM_AUDIT_CHAIN_KEY",
        &config.audit_chain_key,
        &config.audit_chain_key_file,
    )?
    .map(String::into_bytes);
    if fingerprint.is_some() && fingerprint == chain {
        return Err(ConfigError::Invalid {
            name: "STRONGROOM_AUDIT_CHAIN_KEY",
            reason: "must differ from the fingerprint key".into(),
        }
        .into());
    }
    if let (Some(fingerprint), Some(chain)) = (&fingerprint, &chain) {
        // A key an older version kept in the database goes: the configured
        // one replaces it.
        forget_legacy_fingerprint_key(db).await?;
        return Ok(AuditKeys {
            fingerprint: fingerprint.clone(),
            chain: ChainKey::new(chain.clone()),
        });
    }
    if matches!(db, Db::Postgres(_)) {
        // Replicas must share the keys, and the database is no place for them.
        let missing = if chain.is_none() {
            "STRONGROOM_AUDIT_CHAIN_KEY_FILE"
        } else {
            "STRONGROOM_AUDIT_HMAC_KEY_FILE"
        };
        return Err(ConfigError::Invalid {
            name: missing,
            reason: "with PostgreSQL the audit keys must be configured (every replica needs the same ones, and they must not live in the database)".into(),
        }
        .into());
    }
    let path = config.data_dir.join("audit.keys");
    let mut stored = KeyFile::read(&path)?;
    if stored.fingerprint.is_none() {
        stored.fingerprint = Some(match take_legacy_fingerprint_key(db).await? {
            Some(legacy) => hex::encode(legacy),
            None => random_key(),
        });
    }
    if stored.chain.is_none() {
        stored.chain = Some(random_key());
    }
    stored.write(&path)?;
    forget_legacy_fingerprint_key(db).await?;
    let decode = |k: &Option<String>| {
        hex::decode(k.as_deref().unwrap_or_default()).map_err(|_| ConfigError::Invalid {
            name: "STRONGROOM_DATA_DIR",
            reason: format!("{} does not hold hex keys", path.display()),
        })
    };
    Ok(AuditKeys {
        fingerprint: match fingerprint {
            Some(k) => k,
            None => decode(&stored.fingerprint)?,
        },
        chain: ChainKey::new(match chain {
            Some(k) => k,
            None => decode(&stored.chain)?,
        }),
    })
}

fn random_key() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    hex::encode(key)
}

/// `DATA_DIR/audit.keys`: the generated keys of a single SQLite replica.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct KeyFile {
    fingerprint: Option<String>,
    chain: Option<String>,
}

impl KeyFile {
    fn read(path: &std::path::Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|_| ConfigError::Invalid {
                name: "STRONGROOM_DATA_DIR",
                reason: format!("{} is not a key file", path.display()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::File {
                name: "STRONGROOM_DATA_DIR",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the file readable by its owner only, atomically.
    fn write(&self, path: &std::path::Path) -> Result<(), ConfigError> {
        use std::io::Write as _;
        let io = |source| ConfigError::File {
            name: "STRONGROOM_DATA_DIR",
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let partial = path.with_extension("keys.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(io)?;
        file.write_all(
            serde_json::to_string(self)
                .expect("keys serialize")
                .as_bytes(),
        )
        .and_then(|()| file.sync_all())
        .map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)
    }
}
