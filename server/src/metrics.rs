//! Prometheus metrics at `/metrics` (text format): counters of audit
//! writes and failures per sink, and of HTTP requests.

use std::sync::atomic::{AtomicU64, Ordering};

static AUDIT_DB_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_DB_FAILED: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_OK: AtomicU64 = AtomicU64::new(0);
static AUDIT_STDOUT_FAILED: AtomicU64 = AtomicU64::new(0);

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
    out
}
