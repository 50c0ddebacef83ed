//! Top-N per partition (`ROW_NUMBER() OVER (…)` kept to N rows) against a brute-force
//! oracle: each group sorted, ties broken by the whole row, the first N taken. Over a table
//! whose keys are overwritten and deleted (a retraction inside the top promotes the next
//! row), with N larger than a group, over windowed aggregates, and deduplication keeping the
//! first or the last row; the final state and the changelog, with 1 and 4 workers.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;

use super::harness::{diff, op_line, run_sql, sorted};
use crate::support::Rng;

const TABLE_SQL: &str = "
CREATE SOURCE items FROM table WITH (key_regex = '^item_');
CREATE VIEW scored AS
SELECT key, CAST(value.g AS INT) AS g, CAST(value.score AS INT) AS score FROM items;
INSERT INTO top WITH (final_state = true)
SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC) AS rn
               FROM scored)
WHERE rn <= 3;
INSERT INTO top_rows WITH (final_state = true)
SELECT key, g, score
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC) AS rownum FROM scored)
WHERE rownum < 4;
INSERT INTO everything WITH (final_state = true)
SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score) AS rn FROM scored)
WHERE rn <= 1000;";

fn item(g: i64, score: i64) -> Value {
    Value::from_json(json!({"g": g, "score": score}))
}

/// Puts (new keys and overwrites) and deletes of 40 keys in 5 groups, scores 0..6 (many
/// ties), one event time each.
fn table_input(seed: u64) -> Vec<Mutation> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in 0..400u64 {
        let ts = 1_700_000_000_000 + i * 10;
        if !live.is_empty() && rng.chance(25) {
            let key = live.swap_remove(rng.below(live.len() as u64) as usize);
            out.push(Mutation::delete(key, ts));
            continue;
        }
        let key = format!("item_{:02}", rng.below(40));
        if !live.contains(&key) {
            live.push(key.clone());
        }
        out.push(Mutation::put(
            key,
            item(rng.range(0, 4), rng.range(0, 5)),
            ts,
        ));
    }
    out
}

/// The first `n` rows of each group of `rows` (`[key, g, score]`) by score (descending when
/// `desc`), then by the whole row; each with its rank when `ranked`.
fn top(rows: &BTreeMap<String, (i64, i64)>, n: usize, desc: bool, ranked: &str) -> Vec<Json> {
    let mut groups: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for (key, (g, score)) in rows {
        groups.entry(*g).or_default().push((*score, key.clone()));
    }
    let mut out = Vec::new();
    for (g, mut members) in groups {
        members.sort_by(|a, b| match desc {
            true => b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
            false => a.cmp(b),
        });
        for (i, (score, key)) in members.into_iter().take(n).enumerate() {
            let mut row = json!({"key": key, "g": g, "score": score});
            if !ranked.is_empty() {
                row[ranked] = json!(i + 1);
            }
            out.push(row);
        }
    }
    out
}

/// Applies the mutations one by one; returns the final state's top and the changelog.
fn table_oracle(input: &[Mutation], n: usize, desc: bool, ranked: &str) -> (Vec<Json>, Vec<Json>) {
    let mut state: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut before = Vec::new();
    let mut changelog = Vec::new();
    for m in input {
        if m.value.is_null() {
            state.remove(&*m.key);
        } else {
            let get = |f: &str| m.value.get(f).as_i64().expect("int");
            state.insert(m.key.to_string(), (get("g"), get("score")));
        }
        let after = top(&state, n, desc, ranked);
        diff(&before, &after, &mut changelog);
        before = after;
    }
    (sorted(before), sorted(changelog))
}

#[test]
fn top_n_over_a_table_follows_overwrites_and_deletes() {
    let input = table_input(19);
    let (final_ranked, log_ranked) = table_oracle(&input, 3, true, "rn");
    let (final_rows, log_rows) = table_oracle(&input, 3, true, "");
    let (final_all, _) = table_oracle(&input, 1000, false, "rn");
    assert!(
        log_ranked.iter().any(|l| l["op"] == "delete"),
        "the input retracts"
    );
    let written = run_sql(TABLE_SQL, &input, 1, true);
    assert_eq!(written.final_state("top"), final_ranked);
    assert_eq!(
        written.rows("top"),
        log_ranked,
        "the changelog, rank changes included"
    );
    assert_eq!(written.final_state("top_rows"), final_rows);
    assert_eq!(written.rows("top_rows"), log_rows);
    assert_eq!(
        written.final_state("everything"),
        final_all,
        "N larger than every group"
    );
}

