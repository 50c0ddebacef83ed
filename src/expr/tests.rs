//! Tests of the expression language's semantics: operators, functions, NULL handling, JSON
//! paths, dotted (join) field names and static types. Errors and robustness: `tests_errors.rs`.

use super::*;
use crate::expr::node::{Func, Node};
use crate::value::F64;

pub(super) fn schema() -> Schema {
    Schema::events()
}

pub(super) fn row() -> Row {
    let value = Value::parse_json(
        r#"{"amount": 5, "price": 2.5, "name": "Widget", "tags": ["a", "b"],
            "nested": {"x": {"y": 1}}, "n": null, "flag": true, "big": 9223372036854775807,
            "sval": "12", "mixed": [1, "two", {"three": 3}], "zero": 0}"#,
    )
    .unwrap();
    Row(vec![
        Value::from("user:1"),
        Value::Int(1000),
        Value::from("insert"),
        Value::Int(7),
        value,
        Value::Null,
    ])
}

fn eval_with(text: &str, schema: &Schema, row: &Row) -> Result<Value, EvalError> {
    let e = Expr::compile(text, schema).unwrap_or_else(|e| panic!("compile {text:?}: {e:?}"));
    e.eval(row)
}

pub(super) fn ev(text: &str) -> Value {
    eval_with(text, &schema(), &row()).unwrap_or_else(|e| panic!("eval {text:?}: {e:?}"))
}

fn ev_err(text: &str) -> String {
    match eval_with(text, &schema(), &row()) {
        Ok(v) => panic!("expected an eval error for {text:?}, got {v:?}"),
        Err(e) => e.message,
    }
}

pub(super) fn err(text: &str) -> ExprError {
    match Expr::compile(text, &schema()) {
        Ok(e) => panic!("expected a compile error for {text:?}, got {e:?}"),
        Err(e) => e,
    }
}

/// The text an error's span covers.
pub(super) fn at(text: &str) -> String {
    let e = err(text);
    text[e.offset..e.offset + e.len].to_string()
}

