//! Joins: table ⋈ table (inner, left outer, and with an aggregate on the right), and
//! events ⋈ table (a lookup of the table as of the event's batch).

use std::collections::BTreeMap;
use std::sync::Arc;

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Source};
use kvflow::plan::Plan;
use kvflow::sinks::OutputKind;

use super::common::*;

const SEEDS: [u64; 2] = [31, 32];
const USERS: u64 = 8;

fn user_value(rng: &mut Rng) -> J {
    J::map([
        ("name", J::Str(format!("n{}", rng.below(5)))),
        ("tier", J::Int(rng.range(0, 3))),
    ])
}

fn order_value(rng: &mut Rng) -> J {
    let amount = J::Int(rng.range(1, 50));
    if rng.chance(6) {
        return J::map([("amount", amount)]);
    }
    // u_8 and u_9 never exist: orders that match nothing.
    J::map([
        ("amount", amount),
        ("user", J::Str(format!("u_{}", rng.below(USERS + 2)))),
    ])
}

/// Users and orders mixed, with updates and deletes on both sides.
fn mixed_stream(seed: u64, len: usize, d: u64) -> Vec<Mut> {
    let mut rng = Rng::new(seed);
    let mut clock = 0;
    let mut out = Vec::new();
    for _ in 0..len {
        if rng.chance(35) {
            clock += 1 + rng.below(220);
        }
        let ts = clock - rng.below(d.min(clock) + 1);
        if rng.chance(30) {
            let key = format!("u_{}", rng.below(USERS));
            if rng.chance(20) {
                out.push(Mut::delete(&key, ts));
            } else {
                out.push(Mut::put_j(&key, user_value(&mut rng), ts));
            }
        } else {
            let key = format!("o_{}", rng.below(25));
            if rng.chance(15) {
                out.push(Mut::delete(&key, ts));
            } else {
                out.push(Mut::put_j(&key, order_value(&mut rng), ts));
            }
        }
    }
    out
}

/// Users loaded first (ts < 100), then only orders, much later.
fn users_first_stream(seed: u64, d: u64) -> Vec<Mut> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for i in 0..USERS {
        if rng.chance(80) {
            out.push(Mut::put_j(
                &format!("u_{i}"),
                user_value(&mut rng),
                rng.below(100),
            ));
        }
    }
    // An update and a delete of users, still in the first batch.
    out.push(Mut::put_j("u_0", user_value(&mut rng), 90));
    out.push(Mut::delete("u_1", 95));
    let mut clock = 10_000;
    for _ in 0..120 {
        if rng.chance(35) {
            clock += 1 + rng.below(170);
        }
        let ts = clock - rng.below(d + 1);
        let key = format!("o_{}", rng.below(25));
        if rng.chance(15) {
            out.push(Mut::delete(&key, ts));
        } else {
            out.push(Mut::put_j(&key, order_value(&mut rng), ts));
        }
    }
    out
}

fn sources(d: u64) -> PlanBuilder {
    PlanBuilder::new()
        .source(
            Source::table("orders")
                .key_regex("^o_")
                .max_out_of_orderness(d),
        )
        .source(
            Source::table("users")
                .key_regex("^u_")
                .max_out_of_orderness(d),
        )
        .source(
            Source::events("order_events")
                .key_regex("^o_")
                .max_out_of_orderness(d),
        )
}

fn fields_line(fields: &[(String, J)], op: Option<&str>) -> String {
    let borrowed: Vec<(&str, J)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    match op {
        Some(op) => op_line(op, &borrowed),
        None => obj(&borrowed),
    }
}

fn null_fields(side: &str, names: &[&str]) -> Vec<(String, J)> {
    names
        .iter()
        .map(|n| (format!("{side}.{n}"), J::Null))
        .collect()
}

const TABLE_FIELDS: [&str; 4] = ["key", "ts", "seq", "value"];

/// The joined rows of `left` rows (their fields and join key) with the `users` table.
fn join_rows(
    left: Vec<(Vec<(String, J)>, J)>,
    users: &Table,
    outer: bool,
    op: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (mut fields, user) in left {
        match user
            .as_str()
            .and_then(|u| users.get(u).map(|live| (u, live)))
        {
            Some((u, live)) => fields.extend(live.fields(u, Some("users"))),
            None if outer => fields.extend(null_fields("users", &TABLE_FIELDS)),
            None => continue,
        }
        out.push(fields_line(&fields, op));
    }
    out
}

