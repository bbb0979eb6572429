//! A namespace's expired and expiring certificates, for the list's badges
//! and the "expiring soon" page.
//!
//! Only a user who may `get` the namespace's secrets is shown anything (a
//! SelfSubjectAccessReview asked as the user, on every request, cached or
//! not): someone with `list` alone could read the values with kubectl, but
//! Strongroom shows certificate data only to those it would show a
//! secret's page to. The scan then lists the secrets as the user, values
//! included, page by page (pages sized to about [`PAGE_BYTES`] of values,
//! at most [`PAGE`] secrets each; at most [`MAX_SECRETS`] in all),
//! and parses `tls.crt` of TLS secrets and values that are PEM
//! certificates; the values never leave this module.
//!
//! Each scan is one audit record (action `inspect`, no secret name: the
//! namespace as a whole, the counts in its reason). Its result is cached
//! per user, groups and namespace for [`ScanCache`]'s time to live, so the
//! list page can ask on every view; a cached answer is the same scan and
//! carries that record's id, so it is not recorded again. A create, update
//! or delete made through Strongroom forgets the namespace's scans.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use strongroom_app::api::certs::{CertStatus, ExpiringCertificate, NamespaceCertificates};

use super::{
    MAX_WITHIN_DAYS,
    parse::{self, Clock, Selection},
};
use crate::{
    domain::{
        KubeFailure,
        audit::{AuditScope, Outcome},
        secrets::{SecretsError, check_path},
    },
    infra::cluster::{KubeError, UserKube},
};

/// Secrets asked for per page at most: a Secret is at most 1 MiB, so a
/// page stays within the largest answer read from the API server (64 MiB).
pub const PAGE: usize = 40;

/// Secrets asked for on the first page, before their sizes are known.
const FIRST_PAGE: usize = 8;

/// The bytes a page aims at: the next page asks for as many secrets as fit
/// at the mean size seen so far (values as base64, labels and annotations;
/// between 1 and [`PAGE`]), so
/// a namespace of small secrets is read in few requests and one of large
/// ones holds little in memory at a time.
const PAGE_BYTES: usize = 1 << 20;

/// How many secrets the next page asks for, after `secrets` secrets that
/// held `bytes` bytes of values.
fn next_page(secrets: usize, bytes: usize) -> usize {
    if secrets == 0 {
        return FIRST_PAGE;
    }
    let mean = (bytes / secrets).max(1);
    (PAGE_BYTES / mean).clamp(1, PAGE)
}

/// The most secrets one scan reads.
pub const MAX_SECRETS: usize = 5000;

/// The most certificates one scan keeps: beyond, the answer is partial.
pub const MAX_FOUND: usize = 10_000;

/// How many namespace scans run at once on this server (each holds a page
/// of secrets, values included, in memory).
const CONCURRENT_SCANS: usize = 2;

static SCANS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_SCANS);

/// One certificate a scan found: what the answer needs, nothing else.
#[derive(Clone, Debug)]
struct Found {
    secret: String,
    key: String,
    position: usize,
    subject: String,
    not_before: i64,
    not_after: i64,
}

/// What one scan of a namespace found.
#[derive(Debug)]
struct Scan {
    found: Vec<Found>,
    scanned_secrets: usize,
    truncated: bool,
    note: Option<String>,
    scanned_at: DateTime<Utc>,
    audit_id: String,
}

/// Recent scans, per user (name and groups) and namespace: bounded in size
/// and age, in memory.
pub struct ScanCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, Arc<Scan>)>>,
    /// Scans in flight, per key: who asks meanwhile waits for them.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The configured warning window, in days (for the metrics gauge).
    warning_days: std::sync::atomic::AtomicU32,
    /// Bumped by each `forget`: a scan that started before one is not kept.
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ScanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for ScanCache {
    /// 60 seconds, 256 scans.
    fn default() -> Self {
        Self::new(Duration::from_secs(60), 256)
    }
}

impl ScanCache {
    /// A cache that keeps at most `capacity` scans, each for `ttl`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            warning_days: std::sync::atomic::AtomicU32::new(30),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The same cache, counting the gauge with `days` as the warning window.
    pub fn with_warning_days(self, days: u32) -> Self {
        self.warning_days
            .store(days, std::sync::atomic::Ordering::Relaxed);
        self
    }

