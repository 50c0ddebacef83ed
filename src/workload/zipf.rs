//! Zipf-distributed ranks by rejection-inversion (Hörmann & Derflinger, 1996).
//!
//! `P(rank = k) ∝ k^-skew` for `k` in `1..=n`. Constant memory and time for any `n` (no CDF
//! table), and a handful of `exp`/`ln` per draw from [`super::rng`], so draws are identical
//! on every platform. This follows the formulation used by Apache Commons' sampler.

use super::rng::{Rng, exp, exp_m1, ln, ln_1p};

/// A Zipf sampler over ranks `1..=n` with exponent `skew > 0`.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    skew: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipf {
    pub fn new(n: u64, skew: f64) -> Zipf {
        let mut zipf = Zipf {
            n: n.max(1),
            skew,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            s: 0.0,
        };
        zipf.h_integral_x1 = zipf.h_integral(1.5) - 1.0;
        zipf.h_integral_n = zipf.h_integral(zipf.n as f64 + 0.5);
        zipf.s = 2.0 - zipf.h_integral_inverse(zipf.h_integral(2.5) - zipf.h(2.0));
        zipf
    }

    /// A rank in `1..=n`; rank 1 is the most likely.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = ((x + 0.5) as u64).clamp(1, self.n);
            let kf = k as f64;
            if kf - x <= self.s || u >= self.h_integral(kf + 0.5) - self.h(kf) {
                return k;
            }
        }
    }

    /// `H(x)`, an integral of `h`: `(x^(1-skew) - 1) / (1 - skew)`, or `ln x` at skew 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = ln(x);
        helper2((1.0 - self.skew) * log_x) * log_x
    }

    /// `h(x) = x^-skew`.
    fn h(&self, x: f64) -> f64 {
        exp(-self.skew * ln(x))
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.skew)).max(-1.0);
        exp(helper1(t) * x)
    }
}

/// `ln(1 + x) / x`, continuous at 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        ln_1p(x) / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - x * 0.25))
    }
}

/// `(e^x - 1) / x`, continuous at 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        exp_m1(x) / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + x * 0.25))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Workload, generate, tests::config, uniform::key_of};
    use super::*;
    use std::collections::HashMap;

    fn probability(rank: u64, n: u64, skew: f64) -> f64 {
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-skew)).sum();
        (rank as f64).powf(-skew) / norm
    }

    #[test]
    fn sampler_matches_theory() {
        for (n, skew) in [
            (1000, 1.1),
            (50, 0.6),
            (10, 1.0),
            (1_000_000, 2.0),
            (1, 1.5),
        ] {
            let zipf = Zipf::new(n, skew);
            let mut rng = Rng::new(9, 0);
            let mut counts = HashMap::new();
            let draws = 100_000;
            for _ in 0..draws {
                let k = zipf.sample(&mut rng);
                assert!((1..=n).contains(&k));
                *counts.entry(k).or_insert(0u64) += 1;
            }
            for rank in [1, 2, 5] {
                let want = probability(rank.min(n), n, skew) * draws as f64;
                let got = counts.get(&rank).copied().unwrap_or(0) as f64;
                if rank <= n {
                    assert!(
                        (got - want).abs() <= 0.1 * want,
                        "n={n} s={skew} rank {rank}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn workload_keys_are_skewed() {
        let w = Workload::Zipf {
            keys: 1000,
            skew: 1.1,
        };
        let mut counts: HashMap<std::sync::Arc<str>, u64> = HashMap::new();
        for m in generate(&w, &config(100_000, 4, 0)) {
            *counts.entry(m.key).or_default() += 1;
        }
        let count = |rank: u64| counts.get(key_of(rank - 1).as_str()).copied().unwrap_or(0);
        assert!(
            count(1) > count(10) && count(10) > count(100),
            "{:?}",
            [count(1), count(10), count(100)]
        );
        let want = probability(1, 1000, 1.1) * 100_000.0;
        assert!(
            (count(1) as f64 - want).abs() <= 0.1 * want,
            "{} vs {want}",
            count(1)
        );
        let want10 = probability(10, 1000, 1.1) * 100_000.0;
        assert!(
            (count(10) as f64 - want10).abs() <= 0.1 * want10,
            "{} vs {want10}",
            count(10)
        );
    }
}
