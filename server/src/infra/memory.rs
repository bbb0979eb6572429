//! The C allocator's part of the server's memory (glibc's malloc).
//!
//! A burst of requests (fifty sessions listing and revealing at once) needs
//! about 20 MiB of heap for a moment; once it is over, a few MiB of it are
//! still in use. glibc keeps the rest: a freed block in the middle of a
//! heap goes back only through `malloc_trim`, and large blocks move from
//! mappings of their own into the heap once one has been freed (the
//! adaptive mmap threshold). So the server sets fixed thresholds at
//! start-up, and gives free pages back once it has been quiet for a second
//! after serving requests: never while it is busy, when the memory would
//! only be asked for again. The foreign calls are in `strongroom-malloc`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Requests the server has started, for the quiet check.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// How long no request must have started before free pages go back.
pub const QUIET: Duration = Duration::from_secs(1);

/// Blocks at least this large get a mapping of their own, given back when
/// freed (glibc's default starts here but grows up to 32 MiB).
const MMAP_THRESHOLD: u32 = 128 * 1024;
/// Free memory at the top of a heap beyond this goes back at once.
const TRIM_THRESHOLD: u32 = 128 * 1024;

/// Counts a request (the metrics middleware calls it for every request).
pub fn note_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Sets the allocator's thresholds: call once, at start-up, before any
/// other thread starts (they are refused otherwise).
pub fn tune_allocator() {
    if strongroom_malloc::SUPPORTED
        && !strongroom_malloc::set_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)
    {
        tracing::warn!(
            "the C allocator's thresholds were not set (other threads were running); memory after bursts may stay higher"
        );
    }
}

/// Whether a request to `route` counts as work for the quiet check:
/// probes and scrapes do not (an idle pod is probed every few seconds).
pub fn counts(route: &str) -> bool {
    !matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// Gives the heaps' free pages back after each busy spell, once no request
/// has started for [`QUIET`] (only with glibc; elsewhere it does nothing).
pub fn spawn_idle_trim() {
    if !strongroom_malloc::SUPPORTED {
        return;
    }
    tokio::spawn(async move {
        let mut trimmed_at = REQUESTS.load(Ordering::Relaxed);
        let mut seen = trimmed_at;
        let mut tick = tokio::time::interval(QUIET);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = REQUESTS.load(Ordering::Relaxed);
            // Requests came since the last trim, and none since the last tick.
            if now != trimmed_at && now == seen {
                trimmed_at = now;
                // It holds each arena's lock while it walks it: not on a
                // runtime thread.
                let _ = tokio::task::spawn_blocking(strongroom_malloc::trim).await;
            }
            seen = now;
        }
    });
}
