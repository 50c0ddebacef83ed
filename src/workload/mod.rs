//! Deterministic mutation generators for benchmarks, demos and tests.
//!
//! [`generate`] turns a [`Workload`] and a [`GenConfig`] into exactly `config.events`
//! mutations, every one with `Some(ts)`. The same `(workload, config)` gives the same sequence
//! on every platform and in every future version: randomness comes from the hand-written
//! [`rng::Rng`], and no float operation goes through a platform `libm`.
//!
//! Event time: the base clock starts at `start_ts` and advances `1000 / rate_per_sec` ms per
//! event (kept exact with an integer remainder). With `disorder_ms > 0` each event's `ts` is
//! `base - uniform(0..=disorder_ms)`; the base is monotone, so for every event
//! `max_ts_seen - ts <= disorder_ms`. The clock draws from its own random stream, so changing
//! the disorder changes timestamps only, never keys or values.
//!
//! Workloads: `uniform` and `zipf` ([`uniform`], [`zipf`]) over a fixed keyspace,
//! `users-orders` ([`users_orders`]) with referential integrity, `nexmark` ([`nexmark`]),
//! persons/auctions/bids after the Nexmark benchmark's generator, and `keyed-stream`
//! ([`keyed_stream`]), every key inserted once and written again about once.

pub mod keyed_stream;
pub mod nexmark;
pub use crate::rng;
pub mod uniform;
pub mod users_orders;
pub mod zipf;

use crate::change::Mutation;
use crate::value::Value;
use rng::Rng;

/// Which generator to run.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    UsersOrders,
    Uniform { keys: u64 },
    Zipf { keys: u64, skew: f64 },
    Nexmark,
    KeyedStream { keys: u64 },
}

const DEFAULT_KEYS: u64 = 1000;
const DEFAULT_STREAM_KEYS: u64 = 1_000_000;
const DEFAULT_SKEW: f64 = 1.1;

impl Workload {
    /// The workload called `name` (see [`Workload::names`]). `keys` applies to `uniform` and
    /// `zipf` (default 1000) and `keyed-stream` (default 1M), `skew` to `zipf` only (default
    /// 1.1).
    pub fn parse(name: &str, keys: Option<u64>, skew: Option<f64>) -> Result<Workload, String> {
        let workload = match name {
            "users-orders" | "users_orders" => Workload::UsersOrders,
            "uniform" => Workload::Uniform {
                keys: keys.unwrap_or(DEFAULT_KEYS),
            },
            "zipf" => Workload::Zipf {
                keys: keys.unwrap_or(DEFAULT_KEYS),
                skew: skew.unwrap_or(DEFAULT_SKEW),
            },
            "nexmark" => Workload::Nexmark,
            "keyed-stream" => Workload::KeyedStream {
                keys: keys.unwrap_or(DEFAULT_STREAM_KEYS),
            },
            _ => {
                return Err(format!(
                    "unknown workload `{name}` (expected one of: {})",
                    Self::names().join(", ")
                ));
            }
        };
        if keys.is_some() && workload.keyspace_size_hint().is_none() {
            return Err(format!(
                "`keys` applies only to uniform, zipf and keyed-stream, not `{name}`"
            ));
        }
        if keys == Some(0) {
            return Err("`keys` must be at least 1".to_string());
        }
        if let Some(skew) = skew {
            if !matches!(workload, Workload::Zipf { .. }) {
                return Err(format!("`skew` applies only to zipf, not `{name}`"));
            }
            if !(skew.is_finite() && skew > 0.0) {
                return Err(format!("`skew` must be a positive number, got {skew}"));
            }
        }
        Ok(workload)
    }

    /// The names [`Workload::parse`] accepts.
    pub fn names() -> &'static [&'static str] {
        &["users-orders", "uniform", "zipf", "nexmark", "keyed-stream"]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Workload::UsersOrders => "users-orders",
            Workload::Uniform { .. } => "uniform",
            Workload::Zipf { .. } => "zipf",
            Workload::Nexmark => "nexmark",
            Workload::KeyedStream { .. } => "keyed-stream",
        }
    }

    /// The number of distinct keys, for workloads with a fixed keyspace.
    pub fn keyspace_size_hint(&self) -> Option<u64> {
        match self {
            Workload::Uniform { keys }
            | Workload::Zipf { keys, .. }
            | Workload::KeyedStream { keys } => Some(*keys),
            Workload::UsersOrders | Workload::Nexmark => None,
        }
    }
}

