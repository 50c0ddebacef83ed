//! Seeded fuzzing of the SQL front end: random token sequences and mutations of the shipped
//! SQL files never make the parser or the lowering panic, and every error has a position
//! inside the text.

use std::path::Path;

use kvflow::dataflow_file::load_sql_str;

use crate::support::{Rng, repo};

const VOCABULARY: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "JOIN",
    "BETWEEN",
    "window_start",
    "ts",
    "LEFT",
    "ON",
    "AND",
    "OR",
    "AS",
    "INSERT",
    "INTO",
    "CREATE",
    "VIEW",
    "SOURCE",
    "SET",
    "WITH",
    "TABLE",
    "TUMBLE",
    "HOP",
    "SESSION",
    "DESCRIPTOR",
    "PARTITION",
    "INTERVAL",
    "SECOND",
    "count",
    "sum",
    "max",
    "collect",
    "DISTINCT",
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "OVER",
    "ORDER",
    "DESC",
    "ASC",
    "rownum",
    "UNION",
    "ALL",
    "FILTER",
    "CAST",
    "INT",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "NOT",
    "IN",
    "key",
    "ts",
    "value",
    "window_start",
    "window_end",
    "events",
    "bids",
    "input",
    "(",
    ")",
    ",",
    ";",
    ".",
    "*",
    "=",
    "<",
    "+",
    "-",
    "%",
    "'10'",
    "'^bid_'",
    "0",
    "1000",
    "18446744073709551616",
    "1e999",
    "\"quoted\"",
    "'unterminated",
    "--",
    "/*",
    "[0]",
    "->>",
    "::",
    "é",
    "\u{0}",
];

/// Forms the shipped files do not use: views, subqueries, HAVING, pushed-down WHERE terms,
/// window options, top-N and deduplication, DISTINCT, UNION ALL, UNION, FILTER, TABLE(TUMBLE(…)),
/// interval joins, window joins and a window table function's rows.
const MORE: &str = "SET input.generate = 'users-orders';
CREATE SOURCE orders FROM table WITH (key_regex = '^order_');
CREATE SOURCE users FROM table WITH (key_regex = '^user_');
CREATE SOURCE events FROM events WITH (kinds = 'insert, update', max_out_of_orderness = 100);
CREATE VIEW prefixed AS SELECT split_part(key, '_', 1) AS prefix, ts FROM events;
INSERT INTO busy WITH (final_state = true)
SELECT users.value.region AS region, count(*) AS n, sum(orders.value.amount) AS total
FROM orders LEFT JOIN users ON orders.value.user_id = users.key
WHERE CAST(orders.value.amount AS INT) > 1 AND users.value.region <> 'eu'
GROUP BY users.value.region HAVING count(*) > 10 AND n < 1000;
INSERT INTO spenders
SELECT spend.user_id AS user_id, spend.total AS total, users.value.name AS name
FROM (SELECT value.user_id AS user_id, sum(CAST(value.amount AS INT)) AS total
      FROM orders GROUP BY value.user_id) AS spend
JOIN users ON spend.user_id = users.key;
INSERT INTO w WITH (emit = 'continuous', allowed_lateness = INTERVAL '1' SECOND)
SELECT count(*) AS c, window_end, prefix
FROM SESSION(TABLE prefixed PARTITION BY prefix, DESCRIPTOR(ts), 300)
GROUP BY window_start, window_end, prefix;
INSERT INTO top3
SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY prefix ORDER BY ts DESC, prefix ASC) AS rownum
               FROM prefixed)
WHERE rownum <= 3 AND prefix <> 'x';
INSERT INTO firsts
SELECT prefix, ts FROM (SELECT prefix, ts, ROW_NUMBER() OVER (PARTITION BY prefix ORDER BY ts) AS rn
                        FROM prefixed) AS numbered
