//! The composition root: the one place that reads the raw configuration
//! and builds every part ([`AppState`] for the edge, the domain's stores and
//! settings, the infrastructure's connections) from it.

use std::{path::PathBuf, sync::Arc};

use leptos::prelude::LeptosOptions;

use crate::{
    config::{ConfigError, ServeArgs, secret_setting},
    domain::{
        audit::{AuditSettings, AuditStore},
        auth::{identity::IdentityMapping, oidc::Oidc, session::Store},
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
        let store = Store::new(&db).await?;
        store.spawn_expiry_sweeper();
        let sessions = store.layer(config.cookie_secure, config.session_idle_timeout);
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
            secret_setting(
                "STRONGROOM_AUDIT_HMAC_KEY",
                &config.audit_hmac_key,
                &config.audit_hmac_key_file,
            )?,
        )
        .await?;
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
        Ok(AppState(Arc::new(Inner {
            origin: config.origin(),
            oidc_origin,
            config,
            leptos,
            kube,
            oidc,
            identity,
            db,
            sessions,
            audit,
            reveal_limit,
        })))
    }
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
    Ok(AuditStore::open(db, settings, None).await?)
}
