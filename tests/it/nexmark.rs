//! The Nexmark queries in `dataflows/nexmark/` against batch recomputes written here over
//! the same small generated input (3000 events over 60 s of event time: several windows), with
//! 1 worker and with 2 (and two batch sizes). Append-only queries (q0–q2) are compared row for row; changelog
//! queries by their final state. q15–q19 are Flink's statistics reports (aggregates with
//! FILTER and count(DISTINCT …)), deduplication and top-N; q9 a join filtered to each
//! auction's open time and ranked; q7 and q8 are window joins, q20 a
//! lookup of each bid's auction, q21 and q22 string functions over each bid.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::OutputKind;
use kvflow::sinks::capture::Capture;
use kvflow::workload::{GenConfig, Workload, generate};

use crate::support::repo;

const EVENTS: u64 = 3000;
const WINDOW: i64 = 10_000;

/// The generated input, made once for every test.
fn input() -> Arc<Vec<Mutation>> {
    static INPUT: OnceLock<Arc<Vec<Mutation>>> = OnceLock::new();
    INPUT
        .get_or_init(|| {
            let config = GenConfig {
                events: EVENTS,
                seed: 3,
                rate_per_sec: 50,
                ..GenConfig::default()
            };
            Arc::new(generate(&Workload::Nexmark, &config).collect())
        })
        .clone()
}

/// Runs `dataflows/nexmark/<query>.toml`; returns the parsed lines of `pipeline`'s `kind`
/// output, sorted.
fn run_query(query: &str, run_spec: (usize, u64), kind: OutputKind) -> Vec<Json> {
    run_file(query, query, run_spec, kind)
}

/// The rows of pipeline `query` in the run of `dataflows/nexmark/<file>.toml`.
fn run_file(
    file: &str,
    query: &str,
    (workers, batch_ms): (usize, u64),
    kind: OutputKind,
) -> Vec<Json> {
    let path = repo(&format!("dataflows/nexmark/{file}.toml"));
    let loaded = kvflow::dataflow_file::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let capture = Capture::new();
    let summary = run(
        Arc::new(loaded.plan),
        InputSource::Memory(input()),
        RunOptions::default()
            .workers(workers)
            .batch_ms(batch_ms)
            .batch_events(if workers > 1 { 500 } else { 0 }),
        Arc::new(capture.clone()),
    )
    .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert!(
        summary
            .pipelines
            .iter()
            .all(|p| p.errors == 0 && p.late == 0)
    );
    let lines = capture.sorted(query, kind);
    sorted(
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON line")),
    )
}

fn sorted(rows: impl IntoIterator<Item = Json>) -> Vec<Json> {
    let mut rows: Vec<Json> = rows.into_iter().collect();
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// (workers, batch ms) of the runs each query is checked with: results must not depend on
/// either, nor on the batch volume (the 2-worker run also cuts by 500 events). Batches of
/// 1 s or more keep the debug-build tests quick.
const RUNS: [(usize, u64); 2] = [(1, 1000), (2, 2500)];

/// Checks a query with each of [`RUNS`] against `expected`.
fn check(query: &str, kind: OutputKind, expected: Vec<Json>) {
    check_file(query, query, kind, expected);
}

/// [`check`] of pipeline `query` in file `file`.
fn check_file(file: &str, query: &str, kind: OutputKind, expected: Vec<Json>) {
    assert!(!expected.is_empty(), "{file}: the input must give rows");
    for run in RUNS {
        let workers = run.0;
        let got = run_file(file, query, run, kind);
        assert_eq!(got.len(), expected.len(), "{file} with {workers} workers");
        if let Some((g, e)) = got.iter().zip(&expected).find(|(g, e)| !same(g, e)) {
            panic!("{file} with {workers} workers: got {g}, expected {e}");
        }
    }
}

/// Equal, floats within a relative 1e-12: serde_json's default float parsing may land one
/// unit in the last place away from the printed value.
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

struct Bid {
    auction: i64,
    bidder: i64,
    price: i64,
    channel: String,
    url: String,
    ts: i64,
}

struct Auction {
    id: i64,
    seller: i64,
    category: i64,
    ts: i64,
    expires: i64,
    item_name: String,
    initial_bid: i64,
    reserve: i64,
}

struct Person {
    id: i64,
    name: String,
    city: String,
    state: String,
    ts: i64,
}

fn int(m: &Mutation, field: &str) -> i64 {
    m.value.get(field).as_i64().expect(field)
}

fn text(m: &Mutation, field: &str) -> String {
    m.value.get(field).as_str().expect(field).to_string()
}

fn bids() -> Vec<Bid> {
    input()
        .iter()
        .filter(|m| m.key.starts_with("bid_"))
        .map(|m| Bid {
            auction: int(m, "auction"),
            bidder: int(m, "bidder"),
            price: int(m, "price"),
            channel: text(m, "channel"),
            url: text(m, "url"),
            ts: m.ts.expect("ts") as i64,
        })
        .collect()
}

fn auctions() -> Vec<Auction> {
    input()
        .iter()
        .filter(|m| m.key.starts_with("auction_"))
        .map(|m| Auction {
            id: int(m, "id"),
            seller: int(m, "seller"),
            category: int(m, "category"),
            ts: int(m, "ts"),
            expires: int(m, "expires"),
            item_name: text(m, "item_name"),
            initial_bid: int(m, "initial_bid"),
            reserve: int(m, "reserve"),
        })
        .collect()
}

fn persons() -> Vec<Person> {
    input()
        .iter()
        .filter(|m| m.key.starts_with("person_"))
        .map(|m| Person {
            id: int(m, "id"),
            name: text(m, "name"),
            city: text(m, "city"),
            state: text(m, "state"),
            ts: m.ts.expect("ts") as i64,
        })
        .collect()
}

fn window_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(WINDOW)
}

