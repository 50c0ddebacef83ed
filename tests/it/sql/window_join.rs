//! Window joins (equal `window_start` and `window_end` in ON) with expected outputs: a window
//! where one side has no rows gives no rows (a LEFT JOIN: its left rows with NULLs), rows of
//! other windows never meet; a brute-force oracle over generated Nexmark bids and auctions in
//! hopping windows, inner and left, the TOML twins, and 1 and 4 workers.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;
use kvflow::workload::{GenConfig, Workload, generate};

use super::harness::{run_sql, run_toml, sorted};

const T: u64 = 1_700_000_000_000;

const ORDERS_SQL: &str = "
CREATE SOURCE orders FROM events WITH (key_regex = '^order_');
CREATE SOURCE payments FROM events WITH (key_regex = '^payment_');
CREATE VIEW paid AS
SELECT window_start, window_end, value.user AS customer, count(*) AS payments
FROM TUMBLE(TABLE payments, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.user;
INSERT INTO orders_paid
SELECT orders.window_start AS window_start, orders.key AS order_key, paid.payments AS payments
FROM TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' SECOND)
JOIN paid ON orders.window_start = paid.window_start AND orders.window_end = paid.window_end
 AND orders.value.user = paid.customer;";

fn event(kind: &str, n: usize, user: &str, offset: u64) -> Mutation {
    let value = Value::from_json(json!({ "user": user }));
    Mutation::put(format!("{kind}_{n}"), value, T + offset)
}

fn orders_input() -> Vec<Mutation> {
    vec![
        // Window [0, 10 s): two orders and two payments of u1; an order of u2, no payment.
        event("order", 1, "u1", 1_000),
        event("payment", 1, "u1", 2_000),
        event("order", 2, "u1", 3_000),
        event("order", 3, "u2", 4_000),
        event("payment", 2, "u1", 9_999),
        // Window [10 s, 20 s): orders only (the payments side is empty).
        event("order", 4, "u1", 12_000),
        event("order", 5, "u3", 15_000),
        // Window [20 s, 30 s): payments only (the orders side is empty).
        event("payment", 3, "u1", 21_000),
        // Window [30 s, 40 s): one of each.
        event("order", 6, "u3", 30_000),
        event("payment", 4, "u3", 39_999),
    ]
}

#[test]
fn a_window_with_an_empty_side_gives_no_rows() {
    let row = |start: u64, key: &str, n: i64| json!({"window_start": T + start, "order_key": key, "payments": n});
    let expected = sorted([
        row(0, "order_1", 2),
        row(0, "order_2", 2),
        row(30_000, "order_6", 1),
    ]);
    let mut lines = Vec::new();
    for (workers, per_event) in [(1, true), (1, false), (4, true), (4, false)] {
        let written = run_sql(ORDERS_SQL, &orders_input(), workers, per_event);
        assert_eq!(written.rows("orders_paid"), expected, "{workers} workers");
        lines.push(written.lines("orders_paid"));
    }
    assert!(lines.windows(2).all(|w| w[0] == w[1]), "{lines:?}");
}

/// The orders of each window with their customer's payments in it, NULL when none.
fn orders_left_sql() -> String {
    ORDERS_SQL.replace("\nJOIN paid ON", "\nLEFT JOIN paid ON")
}

#[test]
fn a_left_window_join_writes_each_unmatched_left_row_once_with_nulls() {
    let row = |start: u64, key: &str, n: Json| json!({"window_start": T + start, "order_key": key, "payments": n});
    let mut input = orders_input();
    // No user: its key is NULL, which matches nothing, so it comes out with NULLs.
    let last = input.len() - 1;
    input.insert(
        last,
        Mutation::put(
            "order_7".to_string(),
            Value::from_json(json!({ "item": 1 })),
            T + 31_000,
        ),
    );
    let expected = sorted([
        row(0, "order_1", json!(2)),
        row(0, "order_2", json!(2)),
        row(0, "order_3", Json::Null),
        row(10_000, "order_4", Json::Null),
        row(10_000, "order_5", Json::Null),
        row(30_000, "order_6", json!(1)),
        row(30_000, "order_7", Json::Null),
    ]);
    let sql = orders_left_sql();
    let mut lines = Vec::new();
    for (workers, per_event) in [(1, true), (1, false), (4, true), (4, false)] {
        let written = run_sql(&sql, &input, workers, per_event);
        assert_eq!(written.rows("orders_paid"), expected, "{workers} workers");
        lines.push(written.lines("orders_paid"));
    }
    assert!(lines.windows(2).all(|w| w[0] == w[1]), "{lines:?}");
}

const BIDS_SQL: &str = "
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE SOURCE auctions FROM events WITH (key_regex = '^auction_');
CREATE VIEW auction_windows AS
SELECT * FROM HOP(TABLE auctions, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND);
INSERT INTO same_window
SELECT bids.window_start AS window_start, bids.key AS bid, auction_windows.key AS auction
FROM HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)
JOIN auction_windows ON bids.window_start = auction_windows.window_start
 AND bids.window_end = auction_windows.window_end
 AND CAST(bids.value.auction AS INT) = CAST(auction_windows.value.id AS INT);";

