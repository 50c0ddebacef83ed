//! `nexmark`: persons, auctions and bids after the Nexmark benchmark's generator (as in
//! Apache Beam's and Flink's `GeneratorConfig`), emitted as puts.
//!
//! Every 50 events hold 1 person, 3 auctions and 46 bids, in that order. Ids are dense and
//! start at 1000. As in Nexmark's defaults (`hotSellersRatio = 4`, `hotAuctionRatio = 2`,
//! `hotBiddersRatio = 4`): 3/4 of auctions are sold by the current hot seller (the first of
//! the latest batch of 100 persons), 1/2 of bids go to the current hot auction (the first of
//! the latest batch of 100 auctions) and 3/4 are by the hot bidder (the second person of the
//! batch). Other sellers and bidders are among the 1000 latest persons, other bid targets
//! among the 100 latest auctions. Unlike Nexmark there is no id "lead": every reference names
//! an entity already put.
//!
//! Keys: `person_<id>`, `auction_<id>`, `bid_<auction>_<n>` (`n` counts bids from 1). Every
//! value also carries the event's `ts`, Nexmark's `dateTime`.

use super::rng::{Rng, exp};
use super::{concat, key, map};
use crate::change::Mutation;
use crate::value::Value;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const TOTAL_PROPORTION: u64 = 50;
const FIRST_PERSON_ID: u64 = 1000;
const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const NUM_CATEGORIES: u64 = 5;
const HOT_SELLERS_RATIO: u64 = 4;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_BIDDERS_RATIO: u64 = 4;
/// Hot entities are the first (sellers, auctions) or second (bidders) of each batch this big.
const HOT_BATCH: u64 = 100;
const NUM_ACTIVE_PEOPLE: u64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;

const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// State of a `nexmark` run.
#[derive(Clone, Debug)]
pub struct Nexmark {
    event: u64,
    bids: u64,
    /// Mean auction length in ms: the event time until 100 more auctions exist.
    horizon_ms: u64,
}

impl Nexmark {
    pub fn new(rate_per_sec: u64) -> Nexmark {
        let events = NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION / AUCTION_PROPORTION;
        Nexmark {
            event: 0,
            bids: 0,
            horizon_ms: events * 1000 / rate_per_sec.max(1),
        }
    }

    pub fn next(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let event = self.event;
        self.event += 1;
        let epoch = event / TOTAL_PROPORTION;
        let offset = event % TOTAL_PROPORTION;
        if offset < PERSON_PROPORTION {
            self.person(rng, epoch, ts)
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            let id = epoch * AUCTION_PROPORTION + offset - PERSON_PROPORTION;
            self.auction(rng, epoch, id, ts)
        } else {
            self.bid(rng, epoch, ts)
        }
    }

    fn person(&mut self, rng: &mut Rng, epoch: u64, ts: u64) -> Mutation {
        let id = FIRST_PERSON_ID + epoch;
        let (first, last) = (rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
        let name = concat(&[first, " ", last]);
        let (user, domain) = (letters(rng, 7), letters(rng, 5));
        let email = concat(&[&user, "@", &domain, ".com"]);
        let value = map([
            ("id", int(id)),
            ("name", name.into()),
            ("email", email.into()),
            ("city", (*rng.pick(&CITIES)).into()),
            ("state", (*rng.pick(&STATES)).into()),
            ("ts", int(ts)),
        ]);
        Mutation::put(key("person", id), value, ts)
    }

    fn auction(&mut self, rng: &mut Rng, epoch: u64, base0_id: u64, ts: u64) -> Mutation {
        let id = FIRST_AUCTION_ID + base0_id;
        // The person of this epoch is the latest one.
        let seller = if rng.below(HOT_SELLERS_RATIO) > 0 {
            epoch / HOT_BATCH * HOT_BATCH
        } else {
            recent_person(rng, epoch)
        };
        let initial_bid = price(rng);
        let value = map([
            ("id", int(id)),
            ("item_name", words(rng, 20).into()),
            ("description", words(rng, 100).into()),
            ("initial_bid", int(initial_bid)),
            ("reserve", int(initial_bid + price(rng))),
            ("ts", int(ts)),
            (
                "expires",
                int(ts + 1 + rng.below((2 * self.horizon_ms).max(1))),
            ),
            ("seller", int(FIRST_PERSON_ID + seller)),
            (
                "category",
                int(FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES)),
            ),
        ]);
        Mutation::put(key("auction", id), value, ts)
    }