    fn warning_days(&self) -> u32 {
        self.warning_days.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The lock of `key`'s scan.
    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Forgets `key`'s flight lock once nobody holds or waits for it.
    fn land(&self, key: &str) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.get(key).is_some_and(|f| Arc::strong_count(f) == 1) {
            flights.remove(key);
        }
    }

    fn get(&self, key: &str) -> Option<Arc<Scan>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, scan)| scan.clone())
    }

    fn put(&self, key: String, scan: Arc<Scan>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        while entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => entries.remove(&k),
                None => break,
            };
        }
        entries.insert(key, (Instant::now(), scan));
    }

    /// Forgets every scan of `ns` (a secret there is being changed through
    /// Strongroom, so the next answer reads the namespace again).
    pub fn forget(&self, ns: &str) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let suffix = format!("\n{ns}");
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| !key.ends_with(&suffix));
    }

    /// How many scans are kept (for tests).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no scan is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The certificates of `ns` that expired or expire within `within_days`,
/// soonest first, as the handle's user. Refused (403, recorded as denied)
/// when the user may not `get` the namespace's secrets, or when Kubernetes
/// refuses the list.
pub async fn expiring(
    kube: &UserKube,
    mut scope: AuditScope,
    cache: &ScanCache,
    ns: &str,
    within_days: u32,
) -> Result<NamespaceCertificates, SecretsError> {
    check_path(ns, None)?;
    if !(1..=MAX_WITHIN_DAYS).contains(&within_days) {
        return Err(SecretsError::invalid(
            "within",
            format!("within must be between 1 and {MAX_WITHIN_DAYS} days"),
        ));
    }
    let user = kube.user().username.clone();
    let refused = |e: KubeError, verb| KubeFailure::new(e, &user, verb, "secrets", Some(ns));
    let may_get = match kube.can_i("get", "secrets", ns).await {
        Ok(may) => may,
        Err(e) => return Err(refused(e, "get").into()),
    };
    if !may_get {
        scope.set_reason(Some(
            "certificate scan refused: the user may not get secrets in this namespace".into(),
        ));
        scope
            .record_refusal(Outcome::Denied, Some(403))
            .await
            .map_err(SecretsError::AuditUnavailable)?;
        let forbidden = KubeError::forbidden();
        return Err(refused(forbidden, "get").into());
    }
    let groups = &kube.user().groups;
    let key = format!("{user}\n{}\n{ns}", groups.join("\n"));
    let scan = match cache.get(&key) {
        Some(scan) => scan,
        None => {
            // One scan per user and namespace at a time (the others wait
            // for its answer), and a bound on scans in the whole server.
            let flight = cache.flight(&key);
            let _one = flight.lock().await;
            match cache.get(&key) {
                Some(scan) => scan,
                None => {
                    let _permit = SCANS
                        .acquire()
                        .await
                        .expect("the scan semaphore is never closed");
                    let started = cache.generation();
                    let scan = Arc::new(scan_namespace(kube, scope, ns).await?);
                    // The gauge follows real scans, counted with the
                    // configured window (never a person's `within`).
                    let counted = answer(ns, &scan, cache.warning_days(), Utc::now());
                    let secrets: std::collections::BTreeSet<&str> = counted
                        .items
                        .iter()
                        .filter(|i| {
                            matches!(i.status, CertStatus::Expired | CertStatus::ExpiringSoon)
                        })
                        .map(|i| i.secret.as_str())
                        .collect();
                    crate::infra::metrics::certificates_seen(ns, secrets.len());
                    // A change made in Strongroom while this scan ran may
                    // not be in it: answer it, but do not keep it.
                    if cache.generation() == started {
                        cache.put(key.clone(), scan.clone());
                    }
                    scan
                }
            }
        }
    };
    cache.land(&key);
    Ok(answer(ns, &scan, within_days, Utc::now()))
}

