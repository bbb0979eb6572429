//! Configuration, read once at start-up from flags and `STRONGROOM_*`
//! environment variables (secrets also from `*_FILE` variables), and
//! validated with a clear error for anything missing or malformed.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use url::Url;

/// Strongroom: Kubernetes Secrets in the browser, as the signed-in user.
#[derive(Debug, Parser)]
#[command(name = "strongroom-server", version, about, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Work with the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write brotli and gzip copies beside the built site's files (a build
    /// step: `cargo leptos build --release` then this).
    Precompress {
        /// The site directory (`target/site`); defaults to `--site-root`.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the keyed hash chain of the audit trail (both ends included)
    /// and report the first broken link.
    Verify {
        /// Records up to this sequence number may have unkeyed links
        /// (written by a version before the chain was keyed).
        #[arg(long, default_value_t = 0)]
        unkeyed_until: i64,
        /// Heads published earlier (`SEQ:LINK` from `audit_anchor` log
        /// lines; repeat the flag): the chain must never have gone back below
        /// one, and must still hold each kept one's link.
        #[arg(long)]
        anchor: Vec<String>,
    },
}

/// Everything the server needs to run.
#[derive(Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STRONGROOM_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Address of a second listener that serves `/metrics` alone (for
    /// example `0.0.0.0:9090`); the main listener then answers `/metrics`
    /// with 404, so the public route never exposes it. Without it,
    /// `/metrics` is served on the main listener.
    #[arg(long, env = "STRONGROOM_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// The URL people use to reach Strongroom (scheme, host, port), without a
    /// path. The OIDC redirect URI and the `Origin` check derive from it.
    #[arg(
        long,
        env = "STRONGROOM_PUBLIC_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_url: Url,

    /// Folder with the built site (wasm, js, css). Defaults to `site` next to
    /// the binary, then `target/site`.
    #[arg(long, env = "STRONGROOM_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// OIDC issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    #[arg(long, env = "STRONGROOM_OIDC_ISSUER")]
    pub oidc_issuer: Option<Url>,

    /// OIDC client id.
    #[arg(long, env = "STRONGROOM_OIDC_CLIENT_ID", default_value = "strongroom")]
    pub oidc_client_id: String,

    /// OIDC client secret (prefer `STRONGROOM_OIDC_CLIENT_SECRET_FILE`).
    #[arg(long, env = "STRONGROOM_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,

    /// File holding the OIDC client secret.
    #[arg(long, env = "STRONGROOM_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// Scopes to request, space-separated (`openid` is always requested).
    #[arg(
        long,
        env = "STRONGROOM_OIDC_SCOPES",
        default_value = "openid profile email groups"
    )]
    pub oidc_scopes: String,

    /// ID token claim that becomes the Kubernetes username.
    #[arg(long, env = "STRONGROOM_USERNAME_CLAIM", default_value = "email")]
    pub username_claim: String,

    /// Prefix put before the username (like the API server's `--oidc-username-prefix`).
    #[arg(long, env = "STRONGROOM_USERNAME_PREFIX", default_value = "oidc:")]
    pub username_prefix: String,

    /// ID token claim that holds the user's groups.
    #[arg(long, env = "STRONGROOM_GROUPS_CLAIM", default_value = "groups")]
    pub groups_claim: String,

    /// Prefix put before each group (like `--oidc-groups-prefix`).
    #[arg(long, env = "STRONGROOM_GROUPS_PREFIX", default_value = "oidc:")]
    pub groups_prefix: String,

    /// Claims an ID token must carry to sign in, as `CLAIM=VALUE`,
    /// comma-separated (like the API server's `--oidc-required-claim`): a
    /// string claim must equal the value, a list claim must contain it. For
    /// example `hd=example.com` admits only one Google Workspace domain.
    #[arg(long, env = "STRONGROOM_OIDC_REQUIRED_CLAIMS", value_delimiter = ',')]
    pub oidc_required_claims: Vec<crate::domain::auth::identity::RequiredClaim>,

    /// Kubeconfig of the backend's own identity. Without it the in-cluster
    /// service account is used.
    #[arg(long, env = "STRONGROOM_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Namespaces offered in the namespace picker, comma-separated. Without
    /// it, the namespaces the user may list are used.
    #[arg(long, env = "STRONGROOM_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// How long one answer to a name search reads the namespace's list
    /// before answering with what it found and how far it read (at least
    /// one page of 2,000 is always read; `continue` reads on).
    #[arg(long, env = "STRONGROOM_SEARCH_BUDGET", default_value = "800ms", value_parser = humantime::parse_duration)]
    pub search_budget: Duration,

    /// Timeout for each request to the Kubernetes API.
    #[arg(long, env = "STRONGROOM_KUBE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub kube_timeout: Duration,

    /// How many times a read is retried when the Kubernetes API answers
    /// 429 Too Many Requests (honouring its Retry-After). Writes are never
    /// retried. 0 turns retrying off.
    #[arg(long, env = "STRONGROOM_KUBE_READ_RETRIES", default_value_t = 3)]
    pub kube_read_retries: u32,

    /// The longest single wait before retrying a read. When the API server
    /// asks for longer, the person is told at once (429 with its Retry-After).
    #[arg(long, env = "STRONGROOM_KUBE_RETRY_MAX_WAIT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub kube_retry_max_wait: Duration,

    /// Database for sessions and the audit trail: `sqlite://PATH` or `postgres://...`.
    /// Defaults to a SQLite file in the data directory.
    #[arg(long, env = "STRONGROOM_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// File holding the database URL (it may contain a password).
    #[arg(long, env = "STRONGROOM_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,

    /// Directory for the default SQLite database.
    #[arg(long, env = "STRONGROOM_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Mark the session cookie `Secure` and use the `__Host-` prefix. Turn off
    /// only for plain-http local use.
    #[arg(long, env = "STRONGROOM_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// A session ends after this long without a request.
    #[arg(long, env = "STRONGROOM_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_idle_timeout: Duration,

    /// How long a replica remembers a session it read or wrote (in memory,
    /// sealed as in the database) before reading it from the database
    /// again. A sign-out on the same replica ends the session at once; on
    /// another replica, within this time. `0s`: every request reads the
    /// database. At most a minute.
    #[arg(long, env = "STRONGROOM_SESSION_CACHE", default_value = "3s", value_parser = humantime::parse_duration)]
    pub session_cache: Duration,

    /// A session ends this long after sign-in, however active.
    #[arg(long, env = "STRONGROOM_SESSION_MAX_LIFETIME", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_max_lifetime: Duration,

    /// How often a session's identity is checked again at the IdP (its
    /// userinfo endpoint; the refresh token when the access token expired):
    /// group changes apply, and a user the IdP refuses is signed out. `0s`
    /// turns it off. While the IdP is unreachable, sessions go on.
    #[arg(long, env = "STRONGROOM_IDENTITY_REVALIDATE_EVERY", default_value = "10m", value_parser = humantime::parse_duration)]
    pub identity_revalidate_every: Duration,

    /// Members of this group (as Kubernetes sees it, with prefix) may read the whole audit trail.
    #[arg(
        long,
        env = "STRONGROOM_AUDITORS_GROUP",
        default_value = "oidc:auditors"
    )]
    pub auditors_group: String,

    /// Key for the HMAC fingerprints of revealed values (prefer the `_FILE` variant).
    #[arg(long, env = "STRONGROOM_AUDIT_HMAC_KEY", hide_env_values = true)]
    pub audit_hmac_key: Option<String>,

    /// File holding the audit HMAC key.
    #[arg(long, env = "STRONGROOM_AUDIT_HMAC_KEY_FILE")]
    pub audit_hmac_key_file: Option<PathBuf>,

    /// Key of the audit chain's links (prefer the `_FILE` variant). Never
    /// stored in the database. Without it (and its file), a single replica
    /// on SQLite keeps a generated key in `STRONGROOM_DATA_DIR/audit.keys`;
    /// with PostgreSQL it is required, since replicas must share it.
    #[arg(long, env = "STRONGROOM_AUDIT_CHAIN_KEY", hide_env_values = true)]
    pub audit_chain_key: Option<String>,

    /// File holding the audit chain key.
    #[arg(long, env = "STRONGROOM_AUDIT_CHAIN_KEY_FILE")]
    pub audit_chain_key_file: Option<PathBuf>,

    /// How often the chain's head (newest seq and link) is written to
    /// stdout as an `audit_anchor` line, so a log outside the database holds
    /// anchors `audit verify --anchor` can check. `0s` turns it off.
    #[arg(long, env = "STRONGROOM_AUDIT_ANCHOR_EVERY", default_value = "5m", value_parser = humantime::parse_duration)]
    pub audit_anchor_every: Duration,

    /// Audit sinks to write to, comma-separated: `database`, `stdout`.
    #[arg(
        long,
        env = "STRONGROOM_AUDIT_SINKS",
        value_delimiter = ',',
        default_value = "database"
    )]
    pub audit_sinks: Vec<String>,

    /// Audit sinks that must accept a record before a value or change goes
    /// out; when none of these can write, the request is refused with 503.
    #[arg(
        long,
        env = "STRONGROOM_AUDIT_REQUIRED",
        value_delimiter = ',',
        default_value = "database"
    )]
    pub audit_required: Vec<String>,

    /// A sink that takes longer than this to write a record counts as failed.
    #[arg(long, env = "STRONGROOM_AUDIT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub audit_timeout: Duration,

    /// Audit records older than this are pruned by a background job, which
    /// records each pruning in the trail itself. `0s` keeps them forever.
    #[arg(long, env = "STRONGROOM_AUDIT_RETENTION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub audit_retention: Duration,

    /// Namespaces where a reveal needs a written reason (comma-separated).
    #[arg(
        long,
        env = "STRONGROOM_REVEAL_REASON_NAMESPACES",
        value_delimiter = ','
    )]
    pub reveal_reason_namespaces: Vec<String>,

    /// Guards per namespace beyond RBAC, comma-separated
    /// `NAMESPACE=GUARD+GUARD` entries (a trailing `*` matches a prefix):
    /// `reason`, `step-up` (a sign-in within `STRONGROOM_STEP_UP_MAX_AGE`),
    /// `approval` (a second person's approval), `notify` (the webhook
    /// announcement must be delivered before a value goes out), `none`.
    /// Example: `payments=step-up+approval,prod-*=step-up`.
    #[arg(long, env = "STRONGROOM_NAMESPACE_GUARDS", value_delimiter = ',')]
    pub namespace_guards: Vec<String>,

    /// How recent a sign-in a `step-up` namespace asks for before a value
    /// is revealed, sealed or exported (and before an approval there).
    #[arg(long, env = "STRONGROOM_STEP_UP_MAX_AGE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub step_up_max_age: Duration,

    /// Groups whose members may approve access requests (as Kubernetes
    /// sees them, with `STRONGROOM_GROUPS_PREFIX`), comma-separated. An
    /// approver must also be allowed to `get` the secret, and never
    /// approves their own request.
    #[arg(long, env = "STRONGROOM_APPROVER_GROUPS", value_delimiter = ',')]
    pub approver_groups: Vec<String>,

    /// How long an approval lasts when the request names no duration.
    #[arg(long, env = "STRONGROOM_APPROVAL_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub approval_window: Duration,

    /// The longest approval a request may ask for.
    #[arg(long, env = "STRONGROOM_APPROVAL_MAX_WINDOW", default_value = "1h", value_parser = humantime::parse_duration)]
    pub approval_max_window: Duration,

    /// How long an access request waits for a decision before it lapses.
    #[arg(long, env = "STRONGROOM_ACCESS_REQUEST_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub access_request_ttl: Duration,

    /// Webhooks (http or https URLs, comma-separated) that hear of access
    /// requests, decisions and disclosures in guarded namespaces.
    #[arg(
        long,
        env = "STRONGROOM_WEBHOOK_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_urls: Vec<String>,

    /// The key of the webhooks' HMAC signature (prefer the `_FILE` form).
    #[arg(long, env = "STRONGROOM_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// File holding the webhooks' signing key.
    #[arg(long, env = "STRONGROOM_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,

    /// One webhook delivery attempt gives up after this long.
    #[arg(long, env = "STRONGROOM_WEBHOOK_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// Attempts per delivery (retries back off, doubling).
    #[arg(long, env = "STRONGROOM_WEBHOOK_ATTEMPTS", default_value = "3")]
    pub webhook_attempts: u32,

    /// Rotation periods per namespace (`team-a=90d,team-b=30d`): secrets
    /// whose values are older are marked overdue. A secret's own
    /// `strongroom.dev/rotate-every` annotation wins.
    #[arg(long, env = "STRONGROOM_ROTATE_EVERY", value_delimiter = ',')]
    pub rotate_every: Vec<String>,

    /// Certificates in secrets that expire within this window are marked
    /// "expiring soon" (whole days, 1 day to 3650 days).
    #[arg(long, env = "STRONGROOM_CERT_EXPIRY_WARNING", default_value = "30d", value_parser = humantime::parse_duration)]
    pub cert_expiry_warning: Duration,

    /// The namespace of the sealed-secrets controller whose certificate
    /// "Seal for Git" fetches (as the signed-in user, through the API
    /// server's service proxy).
    #[arg(
        long,
        env = "STRONGROOM_SEALING_CONTROLLER_NAMESPACE",
        default_value = "kube-system"
    )]
    pub sealing_controller_namespace: String,

    /// The sealed-secrets controller's Service.
    #[arg(
        long,
        env = "STRONGROOM_SEALING_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub sealing_controller_name: String,

    /// The Service's port (name or number) that serves `/v1/cert.pem`.
    #[arg(
        long,
        env = "STRONGROOM_SEALING_CONTROLLER_PORT",
        default_value = "http"
    )]
    pub sealing_controller_port: String,

    /// The SealedSecret scopes people may seal with (`strict`,
    /// `namespace-wide`, `cluster-wide`; comma-separated).
    #[arg(
        long,
        env = "STRONGROOM_SEALING_SCOPES",
        value_delimiter = ',',
        default_value = "strict,namespace-wide,cluster-wide"
    )]
    pub sealing_scopes: Vec<String>,

    /// A copied value is cleared from the browser's clipboard after this long.
    #[arg(long, env = "STRONGROOM_CLIPBOARD_CLEAR_AFTER", default_value = "30s", value_parser = humantime::parse_duration)]
    pub clipboard_clear_after: Duration,

    /// Revealed values are hidden again in the browser after this long.
    #[arg(long, env = "STRONGROOM_REVEAL_REHIDE_AFTER", default_value = "60s", value_parser = humantime::parse_duration)]
    pub reveal_rehide_after: Duration,

    /// The most reveals one user may make, as `COUNT/PERIOD` (`60/1m`,
    /// `500/1h`), or `off`. Reveals over the limit answer 429 with
    /// `Retry-After` and are recorded in the audit trail as denied.
    #[arg(long, env = "STRONGROOM_REVEAL_RATE_LIMIT", default_value = "60/1m", value_parser = parse_rate)]
    pub reveal_rate_limit: RateLimit,

    /// The most objects of each kind (Pods, Deployments, ...) read to find
    /// who uses a secret; the secret's page says "first N scanned" when a
    /// namespace has more. Lists are paged 500 at a time.
    #[arg(long, env = "STRONGROOM_USAGE_SCAN_LIMIT", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub usage_scan_limit: u32,

    /// Request bodies larger than this many bytes are refused with 413 from
    /// their `Content-Length`, or as soon as that many bytes have arrived,
    /// without reading the rest. A Secret holds at most 1 MiB, which is
    /// about 1.4 MB as base64 in JSON.
    #[arg(long, env = "STRONGROOM_MAX_REQUEST_BYTES", default_value_t = 3 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// An API request (reading its body included) that takes longer than
    /// this is answered 408. Request headers must arrive within 10 s.
    #[arg(long, env = "STRONGROOM_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Name of the cluster, recorded in audit records.
    #[arg(long, env = "STRONGROOM_CLUSTER_NAME", default_value = "default")]
    pub cluster_name: String,

    /// Proxies whose `X-Forwarded-For` is believed (IP addresses, comma-separated).
    #[arg(long, env = "STRONGROOM_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Log format: `text` or `json`.
    #[arg(long, env = "STRONGROOM_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("public_url", &self.public_url.as_str())
            .field("oidc_issuer", &self.oidc_issuer.as_ref().map(Url::as_str))
            .field("oidc_client_id", &self.oidc_client_id)
            .field("oidc_client_secret", &"[redacted]")
            .field("database_url", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A configuration problem found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting has no value.
    #[error("{0} is required: set it (or {0}_FILE) in the environment or as a flag")]
    Missing(&'static str),
    /// A `*_FILE` setting names a file that cannot be read.
    #[error("cannot read {name} from {path}: {source}")]
    File {
        name: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A setting has a value that cannot work.
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A secret setting from its variable or its `_FILE` variable (trailing
/// newline removed, as files written by editors and `kubectl` have one).
pub fn secret_setting(
    name: &'static str,
    value: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
            name,
            path: path.clone(),
            source,
        })?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(value.clone().filter(|v| !v.is_empty()))
}

impl ServeArgs {
    /// Checks what flag parsing cannot: relations between settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.public_url.path() != "/" || self.public_url.query().is_some() {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_PUBLIC_URL",
                reason: "give only scheme, host and port, without a path".into(),
            });
        }
        if self.cookie_secure
            && self.public_url.scheme() != "https"
            && !is_loopback(&self.public_url)
        {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_COOKIE_SECURE",
                reason: "secure cookies need an https STRONGROOM_PUBLIC_URL".into(),
            });
        }
        if self.session_idle_timeout.is_zero()
            || self.session_max_lifetime < self.session_idle_timeout
        {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_SESSION_MAX_LIFETIME",
                reason: "must be at least the idle timeout, and both above zero".into(),
            });
        }
        if self.session_cache > Duration::from_secs(60) {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_SESSION_CACHE",
                reason: "at most 1m: it is how long a sign-out may take to reach another replica"
                    .into(),
            });
        }
        for (name, prefix) in [
            ("STRONGROOM_USERNAME_PREFIX", &self.username_prefix),
            ("STRONGROOM_GROUPS_PREFIX", &self.groups_prefix),
        ] {
            if let Some(problem) = (!prefix.is_empty())
                .then(|| crate::infra::cluster::identity_value_problem(prefix))
                .flatten()
            {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("the prefix {problem}"),
                });
            }
        }
        for sink in self.audit_sinks.iter().chain(&self.audit_required) {
            if !matches!(sink.as_str(), "database" | "stdout") {
                return Err(ConfigError::Invalid {
                    name: "STRONGROOM_AUDIT_SINKS",
                    reason: format!("unknown sink {sink:?}; use database or stdout"),
                });
            }
        }
        if let Some(missing) = self
            .audit_required
            .iter()
            .find(|r| !self.audit_sinks.contains(r))
        {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_AUDIT_REQUIRED",
                reason: format!("{missing:?} is required but not in STRONGROOM_AUDIT_SINKS"),
            });
        }
        if self.audit_required.is_empty() {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_AUDIT_REQUIRED",
                reason: "at least one sink must be required: values never leave unaudited".into(),
            });
        }
        if !(1..=3650).contains(&(self.cert_expiry_warning.as_secs() / 86_400)) {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_CERT_EXPIRY_WARNING",
                reason: "give between 1 day and 3650 days (\"30d\")".into(),
            });
        }
        for (name, value) in [
            (
                "STRONGROOM_SEALING_CONTROLLER_NAMESPACE",
                &self.sealing_controller_namespace,
            ),
            (
                "STRONGROOM_SEALING_CONTROLLER_NAME",
                &self.sealing_controller_name,
            ),
            (
                "STRONGROOM_SEALING_CONTROLLER_PORT",
                &self.sealing_controller_port,
            ),
        ] {
            if strongroom_app::secrets::rules::check_name(value).is_err() {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("{value:?} is not a Kubernetes name"),
                });
            }
        }
        if self.metrics_listen == Some(self.listen) {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_METRICS_LISTEN",
                reason: "give another address than STRONGROOM_LISTEN".into(),
            });
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_LOG_FORMAT",
                reason: format!("expected text or json, got {:?}", self.log_format),
            });
        }
        Ok(())
    }

    /// Where the sealed-secrets controller serves its certificate.
    pub fn sealing_controller(&self) -> crate::infra::cluster::gitops::Controller {
        crate::infra::cluster::gitops::Controller {
            namespace: self.sealing_controller_namespace.clone(),
            service: self.sealing_controller_name.clone(),
            port: self.sealing_controller_port.clone(),
        }
    }

    /// The SealedSecret scopes people may seal with.
    pub fn sealing_scopes(
        &self,
    ) -> Result<Vec<strongroom_app::api::gitops::SealScope>, ConfigError> {
        let scopes = self
            .sealing_scopes
            .iter()
            .map(|s| {
                strongroom_app::api::gitops::SealScope::parse(s.trim()).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "STRONGROOM_SEALING_SCOPES",
                        reason: format!(
                            "{s:?} is not a scope (strict, namespace-wide, cluster-wide)"
                        ),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err(ConfigError::Invalid {
                name: "STRONGROOM_SEALING_SCOPES",
                reason: "allow at least one scope".into(),
            });
        }
        Ok(scopes)
    }

    /// The certificate warning window in whole days.
    pub fn cert_expiry_warning_days(&self) -> u32 {
        u32::try_from(self.cert_expiry_warning.as_secs() / 86_400).unwrap_or(u32::MAX)
    }

    /// The database URL: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        Ok(
            match secret_setting(
                "STRONGROOM_DATABASE_URL",
                &self.database_url,
                &self.database_url_file,
            )? {
                Some(url) => url,
                None => format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join("strongroom.db").display()
                ),
            },
        )
    }

    /// The redirect URI registered at the IdP.
    pub fn redirect_url(&self) -> Url {
        self.public_url
            .join("/auth/callback")
            .expect("a URL joined with an absolute path")
    }

    /// The `Origin` header value browsers send for this site.
    pub fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A rate: at most `count` events per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

