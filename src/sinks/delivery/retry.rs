//! Retries: exponential backoff with jitter and a cap, and what happens after the last try.
//!
//! The n-th retry waits `min(cap, delay * 2^n)` scaled by a random factor in `[0.5, 1.0]`
//! ("equal jitter"): sinks of many workers that lost the same target do not retry in
//! lockstep, and the wait never drops below half the nominal backoff. After `max_retries`
//! failed retries the batch is given up: its records go to the sink's dead-letter output
//! and an error row to the pipeline's error output (see `dead_letter`), so nothing is lost
//! silently and the dataflow goes on. [`Backoff::retry`] is the loop both sinks run.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::plan::sinks::RetryConfig;
use crate::rng::Rng;

/// Where a sink counts its failed attempts and the retries after them.
#[derive(Clone, Copy)]
pub struct Attempts<'a> {
    pub failures: &'a AtomicU64,
    pub retries: &'a AtomicU64,
}

/// The waits between the attempts at one batch.
pub struct Backoff {
    config: RetryConfig,
    retries: u32,
    rng: Rng,
}

impl Backoff {
    pub fn new(config: RetryConfig, seed: u64) -> Backoff {
        Backoff {
            config,
            retries: 0,
            rng: Rng::new(seed, 0x5eed),
        }
    }

    /// The wait before the next retry, or `None` once `max_retries` retries were made.
    pub fn next_wait(&mut self) -> Option<Duration> {
        if self.retries >= self.config.max_retries {
            return None;
        }
        let nominal = self.nominal(self.retries);
        self.retries += 1;
        let factor = 0.5 + 0.5 * self.rng.f64();
        Some(nominal.mul_f64(factor))
    }

    /// The wait before retry `n` (0-based) without jitter.
    pub fn nominal(&self, n: u32) -> Duration {
        let doubled = self
            .config
            .delay
            .checked_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.config.cap);
        doubled.min(self.config.cap)
    }

    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Starts the count of retries again (the jitter goes on from where it was).
    pub fn reset(&mut self) {
        self.retries = 0;
    }

    /// Runs `attempt` until it succeeds or the retries are used up, sleeping the backoff
    /// between tries (this runs on a delivery thread) and counting in `counts`; the last
    /// error once every try failed. The first failure is logged as `<what>: <error>; retrying`.
    pub fn retry<T, E: Display>(
        &mut self,
        what: &dyn Display,
        counts: Attempts<'_>,
        mut attempt: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        loop {
            let error = match attempt() {
                Ok(done) => return Ok(done),
                Err(error) => error,
            };
            counts.failures.fetch_add(1, Ordering::Relaxed);
            if self.retries == 0 {
                tracing::warn!("{what}: {error}; retrying");
            }
            let Some(wait) = self.next_wait() else {
                return Err(error);
            };
            counts.retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_with_bounded_jitter() {
        let config = RetryConfig {
            max_retries: 6,
            delay: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        let mut backoff = Backoff::new(config, 1);
        let nominal: Vec<u64> = (0..6)
            .map(|n| backoff.nominal(n).as_millis() as u64)
            .collect();
        assert_eq!(nominal, vec![100, 200, 400, 800, 1000, 1000]);
        let mut waits = Vec::new();
        while let Some(wait) = backoff.next_wait() {
            waits.push(wait);
        }
        assert_eq!(waits.len(), 6);
        for (wait, nominal) in waits.iter().zip(&nominal) {
            let ms = wait.as_secs_f64() * 1000.0;
            assert!(ms >= *nominal as f64 * 0.5 - 1e-6 && ms <= *nominal as f64 + 1e-6);
        }
        assert_eq!(backoff.retries(), 6);
    }

    #[test]
    fn huge_retry_counts_stay_at_the_cap() {
        let config = RetryConfig {
            max_retries: 100,
            delay: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        };
        let backoff = Backoff::new(config, 1);
        assert_eq!(backoff.nominal(90), Duration::from_secs(30));
    }

    #[test]
    fn retry_stops_at_the_first_success_or_after_the_last_retry() {
        let config = RetryConfig {
            max_retries: 3,
            delay: Duration::ZERO,
            cap: Duration::ZERO,
        };
        let (failures, retries) = (AtomicU64::new(0), AtomicU64::new(0));
        let counts = Attempts {
            failures: &failures,
            retries: &retries,
        };
        let mut backoff = Backoff::new(config, 1);
        let mut calls = 0;
        let done = backoff.retry(&"test", counts, || {
            calls += 1;
            if calls < 3 { Err("down") } else { Ok(calls) }
        });
        assert_eq!(done, Ok(3));
        assert_eq!(
            (failures.load(Ordering::Relaxed), backoff.retries()),
            (2, 2)
        );
        backoff.reset();
        let given_up: Result<(), &str> = backoff.retry(&"test", counts, || Err("down"));
        assert_eq!(given_up, Err("down"));
        assert_eq!(failures.load(Ordering::Relaxed), 6);
        assert_eq!(retries.load(Ordering::Relaxed), 5);
    }
}