/// Table ⋈ table pipelines: inner ones, or left outer ones.
fn table_join_plan(d: u64, outer: bool) -> Plan {
    let builder = sources(d);
    let builder = if outer {
        builder
            .pipeline(
                Pipeline::from_source("tt_left", "orders")
                    .left_join("users", [("value.user", "key")])
                    .with_final_state(),
            )
            .pipeline(
                Pipeline::from_source("user_totals", "orders")
                    .group_by_exprs([("uid", "value.user")])
                    .aggregate([Agg::count("orders"), Agg::sum("amount", "value.amount")]),
            )
            .pipeline(
                Pipeline::from_source("users_totals", "users")
                    .left_join("user_totals", [("key", "uid")])
                    .with_final_state(),
            )
    } else {
        builder
            .pipeline(
                Pipeline::from_source("tt_inner", "orders")
                    .join("users", [("value.user", "key")])
                    .with_final_state(),
            )
            .pipeline(
                Pipeline::from_source("tt_by_tier", "orders")
                    .join("users", [("value.user", "key")])
                    .map([
                        ("tier", "users.value.tier"),
                        ("amount", "orders.value.amount"),
                    ])
                    .group_by(["tier"])
                    .aggregate([Agg::count("orders"), Agg::sum("amount", "amount")])
                    .with_final_state(),
            )
    };
    builder.build().unwrap()
}

/// Final state (the `Final` output and the folded changelog) of table ⋈ table joins.
fn check_table_joins(outer: bool) {
    let d = 100;
    let plan = table_join_plan(d, outer);
    for seed in SEEDS {
        let muts = mixed_stream(seed, 180, d);
        let replay = replay(&muts);
        let orders: Vec<(&String, &Live)> = replay
            .table
            .iter()
            .filter(|(k, _)| k.starts_with("o_"))
            .collect();
        let users: Table = replay
            .table
            .iter()
            .filter(|(k, _)| k.starts_with("u_"))
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        let left = || -> Vec<(Vec<(String, J)>, J)> {
            orders
                .iter()
                .map(|(k, l)| (l.fields(k, Some("orders")), l.value.get("user")))
                .collect()
        };
        let mut want: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        if outer {
            want.insert("tt_left", join_rows(left(), &users, true, None));
            let mut totals: BTreeMap<String, Group> = BTreeMap::new();
            for (_, order) in &orders {
                if let J::Str(u) = order.value.get("user") {
                    totals
                        .entry(u)
                        .or_default()
                        .push(0, order.value.get("amount"));
                }
            }
            want.insert(
                "users_totals",
                users
                    .iter()
                    .map(|(u, live)| {
                        let mut fields = live.fields(u, Some("users"));
                        match totals.get(u) {
                            Some(g) => fields.extend([
                                ("user_totals.uid".to_string(), J::str(u)),
                                ("user_totals.orders".to_string(), g.count()),
                                ("user_totals.amount".to_string(), g.sum()),
                            ]),
                            None => fields
                                .extend(null_fields("user_totals", &["uid", "orders", "amount"])),
                        }
                        fields_line(&fields, None)
                    })
                    .collect(),
            );
            let inner = join_rows(left(), &users, false, None);
            assert!(inner.len() > 3 && want["tt_left"].len() > inner.len());
        } else {
            want.insert("tt_inner", join_rows(left(), &users, false, None));
            let mut tiers: BTreeMap<J, Group> = BTreeMap::new();
            for (_, order) in &orders {
                if let Some(user) = order.value.get("user").as_str().and_then(|u| users.get(u)) {
                    tiers
                        .entry(user.value.get("tier"))
                        .or_default()
                        .push(0, order.value.get("amount"));
                }
            }
            want.insert(
                "tt_by_tier",
                tiers
                    .iter()
                    .map(|(tier, g)| {
                        obj(&[
                            ("tier", tier.clone()),
                            ("orders", g.count()),
                            ("amount", g.sum()),
                        ])
                    })
                    .collect(),
            );
            assert!(want["tt_inner"].len() > 3);
        }
        let runs = run_all(&plan, &muts);
        for (cfg, rec) in &runs {
            for (p, want) in &want {
                let context = format!("seed {seed} {cfg:?} {p}");
                assert_lines(
                    &format!("{context} final"),
                    &rec.sorted(p, OutputKind::Final),
                    want,
                );
                let folded = if *p == "tt_by_tier" {
                    fold_keyed(&rec.ordered(p, OutputKind::Rows), 1)
                } else {
                    fold_rows(&rec.ordered(p, OutputKind::Rows))
                };
                assert_lines(&format!("{context} folded changelog"), &folded, want);
                assert_eq!(
                    rec.sorted(p, OutputKind::Errors),
                    Vec::<String>::new(),
                    "{context} errors"
                );
            }
        }
        for p in want.keys() {
            assert_same_per_batch(&runs, p, OutputKind::Rows, &format!("seed {seed}"));
        }
    }
}

