//! Parsing and lowering: expression text → `sqlparser` AST → typed [`Node`] tree.
//!
//! Names resolve against the schema here (the longest dotted prefix naming a field wins; the
//! rest is a JSON path), types are checked, literals are converted, and every error carries
//! the byte range of the offending sub-expression.

use sqlparser::ast::{CeilFloorKind, DateTimeField, Expr as SqlExpr, Value as SqlValue};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::schema::{Schema, Type};
use crate::value::{F64, Value};

use super::ExprError;
use super::node::{IsTest, Node, Typed};
use super::span::{Range, Spans};

/// Deepest nesting of sub-expressions accepted (keeps evaluation's recursion bounded).
const MAX_DEPTH: usize = 128;
/// Most tokens accepted in one expression.
const MAX_TOKENS: usize = 20_000;
/// Expressions with more tokens than this compile on a helper thread with a large stack:
/// compiling recurses over the syntax tree (whose depth is bounded by the token count), and
/// unoptimized builds use several KiB of stack per level. Typical expressions stay inline.
const INLINE_TOKENS: usize = 64;
const HELPER_STACK: usize = 256 << 20;

/// Compiles `text` against `schema` into a node tree and its static type.
pub(crate) fn compile(text: &str, schema: &Schema) -> Result<(Node, Type), ExprError> {
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| {
            let at = Spans::new(text, &[]).byte(e.location);
            ExprError::new(format!("syntax error: {}", e.message), (at, at))
        })?;
    let spans = Spans::new(text, &tokens);
    if spans.token_count() > MAX_TOKENS {
        return Err(ExprError::new(
            format!("expression is too long (more than {MAX_TOKENS} tokens)"),
            spans.all(),
        ));
    }
    if spans.token_count() <= INLINE_TOKENS {
        return compile_tokens(&spans, tokens, schema);
    }
    let (spans, tokens) = (&spans, &tokens);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("kvflow-expr-compile".into())
            .stack_size(HELPER_STACK)
            .spawn_scoped(scope, move || compile_tokens(spans, tokens.clone(), schema));
        match helper {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(ExprError::new(
                    "internal error compiling the expression",
                    spans.all(),
                ))
            }),
            // No thread to be had: compile here and rely on the depth limit.
            Err(_) => compile_tokens(spans, tokens.clone(), schema),
        }
    })
}

/// Parses the tokens of `spans`' text and lowers the syntax tree.
fn compile_tokens(
    spans: &Spans,
    tokens: Vec<TokenWithSpan>,
    schema: &Schema,
) -> Result<(Node, Type), ExprError> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let ast = parser.parse_expr().map_err(|e| parse_error(spans, e))?;
    let next = parser.next_token();
    if next.token != Token::EOF {
        let at = spans.span(next.span).unwrap_or_else(|| spans.end());
        return Err(ExprError::new(
            format!(
                "syntax error: unexpected `{}` after the expression",
                next.token
            ),
            at,
        ));
    }
    let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    let mut c = Compiler {
        schema,
        names,
        spans,
        depth: 0,
    };
    let t = c.expr(&ast)?;
    Ok((t.node, t.ty))
}

/// Turns a parser error ("... at Line: 1, Column: 7") into a positioned [`ExprError`].
fn parse_error(spans: &Spans, e: ParserError) -> ExprError {
    let msg = match e {
        ParserError::RecursionLimitExceeded => {
            return ExprError::new("expression is too deeply nested", spans.all());
        }
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
    };
    let (msg, at) = parser_message(&msg, "the end of the expression");
    let range = at.map_or_else(|| spans.end(), |loc| spans.token_at(loc));
    ExprError::new(format!("syntax error: {msg}"), range)
}

/// A `sqlparser` error message ("Expected: x, found: y at Line: 1, Column: 7") as a phrase
/// ("expected x, found `y`"; `end` names what EOF is) and the location it names, if any.
pub(crate) fn parser_message(msg: &str, end: &str) -> (String, Option<Location>) {
    let located = msg.rsplit_once(" at Line: ").and_then(|(head, loc)| {
        let (l, c) = loc.split_once(", Column: ")?;
        Some((head, Location::new(l.parse().ok()?, c.trim().parse().ok()?)))
    });
    let (head, at) = match located {
        Some((head, loc)) => (head, Some(loc)),
        None => (msg, None),
    };
    let head = head.replace("Expected: ", "expected ");
    let head = match head.split_once(", found: ") {
        Some((h, "EOF")) => format!("{h}, found {end}"),
        Some((h, found)) => format!("{h}, found `{found}`"),
        None => head,
    };
    (head, at)
}

