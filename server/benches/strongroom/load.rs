//! Load generation: `n` operations at a given concurrency, with their
//! latencies (p50, p99) and throughput.

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};

pub(crate) struct Run {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) throughput: f64,
    pub(crate) elapsed: Duration,
}

/// Runs `n` operations `concurrency` at a time; every one must succeed.
pub(crate) async fn load_run<F, Fut>(n: usize, concurrency: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let results: Vec<(Duration, Result<(), String>)> = stream::iter(0..n)
        .map(|i| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                let r = fut.await;
                (t.elapsed(), r)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let errors: Vec<&String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} of {n} operations failed, first: {}",
        errors.len(),
        errors[0]
    );
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    Run {
        p50: latencies[latencies.len() / 2],
        p99: latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)],
        throughput: n as f64 / elapsed.as_secs_f64(),
        elapsed,
    }
}

pub(crate) fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
