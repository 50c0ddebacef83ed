//! The SELECT grammar of this version:
//!
//! ```text
//! query: select [UNION ALL select …]
//! select: SELECT [DISTINCT | ALL] item [, item …]
//! FROM from_item [[INNER | LEFT [OUTER]] JOIN from_item ON a.x = b.y [AND …]]
//! [WHERE expr] [GROUP BY expr [, expr …]] [HAVING expr]
//! item: * | expr [[AS] name] | aggregate [FILTER (WHERE cond)] [[AS] name]
//!     | ROW_NUMBER() OVER ([PARTITION BY expr, …] ORDER BY expr [ASC | DESC], …) [AS] name
//! aggregate: count(*) | count([DISTINCT] expr) | sum | min | max | avg | count_distinct
//!            | first | last (expr) | collect(expr [, limit])
//! ```
//!
//! An aggregate is a whole SELECT item (`count(*) AS n`); expressions over aggregates are
//! written with HAVING (which may repeat the SELECT list's calls) or a later view.

use sqlparser::tokenizer::Token;

use super::SqlError;
use super::cursor::{Captured, Cursor, is_word};
use super::from::{FromItem, from_item, interval_ms};
use crate::plan::lower::Text;
use crate::plan::{AggFunc, JoinKind, Ranking};

#[derive(Debug)]
pub(super) struct Select {
    pub at: usize,
    /// The offset of `DISTINCT`, when the SELECT has it.
    pub distinct: Option<usize>,
    pub items: Vec<Item>,
    pub from: FromItem,
    /// `JOIN … ON …`, in order: each joins the rows so far with one more input.
    pub joins: Vec<Join>,
    pub filter: Option<Where>,
    /// The offset of `GROUP` and the expressions.
    pub group_by: Option<(usize, Vec<Captured>)>,
    pub having: Option<Captured>,
    /// The SELECTs joined to this one by `UNION ALL` or `UNION`, in order.
    pub unions: Vec<Select>,
    /// Where the last `UNION` without `ALL` is: the union's rows are then made distinct.
    pub union_distinct: Option<usize>,
}

/// A WHERE condition: the whole of it, and its top-level `AND` terms.
#[derive(Debug)]
pub(super) struct Where {
    pub whole: Captured,
    pub terms: Vec<Captured>,
}

#[derive(Debug)]
pub(super) struct Item {
    pub kind: ItemKind,
    pub alias: Option<crate::plan::lower::Text>,
    pub at: usize,
}

#[derive(Debug)]
pub(super) enum ItemKind {
    Star,
    Expr(Captured),
    Agg(Box<AggCall>),
    RowNumber(RowNumber),
}

/// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)`, or `RANK()` or `DENSE_RANK()`.
#[derive(Debug)]
pub(super) struct RowNumber {
    pub at: usize,
    pub ranking: Ranking,
    pub partition_by: Vec<Captured>,
    /// Each key and whether it is `DESC`.
    pub order_by: Vec<(Captured, bool)>,
}

#[derive(Debug)]
pub(super) struct AggCall {
    pub func: AggFunc,
    /// `None` for `count(*)`.
    pub arg: Option<Captured>,
    /// The function's name as written (lower case): the column's default name.
    pub name: String,
    /// The call's normalized tokens (to find it again in HAVING).
    pub norm: String,
    /// `FILTER (WHERE condition)`.
    pub filter: Option<Captured>,
}

#[derive(Debug)]
pub(super) struct Join {
    pub kind: JoinKind,
    pub right: FromItem,
    /// The equalities of `ON`, each side as written.
    pub on: Vec<(Captured, Captured)>,
    /// `a.ts BETWEEN b.ts - INTERVAL … AND b.ts + …` (an interval join), when ON has it.
    pub between: Option<Between>,
    pub at: usize,
}

/// `subject.ts BETWEEN lower AND upper`, each bound `other.ts [± duration]`.
#[derive(Debug)]
pub(super) struct Between {
    pub at: usize,
    /// The qualifier of the subject's `ts`.
    pub subject: Text,
    pub lower: TimeBound,
    pub upper: TimeBound,
}

/// `name.ts + offset_ms`.
#[derive(Debug)]
pub(super) struct TimeBound {
    pub input: Text,
    pub offset_ms: i64,
}