/// Reads the namespace's secrets and records the scan.
async fn scan_namespace(
    kube: &UserKube,
    mut scope: AuditScope,
    ns: &str,
) -> Result<Scan, SecretsError> {
    let user = kube.user().username.clone();
    let kube = kube.with_audit_id(scope.id());
    let api = kube.secrets(ns);
    let clock = Clock {
        now: Utc::now(),
        warning_days: 0,
    };
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut value_bytes = 0;
    let mut token: Option<String> = None;
    let mut note = None;
    // After an answer too large to read, pages stay at most this size.
    let mut ceiling = PAGE;
    let mut requests = 0;
    loop {
        let mut limit = next_page(scanned, value_bytes)
            .min(ceiling)
            .min(MAX_SECRETS - scanned)
            .max(1);
        requests += 1;
        let page = match api.list_with_values(limit, token.as_deref()).await {
            Ok(page) => page,
            // Larger than the API answers read (64 MiB): the same page, at
            // half the size. A single secret is at most 1 MiB, so this ends.
            Err(e) if e.is_too_large() && limit > 1 => {
                limit /= 2;
                ceiling = limit;
                continue;
            }
            // The list changed too much while paging: what was read stands.
            Err(KubeError::Api { code: 410, .. }) if scanned > 0 => {
                note = Some(format!(
                    "the list changed while it was read: first {scanned} secrets scanned"
                ));
                break;
            }
            Err(e) => {
                let (outcome, status) = Outcome::of_error(&e);
                scope
                    .record_refusal(outcome, status)
                    .await
                    .map_err(SecretsError::AuditUnavailable)?;
                return Err(KubeFailure::new(e, &user, "list", "secrets", Some(ns)).into());
            }
        };
        for secret in page.items {
            if scanned >= MAX_SECRETS {
                break;
            }
            scanned += 1;
            let name = secret.metadata.name.clone().unwrap_or_default();
            let type_ = secret.type_.clone().unwrap_or_default();
            // What the secret weighed in the answer: values as base64, and
            // the labels and annotations beside them.
            let metadata: usize = [&secret.metadata.labels, &secret.metadata.annotations]
                .into_iter()
                .flatten()
                .flat_map(|m| m.iter().map(|(k, v)| k.len() + v.len()))
                .sum();
            let data = secret.data.unwrap_or_default();
            value_bytes += data.values().map(|v| v.0.len() * 4 / 3).sum::<usize>() + metadata;
            for report in parse::certificates_of(Selection::Scan, &type_, &data, clock) {
                for cert in report.certificates {
                    if found.len() >= MAX_FOUND {
                        note = Some(format!(
                            "more than {MAX_FOUND} certificates: the first {MAX_FOUND} found are kept"
                        ));
                        break;
                    }
                    let (Some(not_before), Some(not_after)) =
                        (timestamp(&cert.not_before), timestamp(&cert.not_after))
                    else {
                        continue;
                    };
                    found.push(Found {
                        secret: name.clone(),
                        key: report.key.clone(),
                        position: cert.position,
                        subject: cert.subject,
                        not_before,
                        not_after,
                    });
                }
            }
        }
        token = page.continue_token;
        if token.is_none() || found.len() >= MAX_FOUND {
            break;
        }
        // An API server that answers empty pages with a token does not
        // keep a scan going for ever.
        if scanned >= MAX_SECRETS || requests >= MAX_SECRETS {
            note = Some(format!(
                "the namespace has more secrets: first {MAX_SECRETS} scanned"
            ));
            break;
        }
    }
    found.sort_by(|a, b| {
        (a.not_after, &a.secret, &a.key, a.position).cmp(&(
            b.not_after,
            &b.secret,
            &b.key,
            b.position,
        ))
    });
    scope.set_reason(Some(format!(
        "certificate expiry scan: {scanned} secrets read, {} certificates found{}",
        found.len(),
        if note.is_some() { " (partial)" } else { "" }
    )));
    let receipt = scope
        .record(Outcome::Allowed, Some(200), vec![])
        .await
        .map_err(SecretsError::AuditUnavailable)?;
    tracing::info!(audit.id = %receipt.id(), user.name = %user, secret.namespace = %ns, secrets = scanned, certificates = found.len(), "certificates scanned");
    Ok(Scan {
        found,
        scanned_secrets: scanned,
        truncated: note.is_some(),
        note,
        scanned_at: clock.now,
        audit_id: receipt.id().to_string(),
    })
}

