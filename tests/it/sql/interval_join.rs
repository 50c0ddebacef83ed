//! Interval joins (`a.ts BETWEEN b.ts - INTERVAL … AND b.ts` in ON) with expected outputs:
//! a partner that arrives late but within the watermark's bound still joins, the interval's
//! bounds are inclusive (as SQL's BETWEEN), and a row behind the watermark goes to the late
//! output and joins nothing. Then a brute-force oracle over generated Nexmark bids and
//! auctions, the TOML twin, and 1 and 4 workers, event by event and in large batches.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;
use kvflow::workload::{GenConfig, Workload, generate};

use super::harness::{run_sql, run_sql_late, run_toml, sorted};

const T: u64 = 1_700_000_000_000;

const CLICKS_SQL: &str = "
CREATE SOURCE clicks FROM events WITH (key_regex = '^click_', max_out_of_orderness = 1000);
CREATE SOURCE views FROM events WITH (key_regex = '^view_', max_out_of_orderness = 1000);
INSERT INTO matched
SELECT clicks.value.user AS user, clicks.ts AS click_ts, views.ts AS view_ts
FROM clicks JOIN views ON clicks.value.user = views.value.user
 AND clicks.ts BETWEEN views.ts - INTERVAL '10' SECOND AND views.ts;";

fn event(kind: &str, n: usize, user: &str, offset: u64) -> Mutation {
    let value = Value::from_json(json!({ "user": user }));
    Mutation::put(format!("{kind}_{n}"), value, T + offset)
}

/// Clicks and views in input order: each case is commented where it is.
fn clicks_input() -> Vec<Mutation> {
    vec![
        // Late within the bound: the click trails the largest ts (20 300) by 800 ms < 1 s.
        event("view", 1, "a", 20_000),
        event("view", 2, "x", 20_300),
        event("click", 1, "a", 19_500),
        // Exactly at the bounds: 10 s before the view, and at the view's own time.
        event("click", 2, "b", 30_000),
        event("click", 3, "b", 29_999),
        event("view", 3, "b", 40_000),
        event("click", 4, "c", 40_000),
        event("click", 5, "c", 40_001),
        event("view", 4, "c", 40_000),
        // After the watermark passed: the view's partner arrives 12 s behind the largest ts.
        event("view", 5, "d", 50_000),
        event("view", 6, "x", 62_000),
        event("click", 6, "d", 50_000),
        event("view", 7, "x", 70_000),
    ]
}

fn matched(user: &str, click: u64, view: u64) -> Json {
    json!({"user": user, "click_ts": T + click, "view_ts": T + view})
}

#[test]
fn late_partners_within_the_bound_join_and_bounds_are_inclusive() {
    let input = clicks_input();
    let expected = sorted([
        matched("a", 19_500, 20_000),
        matched("b", 30_000, 40_000),
        matched("c", 40_000, 40_000),
    ]);
    // The late click, as the source wrote it (its `seq` is the store's, left out).
    let late = json!({"late": true, "key": "click_6", "ts": T + 50_000, "kind": "insert",
                      "value": {"user": "d"}, "old": null});
    let mut lines = Vec::new();
    for (workers, per_event) in [(1, true), (1, false), (4, true), (4, false)] {
        let written = run_sql_late(CLICKS_SQL, &input, workers, per_event);
        assert_eq!(written.rows("matched"), expected, "{workers} workers");
        let mut got_late = written.late("matched");
        for line in &mut got_late {
            line.as_object_mut().map(|o| o.remove("seq"));
        }
        assert_eq!(got_late, std::slice::from_ref(&late), "{workers} workers");
        lines.push(written.lines("matched"));
    }
    assert!(lines.windows(2).all(|w| w[0] == w[1]), "{lines:?}");
}

const BIDS_SQL: &str = "
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE SOURCE auctions FROM events WITH (key_regex = '^auction_');
INSERT INTO early_bids
SELECT bids.key AS bid, auctions.key AS auction, bids.ts AS bid_ts, auctions.ts AS auction_ts
FROM bids JOIN auctions ON CAST(bids.value.auction AS INT) = CAST(auctions.value.id AS INT)
 AND bids.ts BETWEEN auctions.ts + INTERVAL '100' MILLISECOND AND auctions.ts + 2000;";

const BIDS_TOML: &str = r#"
[sources.bids]
view = "events"
key_regex = "^bid_"

[sources.auctions]
view = "events"
key_regex = "^auction_"

[[pipelines]]
name = "early_bids"
from = "bids"

[[pipelines.steps]]
interval_join = "auctions"
left_on = ["CAST(value.auction AS INT)"]
right_on = ["CAST(value.id AS INT)"]
between = [100, 2000]

[[pipelines.steps]]
map = { bid = "bids.key", auction = "auctions.key", bid_ts = "bids.ts", auction_ts = "auctions.ts" }
"#;

fn nexmark(events: u64) -> Vec<Mutation> {
    let config = GenConfig {
        events,
        seed: 11,
        rate_per_sec: 200,
        ..GenConfig::default()
    };
    generate(&Workload::Nexmark, &config).collect()
}

