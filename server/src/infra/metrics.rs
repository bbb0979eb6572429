//! Prometheus metrics at `/metrics` (text format): counters of audit
//! writes and failures per sink, and of HTTP requests.

use std::sync::atomic::{AtomicU64, Ordering};

static AUDIT_DB_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_DB_FAILED: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_FAILED: AtomicU64 = AtomicU64::new(0);
static KUBE_READ_RETRIES: AtomicU64 = AtomicU64::new(0);

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
    out
}