/// A query: a SELECT and the SELECTs joined to it by `UNION ALL` or `UNION`. Decision: the
/// set operators bind left to right, so a `UNION` makes every row before it distinct; a
/// `UNION ALL` after a `UNION` would keep its own duplicates beside distinct rows, and is
/// refused (name the `UNION` as a view first).
pub(super) fn select(cur: &mut Cursor, depth: usize) -> Result<Select, SqlError> {
    let mut first = select_core(cur, depth)?;
    while cur.is_word("UNION") {
        let at = cur.at();
        cur.next();
        let all_at = cur.at();
        if cur.eat_word("ALL") {
            if first.union_distinct.is_some() {
                return Err(SqlError::at(
                    all_at,
                    "UNION ALL after a UNION is not supported: make the UNION a view and UNION ALL that view",
                ));
            }
        } else {
            first.union_distinct = Some(at);
        }
        first.unions.push(select_core(cur, depth)?);
    }
    Ok(first)
}

fn select_core(cur: &mut Cursor, depth: usize) -> Result<Select, SqlError> {
    let at = cur.at();
    cur.expect_word("SELECT", "SELECT")?;
    let distinct_at = cur.at();
    let distinct = cur.eat_word("DISTINCT").then_some(distinct_at);
    if distinct.is_none() {
        cur.eat_word("ALL");
    }
    let mut items = vec![item(cur)?];
    while cur.eat(&Token::Comma) {
        items.push(item(cur)?);
    }
    cur.expect_word("FROM", "`,` or FROM after the SELECT list")?;
    let from = from_item(cur, depth)?;
    let mut joins = Vec::new();
    while let Some(next) = join(cur, depth)? {
        joins.push(next);
    }
    let filter = match cur.eat_word("WHERE") {
        true => Some(cur.conjuncts()?),
        false => None,
    };
    let group_by = match cur.is_word("GROUP") {
        true => {
            let group_at = cur.at();
            cur.next();
            cur.expect_word("BY", "BY after GROUP")?;
            let mut exprs = vec![cur.expr()?];
            while cur.eat(&Token::Comma) {
                exprs.push(cur.expr()?);
            }
            Some((group_at, exprs))
        }
        false => None,
    };
    let having = match cur.eat_word("HAVING") {
        true => Some(cur.expr()?),
        false => None,
    };
    end_of_select(cur)?;
    Ok(Select {
        at,
        distinct,
        items,
        from,
        joins,
        filter,
        group_by,
        having,
        unions: Vec::new(),
        union_distinct: None,
    })
}

/// After a SELECT: the end of the statement or of a subquery.
fn end_of_select(cur: &Cursor) -> Result<(), SqlError> {
    match cur.peek() {
        Token::EOF | Token::SemiColon | Token::RParen => Ok(()),
        Token::Word(w) if w.value.eq_ignore_ascii_case("UNION") => Ok(()),
        Token::Word(w)
            if ["JOIN", "INNER", "LEFT"]
                .iter()
                .any(|k| w.value.eq_ignore_ascii_case(k)) =>
        {
            Err(SqlError::at(
                cur.at(),
                format!(
                    "`{}` here: the joins follow FROM, before WHERE, GROUP BY and HAVING",
                    w.value
                ),
            ))
        }
        Token::Word(w)
            if ["ORDER", "LIMIT"]
                .iter()
                .any(|k| w.value.eq_ignore_ascii_case(k)) =>
        {
            Err(SqlError::at(
                cur.at(),
                format!(
                    "`{}` is not supported in this version (no ORDER BY or LIMIT: rank with ROW_NUMBER())",
                    w.value
                ),
            ))
        }
        _ => Err(cur.unexpected("WHERE, GROUP BY, HAVING or the end of the statement")),
    }
}

fn item(cur: &mut Cursor) -> Result<Item, SqlError> {
    let at = cur.at();
    let kind = if cur.eat(&Token::Mul) {
        ItemKind::Star
    } else if let Some(ranking) = ranking_call(cur) {
        ItemKind::RowNumber(row_number(cur, ranking)?)
    } else if is_aggregate(cur) {
        ItemKind::Agg(Box::new(aggregate(cur)?))
    } else {
        ItemKind::Expr(cur.expr()?)
    };
    let alias = if cur.eat_word("AS") {
        Some(cur.name("a column name after AS")?)
    } else if matches!(cur.peek(), Token::Word(w) if !w.value.eq_ignore_ascii_case("FROM")) {
        Some(cur.name("a column name")?)
    } else {
        None
    };
    let ends = matches!(
        cur.peek(),
        Token::Word(_) | Token::Comma | Token::EOF | Token::SemiColon
    );
    if matches!(kind, ItemKind::Agg(_)) && !ends {
        return Err(SqlError::at(
            cur.at(),
            "an aggregate must be a whole SELECT item here (`sum(x) AS total`); compute with it in HAVING or a later view",
        ));
    }
    Ok(Item { kind, alias, at })
}

