//! Aggregates with `FILTER (WHERE …)` against a brute-force oracle over a table whose keys
//! are overwritten and deleted: `count(*)` counts the rows that pass (0, not null, when
//! none does), the others skip the rows that do not (null when none is left). Both
//! aggregation paths (running totals for count, sum and avg; a multiset for the others),
//! and the SQL form beside its TOML twin (`{ aggregate = "…", filter = "…" }`). `first` and
//! `last` take the earliest or latest row the filter keeps, and show its argument even when
//! that is null.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;

use super::harness::{run_sql, run_toml, sorted};
use crate::support::Rng;

fn input() -> Vec<Mutation> {
    let mut rng = Rng::new(29);
    let mut live: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in 0..300u64 {
        let ts = 1_000 + i * 10;
        if !live.is_empty() && rng.chance(25) {
            let key = live.swap_remove(rng.below(live.len() as u64) as usize);
            out.push(Mutation::delete(key, ts));
            continue;
        }
        let key = format!("item_{:02}", rng.below(30));
        if !live.contains(&key) {
            live.push(key.clone());
        }
        let value = json!({"g": rng.range(0, 4), "price": rng.range(0, 20), "who": rng.below(5)});
        out.push(Mutation::put(key, Value::from_json(value), ts));
    }
    out
}

const SQL: &str = "
CREATE SOURCE items FROM table;
CREATE VIEW priced AS
SELECT CAST(value.g AS INT) AS g, CAST(value.price AS INT) AS price, CAST(value.who AS INT) AS who,
       ts
FROM items;
INSERT INTO totals WITH (final_state = true)
SELECT g, count(*) AS n, count(*) FILTER (WHERE price < 5) AS cheap,
       sum(price) FILTER (WHERE price >= 15) AS dear_sum, avg(price) FILTER (WHERE who = 0) AS avg0,
       count(*) FILTER (WHERE price > 100) AS none
FROM priced GROUP BY g;
INSERT INTO spread WITH (final_state = true)
SELECT g, count(DISTINCT who) FILTER (WHERE price < 10) AS cheap_who,
       min(price) FILTER (WHERE who > 2) AS low, max(price) FILTER (WHERE who <= 2) AS high,
       count(*) FILTER (WHERE price < 10) AS cheap, sum(price) FILTER (WHERE price > 100) AS nothing
FROM priced GROUP BY g;
INSERT INTO ends WITH (final_state = true)
SELECT g, first(price) FILTER (WHERE who = 0) AS first0, last(price) FILTER (WHERE who = 0) AS last0,
       first(CASE WHEN who = 1 THEN NULL ELSE price END) FILTER (WHERE who <= 1) AS first01,
       last(price) FILTER (WHERE price > 100) AS none, first(price) AS first_any
FROM priced GROUP BY g;";

const TOML: &str = r#"
[sources.items]
view = "table"

[[pipelines]]
name = "priced"
from = "items"
internal = true
steps = [{ map = { g = "CAST(value.g AS INT)", price = "CAST(value.price AS INT)", who = "CAST(value.who AS INT)", ts = "ts" } }]

[[pipelines]]
name = "totals"
from = "priced"
final_state = true
[[pipelines.steps]]
group_by = ["g"]
[pipelines.steps.aggregates]
n = "count(*)"
cheap = { aggregate = "count(*)", filter = "price < 5" }
dear_sum = { aggregate = "sum(price)", filter = "price >= 15" }
avg0 = { aggregate = "avg(price)", filter = "who = 0" }
none = { aggregate = "count(*)", filter = "price > 100" }

[[pipelines]]
name = "spread"
from = "priced"
final_state = true
[[pipelines.steps]]
group_by = ["g"]
[pipelines.steps.aggregates]
cheap_who = { aggregate = "count(DISTINCT who)", filter = "price < 10" }
low = { aggregate = "min(price)", filter = "who > 2" }
high = { aggregate = "max(price)", filter = "who <= 2" }
cheap = { aggregate = "count(*)", filter = "price < 10" }
nothing = { aggregate = "sum(price)", filter = "price > 100" }

[[pipelines]]
name = "ends"
from = "priced"
final_state = true
[[pipelines.steps]]
group_by = ["g"]
[pipelines.steps.aggregates]
first0 = { aggregate = "first(price)", filter = "who = 0" }
last0 = { aggregate = "last(price)", filter = "who = 0" }
first01 = { aggregate = "first(CASE WHEN who = 1 THEN NULL ELSE price END)", filter = "who <= 1" }
none = { aggregate = "last(price)", filter = "price > 100" }
first_any = "first(price)"
"#;