#[test]
fn top_n_is_byte_identical_on_1_and_4_workers() {
    let input = table_input(7);
    let one = run_sql(TABLE_SQL, &input, 1, false);
    let four = run_sql(TABLE_SQL, &input, 4, false);
    for pipeline in ["top", "top_rows", "everything"] {
        assert_eq!(one.lines(pipeline), four.lines(pipeline), "{pipeline}");
        assert!(!one.lines(pipeline).is_empty());
    }
}

/// Ties on the order key are broken by the whole row (here the key), and deleting a row of
/// the top promotes the next one.
#[test]
fn ties_break_by_the_row_and_a_delete_promotes_the_next_row() {
    let input = vec![
        Mutation::put("item_c", item(1, 5), 1_000),
        Mutation::put("item_a", item(1, 5), 1_010),
        Mutation::put("item_d", item(1, 3), 1_020),
        Mutation::put("item_b", item(1, 5), 1_030),
        Mutation::delete("item_a", 1_040),
        Mutation::put("item_b", item(1, 1), 1_050),
    ];
    let sql = TABLE_SQL.replace("rn <= 3", "rn <= 2");
    let written = run_sql(&sql, &input, 1, true);
    let row =
        |key: &str, score: i64, rn: i64| json!({"key": key, "g": 1, "score": score, "rn": rn});
    assert_eq!(
        written.final_state("top"),
        sorted([row("item_c", 5, 1), row("item_d", 3, 2)])
    );
    let expected = [
        op_line("upsert", &row("item_c", 5, 1)),
        // item_a ties with item_c and sorts first.
        op_line("delete", &row("item_c", 5, 1)),
        op_line("upsert", &row("item_a", 5, 1)),
        op_line("upsert", &row("item_c", 5, 2)),
        // item_b ties too: it sorts between item_a and item_c and pushes item_c out.
        op_line("delete", &row("item_c", 5, 2)),
        op_line("upsert", &row("item_b", 5, 2)),
        // item_a goes: item_b moves up, item_c comes back.
        op_line("delete", &row("item_a", 5, 1)),
        op_line("delete", &row("item_b", 5, 2)),
        op_line("upsert", &row("item_b", 5, 1)),
        op_line("upsert", &row("item_c", 5, 2)),
        // item_b drops to 1: item_d (3) is promoted into the top 2.
        op_line("delete", &row("item_b", 5, 1)),
        op_line("delete", &row("item_c", 5, 2)),
        op_line("upsert", &row("item_c", 5, 1)),
        op_line("upsert", &row("item_d", 3, 2)),
    ];
    assert_eq!(written.rows("top"), sorted(expected));
}

/// Bids of 6 items over 4 s of event time (out of order by up to 50 ms).
fn bids() -> Vec<Mutation> {
    let mut rng = Rng::new(5);
    (0..600u64)
        .map(|i| {
            let ts = 1_700_000_000_000 + i * 7 + rng.below(50);
            let value = json!({"item": rng.range(0, 5), "price": rng.range(1, 20)});
            Mutation::put(format!("bid_{i}"), Value::from_json(value), ts)
        })
        .collect()
}

#[test]
fn windowed_top_n_ranks_each_window_once() {
    let sql = "
        CREATE SOURCE bids FROM events WITH (max_out_of_orderness = 50);
        CREATE VIEW per_item AS
        SELECT window_start, window_end, CAST(value.item AS INT) AS item,
               sum(CAST(value.price AS INT)) AS total
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND))
        GROUP BY window_start, window_end, CAST(value.item AS INT);
        INSERT INTO top_items WITH (final_state = true)
        SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end
                                                    ORDER BY total DESC) AS rownum
                       FROM per_item)
        WHERE rownum <= 2;";
    let input = bids();
    let mut totals: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for m in &input {
        let ts = m.ts.expect("ts") as i64;
        let item = m.value.get("item").as_i64().expect("item");
        *totals.entry((ts - ts % 1000, item)).or_default() +=
            m.value.get("price").as_i64().expect("price");
    }
    let mut windows: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for ((start, item), total) in totals {
        windows.entry(start).or_default().push((total, item));
    }
    let mut expected = Vec::new();
    for (start, mut items) in windows {
        items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (i, (total, item)) in items.into_iter().take(2).enumerate() {
            expected.push(json!({"window_start": start, "window_end": start + 1000,
                                 "item": item, "total": total, "rownum": i + 1}));
        }
    }
    let expected = sorted(expected);
    assert!(expected.len() >= 8, "several windows");
    for workers in [1, 4] {
        let written = run_sql(sql, &input, workers, false);
        assert_eq!(
            written.final_state("top_items"),
            expected,
            "{workers} workers"
        );
        let rows: Vec<Json> = expected.iter().map(|r| op_line("upsert", r)).collect();
        assert_eq!(
            written.rows("top_items"),
            rows,
            "each window ranked once, never retracted"
        );
    }
}