/// A configured rate, or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit(pub Option<Rate>);

/// `COUNT/PERIOD` (`60/1m`) or `off`.
fn parse_rate(s: &str) -> Result<RateLimit, String> {
    parse_rate_inner(s).map(RateLimit)
}

fn parse_rate_inner(s: &str) -> Result<Option<Rate>, String> {
    if matches!(s.trim(), "off" | "0" | "none") {
        return Ok(None);
    }
    let (count, period) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: write COUNT/PERIOD, such as 60/1m, or off"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|e| format!("{s:?}: the count {count:?} is not a number: {e}"))?;
    let period = humantime::parse_duration(period.trim())
        .map_err(|e| format!("{s:?}: the period {period:?}: {e}"))?;
    // "0/1m" could mean "no reveals" as well as "no limit": refuse to guess.
    if count == 0 {
        return Err(format!("{s:?}: a count of 0; write off for no limit"));
    }
    if period < Duration::from_secs(1) || period > Duration::from_secs(366 * 24 * 3600) {
        return Err(format!("{s:?}: the period must be between 1s and a year"));
    }
    Ok(Some(Rate { count, period }))
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn rates_parse_and_off_disables() {
        assert_eq!(
            parse_rate("60/1m").unwrap().0,
            Some(Rate {
                count: 60,
                period: Duration::from_secs(60)
            })
        );
        assert_eq!(parse_rate("off").unwrap().0, None);
        assert!(parse_rate("60").unwrap_err().contains("COUNT/PERIOD"));
        assert!(parse_rate("x/1m").is_err());
        assert!(parse_rate("5/soon").is_err());
        assert!(parse_rate("0/1m").unwrap_err().contains("off"));
        assert!(parse_rate("5/1ms").is_err());
        assert!(parse_rate("5/1000y").is_err());
    }
}