#[test]
fn q0_passes_every_bid_through() {
    let expected = bids().into_iter().map(|b| {
        json!({"auction": b.auction, "bidder": b.bidder, "price": b.price,
               "channel": b.channel, "url": b.url, "date_time": b.ts})
    });
    check("q0", OutputKind::Rows, sorted(expected));
}

#[test]
fn q1_converts_prices() {
    let expected = bids().into_iter().map(|b| {
        json!({"auction": b.auction, "bidder": b.bidder,
               "price": 0.908 * b.price as f64, "date_time": b.ts})
    });
    check("q1", OutputKind::Rows, sorted(expected));
}

#[test]
fn q2_selects_auctions() {
    let expected = bids()
        .into_iter()
        .filter(|b| b.auction % 123 == 0)
        .map(|b| json!({"auction": b.auction, "price": b.price}));
    check("q2", OutputKind::Rows, sorted(expected));
}

#[test]
fn q3_suggests_local_items() {
    let local: HashMap<i64, Person> = persons()
        .into_iter()
        .filter(|p| ["OR", "ID", "CA"].contains(&p.state.as_str()))
        .map(|p| (p.id, p))
        .collect();
    let expected = auctions()
        .into_iter()
        .filter(|a| a.category == 10)
        .filter_map(|a| {
            let p = local.get(&a.seller)?;
            Some(json!({"name": p.name, "city": p.city, "state": p.state, "auction": a.id}))
        });
    check("q3", OutputKind::Final, sorted(expected));
}

#[test]
fn q4_averages_winning_bids_per_category() {
    let by_id: HashMap<i64, Auction> = auctions().into_iter().map(|a| (a.id, a)).collect();
    let mut winning: BTreeMap<i64, i64> = BTreeMap::new();
    for b in bids() {
        let Some(a) = by_id.get(&b.auction) else {
            continue;
        };
        if (a.ts..=a.expires).contains(&b.ts) {
            let best = winning.entry(a.id).or_insert(b.price);
            *best = (*best).max(b.price);
        }
    }
    let mut per_category: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for (id, price) in winning {
        let entry = per_category.entry(by_id[&id].category).or_default();
        entry.0 += price;
        entry.1 += 1;
    }
    assert!(!per_category.is_empty());
    for run in RUNS {
        let workers = run.0;
        let got = run_query("q4", run, OutputKind::Final);
        assert_eq!(got.len(), per_category.len(), "q4 with {workers} workers");
        for row in got {
            let category = row["category"].as_i64().expect("category");
            let (sum, count) = per_category[&category];
            let want = sum as f64 / count as f64;
            let avg = row["avg_price"].as_f64().expect("avg_price");
            assert!((avg - want).abs() <= 1e-9 * want, "{row} vs {want}");
        }
    }
}