/// A window top-N with `RANK` and `DENSE_RANK` over each user's clicks per 200 ms: ties
/// share a rank, every row ranked 2 or better is kept, and each window is ranked once, at its
/// close (one upsert per row, never retracted), on 1 and 4 workers.
#[test]
fn window_top_n_ranks_ties_once_per_window() {
    let sql = "
        CREATE SOURCE clicks FROM events;
        CREATE VIEW per_user AS
        SELECT window_start, window_end, CAST(value.user AS INT) AS uid, count(*) AS n
        FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '200' MILLISECOND))
        GROUP BY window_start, window_end, CAST(value.user AS INT);
        INSERT INTO ranked WITH (final_state = true)
        SELECT * FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end
                                              ORDER BY n DESC) AS r FROM per_user)
        WHERE r <= 2;
        INSERT INTO dense WITH (final_state = true)
        SELECT * FROM (SELECT *, DENSE_RANK() OVER (PARTITION BY window_start, window_end
                                                    ORDER BY n DESC) AS r FROM per_user)
        WHERE r <= 2;";
    let plan = kvflow::dataflow_file::load_sql_str(sql, "t.sql", std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    let explained = kvflow::plan::explain::explain_text(&plan);
    assert_eq!(explained.matches("per window").count(), 2, "{explained}");
    let input = clicks();
    let mut counts: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for m in &input {
        let ts = m.ts.expect("ts") as i64;
        let user = m.value.get("user").as_i64().expect("user");
        *counts.entry((ts - ts % 200, user)).or_default() += 1;
    }
    let ranked = |dense: bool| {
        let mut rows = Vec::new();
        for (&(start, uid), &n) in &counts {
            let above = counts.iter().filter(|&(&(s, _), &m)| s == start && m > n);
            let mut greater: Vec<i64> = above.map(|(_, &m)| m).collect();
            if dense {
                greater.sort_unstable();
                greater.dedup();
            }
            let r = greater.len() + 1;
            if r <= 2 {
                rows.push(json!({"window_start": start, "window_end": start + 200,
                                 "uid": uid, "n": n, "r": r}));
            }
        }
        sorted(rows)
    };
    let (rank_rows, dense_rows) = (ranked(false), ranked(true));
    let windows = counts
        .keys()
        .map(|k| k.0)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        rank_rows.len() > 2 * windows.len(),
        "some window keeps a tie"
    );
    assert!(dense_rows.len() > rank_rows.len(), "dense rank keeps more");
    for workers in [1, 4] {
        let written = run_sql(sql, &input, workers, false);
        for (output, expected) in [("ranked", &rank_rows), ("dense", &dense_rows)] {
            assert_eq!(
                &written.final_state(output),
                expected,
                "{output}, {workers} workers"
            );
            let once: Vec<Json> = expected.iter().map(|r| op_line("upsert", r)).collect();
            assert_eq!(
                written.rows(output),
                once,
                "{output}: each row once, {workers} workers"
            );
        }
    }
}

/// Clicks of 8 users, one event time each.
fn clicks() -> Vec<Mutation> {
    let mut rng = Rng::new(11);
    (0..300u64)
        .map(|i| {
            let value = json!({"user": rng.range(0, 7), "page": rng.below(20)});
            Mutation::put(
                format!("click_{i}"),
                Value::from_json(value),
                1_000 + i * 10,
            )
        })
        .collect()
}

#[test]
fn deduplication_keeps_the_first_or_the_last_row() {
    let sql = "
        CREATE SOURCE clicks FROM events;
        INSERT INTO firsts WITH (final_state = true)
        SELECT uid, page, ts
        FROM (SELECT CAST(value.user AS INT) AS uid, value.page AS page, ts,
                     ROW_NUMBER() OVER (PARTITION BY CAST(value.user AS INT) ORDER BY ts) AS rn
              FROM clicks)
        WHERE rn = 1;
        INSERT INTO lasts WITH (final_state = true)
        SELECT uid, page, ts
        FROM (SELECT CAST(value.user AS INT) AS uid, value.page AS page, ts,
                     ROW_NUMBER() OVER (PARTITION BY CAST(value.user AS INT) ORDER BY ts DESC) AS rn
              FROM clicks)
        WHERE rn <= 1;";
    let input = clicks();
    let mut first: BTreeMap<i64, Json> = BTreeMap::new();
    let mut last: BTreeMap<i64, Json> = BTreeMap::new();
    let mut last_log = Vec::new();
    for m in &input {
        let user = m.value.get("user").as_i64().expect("user");
        let row = json!({"uid": user, "page": m.value.get("page").as_i64(), "ts": m.ts});
        first.entry(user).or_insert_with(|| row.clone());
        if let Some(previous) = last.insert(user, row.clone()) {
            last_log.push(op_line("delete", &previous));
        }
        last_log.push(op_line("upsert", &row));
    }
    let firsts = sorted(first.into_values());
    let lasts = sorted(last.into_values());
    let written = run_sql(sql, &input, 1, true);
    assert_eq!(written.final_state("firsts"), firsts);
    let first_log: Vec<Json> = firsts.iter().map(|r| op_line("upsert", r)).collect();
    assert_eq!(
        written.rows("firsts"),
        first_log,
        "the first row is never replaced"
    );
    assert_eq!(written.final_state("lasts"), lasts);
    assert_eq!(
        written.rows("lasts"),
        sorted(last_log),
        "each new row replaces the last"
    );
    let four = run_sql(sql, &input, 4, false);
    assert_eq!(four.final_state("firsts"), firsts);
    assert_eq!(four.final_state("lasts"), lasts);
}