/// Lowers one syntax tree; the methods live in this file and the `lower_*` files.
pub(super) struct Compiler<'a> {
    pub(super) schema: &'a Schema,
    pub(super) names: Vec<&'a str>,
    pub(super) spans: &'a Spans<'a>,
    depth: usize,
}

pub(super) fn typed(node: Node, ty: Type, range: Range) -> Typed {
    Typed { node, ty, range }
}

pub(super) fn boxed(t: Typed) -> Box<Node> {
    Box::new(t.node)
}

/// True when values of these static types may be compared.
pub(super) fn comparable(a: Type, b: Type) -> bool {
    matches!(a, Type::Json | Type::Null)
        || matches!(b, Type::Json | Type::Null)
        || a == b
        || (a.is_numeric() && b.is_numeric())
}

/// True when a value of this static type can have a JSON path applied.
pub(super) fn pathable(t: Type) -> bool {
    matches!(t, Type::Json | Type::Map | Type::List | Type::Null)
}

impl Compiler<'_> {
    pub(super) fn expr(&mut self, e: &SqlExpr) -> Result<Typed, ExprError> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            Err(ExprError::new(
                format!("expression is too deeply nested (more than {MAX_DEPTH} levels)"),
                self.spans.all(),
            ))
        } else {
            self.lower(e)
        };
        self.depth -= 1;
        r
    }

    pub(super) fn unsupported(&self, what: &str, e: &SqlExpr) -> ExprError {
        ExprError::new(format!("{what} not supported"), self.spans.of(e))
    }

    /// Dispatches on the AST node. Every arm returns its result directly: in unoptimized
    /// builds each `?` here would add temporaries to this (recursive) frame.
    fn lower(&mut self, e: &SqlExpr) -> Result<Typed, ExprError> {
        let range = self.spans.of(e);
        match e {
            SqlExpr::Identifier(id) => self.field_path(std::slice::from_ref(id), &[], range),
            SqlExpr::CompoundIdentifier(ids) => self.field_path(ids, &[], range),
            SqlExpr::CompoundFieldAccess { root, access_chain } => {
                self.field_access(root, access_chain, range)
            }
            SqlExpr::Value(v) => self.literal(&v.value, false, range),
            SqlExpr::Nested(inner) => self.nested(inner, range),
            SqlExpr::UnaryOp { op, expr } => self.unary(op, expr, range),
            SqlExpr::BinaryOp { left, op, right } => self.binary(left, op, right, range),
            SqlExpr::IsNull(x) => self.is(IsTest::Null, false, x, range),
            SqlExpr::IsNotNull(x) => self.is(IsTest::Null, true, x, range),
            SqlExpr::IsTrue(x) => self.is(IsTest::True, false, x, range),
            SqlExpr::IsNotTrue(x) => self.is(IsTest::True, true, x, range),
            SqlExpr::IsFalse(x) => self.is(IsTest::False, false, x, range),
            SqlExpr::IsNotFalse(x) => self.is(IsTest::False, true, x, range),
            SqlExpr::IsUnknown(x) => self.is(IsTest::Null, false, x, range),
            SqlExpr::IsNotUnknown(x) => self.is(IsTest::Null, true, x, range),
            SqlExpr::IsDistinctFrom(a, b) => self.distinct(false, a, b, range),
            SqlExpr::IsNotDistinctFrom(a, b) => self.distinct(true, a, b, range),
            SqlExpr::InList {
                expr,
                list,
                negated,
            } => self.in_list(expr, list, *negated, range),
            SqlExpr::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, low, high, *negated, range),
            SqlExpr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(
                expr,
                pattern,
                escape_char.as_deref(),
                *negated,
                false,
                range,
            ),
            SqlExpr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(expr, pattern, escape_char.as_deref(), *negated, true, range),
            SqlExpr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                range,
            ),
            SqlExpr::Cast {
                kind,
                expr,
                data_type,
                format: None,
            } => self.cast(kind, expr, data_type, range),
            SqlExpr::Ceil {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call_exprs("ceil", range, range, &[expr]),
            SqlExpr::Floor {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call_exprs("floor", range, range, &[expr]),
            SqlExpr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => self.substring(
                expr,
                substring_from.as_deref(),
                substring_for.as_deref(),
                range,
            ),
            SqlExpr::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => self.trim(
                trim_where.as_ref(),
                trim_what.as_deref(),
                expr,
                trim_characters.as_deref(),
                range,
            ),
            SqlExpr::Function(f) => self.function(f, range),
            SqlExpr::Like { any: true, .. } | SqlExpr::ILike { any: true, .. } => {
                Err(self.unsupported("LIKE ANY is", e))
            }
            SqlExpr::Subquery(_) | SqlExpr::Exists { .. } | SqlExpr::InSubquery { .. } => {
                Err(self.unsupported("subqueries are", e))
            }
            SqlExpr::Tuple(_) => Err(self.unsupported("tuples are", e)),
            SqlExpr::Array(_) => Err(self.unsupported("array literals are", e)),
            SqlExpr::TypedString(_) | SqlExpr::Interval(_) => {
                Err(self.unsupported("typed literals (DATE '...', INTERVAL ...) are", e))
            }
            _ => {
                let mut shown = e.to_string();
                if shown.len() > 40 {
                    let mut cut = 37;
                    while !shown.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    shown.truncate(cut);
                    shown.push_str("...");
                }
                Err(self.unsupported(&format!("the expression `{shown}` is"), e))
            }
        }
    }

    fn nested(&mut self, inner: &SqlExpr, range: Range) -> Result<Typed, ExprError> {
        let t = self.expr(inner)?;
        Ok(typed(t.node, t.ty, range))
    }

    pub(super) fn literal(
        &self,
        v: &SqlValue,
        negative: bool,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let (value, ty) = match v {
            SqlValue::Number(n, _) => {
                let digits: String = n.chars().filter(|c| *c != '_').collect();
                let signed = if negative {
                    format!("-{digits}")
                } else {
                    digits
                };
                if signed.contains(['.', 'e', 'E']) {
                    match signed.parse::<f64>() {
                        Ok(f) if f.is_finite() => (Value::Float(F64(f)), Type::Float),
                        _ => return Err(ExprError::new(format!("invalid number `{n}`"), range)),
                    }
                } else {
                    match signed.parse::<i64>() {
                        Ok(i) => (Value::Int(i), Type::Int),
                        Err(_) => {
                            return Err(ExprError::new(
                                format!("integer `{signed}` is out of range"),
                                range,
                            ));
                        }
                    }
                }
            }
            SqlValue::Boolean(b) => (Value::Bool(*b), Type::Bool),
            SqlValue::Null => (Value::Null, Type::Null),
            SqlValue::HexStringLiteral(_)
            | SqlValue::SingleQuotedByteStringLiteral(_)
            | SqlValue::DoubleQuotedByteStringLiteral(_)
            | SqlValue::TripleSingleQuotedByteStringLiteral(_)
            | SqlValue::TripleDoubleQuotedByteStringLiteral(_) => {
                return Err(ExprError::new(
                    "byte string literals are not supported",
                    range,
                ));
            }
            other => match other.clone().into_string() {
                Some(s) => (Value::from(s), Type::Str),
                None => {
                    return Err(ExprError::new(
                        format!("unsupported literal `{other}`"),
                        range,
                    ));
                }
            },
        };
        Ok(typed(Node::Lit(value), ty, range))
    }
}

pub(super) fn want_bool(op: &str, t: &Typed) -> Result<(), ExprError> {
    if t.ty.fits(Type::Bool) {
        Ok(())
    } else {
        Err(ExprError::new(
            format!("{op} expects a bool, got {}", t.ty.name()),
            t.range,
        ))
    }
}

pub(super) fn want_str(op: &str, t: &Typed) -> Result<(), ExprError> {
    if t.ty.fits(Type::Str) {
        Ok(())
    } else {
        Err(ExprError::new(
            format!("{op} expects a string, got {}", t.ty.name()),
            t.range,
        ))
    }
}