fn is_aggregate(cur: &Cursor) -> bool {
    *cur.peek_nth(1) == Token::LParen && AggFunc::NAMES.iter().any(|a| is_word(cur.peek(), a))
}

/// `func([DISTINCT] arg [, limit])` or `count(*)`.
fn aggregate(cur: &mut Cursor) -> Result<AggCall, SqlError> {
    let mark = cur.mark();
    let name = cur.name("an aggregate")?.text.to_lowercase();
    cur.next();
    let Some(mut func) = AggFunc::from_name(&name) else {
        return Err(SqlError::at(
            cur.at(),
            format!("unknown aggregate `{name}`"),
        ));
    };
    let star_at = cur.at();
    if cur.eat(&Token::Mul) {
        if func != AggFunc::Count {
            return Err(SqlError::at(
                star_at,
                format!("only count takes `*`, not {name}"),
            ));
        }
        cur.expect(&Token::RParen, "`)` after count(*")?;
        let filter = filter(cur)?;
        return Ok(AggCall {
            func,
            arg: None,
            name,
            norm: cur.norm_since(mark),
            filter,
        });
    }
    if func == AggFunc::Count && cur.eat_word("DISTINCT") {
        func = AggFunc::CountDistinct;
    }
    let arg = cur.expr()?;
    if let AggFunc::Collect { .. } = func
        && cur.eat(&Token::Comma)
    {
        let at = cur.at();
        let limit = match cur.next() {
            Token::Number(n, _) => n.parse::<usize>().ok().filter(|n| *n > 0),
            _ => None,
        };
        func = AggFunc::Collect {
            limit: limit.ok_or_else(|| {
                SqlError::at(
                    at,
                    "the limit of collect must be a positive integer, e.g. `collect(x, 10)`",
                )
            })?,
        };
    }
    if *cur.peek() == Token::Comma {
        return Err(SqlError::at(cur.at(), format!("{name} takes one argument")));
    }
    cur.expect(&Token::RParen, &format!("`)` after the argument of {name}"))?;
    let filter = filter(cur)?;
    Ok(AggCall {
        func,
        arg: Some(arg),
        name,
        norm: cur.norm_since(mark),
        filter,
    })
}

/// An aggregate's `FILTER (WHERE condition)`, if present.
fn filter(cur: &mut Cursor) -> Result<Option<Captured>, SqlError> {
    if !(cur.is_word("FILTER") && *cur.peek_nth(1) == Token::LParen) {
        return Ok(None);
    }
    cur.next();
    cur.next();
    cur.expect_word("WHERE", "WHERE after FILTER (")?;
    let condition = cur.expr()?;
    cur.expect(&Token::RParen, "`)` after the FILTER's condition")?;
    Ok(Some(condition))
}

/// The ranking function the cursor is at (`ROW_NUMBER(`, `RANK(` or `DENSE_RANK(`).
fn ranking_call(cur: &Cursor) -> Option<Ranking> {
    let Token::Word(word) = cur.peek() else {
        return None;
    };
    let ranking = Ranking::named(&word.value)?;
    (*cur.peek_nth(1) == Token::LParen).then_some(ranking)
}

/// `ROW_NUMBER() OVER ([PARTITION BY e, …] ORDER BY e [ASC | DESC], …)`, or `RANK()` or
/// `DENSE_RANK()` in its place.
fn row_number(cur: &mut Cursor, ranking: Ranking) -> Result<RowNumber, SqlError> {
    let at = cur.at();
    let function = ranking.name().to_ascii_uppercase();
    cur.next();
    cur.expect(&Token::LParen, &format!("`(` after {function}"))?;
    cur.expect(
        &Token::RParen,
        &format!("`)`: {function} takes no arguments"),
    )?;
    cur.expect_word(
        "OVER",
        &format!("OVER (PARTITION BY … ORDER BY …) after {function}()"),
    )?;
    cur.expect(&Token::LParen, "`(` after OVER")?;
    let mut partition_by = Vec::new();
    if cur.eat_word("PARTITION") {
        cur.expect_word("BY", "BY after PARTITION")?;
        partition_by.push(cur.expr()?);
        while cur.eat(&Token::Comma) {
            partition_by.push(cur.expr()?);
        }
    }
    cur.expect_word("ORDER", "ORDER BY: a row number needs an order")?;
    cur.expect_word("BY", "BY after ORDER")?;
    let mut order_by = Vec::new();
    loop {
        let key = cur.expr()?;
        let descending = cur.eat_word("DESC");
        if !descending {
            cur.eat_word("ASC");
        }
        order_by.push((key, descending));
        if !cur.eat(&Token::Comma) {
            break;
        }
    }
    cur.expect(&Token::RParen, "`,` or `)` after the ORDER BY keys")?;
    Ok(RowNumber {
        at,
        ranking,
        partition_by,
        order_by,
    })
}