/// How many events to generate, from which seed, and on what event-time clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    pub events: u64,
    pub seed: u64,
    /// Maximum lateness of an event behind the newest one, in ms.
    pub disorder_ms: u64,
    /// Event time of the first event, in ms since the epoch.
    pub start_ts: u64,
    /// Events per second of event time (0 is treated as 1).
    pub rate_per_sec: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 100_000,
            seed: 0,
            disorder_ms: 0,
            start_ts: 1_700_000_000_000,
            rate_per_sec: 10_000,
        }
    }
}

/// The event-time clock described in the module docs.
#[derive(Clone, Debug)]
struct Clock {
    base: u64,
    remainder: u64,
    rate: u64,
    disorder: u64,
    rng: Rng,
}

impl Clock {
    fn next(&mut self) -> u64 {
        let ts = if self.disorder > 0 {
            self.base.saturating_sub(self.rng.range(0, self.disorder))
        } else {
            self.base
        };
        self.remainder += 1000;
        self.base = self.base.saturating_add(self.remainder / self.rate);
        self.remainder %= self.rate;
        ts
    }
}

#[derive(Clone, Debug)]
enum State {
    Keyed(uniform::Keyed),
    UsersOrders(users_orders::UsersOrders),
    Nexmark(nexmark::Nexmark),
    KeyedStream(keyed_stream::KeyedStream),
}

/// The iterator [`generate`] returns: exactly `events` mutations, each with `Some(ts)`.
#[derive(Clone, Debug)]
pub struct Generator {
    state: State,
    clock: Clock,
    rng: Rng,
    remaining: u64,
}

/// Generates `config.events` mutations of `workload`; see the module docs.
pub fn generate(workload: &Workload, config: &GenConfig) -> Generator {
    let rate = config.rate_per_sec.max(1);
    let state = match workload {
        Workload::Uniform { keys } => State::Keyed(uniform::Keyed::uniform(*keys)),
        Workload::Zipf { keys, skew } => State::Keyed(uniform::Keyed::zipf(*keys, *skew)),
        Workload::UsersOrders => State::UsersOrders(users_orders::UsersOrders::default()),
        Workload::Nexmark => State::Nexmark(nexmark::Nexmark::new(rate)),
        Workload::KeyedStream { keys } => {
            State::KeyedStream(keyed_stream::KeyedStream::new(*keys, rate))
        }
    };
    Generator {
        state,
        clock: Clock {
            base: config.start_ts,
            remainder: 0,
            rate,
            disorder: config.disorder_ms,
            rng: Rng::new(config.seed, 1),
        },
        rng: Rng::new(config.seed, 0),
        remaining: config.events,
    }
}

impl Iterator for Generator {
    type Item = Mutation;

    fn next(&mut self) -> Option<Mutation> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let ts = self.clock.next();
        let rng = &mut self.rng;
        Some(match &mut self.state {
            State::Keyed(state) => state.next(rng, ts),
            State::UsersOrders(state) => state.next(rng, ts),
            State::Nexmark(state) => state.next(rng, ts),
            State::KeyedStream(state) => state.next(rng, ts),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, usize::try_from(self.remaining).ok())
    }
}

impl ExactSizeIterator for Generator {}

/// A JSON map value from `(field, value)` pairs.
fn map<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::map(fields)
}

/// `<prefix>_<n>` as a key.
fn key(prefix: &str, n: u64) -> String {
    concat(&[prefix, "_", itoa::Buffer::new().format(n)])
}

