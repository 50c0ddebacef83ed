//! Errors in SQL files name the line and column of the problem: each case marks the expected
//! position with `§` (removed before loading).

use std::path::Path;

use kvflow::dataflow_file::{DataflowFileError, load_sql_str};

use crate::support::{kvflow_output, stderr, tmp};

const SOURCES: &str = "CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');\n\
                       CREATE SOURCE users FROM table;\n";

/// (statement after SOURCES, a piece of the expected message).
const CASES: &[(&str, &str)] = &[
    ("CREATE SOURCE b2 FROM §evnts;", "unknown view `evnts`"),
    (
        "CREATE SOURCE b2 FROM events WITH (§key_rgx = 'x');",
        "unknown option `key_rgx`",
    ),
    (
        "CREATE SOURCE b2 FROM events WITH (kinds = 'insert,§updte');",
        "unknown event kind `updte`",
    ),
    (
        "CREATE SOURCE b2 FROM table WITH (§kinds = 'insert');",
        "a table view has no event kinds",
    ),
    (
        "CREATE SOURCE b2 FROM events WITH (max_out_of_orderness = §'x');",
        "takes milliseconds",
    ),
    (
        "INSERT INTO o SELECT §valu.price AS p FROM bids;",
        "unknown field `valu`",
    ),
    (
        "INSERT INTO o SELECT value.price AS p FROM §bid;",
        "no source or earlier pipeline is called `bid`",
    ),
    (
        "INSERT INTO o SELECT count(*) AS n\nFROM TUMBLE(TABLE bids, DESCRIPTOR(§time), INTERVAL '1' SECOND)\nGROUP BY window_start, window_end;",
        "windows are over the event time `ts`",
    ),
    (
        "INSERT INTO o SELECT count(*) AS n\nFROM TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' §SECNDS)\nGROUP BY window_start, window_end;",
        "unknown unit `SECNDS`",
    ),
    (
        "INSERT INTO o SELECT count(*) AS n\nFROM HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND§)\nGROUP BY window_start, window_end;",
        "HOP takes slide, size",
    ),
    (
        "INSERT INTO o SELECT key, count(*) AS n\nFROM TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND)\n§GROUP BY key;",
        "GROUP BY window_start, window_end",
    ),
    (
        "INSERT INTO o SELECT count(*) AS n\nFROM §SESSION(TABLE bids PARTITION BY key, DESCRIPTOR(ts), 500)\nGROUP BY window_start, window_end;",
        "sessions are per group",
    ),
    (
        "INSERT INTO o SELECT §value.price, count(*) AS n FROM bids GROUP BY key;",
        "neither in GROUP BY nor an aggregate",
    ),
    (
        "INSERT INTO o SELECT sum(value.price) §+ 1 AS s FROM bids GROUP BY key;",
        "an aggregate must be a whole SELECT item",
    ),
    (
        "INSERT INTO o SELECT key, sum(§key) AS s FROM bids GROUP BY key;",
        "sum needs a number",
    ),
    (
        "INSERT INTO o SELECT key FROM bids WHERE value.price > §;",
        "syntax error",
    ),
    (
        "INSERT INTO o SELECT key FROM bids §ORDER BY key;",
        "not supported",
    ),
    (
        "INSERT INTO o SELECT key FROM bids WHERE §key;",
        "a filter needs a boolean",
    ),
    (
        "INSERT INTO o SELECT key FROM bids HAVING §count > 1;",
        "HAVING needs GROUP BY",
    ),
    (
        "INSERT INTO o SELECT key, count(*) AS n FROM bids GROUP BY key HAVING §max(ts) > 1;",
        "HAVING may use the aggregates of the SELECT list",
    ),
    (
        "INSERT INTO o SELECT key, count(*) AS n FROM bids GROUP BY key\nHAVING count(*) > 1 AND §nn > 2;",
        "unknown field `nn`",
    ),
    (
        "INSERT INTO o SELECT §key || 'x' FROM bids;",
        "name this column",
    ),
    ("§SELECT key FROM bids;", "expected a statement"),
    (
        "SET input.§fle = 'x.jsonl';\nINSERT INTO o SELECT key FROM bids;",
        "unknown input setting `fle`",
    ),
    (
        "CREATE SOURCE t (price §BIGNT) FROM events;\nINSERT INTO o SELECT price FROM t;",
        "unknown column type `BIGNT`",
    ),
    (
        "CREATE SOURCE t (price BIGINT, §price DOUBLE) FROM events;\nINSERT INTO o SELECT price FROM t;",
        "column `price` is declared twice",
    ),
    (
        "CREATE SOURCE t (value.x AS §ts BIGINT) FROM events;\nINSERT INTO o SELECT ts FROM t;",
        "`ts` is a field of every source row",
    ),
    (
        "CREATE SOURCE t (§value.x + 1) FROM events;\nINSERT INTO o SELECT key FROM t;",
        "name the column",
    ),
    (
        "CREATE SOURCE t (price BIGINT §FROM events;\nINSERT INTO o SELECT price FROM t;",
        "`,` or `)` after a column",
    ),
    (
        "SET store.§append_only = '^bid_';\nINSERT INTO o SELECT key FROM bids;",
        "unknown store setting `append_only`",
    ),
    (
        "SET store.append_only_keys = §'^bid_(';\nINSERT INTO o SELECT key FROM bids;",
        "bad key regex",
    ),
    (
        "SET store.append_only_keys = §1;\nINSERT INTO o SELECT key FROM bids;",
        "takes a string",
    ),
    (
        "SET §stor.append_only_keys = '^bid_';\nINSERT INTO o SELECT key FROM bids;",
        "the store's",
    ),
    (
        "SET input.generate = §'nexmrk';\nINSERT INTO o SELECT key FROM bids;",
        "unknown workload",
    ),
    (
        "INSERT INTO o WITH (§final = true) SELECT key FROM bids;",
        "unknown option `final`",
    ),
    (
        "INSERT INTO o WITH (final_state = §1) SELECT key FROM bids;",
        "takes true or false",
    ),
    (
        "INSERT INTO o WITH (§emit = 'continuous') SELECT key FROM bids;",
        "apply to a windowed aggregate",
    ),
    (
        "CREATE VIEW v AS SELECT key FROM bids;\nINSERT INTO §v SELECT key FROM bids;",
        "`v` is defined twice",
    ),
    (
        "INSERT INTO o SELECT key FROM bids AS §b;",
        "aliases of a source or view are not supported",
    ),
    (
        "INSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON §key = users.key;",
        "each equality of ON compares",
    ),
    (
        "INSERT INTO o SELECT bids.key AS k FROM bids JOIN §users ON bids.key = users.key\n AND bids.ts BETWEEN users.ts - 10 AND users.ts;",
        "not an event stream",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN asks ON bids.key = asks.key\n AND §bids.key BETWEEN asks.ts AND asks.ts;",
        "an interval join bounds the event time",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN asks ON bids.key = asks.key\n AND bids.ts BETWEEN §asks.ts + 10 AND asks.ts - 10;",
        "lower bound must come first",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN asks ON bids.key = asks.key\n AND bids.ts BETWEEN §bids.ts - 10 AND asks.ts;",
        "are times of `asks`",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM bids\nJOIN §TUMBLE(TABLE asks, DESCRIPTOR(ts), 1000) ON bids.window_start = asks.window_start;",
        "the right side of a join cannot be a window table function",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), 1000)\nJOIN §asks ON bids.window_start = asks.window_start AND bids.window_end = asks.window_end;",
        "`asks` has no field `window_start`",
    ),
    (
        "INSERT INTO o SELECT * FROM §SESSION(TABLE bids PARTITION BY key, DESCRIPTOR(ts), 500);",
        "session windows need an aggregate",
    ),
    (
        "INSERT INTO o SELECT bids.key AS k\nFROM bids JOIN users ON bids.value.user = CAST(users.§valu AS INT);",
        "unknown field `valu`",
    ),
    (
        "INSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON bids.key = users.key\nWHERE §CAST(bids.value.x AS INTT) = 1;",
        "cannot cast to `INTT`",
    ),
    (
        "INSERT INTO o SELECT users.key AS k FROM users JOIN §bids ON users.key = bids.key;",
        "append-only",
    ),
    (
        "CREATE SOURCE items FROM table;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON bids.key = users.key\nWHERE users.value.x = 1 §JOIN items ON bids.key = items.key;",
        "the joins follow FROM",
    ),
    (
        "CREATE SOURCE items FROM table;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON bids.key = users.key\nJOIN items ON §items.key = items.value.x;",
        "the inputs joined so far (`bids`, `users`)",
    ),
    (
        "CREATE SOURCE asks FROM events;\nINSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON bids.key = users.key\n§JOIN asks ON bids.key = asks.key AND bids.ts BETWEEN asks.ts AND asks.ts + 5;",
        "must be the only JOIN of its SELECT",
    ),
    (
        "INSERT INTO o SELECT bids.key AS k FROM bids JOIN users ON bids.key = users.key\nJOIN §users ON users.key = users.value.x;",
        "a join of an input with itself",
    ),
    ("CREATE VIEW v AS SELECT key FROM bids;§", "no outputs"),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, §ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM bids);",
        "a row number is a top-N",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM bids)\nWHERE key <> 'x' AND §rn > 2;",
        "a top-N keeps `rn <= N`",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM bids)\nWHERE §rn = 2;",
        "a top-N keeps",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT key, §ROW_NUMBER() OVER (ORDER BY key) AS rn FROM bids GROUP BY key)\nWHERE rn <= 2;",
        "a row number over an aggregate",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY key§) AS rn FROM bids)\nWHERE rn <= 2;",
        "ORDER BY: a row number needs an order",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, §ROW_NUMBER() OVER (ORDER BY ts) FROM bids) WHERE rn <= 2;",
        "name the row number",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, key, §ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM bids)\nWHERE rn <= 2;",
        "with `*`, a numbered query's SELECT list",
    ),
    (
        "INSERT INTO o SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY §valu) AS rn FROM bids)\nWHERE rn <= 2;",
        "unknown field `valu`",
    ),
    (
        "INSERT INTO o SELECT key FROM bids UNION SELECT key FROM users UNION §ALL SELECT key FROM bids;",
        "UNION ALL after a UNION is not supported",
    ),
    (
        "INSERT INTO o SELECT key FROM bids\nUNION ALL §SELECT key, ts FROM users;",
        "UNION ALL inputs need the same columns",
    ),
    (
        "INSERT INTO o SELECT key FROM bids\nUNION ALL §SELECT CAST(ts AS INT) AS key FROM users;",
        "UNION ALL inputs need columns of the same types",
    ),
    (
        "INSERT INTO o SELECT key, count(*) FILTER (WHERE §key) AS n FROM bids GROUP BY key;",
        "FILTER needs a boolean",
    ),
    (
        "INSERT INTO o SELECT key, count(*) FILTER (WHERE §valu > 1) AS n FROM bids GROUP BY key;",
        "unknown field `valu`",
    ),
    (
        "INSERT INTO o SELECT key, count(*) FILTER (§ts > 1) AS n FROM bids GROUP BY key;",
        "WHERE after FILTER",
    ),
    (
        "INSERT INTO o SELECT users.key AS k\nFROM users JOIN (§SELECT key FROM users) ON users.key = x.key;",
        "a joined subquery needs a name",
    ),
    (
        "INSERT INTO o SELECT DISTINCT §valu FROM bids;",
        "unknown field `valu`",
    ),
];