#[test]
fn q5_finds_hot_items_per_hopping_window() {
    let (size, slide) = (10_000, 2_000);
    let mut counts: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for b in bids() {
        let last = b.ts - b.ts.rem_euclid(slide);
        let mut start = last;
        while start > b.ts - size {
            *counts.entry((start, b.auction)).or_default() += 1;
            start -= slide;
        }
    }
    let mut max: BTreeMap<i64, i64> = BTreeMap::new();
    for (&(start, _), &n) in &counts {
        let m = max.entry(start).or_default();
        *m = (*m).max(n);
    }
    let expected = counts
        .iter()
        .filter(|&(&(start, _), &n)| max[&start] == n)
        .map(|(&(start, auction), &n)| {
            json!({"window_start": start, "window_end": start + size,
                   "auction": auction, "num": n})
        });
    let expected = sorted(expected);
    check("q5", OutputKind::Final, expected.clone());
    check_file("q5_join", "q5", OutputKind::Final, expected);
}

#[test]
fn q7_finds_the_highest_bid_per_window() {
    let bids = bids();
    let mut max: BTreeMap<i64, i64> = BTreeMap::new();
    for b in &bids {
        let m = max.entry(window_of(b.ts)).or_insert(b.price);
        *m = (*m).max(b.price);
    }
    let expected = bids
        .iter()
        .filter(|b| max[&window_of(b.ts)] == b.price)
        .map(|b| {
            json!({"window_start": window_of(b.ts), "auction": b.auction,
                   "bidder": b.bidder, "price": b.price, "date_time": b.ts})
        });
    check("q7", OutputKind::Final, sorted(expected));
}

#[test]
fn q8_finds_new_users_who_sell_at_once() {
    let sellers: BTreeSet<(i64, i64)> = auctions()
        .iter()
        .map(|a| (a.seller, window_of(a.ts)))
        .collect();
    let expected = persons()
        .into_iter()
        .filter(|p| sellers.contains(&(p.id, window_of(p.ts))))
        .map(|p| json!({"id": p.id, "name": p.name, "start": window_of(p.ts)}));
    check("q8", OutputKind::Final, sorted(expected));
}

/// Each auction's highest bid made while it was open (`BETWEEN` its time and its expiry, both
/// included); of equal prices the earliest, then (the rest of the row) the lowest bidder.
#[test]
fn q9_finds_the_winning_bid_of_each_auction() {
    let bids = bids();
    let mut expected = Vec::new();
    for m in input().iter().filter(|m| m.key.starts_with("auction_")) {
        let (id, opened, expires) = (int(m, "id"), m.ts.expect("ts") as i64, int(m, "expires"));
        let open = bids
            .iter()
            .filter(|b| b.auction == id && (opened..=expires).contains(&b.ts));
        let best = open.min_by_key(|b| (std::cmp::Reverse(b.price), b.ts, b.bidder));
        let Some(b) = best else {
            continue;
        };
        expected.push(json!({
            "id": id, "itemName": text(m, "item_name"), "description": text(m, "description"),
            "initialBid": int(m, "initial_bid"), "reserve": int(m, "reserve"),
            "dateTime": opened, "expires": expires, "seller": int(m, "seller"),
            "category": int(m, "category"), "auction": b.auction, "bidder": b.bidder,
            "price": b.price, "bid_dateTime": b.ts, "rownum": 1
        }));
    }
    let auctions = auctions().len();
    assert!(
        expected.len() < auctions,
        "some of {auctions} auctions get no bid while open"
    );
    check("q9", OutputKind::Final, sorted(expected));
}