    fn bid(&mut self, rng: &mut Rng, epoch: u64, ts: u64) -> Mutation {
        // This epoch's auctions are all out; the latest is its last.
        let last_auction = epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
        let auction = if rng.below(HOT_AUCTION_RATIO) > 0 {
            last_auction / HOT_BATCH * HOT_BATCH
        } else {
            let min = last_auction.saturating_sub(NUM_IN_FLIGHT_AUCTIONS);
            rng.range(min, last_auction)
        };
        let bidder = if rng.below(HOT_BIDDERS_RATIO) > 0 {
            (epoch / HOT_BATCH * HOT_BATCH + 1).min(epoch)
        } else {
            recent_person(rng, epoch)
        };
        let auction = FIRST_AUCTION_ID + auction;
        let channel = rng.below(CHANNELS.len() as u64) as usize;
        let url = concat(&[
            "https://www.nexmark.com/",
            &letters(rng, 5),
            "/item.htm?query=1&channel_id=",
            itoa::Buffer::new().format(channel),
        ]);
        self.bids += 1;
        let value = map([
            ("auction", int(auction)),
            ("bidder", int(FIRST_PERSON_ID + bidder)),
            ("price", int(price(rng))),
            ("channel", CHANNELS[channel].into()),
            ("url", url.into()),
            ("ts", int(ts)),
        ]);
        let mut numbers = (itoa::Buffer::new(), itoa::Buffer::new());
        let key = concat(&[
            "bid_",
            numbers.0.format(auction),
            "_",
            numbers.1.format(self.bids),
        ]);
        Mutation::put(key, value, ts)
    }
}

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// A base-0 person id among the `NUM_ACTIVE_PEOPLE` latest, `last` being the newest.
fn recent_person(rng: &mut Rng, last: u64) -> u64 {
    let people = last + 1;
    let active = people.min(NUM_ACTIVE_PEOPLE);
    people - active + rng.below(active)
}

/// Nexmark's price: `round(10^(6u) * 100)` cents, log-uniform in `100..=100_000_000`.
fn price(rng: &mut Rng) -> u64 {
    (exp(rng.f64() * 6.0 * std::f64::consts::LN_10) * 100.0).round() as u64
}

/// 3 to `max_len - 1` lowercase letters.
fn letters(rng: &mut Rng, max_len: u64) -> String {
    let len = rng.range(3, max_len - 1);
    (0..len)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

/// Like [`letters`] with about one space in 13 characters, trimmed (Nexmark's `nextString`).
fn words(rng: &mut Rng, max_len: u64) -> String {
    let len = rng.range(3, max_len - 1);
    let text: String = (0..len)
        .map(|_| {
            if rng.below(13) == 0 {
                ' '
            } else {
                (b'a' + rng.below(26) as u8) as char
            }
        })
        .collect();
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::super::{Workload, generate, tests::config};
    use crate::change::Op;
    use std::collections::HashSet;

    #[test]
    fn mix_and_references() {
        let events: Vec<_> = generate(&Workload::Nexmark, &config(5000, 5, 200)).collect();
        let kind = |k: &str| events.iter().filter(|m| m.key.starts_with(k)).count();
        assert_eq!(
            (kind("person_"), kind("auction_"), kind("bid_")),
            (100, 300, 4600)
        );
        assert!(events.iter().all(|m| m.op == Op::Put));
        let mut persons = HashSet::new();
        let mut auctions = HashSet::new();
        let mut hot_auction_bids = 0;
        for m in &events {
            let v = &m.value;
            assert_eq!(v.get("ts").as_i64(), m.ts.map(|t| t as i64));
            if m.key.starts_with("person_") {
                assert!(persons.insert(v.get("id").as_i64().unwrap()));
            } else if m.key.starts_with("auction_") {
                assert!(persons.contains(&v.get("seller").as_i64().unwrap()));
                let category = v.get("category").as_i64().unwrap();
                assert!((10..=14).contains(&category));
                assert!(v.get("reserve").as_i64() >= v.get("initial_bid").as_i64());
                assert!(v.get("expires").as_i64() > v.get("ts").as_i64());
                assert!(auctions.insert(v.get("id").as_i64().unwrap()));
            } else {
                let auction = v.get("auction").as_i64().unwrap();
                assert!(auctions.contains(&auction), "{}", m.key);
                assert!(persons.contains(&v.get("bidder").as_i64().unwrap()));
                assert!(m.key.starts_with(&format!("bid_{auction}_")));
                let price = v.get("price").as_i64().unwrap();
                assert!((100..=100_000_000).contains(&price));
                hot_auction_bids += u64::from(auction % 100 == 0);
            }
        }
        assert!(persons.iter().all(|&id| id >= 1000) && auctions.iter().all(|&id| id >= 1000));
        // Half the bids go to the hot auction, plus a few uniform picks that land on it.
        assert!(
            (2100..=2700).contains(&hot_auction_bids),
            "{hot_auction_bids}"
        );
    }
}