fn timestamp(rfc3339: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

/// The answer for `within_days` at `now`: expired and expiring
/// certificates (not those not yet valid, unless they also end within the
/// window), in `not_after` order.
fn answer(ns: &str, scan: &Scan, within_days: u32, now: DateTime<Utc>) -> NamespaceCertificates {
    let clock = Clock {
        now,
        warning_days: within_days,
    };
    let items = scan
        .found
        .iter()
        .filter_map(|f| {
            let (status, days_left) = parse::status(f.not_before, f.not_after, clock);
            let ends_soon = f.not_after - now.timestamp() <= i64::from(within_days) * 86_400;
            let shown = matches!(status, CertStatus::Expired | CertStatus::ExpiringSoon)
                || (status == CertStatus::NotYetValid && ends_soon);
            shown.then(|| ExpiringCertificate {
                secret: f.secret.clone(),
                key: f.key.clone(),
                position: f.position,
                subject: f.subject.clone(),
                not_after: DateTime::<Utc>::from_timestamp(f.not_after, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                days_left,
                status,
            })
        })
        .collect();
    NamespaceCertificates {
        namespace: ns.to_string(),
        within_days,
        items,
        scanned_secrets: scan.scanned_secrets,
        certificates: scan.found.len(),
        truncated: scan.truncated,
        note: scan.note.clone(),
        scanned_at: scan
            .scanned_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        audit_id: scan.audit_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_size_of_the_values_read() {
        assert_eq!(next_page(0, 0), FIRST_PAGE);
        // Small secrets: the largest page.
        assert_eq!(next_page(8, 8 * 2_000), PAGE);
        // 100 KiB each: ten to a page.
        assert_eq!(next_page(8, 8 * 100 * 1024), 10);
        // 1 MiB each (the most a Secret holds): one at a time.
        assert_eq!(next_page(8, 8 << 20), 1);
        // Secrets without values.
        assert_eq!(next_page(40, 0), PAGE);
    }

    fn found(secret: &str, not_after: i64) -> Found {
        Found {
            secret: secret.into(),
            key: "tls.crt".into(),
            position: 0,
            subject: format!("CN={secret}"),
            not_before: 0,
            not_after,
        }
    }

    fn scan(found: Vec<Found>) -> Arc<Scan> {
        Arc::new(Scan {
            found,
            scanned_secrets: 3,
            truncated: false,
            note: None,
            scanned_at: Utc::now(),
            audit_id: "id".into(),
        })
    }

    #[test]
    fn the_window_decides_what_is_listed() {
        let now = Utc::now();
        let t = now.timestamp();
        let day = 86_400;
        let s = scan(vec![
            found("expired", t - day),
            found("soon", t + 10 * day),
            found("later", t + 365 * day),
        ]);
        let names = |within| {
            answer("ns", &s, within, now)
                .items
                .into_iter()
                .map(|i| (i.secret, i.status))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(30),
            [
                ("expired".to_string(), CertStatus::Expired),
                ("soon".to_string(), CertStatus::ExpiringSoon)
            ]
        );
        assert_eq!(names(400).len(), 3);
        assert_eq!(names(5).len(), 1);
        assert_eq!(answer("ns", &s, 30, now).certificates, 3);
    }

    #[test]
    fn the_cache_forgets_after_its_time_and_stays_bounded() {
        let cache = ScanCache::new(Duration::from_millis(50), 2);
        cache.put("a".into(), scan(vec![]));
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
        cache.put("b".into(), scan(vec![]));
        cache.put("c".into(), scan(vec![]));
        assert_eq!(cache.len(), 2, "the oldest made room");
        assert!(cache.get("a").is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("c").is_none(), "expired");
        cache.put("d".into(), scan(vec![]));
        assert_eq!(cache.len(), 1, "expired scans are dropped on insert");
    }

    #[test]
    fn a_change_in_a_namespace_forgets_its_scans() {
        let cache = ScanCache::default();
        cache.put("alice\ng\nteam-a".into(), scan(vec![]));
        cache.put("bob\n\nteam-a".into(), scan(vec![]));
        cache.put("alice\ng\nteam-ab".into(), scan(vec![]));
        cache.forget("team-a");
        assert_eq!(cache.len(), 1);
        assert!(cache.get("alice\ng\nteam-ab").is_some());
    }
}
