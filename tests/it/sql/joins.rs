//! Several joins in one SELECT: orders ⋈ users ⋈ products (inner, then left), over live
//! tables with updates and deletes, against a brute-force join of the final tables; on 1 and
//! 4 workers, and event by event or in large batches; and the same query written as a chain
//! of views, or as TOML join steps, gives the same rows.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use kvflow::change::Mutation;
use kvflow::value::Value;

use super::harness::{run_sql, run_toml, sorted};

const CHAINED: &str = "
CREATE SOURCE orders FROM table WITH (key_regex = '^order_');
CREATE SOURCE users FROM table WITH (key_regex = '^user_');
CREATE SOURCE products FROM table WITH (key_regex = '^product_');
INSERT INTO enriched WITH (final_state = true)
SELECT orders.key AS order_key, users.value.region AS region,
       products.value.price AS price, orders.value.qty AS qty
FROM orders
JOIN users ON orders.value.user = users.key
LEFT JOIN products ON orders.value.product = products.key
WHERE users.value.region <> 'mars';
";

const VIEWS: &str = "
CREATE SOURCE orders FROM table WITH (key_regex = '^order_');
CREATE SOURCE users FROM table WITH (key_regex = '^user_');
CREATE SOURCE products FROM table WITH (key_regex = '^product_');
CREATE VIEW with_users AS
SELECT orders.key AS order_key, users.value.region AS region,
       orders.value.product AS product, orders.value.qty AS qty
FROM orders JOIN users ON orders.value.user = users.key;
INSERT INTO enriched WITH (final_state = true)
SELECT with_users.order_key AS order_key, with_users.region AS region,
       products.value.price AS price, with_users.qty AS qty
FROM with_users LEFT JOIN products ON with_users.product = products.key
WHERE with_users.region <> 'mars';
";

/// The chain as a TOML pipeline of two join steps: the second keeps the first's names.
const TOML: &str = r#"
[sources.orders]
view = "table"
key_regex = "^order_"
[sources.users]
view = "table"
key_regex = "^user_"
[sources.products]
view = "table"
key_regex = "^product_"
[[pipelines]]
name = "enriched"
from = "orders"
final_state = true
steps = [
  { join = "users", left_on = ["value.user"], right_on = ["key"] },
  { join = "products", left_on = ["orders.value.product"], right_on = ["key"], kind = "left" },
  { filter = "users.value.region <> 'mars'" },
  { map = { order_key = "orders.key", region = "users.value.region", price = "products.value.price", qty = "orders.value.qty" } },
]
"#;

/// Users, products and orders written, rewritten and deleted in a seeded order.
fn input() -> Vec<Mutation> {
    let mut rng = 7u64;
    let mut next = |n: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    let regions = ["eu", "us", "mars", "asia"];
    let mut out = Vec::new();
    for i in 0..1500u64 {
        let ts = 1_000 + i * 3;
        let m = match next(10) {
            0 | 1 => {
                let region = regions[next(4) as usize];
                put(
                    &format!("user_{}", next(20)),
                    json!({ "region": region }),
                    ts,
                )
            }
            2 => put(
                &format!("product_{}", next(15)),
                json!({ "price": next(100) }),
                ts,
            ),
            3 => Mutation::delete(
                format!(
                    "{}_{}",
                    ["user", "product", "order"][next(3) as usize],
                    next(20)
                ),
                ts,
            ),
            _ => put(
                &format!("order_{}", next(60)),
                json!({ "user": format!("user_{}", next(25)), "product": format!("product_{}", next(18)), "qty": next(5) }),
                ts,
            ),
        };
        out.push(m);
    }
    out
}

fn put(key: &str, value: Json, ts: u64) -> Mutation {
    let value = Value::parse_json(&value.to_string()).expect("json");
    Mutation::put(key.to_string(), value, ts)
}

/// The join of the final tables, computed directly.
fn oracle(input: &[Mutation]) -> Vec<Json> {
    let mut table: BTreeMap<String, Json> = BTreeMap::new();
    for m in input {
        match m.op {
            kvflow::change::Op::Put => {
                let json: Json = serde_json::from_str(&m.value.to_json_string()).expect("json");
                table.insert(m.key.to_string(), json);
            }
            kvflow::change::Op::Delete => {
                table.remove(&*m.key);
            }
        }
    }
    let mut rows = Vec::new();
    for (key, order) in table.iter().filter(|(k, _)| k.starts_with("order_")) {
        let Some(user) = order["user"].as_str().and_then(|u| table.get(u)) else {
            continue;
        };
        if user["region"] == "mars" {
            continue;
        }
        let product = order["product"].as_str().and_then(|p| table.get(p));
        rows.push(json!({
            "order_key": key,
            "region": user["region"],
            "price": product.map_or(Json::Null, |p| p["price"].clone()),
            "qty": order["qty"],
        }));
    }
    sorted(rows)
}

#[test]
fn two_joins_in_one_select_match_a_join_of_the_final_tables() {
    let input = input();
    let expected = oracle(&input);
    assert!(expected.len() > 20, "the input joins: {}", expected.len());
    assert!(
        expected.iter().any(|r| r["price"].is_null()),
        "some orders have no product"
    );
    let reference = run_sql(CHAINED, &input, 1, true);
    assert_eq!(reference.final_state("enriched"), expected);
    for (workers, per_event) in [(4, true), (1, false), (4, false)] {
        let run = run_sql(CHAINED, &input, workers, per_event);
        assert_eq!(run.final_state("enriched"), expected, "{workers} workers");
    }
    let views = run_sql(VIEWS, &input, 2, false);
    assert_eq!(views.final_state("enriched"), expected);
    let toml = run_toml(TOML, &input, 2, false);
    assert_eq!(toml.final_state("enriched"), expected);
}