/// The text without its marker, and the marker's 1-based line and column (in chars).
fn marked(statement: &str) -> (String, usize, usize) {
    let text = format!("{SOURCES}{statement}");
    let at = text.find('§').expect("a case marks its position with §");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (text.replacen('§', "", 1), line, column)
}

fn error_of(text: &str) -> DataflowFileError {
    match load_sql_str(text, "bad.sql", Path::new(".")) {
        Ok(_) => panic!("loads, but should not:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn errors_name_the_line_and_column_of_the_problem() {
    for (statement, message) in CASES {
        let (text, line, column) = marked(statement);
        let e = error_of(&text);
        assert!(
            e.message.contains(message),
            "{statement}: expected a message with `{message}`, got: {e}"
        );
        assert_eq!((e.line, e.column), (line, column), "{statement}: {e}");
    }
}

#[test]
fn suggestions_name_what_was_probably_meant() {
    let cases = [
        ("CREATE SOURCE b2 FROM evnts;", "events"),
        ("INSERT INTO o SELECT valu.price AS p FROM bids;", "value"),
        ("INSERT INTO o SELECT key FROM bid;", "bids"),
        (
            "INSERT INTO o WITH (final_stat = true) SELECT key FROM bids;",
            "final_state",
        ),
    ];
    for (statement, suggestion) in cases {
        let e = error_of(&format!("{SOURCES}{statement}"));
        assert_eq!(
            e.suggestion.as_deref(),
            Some(suggestion),
            "{statement}: {e}"
        );
    }
}

#[test]
fn check_prints_the_position_and_a_caret() {
    let dir = tmp();
    let file = dir.path().join("bad.sql");
    let text = format!("{SOURCES}INSERT INTO o\nSELECT valu.price AS p FROM bids;\n");
    std::fs::write(&file, text).expect("write");
    let out = kvflow_output(&["check", file.to_str().expect("path")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.sql:4:8: unknown field `valu`"), "{err}");
    assert!(
        err.contains("\nSELECT valu.price AS p FROM bids;\n       ^"),
        "{err}"
    );
}