fn join(cur: &mut Cursor, depth: usize) -> Result<Option<Join>, SqlError> {
    let at = cur.at();
    let kind = if cur.eat_word("LEFT") {
        cur.eat_word("OUTER");
        JoinKind::LeftOuter
    } else {
        cur.eat_word("INNER");
        JoinKind::Inner
    };
    if !cur.eat_word("JOIN") {
        return match at == cur.at() {
            true => Ok(None),
            false => Err(cur.unexpected("JOIN")),
        };
    }
    let right = from_item(cur, depth)?;
    cur.expect_word("ON", "ON and the join's equalities")?;
    let mut on = Vec::new();
    let mut between = None;
    loop {
        let term_at = cur.at();
        let left = cur.operand()?;
        if cur.is_word("BETWEEN") {
            if between.is_some() {
                return Err(SqlError::at(term_at, "an interval join has one BETWEEN"));
            }
            between = Some(interval(cur, &left, term_at)?);
        } else {
            cur.expect(
                &Token::Eq,
                "`=` (or BETWEEN on `ts`): a join's condition is equalities joined by AND",
            )?;
            on.push((left, cur.operand()?));
        }
        if !cur.eat_word("AND") {
            break;
        }
    }
    Ok(Some(Join {
        kind,
        right,
        on,
        between,
        at,
    }))
}

/// `subject BETWEEN lower AND upper` of an interval join; `subject` is `name.ts`.
fn interval(cur: &mut Cursor, subject: &Captured, at: usize) -> Result<Between, SqlError> {
    let subject = ts_of(subject)?;
    cur.next();
    let lower = time_bound(cur)?;
    cur.expect_word("AND", "AND between the bounds of BETWEEN")?;
    let upper = time_bound(cur)?;
    Ok(Between {
        at,
        subject,
        lower,
        upper,
    })
}

/// The qualifier of `name.ts`, or an error: an interval join bounds event times.
fn ts_of(c: &Captured) -> Result<Text, SqlError> {
    match (c.qualifiers.as_slice(), c.last_name.as_deref()) {
        ([q], Some("ts")) if c.norm == format!("{} . ts", q.name.to_lowercase()) => {
            Ok(Text::at(q.name.clone(), Some(c.at)))
        }
        _ => Err(SqlError::at(
            c.at,
            "an interval join bounds the event time: `a.ts BETWEEN b.ts - INTERVAL … AND b.ts + …`",
        )),
    }
}

/// `name.ts`, optionally `+` or `-` a duration (an INTERVAL or milliseconds).
fn time_bound(cur: &mut Cursor) -> Result<TimeBound, SqlError> {
    let at = cur.at();
    let input = cur.name("`name.ts`")?;
    cur.expect(&Token::Period, "`.ts` after the input's name")?;
    let field = cur.name("`ts`")?;
    if field.text != "ts" {
        return Err(SqlError::at(
            field.origin.offset.unwrap_or(at),
            "an interval join bounds the event time `ts`",
        ));
    }
    let sign = match cur.peek() {
        Token::Plus => 1,
        Token::Minus => -1,
        _ => {
            return Ok(TimeBound {
                input,
                offset_ms: 0,
            });
        }
    };
    cur.next();
    let ms_at = cur.at();
    let ms = match cur.peek().clone() {
        Token::Number(n, _) => {
            cur.next();
            n.parse::<u64>()
                .map_err(|_| SqlError::at(ms_at, format!("`{n}` is not a whole number of ms")))?
        }
        _ if cur.is_word("INTERVAL") => interval_ms(cur)?,
        _ => return Err(cur.unexpected("a duration (e.g. INTERVAL '10' SECOND)")),
    };
    let offset_ms =
        i64::try_from(ms).map_err(|_| SqlError::at(ms_at, "the interval is out of range"))? * sign;
    Ok(TimeBound { input, offset_ms })
}