#[test]
fn q11_counts_each_bidders_bids_per_session() {
    const GAP: i64 = 10_000;
    let mut by_bidder: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for b in bids() {
        by_bidder.entry(b.bidder).or_default().push(b.ts);
    }
    let session = |bidder: i64, start: i64, last: i64, n: usize| json!({"bidder": bidder, "bid_count": n, "starttime": start, "endtime": last + GAP});
    let mut expected = Vec::new();
    for (bidder, mut times) in by_bidder {
        times.sort_unstable();
        // Bids at most GAP apart (exactly GAP included) are one session.
        let (mut start, mut last, mut n) = (times[0], times[0], 0);
        for t in times {
            if t - last > GAP {
                expected.push(session(bidder, start, last, n));
                (start, n) = (t, 0);
            }
            last = t;
            n += 1;
        }
        expected.push(session(bidder, start, last, n));
    }
    check("q11", OutputKind::Final, sorted(expected));
}

#[test]
fn q20_expands_each_bid_with_its_auction() {
    let by_id: HashMap<i64, Auction> = auctions()
        .into_iter()
        .filter(|a| a.category == 10)
        .map(|a| (a.id, a))
        .collect();
    let expected = bids().into_iter().filter_map(|b| {
        let a = by_id.get(&b.auction)?;
        Some(
            json!({"auction": b.auction, "bidder": b.bidder, "price": b.price,
                    "channel": b.channel, "url": b.url, "bid_date_time": b.ts,
                    "item_name": a.item_name, "initial_bid": a.initial_bid,
                    "reserve": a.reserve, "auction_date_time": a.ts, "expires": a.expires,
                    "seller": a.seller, "category": a.category}),
        )
    });
    check("q20", OutputKind::Final, sorted(expected));
}

#[test]
fn q21_adds_a_channel_id() {
    let known = ["apple", "google", "facebook", "baidu"];
    let expected = bids().into_iter().filter_map(|b| {
        let in_url = b
            .url
            .split_once("&channel_id=")
            .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_string());
        let lower = b.channel.to_lowercase();
        let id = match known.iter().position(|k| *k == lower) {
            Some(i) => i.to_string(),
            None => in_url.filter(|id| !id.is_empty())?,
        };
        Some(
            json!({"auction": b.auction, "bidder": b.bidder, "price": b.price,
                    "channel": b.channel, "channel_id": id}),
        )
    });
    check("q21", OutputKind::Rows, sorted(expected));
}

#[test]
fn q22_splits_url_directories() {
    let expected = bids().into_iter().map(|b| {
        let pieces: Vec<&str> = b.url.split('/').collect();
        let dir = |i: usize| pieces.get(i).copied().unwrap_or_default();
        json!({"auction": b.auction, "bidder": b.bidder, "price": b.price,
               "channel": b.channel, "dir1": dir(3), "dir2": dir(4), "dir3": dir(5)})
    });
    check("q22", OutputKind::Rows, sorted(expected));
}

const DAY: i64 = 86_400_000;
const PRICE_LEVELS: [(&str, i64, i64); 3] = [
    ("rank1", i64::MIN, 10_000),
    ("rank2", 10_000, 1_000_000),
    ("rank3", 1_000_000, i64::MAX),
];

/// q15's and q16's columns over one group of bids: counts of bids, distinct bidders and
/// distinct auctions, in all and per price level.
fn bid_statistics(bids: &[&Bid], row: &mut serde_json::Map<String, Json>) {
    let level = |b: &&&Bid, lo: i64, hi: i64| b.price >= lo && b.price < hi;
    row.insert("total_bids".into(), json!(bids.len()));
    for (name, lo, hi) in PRICE_LEVELS {
        let n = bids.iter().filter(|b| level(b, lo, hi)).count();
        row.insert(format!("{name}_bids"), json!(n));
    }
    for (what, field) in [("bidders", 0), ("auctions", 1)] {
        let of = |b: &&Bid| if field == 0 { b.bidder } else { b.auction };
        let distinct = |keep: &dyn Fn(&&&Bid) -> bool| {
            bids.iter()
                .filter(|b| keep(b))
                .map(of)
                .collect::<BTreeSet<i64>>()
                .len()
        };
        row.insert(format!("total_{what}"), json!(distinct(&|_| true)));
        for (name, lo, hi) in PRICE_LEVELS {
            row.insert(
                format!("{name}_{what}"),
                json!(distinct(&|b| level(b, lo, hi))),
            );
        }
    }
}

