//! Tests of compile errors (messages, byte spans, suggestions), limits on size and nesting,
//! and robustness against garbled input. Helpers are in `tests.rs`.

use super::tests::{at, err, ev, row, schema};
use super::*;
use crate::value::F64;

const F: Value = Value::Bool(false);
const N: Value = Value::Null;
const T: Value = Value::Bool(true);

#[test]
fn unknown_field_and_function_suggestions() {
    let text = "vlaue.amount > 1";
    let e = err(text);
    assert_eq!(e.message, "unknown field `vlaue`");
    assert_eq!((e.offset, e.len), (0, 5));
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `value`?"));
    let e = err("KEY = 'x'");
    assert_eq!(e.message, "unknown field `KEY`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `key`?"));
    let e = err("zzzzzz");
    assert_eq!(e.suggestion, None);
    let text = "lowr(key)";
    let e = err(text);
    assert_eq!(e.message, "unknown function `lowr`");
    assert_eq!(&text[e.offset..e.offset + e.len], "lowr");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `lower`?"));
    assert_eq!(
        err("splitpart(key, ':', 1)").suggestion.as_deref(),
        Some("did you mean `split_part`?")
    );
    assert_eq!(err("frobnicate(1)").suggestion, None);
}

#[test]
fn error_spans() {
    // The offending argument of a call.
    let text = "value.amount > 1 AND lower(5) = 'x'";
    let e = err(text);
    assert_eq!(e.message, "lower expects a string, got int");
    assert_eq!(at(text), "5");
    // An arithmetic operand that is not a number, with a hint for strings.
    let e = err("'a' + 1");
    assert_eq!(e.message, "`+` expects numbers, got string");
    assert_eq!(at("'a' + 1"), "'a'");
    assert_eq!(
        e.suggestion.as_deref(),
        Some("use `||` to concatenate strings")
    );
    assert_eq!(at("ts * (kind)"), "(kind)");
    assert_eq!(at("lower(key) - 1"), "lower(key)");
    assert_eq!(at("1 + CAST(ts AS VARCHAR)"), "CAST(ts AS VARCHAR)");
    assert_eq!(at("1 + ts::VARCHAR"), "ts::VARCHAR");
    assert_eq!(at("1 + -(ts > 1)"), "(ts > 1)");
    assert_eq!(at("NOT (ts IS NULL) + 1"), "(ts IS NULL)");
    assert_eq!(at("1 + (ts IS NOT NULL)"), "(ts IS NOT NULL)");
    assert_eq!(
        at("1 + CASE WHEN TRUE THEN 'a' END"),
        "CASE WHEN TRUE THEN 'a' END"
    );
    assert_eq!(at("1 + upper( key )"), "upper( key )");
    assert_eq!(at("1 + trim(key)"), "trim(key)");
    assert_eq!(at("1 + substr(key, 1)"), "substr(key, 1)");
    assert_eq!(at("1 + ('a' || 'b')"), "('a' || 'b')");
    assert_eq!(
        at("TRUE AND (kind IN ('a', 'b')) + 1"),
        "(kind IN ('a', 'b'))"
    );
    assert_eq!(at("TRUE AND kind LIKE 'a%' AND 5"), "5");
    assert_eq!(at("value['x'] = 1 AND ts"), "ts");
    // Comparisons of incompatible types point at the comparison.
    assert_eq!(at("ts > 1 AND key < 5"), "key < 5");
    // Byte offsets count multi-byte characters and newlines.
    let text = "'héllo' = vlaue";
    let e = err(text);
    assert_eq!((e.offset, e.len), (11, 5));
    let text = "ts > 1\n  AND lower(ts) = 'x'";
    assert_eq!(at(text), "ts");
    assert_eq!(err(text).offset, text.rfind("ts").unwrap());
    // regexp_like: the pattern must be a valid literal.
    let text = "regexp_like(key, '[a-')";
    let e = err(text);
    assert!(
        e.message.starts_with("invalid regular expression"),
        "{}",
        e.message
    );
    assert_eq!(at(text), "'[a-'");
    assert_eq!(at("regexp_like(key, kind)"), "kind");
    // Arity.
    let text = "ts > 1 AND lower(key, key) = 'a'";
    assert_eq!(err(text).message, "lower takes 1 argument, got 2");
    assert_eq!(at(text), "lower(key, key)");
    assert_eq!(
        err("split_part('a')").message,
        "split_part takes 3 arguments, got 1"
    );
}

