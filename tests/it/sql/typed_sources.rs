//! Sources with typed columns (`CREATE SOURCE bid (auction BIGINT, …) FROM events`): each
//! query over them gives the same lines as the same query written with paths and casts over
//! a plain source, on 1 and 4 workers; a filter over an events source still writes plain rows
//! (checked against a brute-force list); a join of typed sources reads them as views, as the
//! same join over `CREATE VIEW`s of their columns does; and a value that does not cast goes to
//! the reading statement's error output.

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;

use super::harness::{run_sql, sorted};
use crate::support::{Rng, kvflow, tmp};

const TYPED: &str = "
CREATE SOURCE bid (auction BIGINT, value.bidder AS bidder BIGINT, price DOUBLE, channel VARCHAR)
  FROM events WITH (key_regex = '^bid_');
CREATE SOURCE person (value.id AS id BIGINT, name VARCHAR) FROM table WITH (key_regex = '^person_');
INSERT INTO cheap SELECT auction, price, channel FROM bid WHERE price < 50;
INSERT INTO per_second
SELECT window_start, window_end, channel, count(*) AS n, sum(price) AS total
FROM TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' SECOND)
GROUP BY window_start, window_end, channel;
INSERT INTO named WITH (final_state = true)
SELECT bid.auction AS auction, person.name AS name
FROM bid JOIN person ON bid.bidder = person.id;";

const PLAIN: &str = "
CREATE SOURCE bid FROM events WITH (key_regex = '^bid_');
CREATE SOURCE person FROM table WITH (key_regex = '^person_');
INSERT INTO cheap
SELECT CAST(value.auction AS BIGINT) AS auction, CAST(value.price AS DOUBLE) AS price,
       CAST(value.channel AS VARCHAR) AS channel
FROM bid WHERE CAST(value.price AS DOUBLE) < 50;
INSERT INTO per_second
SELECT window_start, window_end, CAST(value.channel AS VARCHAR) AS channel, count(*) AS n,
       sum(CAST(value.price AS DOUBLE)) AS total
FROM TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' SECOND)
GROUP BY window_start, window_end, CAST(value.channel AS VARCHAR);
CREATE VIEW bids AS
SELECT key, ts, kind, seq, CAST(value.auction AS BIGINT) AS auction,
       CAST(value.bidder AS BIGINT) AS bidder, CAST(value.price AS DOUBLE) AS price,
       CAST(value.channel AS VARCHAR) AS channel
FROM bid;
CREATE VIEW persons AS
SELECT key, ts, seq, CAST(value.id AS BIGINT) AS id, CAST(value.name AS VARCHAR) AS name
FROM person;
INSERT INTO named WITH (final_state = true)
SELECT bids.auction AS auction, persons.name AS name
FROM bids JOIN persons ON bids.bidder = persons.id;";

/// Bids on 20 auctions by 10 bidders, and the bidders (some renamed later).
fn input() -> Vec<Mutation> {
    let mut rng = Rng::new(5);
    let mut input = Vec::new();
    for i in 0..600u64 {
        let ts = 1_000 + i * 9;
        if i % 50 == 0 {
            let id = rng.range(0, 10);
            let name = format!("p{id}-{i}");
            let value = Value::from_json(json!({"id": id, "name": name}));
            input.push(Mutation::put(format!("person_{id}"), value, ts));
            continue;
        }
        let channel = ["a", "b", "c"][i as usize % 3];
        let value = json!({"auction": rng.range(0, 20), "bidder": rng.range(0, 10),
                           "price": rng.range(1, 100), "channel": channel});
        input.push(Mutation::put(
            format!("bid_{i}"),
            Value::from_json(value),
            ts,
        ));
    }
    input
}

#[test]
fn typed_columns_give_the_lines_of_paths_and_casts() {
    let input = input();
    let expected_cheap = sorted(
        input
            .iter()
            .filter(|m| m.key.starts_with("bid_"))
            .filter_map(|m| {
                let price = m.value.get("price").as_i64().expect("price");
                (price < 50).then(|| {
                    json!({"auction": m.value.get("auction").as_i64(), "price": price as f64,
                   "channel": m.value.get("channel").as_str()})
                })
            }),
    );
    assert!(expected_cheap.len() > 100);
    for workers in [1, 4] {
        let (typed, plain) = (
            run_sql(TYPED, &input, workers, false),
            run_sql(PLAIN, &input, workers, false),
        );
        for output in ["cheap", "per_second", "named"] {
            assert_eq!(
                typed.lines(output),
                plain.lines(output),
                "{output}, {workers} workers"
            );
            assert!(!typed.lines(output).is_empty(), "{output} is empty");
        }
        assert_eq!(
            typed.rows("cheap"),
            expected_cheap,
            "plain rows, {workers} workers"
        );
    }
}

#[test]
fn a_value_that_does_not_cast_is_an_error_of_the_reading_statement() {
    let dir = tmp();
    let sql = "CREATE SOURCE bid (auction BIGINT, price DOUBLE) FROM events;\n\
               INSERT INTO o SELECT auction, price FROM bid;\n";
    let lines = [
        r#"{"ts":1,"op":"put","key":"bid_1","value":{"auction":5,"price":2}}"#,
        r#"{"ts":2,"op":"put","key":"bid_2","value":{"auction":"n/a","price":3}}"#,
        r#"{"ts":3,"op":"put","key":"bid_3","value":{"auction":7,"price":"4.5"}}"#,
    ];
    let (flow, input, out) = (
        dir.path().join("t.sql"),
        dir.path().join("in.jsonl"),
        dir.path().join("out"),
    );
    std::fs::write(&flow, sql).expect("flow");
    std::fs::write(&input, lines.join("\n")).expect("input");
    let status = kvflow()
        .arg("run")
        .arg(&flow)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .status()
        .expect("run kvflow");
    assert!(status.success());
    let read = |name: &str| -> Vec<Json> {
        std::fs::read_to_string(out.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    };
    let rows = sorted(read("o.jsonl"));
    assert_eq!(
        rows,
        sorted([
            json!({"auction": 5, "price": 2.0}),
            json!({"auction": 7, "price": 4.5})
        ])
    );
    let errors = read("o.errors.jsonl");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["record"]["key"], "bid_2");
    assert!(
        errors[0]["error"].as_str().expect("error").contains("n/a"),
        "{errors:?}"
    );
}