WHERE rn = 1;
CREATE VIEW windowed AS SELECT window_start, window_end, prefix, count(*) AS n
FROM TABLE(TUMBLE(TABLE prefixed, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, prefix;
INSERT INTO top_windows
SELECT window_start, prefix, n, rownum
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum
      FROM windowed)
WHERE rownum < 3;
INSERT INTO kinds SELECT DISTINCT prefix FROM prefixed;
INSERT INTO grouped SELECT prefix FROM prefixed GROUP BY prefix;
INSERT INTO both SELECT prefix FROM prefixed WHERE ts > 10
UNION ALL SELECT key AS prefix FROM orders UNION ALL SELECT prefix FROM prefixed;
INSERT INTO either SELECT prefix FROM prefixed UNION ALL SELECT key AS prefix FROM orders
UNION SELECT prefix FROM prefixed;
INSERT INTO filtered
SELECT prefix, count(*) FILTER (WHERE ts > 100) AS late_ones, count(*) AS n,
       sum(ts) FILTER (WHERE ts < 50) AS early, count(DISTINCT ts) FILTER (WHERE ts > 1) AS d
FROM prefixed GROUP BY prefix;
CREATE SOURCE clicks FROM events WITH (key_regex = '^click_');
INSERT INTO pairs
SELECT events.key AS k, clicks.ts AS t FROM events JOIN clicks ON events.key = clicks.key
 AND clicks.ts BETWEEN events.ts - INTERVAL '1' SECOND AND events.ts + 500;
INSERT INTO windowed_pairs
SELECT clicks.key AS k, cw.n AS n FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), 1000)
JOIN (SELECT window_start, window_end, prefix, count(*) AS n
      FROM TUMBLE(TABLE prefixed, DESCRIPTOR(ts), 1000)
      GROUP BY window_start, window_end, prefix) AS cw
 ON clicks.window_start = cw.window_start AND clicks.window_end = cw.window_end
 AND split_part(clicks.key, '_', 1) = cw.prefix;
INSERT INTO hopped SELECT * FROM HOP(TABLE clicks, DESCRIPTOR(ts), 500, 1000) WHERE window_start > 0;";

fn shipped_sql() -> Vec<String> {
    let mut texts = vec![MORE.to_string()];
    for dir in ["dataflows", "dataflows/nexmark"] {
        for entry in std::fs::read_dir(repo(dir)).expect("dataflows") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "sql") {
                texts.push(std::fs::read_to_string(path).expect("read"));
            }
        }
    }
    texts.sort();
    texts
}

fn random_tokens(rng: &mut Rng) -> String {
    let n = rng.below(40) + 1;
    (0..n)
        .map(|_| *rng.pick(VOCABULARY))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with a random change: a span cut, a token inserted, a span repeated, a char
/// swapped, or the text cut short (always at char boundaries).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut at = || bounds[rng.below(bounds.len() as u64) as usize];
    let (a, b) = {
        let (x, y) = (at(), at());
        (x.min(y), x.max(y))
    };
    match rng.below(5) {
        0 => format!("{}{}", &text[..a], &text[b..]),
        1 => format!("{} {} {}", &text[..a], rng.pick(VOCABULARY), &text[a..]),
        2 => format!("{}{}", &text[..b], &text[a..]),
        3 => format!("{}{}{}", &text[..a], rng.pick(VOCABULARY), &text[b..]),
        _ => text[..b].to_string(),
    }
}

#[test]
fn random_and_mutated_statements_never_panic_and_every_error_has_a_position() {
    let corpus = shipped_sql();
    assert!(corpus.len() >= 10, "the shipped SQL files");
    let mut rng = Rng::new(16);
    let mut errors = 0;
    for case in 0..4000 {
        let text = match case % 4 {
            0 => random_tokens(&mut rng),
            _ => {
                let mut text = rng.pick(&corpus).clone();
                for _ in 0..=rng.below(3) {
                    text = mutate(&mut rng, &text);
                }
                text
            }
        };
        let Err(e) = load_sql_str(&text, "fuzz.sql", Path::new(".")) else {
            continue;
        };
        errors += 1;
        let lines = text.split('\n').count();
        assert!(
            e.line >= 1 && e.line <= lines && e.column >= 1 && !e.message.is_empty(),
            "case {case}: error without a position in the text: {e}\n{text}"
        );
        let line = text.split('\n').nth(e.line - 1).unwrap_or_default();
        assert!(
            e.column <= line.chars().count() + 1,
            "case {case}: column past the line: {e}\n{text}"
        );
    }
    assert!(errors > 2000, "most cases are errors ({errors})");
}

/// The extra forms mutated above are valid as written.
#[test]
fn the_extra_forms_load() {
    if let Err(e) = load_sql_str(MORE, "more.sql", Path::new(".")) {
        panic!("{e}");
    }
}