/// Every (bid, auction) pair of one auction id with the bid 100..=2000 ms after the auction.
fn early_bids_oracle(input: &[Mutation]) -> Vec<Json> {
    let int = |m: &Mutation, f: &str| m.value.get(f).as_i64().expect(f);
    let mut auctions: HashMap<i64, Vec<&Mutation>> = HashMap::new();
    for m in input.iter().filter(|m| m.key.starts_with("auction_")) {
        auctions.entry(int(m, "id")).or_default().push(m);
    }
    let mut out = Vec::new();
    for bid in input.iter().filter(|m| m.key.starts_with("bid_")) {
        let (b, bts) = (int(bid, "auction"), bid.ts.expect("ts") as i64);
        for a in auctions.get(&b).into_iter().flatten() {
            let ats = a.ts.expect("ts") as i64;
            if (ats + 100..=ats + 2000).contains(&bts) {
                out.push(json!({"bid": &*bid.key, "auction": &*a.key,
                                "bid_ts": bts, "auction_ts": ats}));
            }
        }
    }
    sorted(out)
}

#[test]
fn interval_join_matches_a_brute_force_oracle_on_nexmark() {
    let input = nexmark(4000);
    let expected = early_bids_oracle(&input);
    assert!(
        expected.len() > 20,
        "the input must give pairs: {}",
        expected.len()
    );
    let one = run_sql(BIDS_SQL, &input, 1, false);
    assert_eq!(one.rows("early_bids"), expected);
    let four = run_sql(BIDS_SQL, &input, 4, true);
    assert_eq!(
        four.lines("early_bids"),
        one.lines("early_bids"),
        "4 workers"
    );
    let toml = run_toml(BIDS_TOML, &input, 2, false);
    assert_eq!(
        toml.lines("early_bids"),
        one.lines("early_bids"),
        "TOML twin"
    );
}

/// LEFT JOIN: a click no view matched is written once, with NULLs for the view's fields,
/// when no view can match it any more; a matched click is not; a late click joins nothing
/// and is not written as unmatched either. The same lines for 1 and 4 workers, event by
/// event and in large batches.
#[test]
fn left_interval_join_writes_each_unmatched_row_once() {
    let sql = CLICKS_SQL.replace("FROM clicks JOIN views", "FROM clicks LEFT JOIN views");
    let unmatched =
        |user: &str, click: u64| json!({"user": user, "click_ts": T + click, "view_ts": null});
    let mut input = clicks_input();
    // A click without a user: its key is NULL, which matches nothing, so it comes out once.
    let anonymous = Mutation::put(
        "click_7".to_string(),
        Value::from_json(json!({})),
        T + 40_000,
    );
    input.insert(8, anonymous);
    let expected = sorted([
        matched("a", 19_500, 20_000),
        matched("b", 30_000, 40_000),
        matched("c", 40_000, 40_000),
        unmatched("b", 29_999),
        unmatched("c", 40_001),
        json!({"user": null, "click_ts": T + 40_000, "view_ts": null}),
    ]);
    let mut lines = Vec::new();
    for (workers, per_event) in [(1, true), (1, false), (4, true), (4, false)] {
        let written = run_sql_late(&sql, &input, workers, per_event);
        assert_eq!(written.rows("matched"), expected, "{workers} workers");
        assert_eq!(written.late("matched").len(), 1, "{workers} workers");
        lines.push(written.lines("matched"));
    }
    assert!(lines.windows(2).all(|w| w[0] == w[1]), "{lines:?}");
}

/// Every bid with its auctions 100..=2000 ms before it, or once with NULLs when it has none.
fn early_bids_left_oracle(input: &[Mutation]) -> Vec<Json> {
    let pairs = early_bids_oracle(input);
    let mut out = pairs.clone();
    for bid in input.iter().filter(|m| m.key.starts_with("bid_")) {
        if !pairs.iter().any(|p| p["bid"] == json!(&*bid.key)) {
            out.push(json!({"bid": &*bid.key, "auction": null,
                            "bid_ts": bid.ts.expect("ts"), "auction_ts": null}));
        }
    }
    sorted(out)
}

#[test]
fn left_interval_join_matches_a_brute_force_oracle_on_nexmark() {
    let input = nexmark(4000);
    let expected = early_bids_left_oracle(&input);
    let unmatched = expected.iter().filter(|r| r["auction"].is_null()).count();
    assert!(
        unmatched > 20 && expected.len() > unmatched + 20,
        "the input must give both: {unmatched} of {}",
        expected.len()
    );
    let sql = BIDS_SQL.replace("FROM bids JOIN auctions", "FROM bids LEFT JOIN auctions");
    let one = run_sql(&sql, &input, 1, false);
    assert_eq!(one.rows("early_bids"), expected);
    let four = run_sql(&sql, &input, 4, true);
    assert_eq!(
        four.lines("early_bids"),
        one.lines("early_bids"),
        "4 workers"
    );
    let toml = BIDS_TOML.replace(
        "between = [100, 2000]",
        "between = [100, 2000]\nkind = \"left\"",
    );
    let toml = run_toml(&toml, &input, 2, false);
    assert_eq!(
        toml.lines("early_bids"),
        one.lines("early_bids"),
        "TOML twin"
    );
}