/// The pieces one after the other, in a string allocated once: generators make several
/// strings an event, and `format!` cost more than the rest of making a Nexmark bid.
fn concat(pieces: &[&str]) -> String {
    let mut text = String::with_capacity(pieces.iter().map(|piece| piece.len()).sum());
    pieces.iter().for_each(|piece| text.push_str(piece));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn config(events: u64, seed: u64, disorder_ms: u64) -> GenConfig {
        GenConfig {
            events,
            seed,
            disorder_ms,
            ..GenConfig::default()
        }
    }

    fn all() -> Vec<Workload> {
        Workload::names()
            .iter()
            .map(|name| Workload::parse(name, None, None).unwrap())
            .collect()
    }

    #[test]
    fn parse_checks_names_and_options() {
        assert_eq!(
            Workload::parse("zipf", Some(10), Some(0.5)),
            Ok(Workload::Zipf {
                keys: 10,
                skew: 0.5
            })
        );
        assert_eq!(
            Workload::parse("uniform", None, None),
            Ok(Workload::Uniform { keys: 1000 })
        );
        for name in Workload::names() {
            assert_eq!(Workload::parse(name, None, None).unwrap().name(), *name);
        }
        assert!(
            Workload::parse("bogus", None, None)
                .unwrap_err()
                .contains("nexmark")
        );
        assert!(Workload::parse("nexmark", Some(5), None).is_err());
        assert_eq!(
            Workload::parse("keyed-stream", None, None),
            Ok(Workload::KeyedStream { keys: 1_000_000 })
        );
        assert!(Workload::parse("keyed-stream", None, Some(1.0)).is_err());
        assert!(Workload::parse("uniform", None, Some(1.0)).is_err());
        assert!(Workload::parse("uniform", Some(0), None).is_err());
        assert!(Workload::parse("zipf", None, Some(-1.0)).is_err());
        assert!(Workload::parse("zipf", None, Some(f64::NAN)).is_err());
        assert_eq!(
            Workload::parse("zipf", Some(7), None)
                .unwrap()
                .keyspace_size_hint(),
            Some(7)
        );
        assert_eq!(Workload::Nexmark.keyspace_size_hint(), None);
    }

    #[test]
    fn deterministic_exact_count_and_seed_sensitive() {
        for workload in all() {
            let a: Vec<Mutation> = generate(&workload, &config(3000, 7, 50)).collect();
            let b: Vec<Mutation> = generate(&workload, &config(3000, 7, 50)).collect();
            let c: Vec<Mutation> = generate(&workload, &config(3000, 8, 50)).collect();
            assert_eq!(a.len(), 3000);
            assert_eq!(generate(&workload, &config(3000, 7, 50)).len(), 3000);
            assert_eq!(a, b, "{workload:?}");
            assert_ne!(a, c, "{workload:?}");
            assert!(a.iter().all(|m| m.ts.is_some()));
            // Puts carry a map, except keyed-stream's plain integers.
            let integers = matches!(workload, Workload::KeyedStream { .. });
            assert!(a.iter().all(|m| m.op == crate::change::Op::Delete
                || matches!(m.value, Value::Map(_))
                || (integers && matches!(m.value, Value::Int(_)))));
            // Disorder moves timestamps only.
            let d: Vec<Mutation> = generate(&workload, &config(3000, 7, 0)).collect();
            let strip =
                |v: &[Mutation]| v.iter().map(|m| (m.key.clone(), m.op)).collect::<Vec<_>>();
            assert_eq!(strip(&a), strip(&d));
        }
        assert_eq!(generate(&Workload::Nexmark, &config(0, 1, 0)).count(), 0);
    }

    /// FNV-1a over every field of the first events: pins the streams forever.
    fn digest(workload: &Workload, cfg: &GenConfig) -> u64 {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for m in generate(workload, cfg) {
            let text = format!(
                "{}|{:?}|{:?}|{}\n",
                m.key,
                m.op,
                m.ts,
                m.value.to_json_string()
            );
            for b in text.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
            }
        }
        h
    }

    #[test]
    fn streams_are_pinned() {
        let got: Vec<u64> = all()
            .iter()
            .map(|w| digest(w, &config(2000, 42, 300)))
            .collect();
        assert_eq!(
            got,
            [
                12_512_230_481_726_949_700,
                10_313_047_739_815_623_017,
                6_528_719_750_685_525_058,
                8_102_597_606_535_730_262,
                12_697_551_045_685_147_768,
            ]
        );
    }

    #[test]
    fn disorder_is_bounded_and_clock_is_exact() {
        for workload in all() {
            for disorder in [0, 1, 37, 5000] {
                let mut max_seen = 0;
                for m in generate(&workload, &config(20_000, 3, disorder)) {
                    let ts = m.ts.unwrap();
                    max_seen = max_seen.max(ts);
                    assert!(
                        max_seen - ts <= disorder,
                        "{workload:?} disorder {disorder}"
                    );
                }
            }
        }
        let cfg = GenConfig {
            events: 7001,
            rate_per_sec: 3000,
            ..config(0, 0, 0)
        };
        let ts: Vec<u64> = generate(&Workload::Uniform { keys: 5 }, &cfg)
            .map(|m| m.ts.unwrap())
            .collect();
        assert_eq!(ts[0], cfg.start_ts);
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
        // 7000 events at 3000/s take exactly 7000 * 1000 / 3000 ms, rounded down.
        assert_eq!(ts[7000] - ts[0], 2333);
    }
}
