//! `keyed-stream`: every key is inserted once and written again about once, the stream
//! `dataflows/window_counts.toml` is made for (and `scripts/vs_duckdb.sh` measures).
//!
//! Key `n` (in `0..keys`) is `<prefix>_<n>` with prefix `a`..`f` by `n % 6`; a put's value
//! is a plain integer in `0..=99` (`"value": 32`), so `CAST(value AS INT)` reads it. Keys are
//! introduced in a scrambled order (`n = i * step mod keys`, `step` coprime with `keys`, a
//! bijection without a table). An insert schedules the key's second write: 60% of them soon
//! (1..=250 ms of event time later, so with a session gap of 500 ms and up to 200 ms of
//! disorder both writes fall in one session), 40% later (1 s..=60 s, a second session). A
//! second write is an update (90%) or a delete (10%) of the live key, so every delete is an
//! event. Each event is the earliest due second write if one is due, else the next new key,
//! else (every key introduced, nothing due) a put of a uniformly drawn key.
//!
//! So with `events = 2 * keys` all keys are written, nearly all exactly twice (those
//! introduced in the last minute of event time may miss their second write), with about 1.4
//! sessions per key at gap 500 ms. Schedules are kept in event positions (`ms * rate / 1000`),
//! not in timestamps, so the keys depend on the rate but never on the disorder. Pending second
//! writes are at most the events of a minute of event time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::key;
use super::rng::Rng;
use crate::change::Mutation;
use crate::value::Value;

const PREFIXES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const SOON_PERCENT: u64 = 60;
const SOON_MS: (u64, u64) = (1, 250);
const LATER_MS: (u64, u64) = (1_000, 60_000);
const DELETE_PERCENT: u64 = 10;
const VALUES: u64 = 100;

