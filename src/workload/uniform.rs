//! `uniform` and `zipf`: puts and deletes over a fixed keyspace of `keys` keys.
//!
//! Key `n` (in `0..keys`) is `<prefix>_<n>` with prefix `a`, `b`, `c` or `d` by `n % 4`, so
//! pipelines can filter on key prefixes. `uniform` draws `n` uniformly; `zipf` draws rank
//! `n + 1` from a Zipf distribution (so `a_0` is the hottest key). 85% of events put
//! `{"v": <int 0..=999>}`, 15% delete; a delete may hit an absent key, which is a no-op.

use super::rng::Rng;
use super::zipf::Zipf;
use super::{key, map};
use crate::change::Mutation;
use crate::value::Value;

const PREFIXES: [&str; 4] = ["a", "b", "c", "d"];
const PUT_PERCENT: u64 = 85;

/// The key of index `n`.
pub fn key_of(n: u64) -> String {
    key(PREFIXES[(n % 4) as usize], n)
}

#[derive(Clone, Debug)]
enum KeyDist {
    Uniform,
    Zipf(Zipf),
}

/// State of a `uniform` or `zipf` run.
#[derive(Clone, Debug)]
pub struct Keyed {
    keys: u64,
    dist: KeyDist,
}

impl Keyed {
    pub fn uniform(keys: u64) -> Keyed {
        Keyed {
            keys: keys.max(1),
            dist: KeyDist::Uniform,
        }
    }

    pub fn zipf(keys: u64, skew: f64) -> Keyed {
        let keys = keys.max(1);
        Keyed {
            keys,
            dist: KeyDist::Zipf(Zipf::new(keys, skew)),
        }
    }

    pub fn next(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let n = match &self.dist {
            KeyDist::Uniform => rng.below(self.keys),
            KeyDist::Zipf(zipf) => zipf.sample(rng) - 1,
        };
        if rng.percent(PUT_PERCENT) {
            let v = rng.below(1000) as i64;
            Mutation::put(key_of(n), map([("v", Value::Int(v))]), ts)
        } else {
            Mutation::delete(key_of(n), ts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Workload, generate, tests::config};
    use crate::change::Op;
    use std::collections::HashMap;

    #[test]
    fn keys_prefixes_and_mix() {
        let w = Workload::Uniform { keys: 100 };
        let events: Vec<_> = generate(&w, &config(20_000, 1, 0)).collect();
        let mut seen = HashMap::new();
        let mut puts = 0;
        for m in &events {
            let (prefix, n) = m.key.split_once('_').unwrap();
            let n: u64 = n.parse().unwrap();
            assert!(n < 100);
            assert_eq!(prefix, ["a", "b", "c", "d"][(n % 4) as usize]);
            *seen.entry(n).or_insert(0u64) += 1;
            if m.op == Op::Put {
                puts += 1;
                let v = m.value.get("v").as_i64().unwrap();
                assert!((0..1000).contains(&v));
            }
        }
        assert_eq!(seen.len(), 100);
        assert!(seen.values().all(|&c| (120..=280).contains(&c)), "{seen:?}");
        assert!((16_500..=17_500).contains(&puts), "{puts}");
    }
}
