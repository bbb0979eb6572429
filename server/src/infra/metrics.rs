//! Prometheus metrics at `/metrics` (text format): counters of audit
//! writes and failures per sink, and of HTTP requests.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::atomic::{AtomicU64, Ordering},
};

static AUDIT_DB_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_DB_FAILED: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_FAILED: AtomicU64 = AtomicU64::new(0);
static KUBE_READ_RETRIES: AtomicU64 = AtomicU64::new(0);

/// Secrets seen overdue for rotation, per namespace (names, so a secret
/// seen again is counted once; a secret seen rotated leaves the set).
static OVERDUE: std::sync::Mutex<BTreeMap<String, BTreeSet<String>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Records which of `ns`'s secrets a list or page found overdue for
/// rotation (`overdue`) and which not (`fine`).
pub fn rotation_seen(ns: &str, overdue: &[String], fine: &[String]) {
    let mut map = OVERDUE.lock().unwrap_or_else(|e| e.into_inner());
    let set = map.entry(ns.to_string()).or_default();
    for name in fine {
        set.remove(name);
    }
    set.extend(overdue.iter().cloned());
    if set.is_empty() {
        map.remove(ns);
    }
}

/// Counts one read retried after the API server answered 429.
pub fn kube_read_retry() {
    KUBE_READ_RETRIES.fetch_add(1, Ordering::Relaxed);
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
    out.push_str("# HELP strongroom_secrets_rotation_overdue Secrets whose values are older than their rotation policy, per namespace (among those Strongroom has listed or shown).\n");
    out.push_str("# TYPE strongroom_secrets_rotation_overdue gauge\n");
    for (ns, names) in OVERDUE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        out.push_str(&format!(
            "strongroom_secrets_rotation_overdue{{namespace=\"{ns}\"}} {}\n",
            names.len()
        ));
    }
    out
}