/// The key of index `n`.
pub fn key_of(n: u64) -> String {
    key(PREFIXES[(n % 6) as usize], n)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// State of a `keyed-stream` run.
#[derive(Clone, Debug)]
pub struct KeyedStream {
    keys: u64,
    step: u64,
    rate: u64,
    /// Keys introduced so far (the next new key is the `introduced`-th of the scramble).
    introduced: u64,
    /// Position of the next event.
    position: u64,
    /// Second writes: (due position, key index), earliest first.
    due: BinaryHeap<Reverse<(u64, u64)>>,
}

impl KeyedStream {
    pub fn new(keys: u64, rate_per_sec: u64) -> KeyedStream {
        let keys = keys.max(1);
        let mut step = keys / 8 * 5 + 1;
        while gcd(step, keys) != 1 {
            step += 1;
        }
        KeyedStream {
            keys,
            step,
            rate: rate_per_sec.max(1),
            introduced: 0,
            position: 0,
            due: BinaryHeap::new(),
        }
    }

    /// Events after `ms` of event time (at least 1).
    fn events_in(&self, ms: u64) -> u64 {
        (ms.saturating_mul(self.rate) / 1000).max(1)
    }

    pub fn next(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let position = self.position;
        self.position += 1;
        if let Some(&Reverse((due, n))) = self.due.peek()
            && due <= position
        {
            self.due.pop();
            return if rng.percent(DELETE_PERCENT) {
                Mutation::delete(key_of(n), ts)
            } else {
                self.put(rng, n, ts)
            };
        }
        if self.introduced < self.keys {
            let i = self.introduced;
            self.introduced += 1;
            let n = (u128::from(i) * u128::from(self.step) % u128::from(self.keys)) as u64;
            let (lo, hi) = if rng.percent(SOON_PERCENT) {
                SOON_MS
            } else {
                LATER_MS
            };
            let delay = self.events_in(rng.range(lo, hi));
            self.due.push(Reverse((position.saturating_add(delay), n)));
            return self.put(rng, n, ts);
        }
        let n = rng.below(self.keys);
        self.put(rng, n, ts)
    }

    fn put(&self, rng: &mut Rng, n: u64, ts: u64) -> Mutation {
        Mutation::put(key_of(n), Value::Int(rng.below(VALUES) as i64), ts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{GenConfig, Workload, generate, tests::config};
    use super::*;
    use crate::change::Op;
    use std::collections::HashMap;

    #[test]
    fn the_scramble_is_a_bijection() {
        for keys in [1, 2, 6, 8, 30, 97, 1000, 1024] {
            let mut stream = KeyedStream::new(keys, 400);
            let mut rng = Rng::new(0, 0);
            let mut firsts: Vec<u64> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            // Far more events than keys: every key is introduced exactly once.
            for _ in 0..keys * 3 + 10 {
                let m = stream.next(&mut rng, 0);
                if seen.insert(m.key.clone()) {
                    firsts.push(m.key.split_once('_').unwrap().1.parse().unwrap());
                }
            }
            firsts.sort_unstable();
            assert_eq!(firsts, (0..keys).collect::<Vec<_>>(), "keys {keys}");
        }
    }

    /// Per key, its writes in order: (position, ts, op, value).
    fn by_key(events: &[Mutation]) -> HashMap<String, Vec<(usize, u64, Op, Value)>> {
        let mut keys: HashMap<String, Vec<_>> = HashMap::new();
        for (i, m) in events.iter().enumerate() {
            keys.entry(m.key.to_string()).or_default().push((
                i,
                m.ts.unwrap(),
                m.op,
                m.value.clone(),
            ));
        }
        keys
    }

    /// `events` mutations over `keys` keys at 400 per second, up to 200 ms out of order.
    fn stream(events: u64, keys: u64, seed: u64) -> (GenConfig, Vec<Mutation>) {
        let cfg = GenConfig {
            rate_per_sec: 400,
            ..config(events, seed, 200)
        };
        let events = generate(&Workload::KeyedStream { keys }, &cfg).collect();
        (cfg, events)
    }

    #[test]
    fn keys_prefixes_values_and_two_writes_per_key() {
        let (_, events) = stream(200_000, 100_000, 5);
        let keys = by_key(&events);
        assert_eq!(keys.len(), 100_000, "every key is written");
        let mut writes = [0u64; 4];
        let mut sessions = 0u64;
        let mut deletes = 0u64;
        for (key, history) in &keys {
            let (prefix, n) = key.split_once('_').unwrap();
            let n: u64 = n.parse().unwrap();
            assert!(n < 100_000);
            assert_eq!(prefix, PREFIXES[(n % 6) as usize], "{key}");
            writes[history.len().min(3)] += 1;
            assert_eq!(history[0].2, Op::Put, "a key's first write is a put: {key}");
            // Sessions with gap 500 over the key's sorted timestamps.
            let mut ts: Vec<u64> = history.iter().map(|h| h.1).collect();
            ts.sort_unstable();
            sessions += 1 + ts.windows(2).filter(|w| w[1] - w[0] > 500).count() as u64;
            for (_, _, op, value) in history {
                match op {
                    Op::Put => {
                        let v = value.as_i64().unwrap();
                        assert!((0..100).contains(&v), "{key}: {v}");
                    }
                    Op::Delete => deletes += 1,
                }
            }
        }
        // Nearly every key is written exactly twice; the rest once (their second write was
        // due after the end) or more (a uniform put once every key was introduced). Keys
        // introduced in the last minute may miss their second write.
        assert!(writes[2] >= 95_000, "{writes:?}");
        assert!(writes[1] < 2_500 && writes[3] < 2_500, "{writes:?}");
        // 60% of second writes land in the first write's session.
        let per_key = sessions as f64 / 100_000.0;
        assert!((1.37..1.43).contains(&per_key), "{per_key}");
        assert!((9_000..11_000).contains(&deletes), "{deletes}");
    }

    #[test]
    fn deletes_hit_live_keys_and_disorder_is_bounded() {
        let (cfg, events) = stream(30_000, 15_000, 2);
        let mut live = std::collections::HashSet::new();
        let mut max_seen = 0;
        for m in &events {
            let ts = m.ts.unwrap();
            max_seen = max_seen.max(ts);
            assert!(max_seen - ts <= 200);
            match m.op {
                Op::Put => {
                    live.insert(m.key.clone());
                }
                Op::Delete => assert!(live.remove(&m.key), "delete of absent {}", m.key),
            }
        }
        // About 400 events per second of event time.
        let span = max_seen - cfg.start_ts;
        assert!((74_000..=75_000).contains(&span), "{span}");
    }
}