const BIDS_TOML: &str = r#"
[sources.bids]
view = "events"
key_regex = "^bid_"

[sources.auctions]
view = "events"
key_regex = "^auction_"

[[pipelines]]
name = "auction_windows"
from = "auctions"
internal = true
steps = [{ window = { kind = "sliding", size = 6000, slide = 2000 } }]

[[pipelines]]
name = "same_window"
from = "bids"

[[pipelines.steps]]
window = { kind = "sliding", size = 6000, slide = 2000 }

[[pipelines.steps]]
window_join = "auction_windows"
left_on = ["CAST(value.auction AS INT)"]
right_on = ["CAST(value.id AS INT)"]

[[pipelines.steps]]
map = { window_start = "bids.window_start", bid = "bids.key", auction = "auction_windows.key" }
"#;

/// Every (bid, auction) pair of one auction id in one hopping window (6 s every 2 s); with
/// `left`, a bid without an auction in its window is paired with NULL.
fn same_window_oracle(input: &[Mutation], left: bool) -> Vec<Json> {
    let windows = |ts: i64| {
        let last = ts - ts.rem_euclid(2000);
        (0..3)
            .map(move |k| last - k * 2000)
            .filter(move |s| ts < s + 6000)
    };
    let int = |m: &Mutation, f: &str| m.value.get(f).as_i64().expect(f);
    let mut auctions: HashMap<(i64, i64), Vec<&str>> = HashMap::new();
    for a in input.iter().filter(|m| m.key.starts_with("auction_")) {
        for start in windows(a.ts.expect("ts") as i64) {
            auctions
                .entry((start, int(a, "id")))
                .or_default()
                .push(&a.key);
        }
    }
    let mut out = Vec::new();
    for b in input.iter().filter(|m| m.key.starts_with("bid_")) {
        for start in windows(b.ts.expect("ts") as i64) {
            let partners = auctions.get(&(start, int(b, "auction")));
            for a in partners.into_iter().flatten() {
                out.push(json!({"window_start": start, "bid": &*b.key, "auction": a}));
            }
            if left && partners.is_none() {
                out.push(json!({"window_start": start, "bid": &*b.key, "auction": null}));
            }
        }
    }
    sorted(out)
}

/// 4000 generated Nexmark events, 200 per second of event time.
fn nexmark_input() -> Vec<Mutation> {
    let config = GenConfig {
        events: 4000,
        seed: 5,
        rate_per_sec: 200,
        ..GenConfig::default()
    };
    generate(&Workload::Nexmark, &config).collect()
}

#[test]
fn window_join_matches_a_brute_force_oracle_on_nexmark() {
    let input = nexmark_input();
    let expected = same_window_oracle(&input, false);
    assert!(
        expected.len() > 20,
        "the input must give pairs: {}",
        expected.len()
    );
    let one = run_sql(BIDS_SQL, &input, 1, false);
    assert_eq!(one.rows("same_window"), expected);
    let four = run_sql(BIDS_SQL, &input, 4, true);
    assert_eq!(
        four.lines("same_window"),
        one.lines("same_window"),
        "4 workers"
    );
    let toml = run_toml(BIDS_TOML, &input, 2, false);
    assert_eq!(
        toml.lines("same_window"),
        one.lines("same_window"),
        "TOML twin"
    );
}

#[test]
fn left_window_join_matches_a_brute_force_oracle_on_nexmark() {
    let input = nexmark_input();
    let expected = same_window_oracle(&input, true);
    let unmatched = expected.iter().filter(|r| r["auction"].is_null()).count();
    assert!(
        unmatched > 20 && expected.len() > unmatched + 20,
        "pairs and unmatched bids: {} of {}",
        unmatched,
        expected.len()
    );
    let sql = BIDS_SQL.replace("\nJOIN auction_windows", "\nLEFT JOIN auction_windows");
    let one = run_sql(&sql, &input, 1, false);
    assert_eq!(one.rows("same_window"), expected);
    let four = run_sql(&sql, &input, 4, true);
    assert_eq!(four.lines("same_window"), one.lines("same_window"));
    let toml = BIDS_TOML.replace(
        "window_join = \"auction_windows\"",
        "window_join = \"auction_windows\"\nkind = \"left\"",
    );
    let toml = run_toml(&toml, &input, 2, false);
    assert_eq!(toml.lines("same_window"), one.lines("same_window"));
}