/// The live rows `(ts, price, who)` of each group `g` once every mutation is applied, in
/// `ts` order.
fn live_groups(input: &[Mutation]) -> BTreeMap<i64, Vec<(i64, i64, i64)>> {
    let mut state: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for m in input {
        match m.value.is_null() {
            true => state.remove(&*m.key),
            false => {
                let get = |f: &str| m.value.get(f).as_i64().expect("int");
                let ts = m.ts.expect("ts") as i64;
                state.insert(m.key.to_string(), (get("g"), ts, get("price"), get("who")))
            }
        };
    }
    let mut groups: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for (g, ts, price, who) in state.into_values() {
        groups.entry(g).or_default().push((ts, price, who));
    }
    groups.values_mut().for_each(|rows| rows.sort());
    groups
}

/// The final state of `totals` and `spread`, from the live rows `(g, price, who)`.
fn oracle(input: &[Mutation]) -> (Vec<Json>, Vec<Json>) {
    let groups = live_groups(input).into_iter().map(|(g, rows)| {
        let rows: Vec<(i64, i64)> = rows.into_iter().map(|(_, p, w)| (p, w)).collect();
        (g, rows)
    });
    let (mut totals, mut spread) = (Vec::new(), Vec::new());
    for (g, rows) in groups {
        let prices = |keep: &dyn Fn(&(i64, i64)) -> bool| -> Vec<i64> {
            rows.iter().filter(|r| keep(r)).map(|r| r.0).collect()
        };
        let dear = prices(&|r| r.0 >= 15);
        let zero = prices(&|r| r.1 == 0);
        let avg0 = match zero.is_empty() {
            true => Json::Null,
            false => json!(zero.iter().sum::<i64>() as f64 / zero.len() as f64),
        };
        totals.push(json!({
            "g": g, "n": rows.len(), "cheap": prices(&|r| r.0 < 5).len(),
            "dear_sum": if dear.is_empty() { Json::Null } else { json!(dear.iter().sum::<i64>()) },
            "avg0": avg0, "none": 0,
        }));
        let mut cheap_who: Vec<i64> = rows.iter().filter(|r| r.0 < 10).map(|r| r.1).collect();
        cheap_who.sort();
        cheap_who.dedup();
        spread.push(json!({
            "g": g, "cheap_who": cheap_who.len(),
            "low": prices(&|r| r.1 > 2).into_iter().min(),
            "high": prices(&|r| r.1 <= 2).into_iter().max(),
            "cheap": prices(&|r| r.0 < 10).len(), "nothing": Json::Null,
        }));
    }
    (sorted(totals), sorted(spread))
}

#[test]
fn filtered_aggregates_count_and_skip_the_rows_their_filter_drops() {
    let input = input();
    let (totals, spread) = oracle(&input);
    let sql = run_sql(SQL, &input, 1, false);
    assert_eq!(sql.final_state("totals"), totals);
    assert_eq!(sql.final_state("spread"), spread);
    let toml = run_toml(TOML, &input, 1, false);
    for name in ["totals", "spread", "ends"] {
        assert_eq!(sql.lines(name), toml.lines(name), "{name}: SQL and TOML");
    }
    let four = run_sql(SQL, &input, 4, false);
    assert_eq!(four.lines("totals"), sql.lines("totals"), "4 workers");
    // NB: `ends` (SQL against TOML above) is checked against its oracle below.
    assert_eq!(four.lines("spread"), sql.lines("spread"), "4 workers");
}

/// Each group's `first` and `last` over the live rows `(ts, price, who)` the filter keeps.
fn ends_oracle(input: &[Mutation]) -> Vec<Json> {
    let groups = live_groups(input);
    let mut out = Vec::new();
    for (g, rows) in groups {
        let kept = |keep: &dyn Fn(i64) -> bool| -> Vec<(i64, i64)> {
            rows.iter()
                .filter(|r| keep(r.2))
                .map(|r| (r.1, r.2))
                .collect()
        };
        let zero = kept(&|who| who == 0);
        let low = kept(&|who| who <= 1);
        let first01 = match low.first() {
            Some((_, 1)) | None => Json::Null,
            Some((price, _)) => json!(price),
        };
        out.push(json!({
            "g": g, "first0": zero.first().map(|r| r.0), "last0": zero.last().map(|r| r.0),
            "first01": first01, "none": Json::Null, "first_any": rows[0].1,
        }));
    }
    sorted(out)
}

#[test]
fn filtered_first_and_last_take_the_ends_of_the_rows_their_filter_keeps() {
    let input = input();
    let expected = ends_oracle(&input);
    let shown_null = expected.iter().any(|r| r["first01"].is_null());
    assert!(
        shown_null,
        "some group's first kept row has a null argument"
    );
    let sql = run_sql(SQL, &input, 1, false);
    assert_eq!(sql.final_state("ends"), expected);
    let four = run_sql(SQL, &input, 4, false);
    assert_eq!(four.lines("ends"), sql.lines("ends"), "4 workers");
}