/// `kvflow run` of the top-N and deduplication queries on 1 and 4 workers: the same lines,
/// byte for byte, in the final state and in the changelog (the order of lines in a file
/// depends on which worker wrote them, for every query).
#[test]
fn nexmark_top_n_lines_are_byte_identical_on_1_and_4_workers() {
    use crate::support::{assert_success, kvflow, repo, s, sorted_lines, tmp};
    let dir = tmp();
    for query in ["q18", "q19"] {
        let path = repo(&format!("dataflows/nexmark/{query}.sql"));
        let mut outputs = Vec::new();
        for workers in ["1", "4"] {
            let out_dir = dir.path().join(format!("{query}-{workers}"));
            let out = kvflow()
                .args(["run", s(&path), "-w", workers, "--output", s(&out_dir)])
                .output()
                .expect("run kvflow");
            assert_success(&out);
            outputs.push(out_dir);
        }
        for file in [format!("{query}.final.jsonl"), format!("{query}.jsonl")] {
            let one = sorted_lines(&outputs[0].join(&file));
            assert!(one.len() > 1000, "{file}: rows");
            assert_eq!(one, sorted_lines(&outputs[1].join(&file)), "{file}");
        }
    }
}

const RANKED_SQL: &str = "
CREATE SOURCE items FROM table WITH (key_regex = '^item_');
CREATE VIEW scored AS
SELECT key, CAST(value.g AS INT) AS g, CAST(value.score AS INT) AS score FROM items;
INSERT INTO ranked WITH (final_state = true)
SELECT * FROM (SELECT *, RANK() OVER (PARTITION BY g ORDER BY score DESC) AS r FROM scored)
WHERE r <= 3;
INSERT INTO dense WITH (final_state = true)
SELECT * FROM (SELECT *, DENSE_RANK() OVER (PARTITION BY g ORDER BY score DESC) AS r
               FROM scored)
WHERE r <= 3;";

/// Each row of `rows` (`[key, g, score]`) with its rank in its group by score, descending:
/// with `dense`, one more than the distinct scores above it, else one more than the rows
/// above it; those ranked `n` or better.
fn ranked_top(rows: &BTreeMap<String, (i64, i64)>, n: usize, dense: bool) -> Vec<Json> {
    let mut out = Vec::new();
    for (key, (g, score)) in rows {
        let above = rows.values().filter(|(h, s)| h == g && s > score);
        let rank = match dense {
            true => above
                .map(|(_, s)| *s)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            false => above.count(),
        } + 1;
        if rank <= n {
            out.push(json!({"key": key, "g": g, "score": score, "r": rank}));
        }
    }
    out
}

/// `RANK()` and `DENSE_RANK()`: rows tied on the order keys share a rank and are all kept
/// when it is within N; the final state and the changelog (ranks shift as rows come and go)
/// against a brute-force recompute after every mutation, on 1 and 4 workers.
#[test]
fn rank_and_dense_rank_keep_every_tie_within_n() {
    let input = table_input(23);
    for (output, dense) in [("ranked", false), ("dense", true)] {
        let mut state: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let (mut before, mut changelog) = (Vec::new(), Vec::new());
        for m in &input {
            if m.value.is_null() {
                state.remove(&*m.key);
            } else {
                let get = |f: &str| m.value.get(f).as_i64().expect("int");
                state.insert(m.key.to_string(), (get("g"), get("score")));
            }
            let after = ranked_top(&state, 3, dense);
            diff(&before, &after, &mut changelog);
            before = after;
        }
        let ties = before.len() > 3 * 4;
        assert!(ties, "{output}: some group keeps more than 3 rows");
        for workers in [1, 4] {
            let written = run_sql(RANKED_SQL, &input, workers, true);
            let what = format!("{output} on {workers} workers");
            assert_eq!(
                written.final_state(output),
                sorted(before.clone()),
                "{what}"
            );
            assert_eq!(written.rows(output), sorted(changelog.clone()), "{what}");
        }
    }
}