#[test]
fn syntax_errors() {
    let e = err("1 = = 2");
    assert!(e.message.starts_with("syntax error"), "{}", e.message);
    assert_eq!((e.offset, e.len), (4, 1));
    let e = err("key kind");
    assert!(e.message.contains("unexpected `kind`"), "{}", e.message);
    assert_eq!((e.offset, e.len), (4, 4));
    let e = err("ts +");
    assert!(e.message.contains("end of the expression"), "{}", e.message);
    assert_eq!((e.offset, e.len), (4, 0));
    let e = err("");
    assert_eq!(e.offset, 0);
    let e = err("'unterminated");
    assert!(e.message.starts_with("syntax error"), "{}", e.message);
    let e = err("ts\n  + )");
    assert_eq!(e.offset, 7);
    assert_eq!(
        err("1 = = 2").message,
        "syntax error: expected an expression, found `=`"
    );
    assert_eq!(err("(SELECT 1)").message, "subqueries are not supported");
    assert_eq!(err("ts & 1").message, "unsupported operator `&`");
    assert_eq!(at("ts & 1"), "ts & 1");
    assert_eq!(
        err("ts LIKE ANY ('a')").message,
        "LIKE ANY is not supported"
    );
    assert_eq!(at("1 = ARRAY[1, 2]"), "ARRAY[1, 2]");
    assert_eq!(at("ts IN (1) OR (1, 2)"), "(1, 2)");
    assert_eq!(at("DATE '2020-01-01' > ts"), "DATE '2020-01-01'");
    assert_eq!(
        err("value.tags[1:2]").message,
        "list slices are not supported"
    );
    assert_eq!(
        err("count(*)").message,
        "unsupported argument in call of `count`"
    );
    assert_eq!(
        err("f(a => 1)").message,
        "unsupported argument in call of `f`"
    );
}

#[test]
fn limits() {
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(err(&deep).message.contains("deeply nested"));
    let long_chain = format!("1{}", " + 1".repeat(5000));
    assert!(err(&long_chain).message.contains("deeply nested"));
    let huge = format!("ts IN ({})", vec!["1"; 20_000].join(","));
    assert!(err(&huge).message.contains("too long"));
    let many = format!("ts IN ({})", vec!["1"; 5_000].join(","));
    assert_eq!(ev(&many), F);
    // AND / OR chains are flat, however long.
    let ands = format!("TRUE{}", " AND ts > 1".repeat(3000));
    assert_eq!(ev(&ands), T);
    let ors = format!("FALSE{}", " OR value.missing = 1".repeat(3000));
    assert_eq!(ev(&ors), N);
}

