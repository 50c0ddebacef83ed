//! The fast path against the general parser: wherever the fast path answers, the general
//! parser gives the same mutation; on the common shape it does answer.

use super::{parse, parse_bytes};
use crate::rng::Rng;
use crate::source::jsonl::parse_general;

/// Text pieces a value can be made of: plain and awkward strings, numbers at the edges.
const ATOMS: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "7",
    "-12",
    "-0",
    "01",
    "1.5",
    "2e3",
    "-",
    "999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "\"a_1\"",
    "\"\"",
    "\"é中😀\"",
    "\"q\\\"uote\"",
    "\"tab\\t\"",
    "\"\\u00e9\"",
    "nul",
];

const FIELDS: &[&str] = &["ts", "op", "key", "value", "origin", "other", "Key"];

fn pick(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

fn space(rng: &mut Rng) -> &'static str {
    pick(rng, &["", "", "", " ", "\t", " \r\n "])
}

fn value(rng: &mut Rng, depth: u32, out: &mut String) {
    match rng.below(if depth > 3 { 1 } else { 4 }) {
        0 | 1 if depth > 3 || rng.percent(70) => out.push_str(pick(rng, ATOMS)),
        0 | 1 => out.push_str(if rng.percent(50) { "[]" } else { "{}" }),
        2 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space(rng));
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                let name = *rng.pick(&["a", "b", "a", "x\\\"y", ""]);
                out.push_str(&format!("\"{name}\"{}:", space(rng)));
                value(rng, depth + 1, out);
            }
            out.push('}');
        }
    }
}

fn field_value(rng: &mut Rng, field: &str, out: &mut String) {
    match field {
        "ts" => out.push_str(pick(
            rng,
            &[
                "1700000000123",
                "0",
                "null",
                "-5",
                "1.0",
                "253402300799999",
                "253402300800000",
                "\"12\"",
            ],
        )),
        "op" => out.push_str(pick(
            rng,
            &[
                "\"put\"",
                "\"insert\"",
                "\"update\"",
                "\"delete\"",
                "\"Put\"",
                "1",
            ],
        )),
        "key" | "origin" => out.push_str(pick(
            rng,
            &[
                "\"user_17\"",
                "\"a\"",
                "\"\"",
                "\"k\\\\1\"",
                "\"中\"",
                "null",
            ],
        )),
        _ => value(rng, 0, out),
    }
}

fn line(rng: &mut Rng) -> String {
    let mut out = String::from(space(rng));
    out.push('{');
    let mut names: Vec<&str> = vec!["key"];
    for _ in 0..rng.below(5) {
        names.push(pick(rng, FIELDS));
    }
    for i in 0..names.len() {
        let j = rng.below(names.len() as u64) as usize;
        names.swap(i, j);
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{}\"{name}\"{}:{}",
            space(rng),
            space(rng),
            space(rng)
        ));
        field_value(rng, name, &mut out);
        out.push_str(space(rng));
    }
    out.push('}');
    out.push_str(space(rng));
    out
}

/// Deletes, inserts or replaces one byte (keeping the text UTF-8).
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() as u64 + 1) as usize;
    let any = *rng.pick(&['{', '}', '"', ',', ':', '\\', '0', '-', ' ', 'x', '\u{1}']);
    match rng.below(3) {
        0 if at < chars.len() => {
            chars.remove(at);
        }
        1 if at < chars.len() => chars[at] = any,
        _ => chars.insert(at, any),
    }
    chars.into_iter().collect()
}

#[test]
fn where_the_fast_path_answers_it_agrees_with_the_general_parser() {
    let mut rng = Rng::new(11, 0);
    let mut answered = 0;
    for case in 0..40_000 {
        let clean = line(&mut rng);
        let text = if case % 2 == 0 {
            clean
        } else {
            mutate(&mut rng, &clean)
        };
        if let Some(fast) = parse(&text) {
            answered += 1;
            assert_eq!(Ok(fast), parse_general(&text), "line {text:?}");
        }
    }
    assert!(
        answered > 2_000,
        "the fast path answered only {answered} lines"
    );
}

#[test]
fn the_common_shapes_take_the_fast_path() {
    for text in [
        r#"{"ts":1699999999955,"op":"put","key":"a_0","value":10}"#,
        r#"{"key":"user_17","value":{"name":"Ada","tags":["x",true,null],"n":-3}}"#,
        r#" { "ts" : 5 , "op" : "delete" , "key" : "k" } "#,
        r#"{"ts":null,"key":"k","value":[],"origin":"node-b"}"#,
    ] {
        let fast = parse(text).unwrap_or_else(|| panic!("no fast answer for {text}"));
        assert_eq!(Ok(fast), parse_general(text), "{text}");
    }
}

#[test]
fn anything_unusual_is_left_to_the_general_parser() {
    for text in [
        r#"{"key":"a","value":1.5}"#,
        r#"{"key":"a","value":-0}"#,
        r#"{"key":"a\u0062"}"#,
        r#"{"key":"a","key":"b"}"#,
        r#"{"key":""}"#,
        r#"{"key":"a","ts":253402300800000}"#,
        r#"{"key":"a","value":1} x"#,
        r#"{"key":"a","value":9223372036854775807}"#,
        r#"{"key":"a","extra":1}"#,
        r#"{"value":1}"#,
        r#"{"key":"a","value":{"b":1,}}"#,
    ] {
        assert_eq!(parse(text), None, "{text}");
    }
    let deep = format!(
        "{{\"key\":\"a\",\"value\":{}1{}}}",
        "[".repeat(40),
        "]".repeat(40)
    );
    assert_eq!(parse(&deep), None);
}

/// Bytes that are not UTF-8, in any string the fast path would keep, leave the line to the
/// general reading (which names the byte); valid multi-byte text is taken.
#[test]
fn a_line_that_is_not_utf8_is_left_to_the_general_parser() {
    for line in [
        &b"{\"key\":\"a\xff\"}"[..],
        b"{\"key\":\"a\",\"op\":\"put\xc3\"}",
        b"{\"key\":\"a\",\"value\":{\"n\xe2\x82\":1}}",
        b"{\"key\":\"a\",\"value\":[\"\xed\xa0\x80\"]}",
        b"{\"key\":\"a\",\"origin\":\"\xf0\x9f\"}",
    ] {
        assert_eq!(parse_bytes(line), None, "{}", String::from_utf8_lossy(line));
    }
    let text = "{\"key\":\"clé\",\"value\":{\"名\":\"中\"}}";
    assert_eq!(parse_bytes(text.as_bytes()), parse(text));
    assert!(parse(text).is_some());
}