#[test]
fn q15_reports_bidding_statistics_per_day() {
    let bids = bids();
    let mut days: BTreeMap<i64, Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        days.entry(b.ts - b.ts % DAY).or_default().push(b);
    }
    let expected = days.into_iter().map(|(day, bids)| {
        let mut row = serde_json::Map::new();
        row.insert("day".into(), json!(day));
        bid_statistics(&bids, &mut row);
        Json::Object(row)
    });
    check("q15", OutputKind::Final, sorted(expected));
}

#[test]
fn q16_reports_bidding_statistics_per_channel_and_day() {
    let bids = bids();
    let mut groups: BTreeMap<(String, i64), Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        groups
            .entry((b.channel.clone(), b.ts - b.ts % DAY))
            .or_default()
            .push(b);
    }
    let expected = groups.into_iter().map(|((channel, day), bids)| {
        let minute = bids.iter().map(|b| b.ts - b.ts % 60_000).max();
        let mut row = serde_json::Map::new();
        row.insert("channel".into(), json!(channel));
        row.insert("day".into(), json!(day));
        row.insert("minute".into(), json!(minute));
        bid_statistics(&bids, &mut row);
        Json::Object(row)
    });
    check("q16", OutputKind::Final, sorted(expected));
}

#[test]
fn q17_reports_auction_statistics_per_day() {
    let bids = bids();
    let mut groups: BTreeMap<(i64, i64), Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        groups
            .entry((b.auction, b.ts - b.ts % DAY))
            .or_default()
            .push(b);
    }
    let expected = groups.into_iter().map(|((auction, day), bids)| {
        let prices: Vec<i64> = bids.iter().map(|b| b.price).collect();
        let sum: i64 = prices.iter().sum();
        let count = |lo: i64, hi: i64| prices.iter().filter(|p| **p >= lo && **p < hi).count();
        json!({"auction": auction, "day": day, "total_bids": prices.len(),
               "rank1_bids": count(i64::MIN, 10_000), "rank2_bids": count(10_000, 1_000_000),
               "rank3_bids": count(1_000_000, i64::MAX),
               "min_price": prices.iter().min(), "max_price": prices.iter().max(),
               "avg_price": sum as f64 / prices.len() as f64, "sum_price": sum})
    });
    check("q17", OutputKind::Final, sorted(expected));
}

/// A bid as q18 and q19 write it (their row: the order of ties after the ORDER BY key).
fn bid_row(b: &Bid) -> (i64, i64, i64, String, String, i64) {
    (
        b.auction,
        b.bidder,
        b.price,
        b.channel.clone(),
        b.url.clone(),
        b.ts,
    )
}

fn bid_json(b: &Bid) -> Json {
    json!({"auction": b.auction, "bidder": b.bidder, "price": b.price, "channel": b.channel,
           "url": b.url, "dateTime": b.ts})
}

#[test]
fn q18_keeps_the_last_bid_of_each_bidder_on_each_auction() {
    let bids = bids();
    let mut last: BTreeMap<(i64, i64), &Bid> = BTreeMap::new();
    for b in &bids {
        let entry = last.entry((b.bidder, b.auction)).or_insert(b);
        // Latest first; equal times: the smaller row.
        if (b.ts, std::cmp::Reverse(bid_row(b))) > (entry.ts, std::cmp::Reverse(bid_row(entry))) {
            *entry = b;
        }
    }
    assert!(
        last.len() < bids.len(),
        "some bidders bid twice on an auction"
    );
    check(
        "q18",
        OutputKind::Final,
        sorted(last.values().map(|b| bid_json(b))),
    );
}

#[test]
fn q19_keeps_the_ten_highest_bids_of_each_auction() {
    let bids = bids();
    let mut auctions: BTreeMap<i64, Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        auctions.entry(b.auction).or_default().push(b);
    }
    let mut expected = Vec::new();
    for (_, mut bids) in auctions {
        bids.sort_by(|a, b| {
            b.price
                .cmp(&a.price)
                .then_with(|| bid_row(a).cmp(&bid_row(b)))
        });
        for (i, b) in bids.into_iter().take(10).enumerate() {
            let mut row = bid_json(b);
            row["rank_number"] = json!(i + 1);
            expected.push(row);
        }
    }
    assert!(
        expected.len() < bids.len(),
        "some auctions have more than 10 bids"
    );
    check("q19", OutputKind::Final, sorted(expected));
}