fn ty(text: &str) -> Type {
    Expr::compile(text, &schema()).unwrap().ty()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn f(v: f64) -> Value {
    Value::Float(F64(v))
}

const T: Value = Value::Bool(true);
const F: Value = Value::Bool(false);
const N: Value = Value::Null;

#[test]
fn literals() {
    assert_eq!(ev("42"), Value::Int(42));
    assert_eq!(ev("2.5"), f(2.5));
    assert_eq!(ev("1e3"), f(1000.0));
    assert_eq!(ev("'it''s'"), s("it's"));
    assert_eq!(ev("TRUE"), T);
    assert_eq!(ev("false"), F);
    assert_eq!(ev("NULL"), N);
    assert_eq!(ev("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(ty("1"), Type::Int);
    assert_eq!(ty("1.0"), Type::Float);
    assert_eq!(ty("'x'"), Type::Str);
    assert_eq!(ty("NULL"), Type::Null);
    assert!(err("99999999999999999999").message.contains("out of range"));
    assert_eq!(
        Expr::compile("7", &schema()).unwrap().as_constant(),
        Some(&Value::Int(7))
    );
}

#[test]
fn fields_and_as_field() {
    let e = Expr::compile("key", &schema()).unwrap();
    assert_eq!(e.as_field(), Some(0));
    assert_eq!(e.ty(), Type::Str);
    assert_eq!(e.text(), "key");
    assert_eq!(e.eval(&row()).unwrap(), s("user:1"));
    assert_eq!(
        Expr::compile("value", &schema()).unwrap().as_field(),
        Some(4)
    );
    assert_eq!(
        Expr::compile("(ts)", &schema()).unwrap().as_field(),
        Some(1)
    );
    assert_eq!(
        Expr::compile("value.amount", &schema()).unwrap().as_field(),
        None
    );
    assert_eq!(ev("ts"), Value::Int(1000));
    assert_eq!(ev("old"), N);
    // A short row reads missing fields as NULL rather than panicking.
    let e = Expr::compile("old IS NULL", &schema()).unwrap();
    assert_eq!(e.eval(&Row(vec![])).unwrap(), T);
}

#[test]
fn arithmetic() {
    assert_eq!(ev("1 + 2 * 3"), Value::Int(7));
    assert_eq!(ev("(1 + 2) * 3"), Value::Int(9));
    assert_eq!(ev("7 / 2"), Value::Int(3));
    assert_eq!(ev("-7 / 2"), Value::Int(-3));
    assert_eq!(ev("7 % 3"), Value::Int(1));
    assert_eq!(ev("-7 % 3"), Value::Int(-1));
    assert_eq!(ev("7 / 2.0"), f(3.5));
    assert_eq!(ev("1 + 0.5"), f(1.5));
    assert_eq!(ev("5.5 % 2"), f(1.5));
    assert_eq!(ev("10 - 20"), Value::Int(-10));
    assert_eq!(ev("-ts"), Value::Int(-1000));
    assert_eq!(ev("+ts"), Value::Int(1000));
    assert_eq!(ev("- 2.5"), f(-2.5));
    assert_eq!(ty("1 + 2"), Type::Int);
    assert_eq!(ty("1 + 2.0"), Type::Float);
    assert_eq!(ty("1 + value.amount"), Type::Json);
    assert_eq!(ty("1 + NULL"), Type::Null);
    assert_eq!(ev("1 + NULL"), N);
    assert_eq!(ev("NULL * 2.5"), N);
    assert!(ev_err("1 / 0").contains("division by zero"));
    assert!(ev_err("1 % 0").contains("division by zero"));
    assert!(ev_err("1.5 / 0").contains("division by zero"));
    assert!(ev_err("9223372036854775807 + 1").contains("overflow"));
    assert!(ev_err("-9223372036854775808 / -1").contains("overflow"));
    assert!(ev_err("-9223372036854775808 % -1").contains("overflow"));
    assert!(ev_err("-(-9223372036854775808)").contains("overflow"));
    assert!(ev_err("value.big * 2").contains("overflow"));
}

#[test]
fn arithmetic_on_json() {
    assert_eq!(ev("value.amount + 1"), Value::Int(6));
    assert_eq!(ev("value.price * 2"), f(5.0));
    assert_eq!(ev("value.amount * value.price"), f(12.5));
    assert_eq!(ev("value.missing + 1"), N);
    assert_eq!(ev("value.n - 1"), N);
    assert_eq!(ev("-value.amount"), Value::Int(-5));
    let m = ev_err("value.name + 1");
    assert!(m.contains("string"), "{m}");
    let m = ev_err("value.tags * 2");
    assert!(m.contains("list"), "{m}");
    assert!(ev_err("-value.name").contains("string"));
    assert!(ev_err("value.amount / value.zero").contains("division by zero"));
}

#[test]
fn comparisons() {
    assert_eq!(ev("1 < 2"), T);
    assert_eq!(ev("2 <= 2"), T);
    assert_eq!(ev("3 > 4"), F);
    assert_eq!(ev("3 >= 4"), F);
    assert_eq!(ev("1 = 1"), T);
    assert_eq!(ev("1 <> 1"), F);
    assert_eq!(ev("1 != 2"), T);
    assert_eq!(ev("1 < 1.5"), T);
    assert_eq!(ev("2 = 2.0"), T);
    assert_eq!(ev("value.amount = 5.0"), T);
    assert_eq!(ev("value.price > value.amount"), F);
    // Int against Float compares exactly, beyond f64's 53-bit precision.
    assert_eq!(ev("9007199254740993 > 9007199254740992.0"), T);
    assert_eq!(ev("9223372036854775807 < 9223372036854775807.0"), T);
    assert_eq!(ev("'apple' < 'banana'"), T);
    assert_eq!(ev("'b' > 'abc'"), T);
    assert_eq!(ev("key = 'user:1'"), T);
    assert_eq!(ev("TRUE > FALSE"), T);
    assert_eq!(ev("NULL = NULL"), N);
    assert_eq!(ev("1 = NULL"), N);
    assert_eq!(ev("value.missing < 3"), N);
    assert_eq!(ev("-0.0 = 0.0"), T);
    assert_eq!(ty("1 < 2"), Type::Bool);
    // Equality across kinds is false; ordering across kinds is a run-time error.
    assert_eq!(ev("value.name = 5"), F);
    assert_eq!(ev("value.name <> 5"), T);
    assert!(ev_err("value.name < 5").contains("cannot compare string with int"));
    assert!(
        err("'a' < 1")
            .message
            .contains("cannot compare string with int")
    );
    assert!(err("key = 1").message.contains("cannot compare"));
}

#[test]
fn logic_three_valued() {
    assert_eq!(ev("TRUE AND TRUE"), T);
    assert_eq!(ev("TRUE AND FALSE"), F);
    assert_eq!(ev("NULL AND FALSE"), F);
    assert_eq!(ev("FALSE AND NULL"), F);
    assert_eq!(ev("NULL AND TRUE"), N);
    assert_eq!(ev("TRUE AND NULL"), N);
    assert_eq!(ev("NULL OR TRUE"), T);
    assert_eq!(ev("TRUE OR NULL"), T);
    assert_eq!(ev("NULL OR FALSE"), N);
    assert_eq!(ev("FALSE OR FALSE"), F);
    assert_eq!(ev("NOT TRUE"), F);
    assert_eq!(ev("NOT NULL"), N);
    assert_eq!(ev("NOT (1 > 2)"), T);
    assert_eq!(ev("value.flag AND ts > 5"), T);
    // Short-circuit: the right side is not evaluated.
    assert_eq!(ev("FALSE AND 1 / 0 = 1"), F);
    assert_eq!(ev("TRUE OR 1 / 0 = 1"), T);
    assert!(ev_err("value.amount AND TRUE").contains("AND expects a bool, got int"));
    assert!(ev_err("NOT value.name").contains("NOT expects a bool, got string"));
    assert!(
        err("1 AND TRUE")
            .message
            .contains("AND expects a bool, got int")
    );
    assert!(
        err("NOT 'x'")
            .message
            .contains("NOT expects a bool, got string")
    );
}

#[test]
fn is_null_and_friends() {
    assert_eq!(ev("NULL IS NULL"), T);
    assert_eq!(ev("old IS NULL"), T);
    assert_eq!(ev("value.missing IS NULL"), T);
    assert_eq!(ev("value.n IS NULL"), T);
    assert_eq!(ev("value.amount IS NULL"), F);
    assert_eq!(ev("value.amount IS NOT NULL"), T);
    assert_eq!(ev("key IS NOT NULL"), T);
    assert_eq!(ev("value.flag IS TRUE"), T);
    assert_eq!(ev("NULL IS NOT TRUE"), T);
    assert_eq!(ev("(1 > 2) IS FALSE"), T);
    assert_eq!(ev("NULL IS NOT DISTINCT FROM NULL"), T);
    assert_eq!(ev("1 IS DISTINCT FROM NULL"), T);
    assert_eq!(ev("1 IS DISTINCT FROM 1.0"), F);
    assert_eq!(ty("value IS NULL"), Type::Bool);
}

#[test]
fn in_list() {
    assert_eq!(ev("1 IN (1, 2)"), T);
    assert_eq!(ev("3 IN (1, 2)"), F);
    assert_eq!(ev("3 NOT IN (1, 2)"), T);
    assert_eq!(ev("2 IN (1, 2.0)"), T);
    assert_eq!(ev("kind IN ('insert', 'update')"), T);
    assert_eq!(ev("3 IN (1, NULL)"), N);
    assert_eq!(ev("1 IN (1, NULL)"), T);
    assert_eq!(ev("3 NOT IN (1, NULL)"), N);
    assert_eq!(ev("NULL IN (1, 2)"), N);
    assert_eq!(ev("value.name IN ('Widget', 1)"), T);
    let e = err("kind IN ('a', 3)");
    assert!(e.message.contains("cannot compare string with int"));
    assert_eq!(&"kind IN ('a', 3)"[e.offset..e.offset + e.len], "3");
}

#[test]
fn between() {
    assert_eq!(ev("5 BETWEEN 1 AND 10"), T);
    assert_eq!(ev("5 BETWEEN 5 AND 5.0"), T);
    assert_eq!(ev("11 BETWEEN 1 AND 10"), F);
    assert_eq!(ev("11 NOT BETWEEN 1 AND 10"), T);
    assert_eq!(ev("'m' BETWEEN 'a' AND 'z'"), T);
    assert_eq!(ev("NULL BETWEEN 1 AND 2"), N);
    assert_eq!(ev("5 BETWEEN NULL AND 2"), F);
    assert_eq!(ev("5 BETWEEN NULL AND 10"), N);
    assert_eq!(ev("value.amount BETWEEN 1 AND 10"), T);
}

#[test]
fn like() {
    assert_eq!(ev("'hello' LIKE 'h%'"), T);
    assert_eq!(ev("'hello' LIKE '%llo'"), T);
    assert_eq!(ev("'hello' LIKE '%l%'"), T);
    assert_eq!(ev("'hello' LIKE 'h_llo'"), T);
    assert_eq!(ev("'hello' LIKE 'h_lo'"), F);
    assert_eq!(ev("'hello' LIKE 'hello'"), T);
    assert_eq!(ev("'hello' LIKE 'Hello'"), F);
    assert_eq!(ev("'hello' ILIKE 'HE%'"), T);
    assert_eq!(ev("'hello' NOT LIKE 'x%'"), T);
    assert_eq!(ev("'' LIKE '%'"), T);
    assert_eq!(ev("'' LIKE '_'"), F);
    assert_eq!(ev("'héllo' LIKE 'h_llo'"), T);
    assert_eq!(ev("'aaa' LIKE '%a%a%a%'"), T);
    assert_eq!(ev("'aa' LIKE '%a%a%a%'"), F);
    assert_eq!(ev("'mississippi' LIKE '%iss%ppi'"), T);
    assert_eq!(ev("'50%' LIKE '50\\%'"), T);
    assert_eq!(ev("'501' LIKE '50\\%'"), F);
    assert_eq!(ev("'a_b' LIKE 'a!_b' ESCAPE '!'"), T);
    assert_eq!(ev("'axb' LIKE 'a!_b' ESCAPE '!'"), F);
    assert_eq!(ev("NULL LIKE 'a'"), N);
    assert_eq!(ev("value.name LIKE 'W%'"), T);
    assert_eq!(ev("key LIKE kind"), F);
    assert_eq!(ev("'insert' LIKE kind"), T);
    assert!(ev_err("value.amount LIKE '5'").contains("LIKE expects a string, got int"));
    assert!(
        err("ts LIKE '1%'")
            .message
            .contains("LIKE expects a string, got int")
    );
    assert!(err("'a' LIKE 'b\\'").message.contains("escape"));
}

#[test]
fn case_expressions() {
    assert_eq!(
        ev("CASE WHEN ts > 10 THEN 'big' ELSE 'small' END"),
        s("big")
    );
    assert_eq!(ev("CASE WHEN ts > 10000 THEN 'big' END"), N);
    assert_eq!(
        ev("CASE WHEN NULL THEN 1 WHEN TRUE THEN 2 END"),
        Value::Int(2)
    );
    assert_eq!(
        ev("CASE kind WHEN 'delete' THEN 0 WHEN 'insert' THEN 1 ELSE 2 END"),
        Value::Int(1)
    );
    assert_eq!(ev("CASE kind WHEN 'x' THEN 0 ELSE 2 END"), Value::Int(2));
    assert_eq!(ev("CASE NULL WHEN NULL THEN 1 ELSE 2 END"), Value::Int(2));
    assert_eq!(ev("CASE value.amount WHEN 5 THEN 'five' END"), s("five"));
    // The branches unify: Int with Float is Float, and Int results are converted.
    assert_eq!(ty("CASE WHEN TRUE THEN 1 ELSE 2.5 END"), Type::Float);
    assert_eq!(ev("CASE WHEN TRUE THEN 1 ELSE 2.5 END"), f(1.0));
    assert_eq!(ty("CASE WHEN TRUE THEN 1 ELSE NULL END"), Type::Int);
    assert_eq!(ty("CASE WHEN TRUE THEN 1 ELSE 'x' END"), Type::Json);
    assert_eq!(ty("CASE WHEN TRUE THEN value.x END"), Type::Json);
    // Only the chosen branch is evaluated.
    assert_eq!(ev("CASE WHEN FALSE THEN 1 / 0 ELSE 0 END"), Value::Int(0));
    let e = err("CASE WHEN 1 THEN 2 END");
    assert!(e.message.contains("CASE WHEN expects a bool, got int"));
    assert_eq!(&"CASE WHEN 1 THEN 2 END"[e.offset..e.offset + e.len], "1");
}

#[test]
fn casts() {
    assert_eq!(ev("CAST('42' AS INT)"), Value::Int(42));
    assert_eq!(ev("CAST(' 42 ' AS BIGINT)"), Value::Int(42));
    assert_eq!(ev("CAST(2.5 AS INTEGER)"), Value::Int(3));
    assert_eq!(ev("CAST(-2.5 AS INT)"), Value::Int(-3));
    assert_eq!(ev("CAST(TRUE AS INT)"), Value::Int(1));
    assert_eq!(ev("CAST('2.5' AS DOUBLE)"), f(2.5));
    assert_eq!(ev("CAST(3 AS FLOAT)"), f(3.0));
    assert_eq!(ev("CAST(3 AS REAL)"), f(3.0));
    assert_eq!(ev("CAST(3 AS VARCHAR)"), s("3"));
    assert_eq!(ev("CAST(2.5 AS TEXT)"), s("2.5"));
    assert_eq!(ev("CAST(TRUE AS STRING)"), s("true"));
    assert_eq!(ev("CAST(value.tags AS VARCHAR)"), s(r#"["a","b"]"#));
    assert_eq!(ev("CAST('true' AS BOOLEAN)"), T);
    assert_eq!(ev("CAST('no' AS BOOLEAN)"), F);
    assert_eq!(ev("CAST(0 AS BOOLEAN)"), F);
    assert_eq!(ev("CAST(NULL AS INT)"), N);
    assert_eq!(ev("CAST(value.sval AS INT) + 1"), Value::Int(13));
    assert_eq!(ev("ts::VARCHAR"), s("1000"));
    assert_eq!(ev("TRY_CAST('abc' AS INT)"), N);
    assert_eq!(ty("CAST(value.x AS INT)"), Type::Int);
    assert_eq!(ty("CAST(1 AS VARCHAR)"), Type::Str);
    let m = ev_err("CAST('abc' AS INT)");
    assert!(m.contains("cannot cast string \"abc\" to int"), "{m}");
    assert!(ev_err("CAST('x' AS BOOLEAN)").contains("cannot cast"));
    assert!(ev_err("CAST(1e300 AS INT)").contains("cannot cast"));
    assert!(ev_err("CAST(value.tags AS INT)").contains("cannot cast list"));
    assert!(
        err("CAST(1 AS DATE)")
            .message
            .contains("cannot cast to `DATE`")
    );
}

#[test]
fn string_concat_operator() {
    assert_eq!(ev("'a' || 'b'"), s("ab"));
    assert_eq!(ev("key || ':' || ts"), s("user:1:1000"));
    assert_eq!(ev("'x' || 2.5"), s("x2.5"));
    assert_eq!(ev("'a' || NULL"), N);
    assert_eq!(ev("'a' || value.missing"), N);
    assert_eq!(ty("'a' || 1"), Type::Str);
}

#[test]
fn string_functions() {
    assert_eq!(ev("lower('HeLLo')"), s("hello"));
    assert_eq!(ev("UPPER('HeLLo')"), s("HELLO"));
    assert_eq!(ev("Lower(value.name)"), s("widget"));
    assert_eq!(ev("lower(NULL)"), N);
    assert_eq!(ev("length('héllo')"), Value::Int(5));
    assert_eq!(ev("length(value.tags)"), Value::Int(2));
    assert_eq!(ev("length(value.missing)"), N);
    assert_eq!(ev("concat('a', 1, NULL, 'b', 2.5)"), s("a1b2.5"));
    assert_eq!(ev("concat()"), s(""));
    assert_eq!(ev("concat(NULL)"), s(""));
    assert_eq!(ev("split_part('a,b,c', ',', 2)"), s("b"));
    assert_eq!(ev("split_part('a,b,c', ',', 4)"), s(""));
    assert_eq!(ev("split_part('a,b,', ',', 3)"), s(""));
    assert_eq!(ev("split_part(',b', ',', 1)"), s(""));
    assert_eq!(ev("split_part('é_ü_x', '_', 2)"), s("ü"));
    assert_eq!(ev("split_part('a_b', '_', 9223372036854775807)"), s(""));
    assert_eq!(ev("split_part('a,b,c', ',', -1)"), s("c"));
    assert_eq!(ev("split_part('a::b', '::', 2)"), s("b"));
    assert_eq!(ev("split_part(key, ':', 2)"), s("1"));
    assert_eq!(ev("split_part('abc', '', 1)"), s("abc"));
    assert!(ev_err("split_part('a', ',', 0)").contains("zero"));
    assert_eq!(ev("regexp_like('abc123', '^[a-z]+[0-9]+$')"), T);
    assert_eq!(ev("regexp_like(key, '^order:')"), F);
    assert_eq!(ev("regexp_like(NULL, 'x')"), N);
    assert_eq!(ev("substr('hello', 2)"), s("ello"));
    assert_eq!(ev("substr('hello', 2, 3)"), s("ell"));
    assert_eq!(ev("substring('hello', 0, 3)"), s("he"));
    assert_eq!(ev("substring('hello' FROM 2 FOR 2)"), s("el"));
    assert_eq!(ev("substr('hello', 10)"), s(""));
    assert_eq!(ev("substr('héllo', 2, 1)"), s("é"));
    assert!(ev_err("substr('hello', 1, -1)").contains("negative"));
    assert_eq!(ev("trim('  hi  ')"), s("hi"));
    assert_eq!(ev("ltrim('  hi  ')"), s("hi  "));
    assert_eq!(ev("rtrim('  hi  ')"), s("  hi"));
    assert_eq!(ev("trim(BOTH 'x' FROM 'xxhixx')"), s("hi"));
    assert_eq!(ev("trim(LEADING 'x' FROM 'xxhixx')"), s("hixx"));
    assert_eq!(ev("replace('a-b-c', '-', '+')"), s("a+b+c"));
    assert_eq!(ev("replace('abc', '', 'x')"), s("abc"));
    assert_eq!(ev("starts_with(key, 'user:')"), T);
    assert_eq!(ev("starts_with(key, 'order:')"), F);
    assert_eq!(ev("ends_with(key, ':1')"), T);
    assert_eq!(ty("lower(key)"), Type::Str);
    assert_eq!(ty("length(key)"), Type::Int);
    assert_eq!(ty("regexp_like(key, 'x')"), Type::Bool);
    assert!(ev_err("lower(value.amount)").contains("lower expects a string, got int"));
}

#[test]
fn other_functions() {
    assert_eq!(ev("coalesce(NULL, value.missing, 3)"), Value::Int(3));
    assert_eq!(ev("coalesce(value.name, 'x')"), s("Widget"));
    assert_eq!(ev("coalesce(NULL)"), N);
    assert_eq!(ty("coalesce(NULL, 1)"), Type::Int);
    assert_eq!(ty("coalesce(1, 2.5)"), Type::Float);
    assert_eq!(ev("coalesce(1, 2.5)"), f(1.0));
    assert_eq!(ty("coalesce(value.x, 1)"), Type::Json);
    // Only the arguments up to the first non-NULL are evaluated.
    assert_eq!(ev("coalesce(1, 1 / 0)"), Value::Int(1));
    assert_eq!(ev("nullif(1, 1)"), N);
    assert_eq!(ev("nullif(1, 2)"), Value::Int(1));
    assert_eq!(ev("abs(-3)"), Value::Int(3));
    assert_eq!(ev("abs(-2.5)"), f(2.5));
    assert_eq!(ev("abs(NULL)"), N);
    assert!(ev_err("abs(-9223372036854775808)").contains("overflow"));
    assert_eq!(ev("round(2.5)"), f(3.0));
    assert_eq!(ev("round(-2.5)"), f(-3.0));
    assert_eq!(ev("round(2.345, 2)"), f(2.35));
    assert_eq!(ev("round(1234.5, -2)"), f(1200.0));
    assert_eq!(ev("round(7)"), Value::Int(7));
    assert_eq!(ev("round(1250, -2)"), Value::Int(1300));
    assert_eq!(ev("round(-1250, -2)"), Value::Int(-1300));
    assert_eq!(ev("round(1249, -2)"), Value::Int(1200));
    assert_eq!(ev("round(5, -30)"), Value::Int(0));
    assert_eq!(ev("round(2.5, 400)"), f(2.5));
    assert_eq!(ev("round(2.5, -9223372036854775808)"), f(0.0));
    assert_eq!(ev("round(value.price)"), f(3.0));
    assert_eq!(ev("floor(2.7)"), f(2.0));
    assert_eq!(ev("floor(-2.5)"), f(-3.0));
    assert_eq!(ev("ceil(2.1)"), f(3.0));
    assert_eq!(ev("CEILING(2.1)"), f(3.0));
    assert_eq!(ev("floor(7)"), Value::Int(7));
    assert_eq!(ty("round(1.5)"), Type::Float);
    assert_eq!(ty("floor(1)"), Type::Int);
    assert_eq!(ty("abs(value.x)"), Type::Json);
    assert!(ev_err("abs(value.name)").contains("abs expects a number, got string"));
}

#[test]
fn json_paths() {
    assert_eq!(ev("value.nested.x.y"), Value::Int(1));
    assert_eq!(ev("value.tags[0]"), s("a"));
    assert_eq!(ev("value.tags[1]"), s("b"));
    assert_eq!(ev("value.tags[2]"), N);
    assert_eq!(ev("value.tags[-1]"), N);
    assert_eq!(ev("value['name']"), s("Widget"));
    assert_eq!(ev("value['nested']['x'].y"), Value::Int(1));
    assert_eq!(ev("value.mixed[2].three"), Value::Int(3));
    assert_eq!(ev("value.tags[ts - 999]"), s("b"));
    assert_eq!(ev("value[kind]"), N);
    assert_eq!(ev("value.missing"), N);
    assert_eq!(ev("value.missing.deeper[3].x"), N);
    assert_eq!(ev("value.name.x"), N);
    assert_eq!(ev("value.tags.x"), N);
    assert_eq!(ev("old.x"), N);
    assert_eq!(ev("value -> 'amount'"), Value::Int(5));
    assert_eq!(ev("value ->> 'amount'"), s("5"));
    assert_eq!(ev("value ->> 'name'"), s("Widget"));
    assert_eq!(ev("value ->> 'missing'"), N);
    assert_eq!(ev("(value).amount"), Value::Int(5));
    assert_eq!(ev("coalesce(old, value).amount"), Value::Int(5));
    assert_eq!(ty("value.amount"), Type::Json);
    assert_eq!(ty("value.tags[0]"), Type::Json);
    assert!(
        ev_err("value.tags[value.flag]").contains("subscript must be an int or a string, got bool")
    );
    let e = err("key.x");
    assert!(
        e.message.contains("field `key` is a string"),
        "{}",
        e.message
    );
    assert!(err("value[TRUE]").message.contains("subscript"));
}

fn join_schema() -> Schema {
    Schema::new([
        ("orders.key", Type::Str),
        ("orders.value", Type::Json),
        ("users.key", Type::Str),
        ("users.value", Type::Json),
        ("n", Type::Int),
    ])
}

#[test]
fn dotted_field_names() {
    let schema = join_schema();
    let row = Row(vec![
        s("order:1"),
        Value::parse_json(r#"{"amount": 10, "user": "u1", "items": [{"sku": "x"}]}"#).unwrap(),
        s("user:u1"),
        Value::parse_json(r#"{"name": "Ann", "value": {"deep": 1}}"#).unwrap(),
        Value::Int(3),
    ]);
    let e = Expr::compile("users.key", &schema).unwrap();
    assert_eq!(e.as_field(), Some(2));
    assert_eq!(e.ty(), Type::Str);
    assert_eq!(e.eval(&row).unwrap(), s("user:u1"));
    let ev = |t: &str| eval_with(t, &schema, &row).unwrap();
    assert_eq!(ev("orders.value.amount"), Value::Int(10));
    assert_eq!(ev("orders.value.items[0].sku"), s("x"));
    assert_eq!(ev("orders.value['user']"), s("u1"));
    assert_eq!(ev("\"orders.value\".amount"), Value::Int(10));
    assert_eq!(ev("users.value.value.deep"), Value::Int(1));
    assert_eq!(ev("orders.value.amount * n"), Value::Int(30));
    assert_eq!(ev("'user:' || orders.value.user = users.key"), T);
    let e = Expr::compile("orders.vlaue.amount", &schema).unwrap_err();
    assert_eq!(e.message, "unknown field `orders.vlaue`");
    assert_eq!((e.offset, e.len), (0, "orders.vlaue".len()));
    assert_eq!(
        e.suggestion.as_deref(),
        Some("did you mean `orders.value`?")
    );
    let e = Expr::compile("ordrs.value", &schema).unwrap_err();
    assert_eq!(e.message, "unknown field `ordrs`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `orders`?"));
    let e = Expr::compile("orders", &schema).unwrap_err();
    assert_eq!(e.message, "unknown field `orders`");
    assert_eq!(e.suggestion.as_deref(), Some("did you mean `orders.key`?"));
}

#[test]
fn is_true_only_for_true() {
    assert!(is_true(&T));
    assert!(!is_true(&F));
    assert!(!is_true(&N));
    assert!(!is_true(&Value::Int(1)));
    let e = Expr::compile("ts > 5", &schema()).unwrap();
    assert!(e.eval_predicate(&row()).unwrap());
    let e = Expr::compile("value.missing > 5", &schema()).unwrap();
    assert!(!e.eval_predicate(&row()).unwrap());
}

#[test]
fn expr_is_send_sync_and_cheap_to_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Expr>();
    let e = Expr::compile("lower(key) = 'x'", &schema()).unwrap();
    let e2 = e.clone();
    assert!(Arc::ptr_eq(&e.root, &e2.root));
    assert_eq!(e2.eval(&row()).unwrap(), F);
}

/// Whether `text` compiles; when it does, asserts that its answer as a filter predicate is
/// evaluating it and testing the value.
fn predicate_agrees(text: &str) -> bool {
    let Ok(e) = Expr::compile(text, &schema()) else {
        return false;
    };
    let general = e.eval(&row()).map(|v| is_true(&v));
    assert_eq!(e.eval_predicate(&row()), general, "{text}");
    true
}

/// A filter's comparison of leaves answered in place agrees with evaluating it and testing
/// the value: every operator, over fields, literals and keys into the value, of every kind
/// (NULL, a missing key, mixed numbers, kinds that cannot be compared).
#[test]
fn predicates_answered_in_place_agree_with_evaluation() {
    let leaves = [
        "key",
        "ts",
        "old",
        "value.amount",
        "value.price",
        "value.name",
        "value.n",
        "value.missing",
        "value.tags",
        "'Widget'",
        "'user:1'",
        "5",
        "2.5",
        "NULL",
        "true",
    ];
    let mut compared = 0;
    for a in leaves {
        for b in leaves {
            for op in ["=", "<>", "<", "<=", ">", ">="] {
                compared += usize::from(predicate_agrees(&format!("{a} {op} {b}")));
            }
        }
    }
    assert!(compared > 500, "only {compared} comparisons compiled");
}

/// `split_part` with its literal delimiter and position resolved when compiled agrees with
/// the general call (the same arguments, computed per row) on every kind of text: parts
/// present and absent, an empty text, multi-byte characters, NULL and kinds that are not
/// text (an error).
#[test]
fn split_part_with_literals_resolved_agrees_with_the_general_call() {
    let texts = [
        "key",
        "'a_b_c'",
        "'_a__b_'",
        "''",
        "'é_ü_x'",
        "'no-delimiter'",
        "value.name",
        "value.n",
        "value.missing",
        "value.amount",
        "value.tags",
        "NULL",
    ];
    let mut resolved = 0;
    for text in texts {
        for delim in ["_", ",", ":", "é", "::"] {
            for n in 1..=4 {
                let literal = format!("split_part({text}, '{delim}', {n})");
                let computed = format!("split_part({text}, '{delim}' || '', {n} + 0)");
                let (Ok(fast), Ok(general)) = (
                    Expr::compile(&literal, &schema()),
                    Expr::compile(&computed, &schema()),
                ) else {
                    continue;
                };
                if matches!(&*fast.root, Node::Call(Func::SplitPartByte(..), _)) {
                    resolved += 1;
                }
                assert_eq!(fast.eval(&row()), general.eval(&row()), "{literal}");
            }
        }
    }
    assert!(
        resolved >= 100,
        "only {resolved} calls resolved their literals"
    );
}

/// AND and OR of comparisons answered item by item agree with evaluating them and testing
/// the value: the same truth, the same stop (a false item before an error hides it), the same
/// errors (a non-boolean item, a cast that fails), over NULLs and casts read in place.
#[test]
fn and_and_or_answered_item_by_item_agree_with_evaluation() {
    let items = [
        "ts > 5",
        "ts < 5",
        "value.amount = 5",
        "CAST(value.amount AS INT) >= 5",
        "CAST(value.amount AS INT) < value.big",
        "CAST(value.n AS INT) = 1",
        "CAST(value.name AS INT) = 1",
        "CAST(value.price AS INT) = 2",
        "value.n > 1",
        "value.missing = 'x'",
        "value.flag",
        "value.name",
        "value.n",
        "NULL",
        "value.tags > 1",
    ];
    let mut compared = 0;
    for a in items {
        for b in items {
            for shape in [
                "{a} AND {b}",
                "{a} OR {b}",
                "{a} AND {b} OR {a}",
                "({a} OR {b}) AND {b}",
            ] {
                let text = shape.replace("{a}", a).replace("{b}", b);
                compared += usize::from(predicate_agrees(&text));
            }
        }
    }
    assert!(compared > 600, "only {compared} conditions compiled");
}
