//! Prometheus metrics at `/metrics` (text format): counters of audit
//! writes and failures per sink, and of HTTP requests.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

static AUDIT_DB_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_DB_FAILED: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_FAILED: AtomicU64 = AtomicU64::new(0);
static KUBE_READ_RETRIES: AtomicU64 = AtomicU64::new(0);
static WEBHOOK_DELIVERED: AtomicU64 = AtomicU64::new(0);
static WEBHOOK_FAILED: AtomicU64 = AtomicU64::new(0);
static WEBHOOK_DROPPED: AtomicU64 = AtomicU64::new(0);
static WEBHOOK_ATTEMPT_FAILED: AtomicU64 = AtomicU64::new(0);

/// How long a secret seen overdue (or fine) counts in the rotation gauge
/// without being seen again: deleted secrets leave it by themselves.
const SEEN_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// The most secrets per namespace the rotation gauge tracks.
const MAX_TRACKED: usize = 100_000;

/// Secrets seen overdue for rotation, per namespace: name → last seen.
static OVERDUE: Mutex<BTreeMap<String, BTreeMap<String, Instant>>> = Mutex::new(BTreeMap::new());

/// Secrets whose certificates have expired or expire within the window,
/// per namespace, from its latest certificate scan.
static EXPIRING: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Records, for secrets of `ns` a list or page showed, whether each is
/// overdue for rotation (`(name, overdue)`).
pub fn rotation_seen(ns: &str, seen: &[(&str, bool)]) {
    let now = Instant::now();
    let mut map = OVERDUE.lock().unwrap_or_else(|e| e.into_inner());
    let set = map.entry(ns.to_string()).or_default();
    for &(name, overdue) in seen {
        if !overdue {
            set.remove(name);
        } else if set.len() < MAX_TRACKED || set.contains_key(name) {
            set.insert(name.to_string(), now);
        }
    }
    set.retain(|_, at| now.duration_since(*at) < SEEN_FOR);
    if set.is_empty() {
        map.remove(ns);
    }
}

/// Records a namespace's certificate scan: how many of its secrets hold a
/// certificate that has expired or expires within the scan's window.
pub fn certificates_seen(ns: &str, expiring_secrets: usize) {
    let mut map = EXPIRING.lock().unwrap_or_else(|e| e.into_inner());
    if expiring_secrets == 0 {
        map.remove(ns);
    } else {
        map.insert(ns.to_string(), expiring_secrets);
    }
}

/// Counts one read retried after the API server answered 429.
pub fn kube_read_retry() {
    KUBE_READ_RETRIES.fetch_add(1, Ordering::Relaxed);
}

/// Counts one webhook outcome: `delivered`, `failed` (every attempt
/// failed), `dropped` (the queue was full) or `attempt_failed`.
pub fn webhook(outcome: &str) {
    let counter = match outcome {
        "delivered" => &WEBHOOK_DELIVERED,
        "failed" => &WEBHOOK_FAILED,
        "dropped" => &WEBHOOK_DROPPED,
        _ => &WEBHOOK_ATTEMPT_FAILED,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counts one audit write attempt to `sink`.
pub fn audit_write(sink: &str, ok: bool) {
    let counter = match (sink, ok) {
        ("database", true) => &AUDIT_DB_OK,
        ("database", false) => &AUDIT_DB_FAILED,
        (_, true) => &AUDIT_STDOUT_OK,
        (_, false) => &AUDIT_STDOUT_FAILED,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The metrics in Prometheus' text exposition format.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str("# HELP strongroom_audit_writes_total Audit records written, per sink.\n");
    out.push_str("# TYPE strongroom_audit_writes_total counter\n");
    out.push_str(&format!(
        "strongroom_audit_writes_total{{sink=\"database\"}} {}\n",
        AUDIT_DB_OK.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "strongroom_audit_writes_total{{sink=\"stdout\"}} {}\n",
        AUDIT_STDOUT_OK.load(Ordering::Relaxed)
    ));
    out.push_str(
        "# HELP strongroom_audit_write_failures_total Audit records a sink failed to write.\n",
    );
    out.push_str("# TYPE strongroom_audit_write_failures_total counter\n");
    out.push_str(&format!(
        "strongroom_audit_write_failures_total{{sink=\"database\"}} {}\n",
        AUDIT_DB_FAILED.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "strongroom_audit_write_failures_total{{sink=\"stdout\"}} {}\n",
        AUDIT_STDOUT_FAILED.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP strongroom_kube_read_retries_total Reads retried after the Kubernetes API answered 429.\n");
    out.push_str("# TYPE strongroom_kube_read_retries_total counter\n");
    out.push_str(&format!(
        "strongroom_kube_read_retries_total {}\n",
        KUBE_READ_RETRIES.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP strongroom_webhook_deliveries_total Announcements to webhooks, per outcome (delivered; failed after every attempt; dropped because the queue was full).\n");
    out.push_str("# TYPE strongroom_webhook_deliveries_total counter\n");
    for (outcome, counter) in [
        ("delivered", &WEBHOOK_DELIVERED),
        ("failed", &WEBHOOK_FAILED),
        ("dropped", &WEBHOOK_DROPPED),
    ] {
        out.push_str(&format!(
            "strongroom_webhook_deliveries_total{{outcome=\"{outcome}\"}} {}\n",
            counter.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP strongroom_webhook_attempt_failures_total Webhook delivery attempts that failed (each retry counts).\n");
    out.push_str("# TYPE strongroom_webhook_attempt_failures_total counter\n");
    out.push_str(&format!(
        "strongroom_webhook_attempt_failures_total {}\n",
        WEBHOOK_ATTEMPT_FAILED.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP strongroom_secrets_rotation_overdue Secrets whose values are older than their rotation policy, per namespace (among those Strongroom has listed or shown).\n");
    out.push_str("# TYPE strongroom_secrets_rotation_overdue gauge\n");
    let now = Instant::now();
    for (ns, names) in OVERDUE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let n = names
            .values()
            .filter(|seen| now.duration_since(**seen) < SEEN_FOR)
            .count();
        out.push_str(&format!(
            "strongroom_secrets_rotation_overdue{{namespace=\"{ns}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP strongroom_secrets_certificates_expiring Secrets holding a certificate that has expired or expires within the warning window, per namespace (from its latest certificate scan).\n");
    out.push_str("# TYPE strongroom_secrets_certificates_expiring gauge\n");
    for (ns, n) in EXPIRING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        out.push_str(&format!(
            "strongroom_secrets_certificates_expiring{{namespace=\"{ns}\"}} {n}\n"
        ));
    }
    out
}