#[test]
fn deep_expressions_run_on_small_stacks() {
    // The deepest accepted arithmetic chain, compiled and evaluated on a 512 KiB thread.
    let text = format!("1{}", " + 1".repeat(120));
    let e = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || {
            let e = Expr::compile(&text, &schema()).unwrap();
            assert_eq!(e.eval(&row()).unwrap(), Value::Int(121));
            e
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(e.ty(), Type::Int);
    let nested = format!("{}ts{}", "abs(".repeat(40), ")".repeat(40));
    assert_eq!(ev(&nested), Value::Int(1000));
}

#[test]
fn suggest_by_edit_distance() {
    let c = ["key", "ts", "kind", "seq", "value", "old"];
    assert_eq!(suggest("vlaue", &c).as_deref(), Some("value"));
    assert_eq!(suggest("valeu", &c).as_deref(), Some("value"));
    assert_eq!(suggest("values", &c).as_deref(), Some("value"));
    assert_eq!(suggest("VALUE", &c).as_deref(), Some("value"));
    assert_eq!(suggest("kinds", &c).as_deref(), Some("kind"));
    assert_eq!(suggest("xyzzy", &c), None);
    assert_eq!(suggest("x", &c), None);
    assert_eq!(suggest("value", &c), None);
    assert_eq!(
        did_you_mean("tss", &c).as_deref(),
        Some("did you mean `ts`?")
    );
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("ab", "ba"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("héllo", "hello"), 1);
}

/// A tiny deterministic generator (xorshift64*), so the test needs no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn compile_and_eval_never_panic_on_garbled_text() {
    const FRAGMENTS: &[&str] = &[
        "value",
        ".",
        "amount",
        "tags",
        "[0]",
        "[",
        "]",
        "(",
        ")",
        "'",
        "'x'",
        "'%a_'",
        "1",
        "0",
        "2.5",
        "-",
        "+",
        "*",
        "/",
        "%",
        " AND ",
        " OR ",
        "NOT ",
        "=",
        "<",
        ">=",
        "<>",
        "||",
        " IS ",
        "NULL",
        " IN ",
        " BETWEEN ",
        " LIKE ",
        " ILIKE ",
        "CASE ",
        " WHEN ",
        " THEN ",
        " ELSE ",
        " END",
        "CAST(",
        " AS ",
        "INT",
        "VARCHAR",
        ",",
        "lower(",
        "split_part(",
        "regexp_like(",
        "coalesce(",
        "substr(",
        "round(",
        "concat(",
        "trim(",
        "key",
        "ts",
        "old",
        "kind",
        "\"",
        "é",
        "\n",
        " ",
        "::",
        "->",
        "->>",
        "TRUE",
        "9223372036854775807",
        "1e308",
        "'['",
        "ESCAPE",
        "'\\'",
        "$$",
        "@",
        "?",
        "`",
        "{",
        "}",
        ";",
        "--",
        "/*",
        "E'\\x'",
        "\u{1F600}",
        "\t",
        "SELECT",
        "orders.value",
        "users",
        "[-1]",
        "['k']",
        "FROM",
    ];
    const VALID: &[&str] = &[
        "value.amount > 1 AND lower(value.name) = 'widget'",
        "CASE kind WHEN 'insert' THEN value.tags[0] ELSE coalesce(old.x, 'n') END",
        "CAST(split_part(key, ':', 2) AS INT) BETWEEN 1 AND 10",
        "regexp_like(key, '^user:[0-9]+$') OR value['x'] IN (1, 2.5, NULL)",
        "round(value.price * 1.1, 2) || ' ' || substr(kind, 2, 3) LIKE '%a_'",
        "NOT (ts % 7 = 0) AND value.mixed[2].three IS NOT NULL",
    ];
    let schema = schema();
    let rows = [
        row(),
        Row(vec![]),
        Row(vec![Value::Int(1); 6]),
        Row(vec![
            Value::Null,
            Value::from("x"),
            Value::Bool(true),
            Value::Float(F64(f64::NAN)),
            Value::parse_json(r#"{"amount": "NaN", "tags": {}, "price": null}"#).unwrap(),
            Value::list(vec![Value::Null]),
        ]),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compiled = 0;
    for i in 0..4000 {
        let text: String = match i % 3 {
            0 => (0..rng.below(12) + 1)
                .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
                .collect(),
            1 => {
                // A valid expression, cut and with a few characters replaced.
                let base = VALID[rng.below(VALID.len())];
                let mut chars: Vec<char> = base.chars().collect();
                chars.truncate(rng.below(chars.len() + 1));
                for _ in 0..rng.below(3) {
                    if !chars.is_empty() {
                        let at = rng.below(chars.len());
                        chars[at] = char::from(b" ()[]'\".,x1%_"[rng.below(13)]);
                    }
                }
                chars.into_iter().collect()
            }
            _ => (0..rng.below(20))
                .map(|_| char::from_u32(rng.below(0x250) as u32).unwrap_or('?'))
                .collect(),
        };
        let result = std::panic::catch_unwind(|| {
            if let Ok(e) = Expr::compile(&text, &schema) {
                for r in &rows {
                    let _ = e.eval(r);
                }
                true
            } else {
                false
            }
        });
        match result {
            Ok(true) => compiled += 1,
            Ok(false) => {}
            Err(_) => panic!("panicked on {text:?}"),
        }
        // Error positions always lie within the text, on char boundaries.
        if let Err(e) = Expr::compile(&text, &schema) {
            assert!(e.offset + e.len <= text.len(), "{text:?}: {e:?}");
            assert!(text.is_char_boundary(e.offset), "{text:?}: {e:?}");
            assert!(text.is_char_boundary(e.offset + e.len), "{text:?}: {e:?}");
        }
    }
    assert!(compiled > 50, "only {compiled} random texts compiled");
}