#[test]
fn table_table_inner_joins_match_oracle() {
    check_table_joins(false);
}

#[test]
fn table_table_left_joins_match_oracle() {
    check_table_joins(true);
}

/// `et` over the order events: an inner or a left outer join with `users`.
fn event_join_plan(d: u64, outer: bool) -> Arc<Plan> {
    let pipeline = Pipeline::from_source("et", "order_events");
    let pipeline = if outer {
        pipeline.left_join("users", [("value.user", "key")])
    } else {
        pipeline.join("users", [("value.user", "key")])
    };
    Arc::new(sources(d).pipeline(pipeline).build().unwrap())
}

fn event_left(events: &[&Ev]) -> Vec<(Vec<(String, J)>, J)> {
    events
        .iter()
        .map(|e| (e.fields(Some("order_events")), e.value.get("user")))
        .collect()
}

/// Users fully loaded in earlier batches: each order event is joined with the final users.
fn check_users_first(outer: bool) {
    let d = 50;
    let plan = event_join_plan(d, outer);
    for seed in SEEDS {
        let muts = users_first_stream(seed, d);
        let replay = replay(&muts);
        let users: Table = replay
            .table
            .iter()
            .filter(|(k, _)| k.starts_with("u_"))
            .map(|(k, l)| (k.clone(), l.clone()))
            .collect();
        let orders: Vec<&Ev> = replay
            .events
            .iter()
            .filter(|e| e.key.starts_with("o_"))
            .collect();
        let want = join_rows(event_left(&orders), &users, outer, Some("upsert"));
        assert!(want.len() > 10);
        for (cfg, rec) in &run_all(&plan, &muts) {
            assert_lines(
                &format!("seed {seed} {cfg:?} et (outer: {outer})"),
                &rec.rows("et"),
                &want,
            );
        }
    }
}

#[test]
fn events_table_inner_join_users_first() {
    check_users_first(false);
}

#[test]
fn events_table_left_join_users_first() {
    check_users_first(true);
}

/// Users change while orders arrive: each order event sees the users table as of the end of
/// its batch (the stamps re-derived from the batching rule, per batch size).
fn check_as_of_batch(outer: bool) {
    let d = 100;
    let plan = event_join_plan(d, outer);
    for seed in SEEDS {
        let muts = mixed_stream(seed + 10, 150, d);
        let replay = replay(&muts);
        let input = to_input(&muts);
        let mut previous: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (workers, batch_ms) in CONFIGS {
            let stamps = batch_stamps(&muts, d, batch_ms);
            let tables = table_at_stamps(&muts, &stamps);
            let mut want = Vec::new();
            for e in replay.events.iter().filter(|e| e.key.starts_with("o_")) {
                let users = &tables[&stamps[e.seq as usize]];
                want.extend(join_rows(event_left(&[e]), users, outer, Some("upsert")));
            }
            let rec = run_plan(
                &plan,
                &input,
                RunCfg {
                    workers,
                    batch_ms,
                    batch_events: 0,
                    raw: false,
                },
            );
            let context = format!("seed {seed} ({workers}, {batch_ms}) et (outer: {outer})");
            assert_lines(&context, &rec.rows("et"), &want);
            if let Some(rows) = previous.get(&batch_ms) {
                assert_lines(&format!("{context} vs 1 worker"), &rec.rows("et"), rows);
            }
            previous.insert(batch_ms, rec.rows("et"));
        }
    }
}

#[test]
fn events_table_inner_join_as_of_batch() {
    check_as_of_batch(false);
}

#[test]
fn events_table_left_join_as_of_batch() {
    check_as_of_batch(true);
}
