//! Timing one side of a comparison, and alternating the sides round by round.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Server;

/// One timed round of one side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// Calls (or requests) the round completed.
    pub ops: u64,
    pub wall: Duration,
    /// CPU time of this process (the clients) during the round.
    pub client_cpu: Duration,
    /// CPU time of the server child during the round.
    pub server_cpu: Duration,
    /// Heap allocations this process made during the round, when the
    /// counting allocator is on (exact: a noise-free view of per-call work).
    pub allocations: u64,
}

impl Sample {
    pub fn us_per_op(&self) -> f64 {
        self.wall.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }

    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn client_cpu_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }

    pub fn server_cpu_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }

    pub fn allocs_per_op(&self) -> f64 {
        self.allocations as f64 / self.ops.max(1) as f64
    }

    pub fn ms(&self) -> f64 {
        self.wall.as_secs_f64() * 1e3
    }
}

/// Runs `work` (which returns how many operations it did) and times it.
pub(crate) async fn timed(server: &Server, work: impl Future<Output = u64>) -> Sample {
    let (c0, s0, a0) = (crate::cpu::process(None), server.cpu(), crate::allocations());
    let t0 = Instant::now();
    let ops = work.await;
    let wall = t0.elapsed();
    let (c1, s1, a1) = (crate::cpu::process(None), server.cpu(), crate::allocations());
    Sample {
        ops,
        wall,
        client_cpu: c1.saturating_sub(c0),
        server_cpu: s1.saturating_sub(s0),
        allocations: a1 - a0,
    }
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One side of a comparison: each call runs one round.
pub(crate) struct Side {
    pub name: &'static str,
    pub round: Box<dyn Fn() -> BoxFuture<Sample> + Send + Sync>,
}

impl Side {
    pub fn new<F, Fut>(name: &'static str, f: F) -> Side
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Sample> + Send + 'static,
    {
        Side {
            name,
            round: Box::new(move || Box::pin(f())),
        }
    }
}

/// Runs `warmup + rounds` rounds of every side, rotating which side goes
/// first each round (A B C, B C A, C A B, …) so that drift and ordering
/// effects fall on every side alike. Returns the timed samples per side, in
/// the order the sides were given.
pub(crate) async fn interleave(warmup: usize, rounds: usize, sides: &[Side]) -> Vec<Vec<Sample>> {
    let n = sides.len();
    let mut out = vec![Vec::with_capacity(rounds); n];
    for r in 0..warmup + rounds {
        for i in 0..n {
            let k = (r + i) % n;
            if !chosen(sides[k].name) {
                continue;
            }
            let sample = (sides[k].round)().await;
            if verbose() {
                eprintln!(
                    "    round {r} {}: {} ops, {:.1} ms, client {:.1} ms CPU, server {:.1} ms CPU",
                    sides[k].name,
                    sample.ops,
                    sample.ms(),
                    sample.client_cpu.as_secs_f64() * 1e3,
                    sample.server_cpu.as_secs_f64() * 1e3
                );
            }
            if r >= warmup {
                out[k].push(sample);
            }
            // Let closed connections and finished tasks settle between sides.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    out
}

/// `SEAMLESS_BENCH_SIDE=seamless` (or `raw`, `lean`) runs only the sides
/// whose name starts with it, for profiling one side; the table then shows
/// `n/a` for the others.
fn chosen(name: &str) -> bool {
    std::env::var("SEAMLESS_BENCH_SIDE")
        .ok()
        .is_none_or(|s| name.starts_with(&s))
}

/// `SEAMLESS_BENCH_VERBOSE=1` prints every round.
fn verbose() -> bool {
    std::env::var_os("SEAMLESS_BENCH_VERBOSE").is_some()
}

pub(crate) fn median(xs: impl IntoIterator<Item = f64>) -> f64 {
    quantile(xs, 0.5)
}

/// The `q` quantile by linear interpolation; NaN for no values.
pub(crate) fn quantile(xs: impl IntoIterator<Item = f64>, q: f64) -> f64 {
    let mut v: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Median of `f` over a side's samples.
pub(crate) fn med(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    median(samples.iter().map(f))
}

/// The median, 25th and 75th percentiles of the per-round ratios
/// `f(a) / f(b)` (rounds paired in order, so each pair ran back to back):
/// the ratio with drift cancelled, and how much it moved between rounds.
pub(crate) fn paired_spread(a: &[Sample], b: &[Sample], f: impl Fn(&Sample) -> f64) -> (f64, f64, f64) {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| f(x) / f(y)).collect();
    (
        median(ratios.iter().copied()),
        quantile(ratios.iter().copied(), 0.25),
        quantile(ratios, 0.75),
    )
}

/// Spawns `callers` tasks that each run `calls` sequential calls of `call`
/// and counts the calls that failed.
pub(crate) async fn fan_out<C, F, Fut, T, E>(client: &Arc<C>, callers: usize, calls: usize, call: F) -> u64
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>, u64) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let tasks: Vec<_> = (0..callers)
        .map(|t| {
            let client = Arc::clone(client);
            tokio::spawn(async move {
                let mut failed = 0;
                for i in 0..calls {
                    if call(Arc::clone(&client), (t * calls + i) as u64).await.is_err() {
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap_or(calls as u64);
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_skip_non_finite_values() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile([0.0, 10.0, f64::NAN], 0.25), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }

    #[test]
    fn paired_ratios_pair_rounds_in_order() {
        let s = |ops, ms| Sample {
            ops,
            wall: Duration::from_millis(ms),
            client_cpu: Duration::ZERO,
            server_cpu: Duration::ZERO,
            allocations: 0,
        };
        // Drift doubles both sides' times in the second round; the paired
        // ratio does not move.
        let a = [s(10, 110), s(10, 220)];
        let b = [s(10, 100), s(10, 200)];
        let (mid, lo, hi) = paired_spread(&a, &b, Sample::ms);
        assert!((mid - 1.1).abs() < 1e-9 && (lo - 1.1).abs() < 1e-9 && (hi - 1.1).abs() < 1e-9);
        assert_eq!(a[0].us_per_op(), 11_000.0);
    }
}
