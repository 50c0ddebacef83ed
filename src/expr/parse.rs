//! Parsing and lowering: expression text → `sqlparser` AST → typed [`Node`] tree.
//!
//! Names resolve against the schema here (the longest dotted prefix naming a field wins; the
//! rest is a JSON path), types are checked, literals are converted, and every error carries
//! the byte range of the offending sub-expression.

use sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, CeilFloorKind, DataType, DateTimeField, Expr as SqlExpr,
    Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectNamePart, Subscript,
    TrimWhereField, UnaryOperator, Value as SqlValue,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::schema::{Schema, Type};
use crate::value::{F64, Value};

use super::ExprError;
use super::functions::{self, article, coerce, unify};
use super::node::{ArithOp, CastTo, CmpOp, IsTest, Like, Node, Step, Typed};
use super::ops::{LikePattern, cast_name};
use super::span::{Range, Spans, join};
use super::suggest::did_you_mean;

/// Deepest nesting of sub-expressions accepted (keeps evaluation's recursion bounded).
const MAX_DEPTH: usize = 256;
/// Most tokens accepted in one expression.
const MAX_TOKENS: usize = 20_000;

/// Compiles `text` against `schema` into a node tree and its static type.
pub(crate) fn compile(text: &str, schema: &Schema) -> Result<(Node, Type), ExprError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, text)
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
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let ast = parser.parse_expr().map_err(|e| parse_error(&spans, e))?;
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
        spans: &spans,
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
    let (msg, range) = match msg.rsplit_once(" at Line: ") {
        Some((head, loc)) => match loc.split_once(", Column: ") {
            Some((l, c)) => match (l.parse::<u64>(), c.trim().parse::<u64>()) {
                (Ok(line), Ok(column)) => (
                    head.to_string(),
                    spans.token_at(Location::new(line, column)),
                ),
                _ => (msg.clone(), spans.end()),
            },
            None => (msg.clone(), spans.end()),
        },
        None => (msg.clone(), spans.end()),
    };
    let msg = msg
        .replace("Expected: ", "expected ")
        .replace(", found: EOF", ", found the end of the expression")
        .replace(", found: ", ", found ");
    ExprError::new(format!("syntax error: {msg}"), range)
}

struct Compiler<'a> {
    schema: &'a Schema,
    names: Vec<&'a str>,
    spans: &'a Spans<'a>,
    depth: usize,
}

fn typed(node: Node, ty: Type, range: Range) -> Typed {
    Typed { node, ty, range }
}

fn boxed(t: Typed) -> Box<Node> {
    Box::new(t.node)
}

/// True when values of these static types may be compared.
fn comparable(a: Type, b: Type) -> bool {
    matches!(a, Type::Json | Type::Null)
        || matches!(b, Type::Json | Type::Null)
        || a == b
        || (a.is_numeric() && b.is_numeric())
}

/// True when a value of this static type can have a JSON path applied.
fn pathable(t: Type) -> bool {
    matches!(t, Type::Json | Type::Map | Type::List | Type::Null)
}

impl Compiler<'_> {
    fn expr(&mut self, e: &SqlExpr) -> Result<Typed, ExprError> {
        let marker = 0u8;
        if std::env::var("PROBE_ADDR").is_ok() { eprintln!("depth {} addr {:p}", self.depth, &marker); }
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            Err(ExprError::new(
                "expression is too deeply nested",
                self.spans.of(e),
            ))
        } else {
            self.lower(e)
        };
        self.depth -= 1;
        r
    }

    fn unsupported(&self, what: &str, e: &SqlExpr) -> ExprError {
        ExprError::new(format!("unsupported {what}"), self.spans.of(e))
    }

    fn lower(&mut self, e: &SqlExpr) -> Result<Typed, ExprError> {
        let range = self.spans.of(e);
        Ok(match e {
            SqlExpr::Identifier(id) => self.field_path(std::slice::from_ref(id), &[], range)?,
            SqlExpr::CompoundIdentifier(ids) => self.field_path(ids, &[], range)?,
            SqlExpr::CompoundFieldAccess { root, access_chain } => {
                self.field_access(root, access_chain, range)?
            }
            SqlExpr::Value(v) => self.literal(&v.value, false, range)?,
            SqlExpr::Nested(inner) => {
                let t = self.expr(inner)?;
                typed(t.node, t.ty, range)
            }
            SqlExpr::UnaryOp { op, expr } => self.unary(op, expr, range)?,
            SqlExpr::BinaryOp { left, op, right } => self.binary(left, op, right, range)?,
            SqlExpr::IsNull(x) => self.is(IsTest::Null, false, x, range)?,
            SqlExpr::IsNotNull(x) => self.is(IsTest::Null, true, x, range)?,
            SqlExpr::IsTrue(x) => self.is(IsTest::True, false, x, range)?,
            SqlExpr::IsNotTrue(x) => self.is(IsTest::True, true, x, range)?,
            SqlExpr::IsFalse(x) => self.is(IsTest::False, false, x, range)?,
            SqlExpr::IsNotFalse(x) => self.is(IsTest::False, true, x, range)?,
            SqlExpr::IsUnknown(x) => self.is(IsTest::Null, false, x, range)?,
            SqlExpr::IsNotUnknown(x) => self.is(IsTest::Null, true, x, range)?,
            SqlExpr::IsDistinctFrom(a, b) => self.distinct(false, a, b, range)?,
            SqlExpr::IsNotDistinctFrom(a, b) => self.distinct(true, a, b, range)?,
            SqlExpr::InList {
                expr,
                list,
                negated,
            } => self.in_list(expr, list, *negated, range)?,
            SqlExpr::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, low, high, *negated, range)?,
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
            )?,
            SqlExpr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(expr, pattern, escape_char.as_deref(), *negated, true, range)?,
            SqlExpr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let arms: Vec<(&SqlExpr, &SqlExpr)> = conditions
                    .iter()
                    .map(|w| (&w.condition, &w.result))
                    .collect();
                self.case(operand.as_deref(), &arms, else_result.as_deref(), range)?
            }
            SqlExpr::Cast {
                kind,
                expr,
                data_type,
                format: None,
            } => self.cast(kind, expr, data_type, range)?,
            SqlExpr::Ceil {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call_exprs("ceil", range, range, &[expr])?,
            SqlExpr::Floor {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call_exprs("floor", range, range, &[expr])?,
            SqlExpr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr)?];
                match (substring_from, substring_for) {
                    (Some(from), _) => args.push(self.expr(from)?),
                    (None, Some(_)) => args.push(typed(Node::Lit(Value::Int(1)), Type::Int, range)),
                    (None, None) => {}
                }
                if let Some(len) = substring_for {
                    args.push(self.expr(len)?);
                }
                functions::compile("substr", range, range, args)?
            }
            SqlExpr::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                let name = match trim_where {
                    None | Some(TrimWhereField::Both) => "trim",
                    Some(TrimWhereField::Leading) => "ltrim",
                    Some(TrimWhereField::Trailing) => "rtrim",
                };
                let mut args: Vec<&SqlExpr> = vec![expr];
                args.extend(trim_what.as_deref());
                args.extend(trim_characters.iter().flatten());
                self.call_exprs(name, range, range, &args)?
            }
            SqlExpr::Function(f) => self.function(f, range)?,
            SqlExpr::Like { any: true, .. } | SqlExpr::ILike { any: true, .. } => {
                return Err(self.unsupported("LIKE ANY", e));
            }
            SqlExpr::Subquery(_) | SqlExpr::Exists { .. } | SqlExpr::InSubquery { .. } => {
                return Err(self.unsupported("subquery in an expression", e));
            }
            _ => return Err(self.unsupported("expression", e)),
        })
    }

    fn literal(&self, v: &SqlValue, negative: bool, range: Range) -> Result<Typed, ExprError> {
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
                Some(s) => (Value::Str(s), Type::Str),
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

    /// A dotted identifier, optionally followed by more path steps (`a.b[0].c`).
    fn field_path(
        &mut self,
        idents: &[Ident],
        chain: &[AccessExpr],
        range: Range,
    ) -> Result<Typed, ExprError> {
        let parts: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
        for k in (1..=parts.len()).rev() {
            let Some(index) = self.schema.index_of(&parts[..k].join(".")) else {
                continue;
            };
            let field = self.schema.field(index);
            let mut steps: Vec<Step> = parts[k..]
                .iter()
                .map(|p| Step::Key(p.to_string()))
                .collect();
            for a in chain {
                steps.push(self.step(a)?);
            }
            if steps.is_empty() {
                return Ok(typed(Node::Field(index), field.ty, range));
            }
            if !pathable(field.ty) {
                let at = self.ident_range(&idents[..k]);
                return Err(ExprError::new(
                    format!(
                        "field `{}` is {}, so it has no fields or elements",
                        field.name,
                        article(field.ty.name())
                    ),
                    at,
                ));
            }
            return Ok(typed(
                Node::Path(Box::new(Node::Field(index)), steps.into_boxed_slice()),
                Type::Json,
                range,
            ));
        }
        Err(self.unknown_field(idents))
    }

    fn ident_range(&self, idents: &[Ident]) -> Range {
        idents
            .iter()
            .filter_map(|i| self.spans.span(i.span))
            .reduce(join)
            .unwrap_or_else(|| self.spans.all())
    }

    /// "unknown field" for the shortest prefix of `idents` that starts no field name.
    fn unknown_field(&self, idents: &[Ident]) -> ExprError {
        let parts: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
        let mut k = 1;
        while k < parts.len() {
            let dotted = format!("{}.", parts[..k].join("."));
            if !self.names.iter().any(|n| n.starts_with(&dotted)) {
                break;
            }
            k += 1;
        }
        let name = parts[..k].join(".");
        // Candidates: field names, and their dotted prefixes with as many parts as `name`.
        let mut candidates: Vec<String> = self.names.iter().map(|n| n.to_string()).collect();
        for n in &self.names {
            let pre: Vec<&str> = n.split('.').take(k).collect();
            if pre.len() == k {
                candidates.push(pre.join("."));
            }
        }
        let cands: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let dotted = format!("{name}.");
        let suggestion = did_you_mean(&name, &cands).or_else(|| {
            let under = self.names.iter().find(|n| n.starts_with(&dotted))?;
            Some(format!("did you mean `{under}`?"))
        });
        ExprError::new(
            format!("unknown field `{name}`"),
            self.ident_range(&idents[..k]),
        )
        .with_suggestion(suggestion)
    }

    /// `root.a[0]...` where `root` is an identifier (resolved as a field) or any expression.
    fn field_access(
        &mut self,
        root: &SqlExpr,
        chain: &[AccessExpr],
        range: Range,
    ) -> Result<Typed, ExprError> {
        let mut idents: Vec<Ident> = match root {
            SqlExpr::Identifier(id) => vec![id.clone()],
            SqlExpr::CompoundIdentifier(ids) => ids.clone(),
            _ => {
                let base = self.expr(root)?;
                if !pathable(base.ty) {
                    return Err(ExprError::new(
                        format!("{} has no fields or elements", article(base.ty.name())),
                        base.range,
                    ));
                }
                let steps = chain
                    .iter()
                    .map(|a| self.step(a))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(typed(
                    Node::Path(boxed(base), steps.into_boxed_slice()),
                    Type::Json,
                    range,
                ));
            }
        };
        // Leading `.name` accesses are part of the (possibly dotted) field name.
        let mut rest = chain;
        while let Some((AccessExpr::Dot(SqlExpr::Identifier(id)), tail)) = rest.split_first() {
            idents.push(id.clone());
            rest = tail;
        }
        self.field_path(&idents, rest, range)
    }

    /// One path step after a field: `.name`, `[0]`, `['key']` or `[expr]`.
    fn step(&mut self, a: &AccessExpr) -> Result<Step, ExprError> {
        match a {
            AccessExpr::Dot(SqlExpr::Identifier(id)) => Ok(Step::Key(id.value.clone())),
            AccessExpr::Dot(other) => Err(self.unsupported("field access", other)),
            AccessExpr::Subscript(Subscript::Index { index }) => self.subscript(index),
            AccessExpr::Subscript(Subscript::Slice { .. }) => {
                let at = self.spans.all();
                Err(ExprError::new("list slices are not supported", at))
            }
        }
    }

    fn subscript(&mut self, index: &SqlExpr) -> Result<Step, ExprError> {
        let t = self.expr(index)?;
        Ok(match t.node {
            Node::Lit(Value::Int(i)) => Step::Index(i),
            Node::Lit(Value::Str(s)) => Step::Key(s),
            node if matches!(t.ty, Type::Int | Type::Str | Type::Json | Type::Null) => {
                Step::Dyn(node)
            }
            _ => {
                return Err(ExprError::new(
                    format!(
                        "a subscript must be an int or a string, got {}",
                        t.ty.name()
                    ),
                    t.range,
                ));
            }
        })
    }

    fn unary(&mut self, op: &UnaryOperator, x: &SqlExpr, range: Range) -> Result<Typed, ExprError> {
        match op {
            UnaryOperator::Minus => {
                // Fold `-literal` so that i64::MIN is expressible.
                if let SqlExpr::Value(v) = x
                    && matches!(v.value, SqlValue::Number(..))
                {
                    return self.literal(&v.value, true, range);
                }
                let t = self.expr(x)?;
                self.want_number("-", &t)?;
                let ty = t.ty;
                Ok(typed(Node::Neg(boxed(t)), ty, range))
            }
            UnaryOperator::Plus => {
                let t = self.expr(x)?;
                self.want_number("+", &t)?;
                Ok(typed(t.node, t.ty, range))
            }
            UnaryOperator::Not => {
                let t = self.expr(x)?;
                want_bool("NOT", &t)?;
                Ok(typed(Node::Not(boxed(t)), Type::Bool, range))
            }
            other => Err(ExprError::new(
                format!("unsupported operator `{other}`"),
                range,
            )),
        }
    }

    fn want_number(&self, op: &str, t: &Typed) -> Result<(), ExprError> {
        if t.ty.is_numeric() {
            Ok(())
        } else {
            Err(ExprError::new(
                format!("`{op}` expects a number, got {}", t.ty.name()),
                t.range,
            ))
        }
    }

    fn binary(
        &mut self,
        left: &SqlExpr,
        op: &BinaryOperator,
        right: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let arith = match op {
            BinaryOperator::Plus => Some(ArithOp::Add),
            BinaryOperator::Minus => Some(ArithOp::Sub),
            BinaryOperator::Multiply => Some(ArithOp::Mul),
            BinaryOperator::Divide => Some(ArithOp::Div),
            BinaryOperator::Modulo => Some(ArithOp::Rem),
            _ => None,
        };
        let cmp = match op {
            BinaryOperator::Eq => Some(CmpOp::Eq),
            BinaryOperator::NotEq => Some(CmpOp::Ne),
            BinaryOperator::Lt => Some(CmpOp::Lt),
            BinaryOperator::LtEq => Some(CmpOp::Le),
            BinaryOperator::Gt => Some(CmpOp::Gt),
            BinaryOperator::GtEq => Some(CmpOp::Ge),
            _ => None,
        };
        if matches!(op, BinaryOperator::Arrow | BinaryOperator::LongArrow) {
            return self.arrow(left, matches!(op, BinaryOperator::LongArrow), right, range);
        }
        let supported = arith.is_some()
            || cmp.is_some()
            || matches!(
                op,
                BinaryOperator::And | BinaryOperator::Or | BinaryOperator::StringConcat
            );
        if !supported {
            return Err(ExprError::new(
                format!("unsupported operator `{op}`"),
                range,
            ));
        }
        let a = self.expr(left)?;
        let b = self.expr(right)?;
        if let Some(op) = arith {
            let sym = op.symbol();
            for t in [&a, &b] {
                if !t.ty.is_numeric() {
                    let hint = (op == ArithOp::Add && t.ty == Type::Str)
                        .then(|| "use `||` to concatenate strings".to_string());
                    return Err(ExprError::new(
                        format!("`{sym}` expects numbers, got {}", t.ty.name()),
                        t.range,
                    )
                    .with_suggestion(hint));
                }
            }
            let ty = match (a.ty, b.ty) {
                (Type::Null, _) | (_, Type::Null) => Type::Null,
                (Type::Json, _) | (_, Type::Json) => Type::Json,
                (Type::Int, Type::Int) => Type::Int,
                _ => Type::Float,
            };
            return Ok(typed(Node::Arith(op, boxed(a), boxed(b)), ty, range));
        }
        if let Some(op) = cmp {
            if !comparable(a.ty, b.ty) {
                return Err(ExprError::new(
                    format!(
                        "cannot compare {} with {} using `{}`",
                        a.ty.name(),
                        b.ty.name(),
                        op.symbol()
                    ),
                    range,
                ));
            }
            return Ok(typed(Node::Cmp(op, boxed(a), boxed(b)), Type::Bool, range));
        }
        Ok(match op {
            BinaryOperator::And => {
                want_bool("AND", &a)?;
                want_bool("AND", &b)?;
                typed(Node::And(boxed(a), boxed(b)), Type::Bool, range)
            }
            BinaryOperator::Or => {
                want_bool("OR", &a)?;
                want_bool("OR", &b)?;
                typed(Node::Or(boxed(a), boxed(b)), Type::Bool, range)
            }
            _ => typed(Node::Concat(boxed(a), boxed(b)), Type::Str, range),
        })
    }

    /// `x -> 'key'` (JSON value) and `x ->> 'key'` (its text).
    fn arrow(
        &mut self,
        left: &SqlExpr,
        text: bool,
        right: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let base = self.expr(left)?;
        if !pathable(base.ty) {
            return Err(ExprError::new(
                format!("{} has no fields or elements", article(base.ty.name())),
                base.range,
            ));
        }
        let step = self.subscript(right)?;
        let node = Node::Path(boxed(base), vec![step].into_boxed_slice());
        Ok(if text {
            typed(Node::Text(Box::new(node)), Type::Str, range)
        } else {
            typed(node, Type::Json, range)
        })
    }

    fn is(
        &mut self,
        test: IsTest,
        negated: bool,
        x: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let t = self.expr(x)?;
        if test != IsTest::Null {
            want_bool("IS TRUE/FALSE", &t)?;
        }
        Ok(typed(Node::Is(test, negated, boxed(t)), Type::Bool, range))
    }

    fn distinct(
        &mut self,
        negated: bool,
        a: &SqlExpr,
        b: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let (a, b) = (self.expr(a)?, self.expr(b)?);
        if !comparable(a.ty, b.ty) {
            return Err(ExprError::new(
                format!("cannot compare {} with {}", a.ty.name(), b.ty.name()),
                range,
            ));
        }
        Ok(typed(
            Node::Distinct(negated, boxed(a), boxed(b)),
            Type::Bool,
            range,
        ))
    }

    fn in_list(
        &mut self,
        x: &SqlExpr,
        list: &[SqlExpr],
        negated: bool,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let x = self.expr(x)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            let t = self.expr(item)?;
            if !comparable(x.ty, t.ty) {
                return Err(ExprError::new(
                    format!("cannot compare {} with {}", x.ty.name(), t.ty.name()),
                    t.range,
                ));
            }
            items.push(t.node);
        }
        Ok(typed(
            Node::In {
                expr: boxed(x),
                list: items.into_boxed_slice(),
                negated,
            },
            Type::Bool,
            range,
        ))
    }

    fn between(
        &mut self,
        x: &SqlExpr,
        low: &SqlExpr,
        high: &SqlExpr,
        negated: bool,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let x = self.expr(x)?;
        let low = self.expr(low)?;
        let high = self.expr(high)?;
        for bound in [&low, &high] {
            if !comparable(x.ty, bound.ty) {
                return Err(ExprError::new(
                    format!("cannot compare {} with {}", x.ty.name(), bound.ty.name()),
                    bound.range,
                ));
            }
        }
        Ok(typed(
            Node::Between {
                expr: boxed(x),
                low: boxed(low),
                high: boxed(high),
                negated,
            },
            Type::Bool,
            range,
        ))
    }

    fn like(
        &mut self,
        x: &SqlExpr,
        pattern: &SqlExpr,
        escape: Option<&SqlExpr>,
        negated: bool,
        case_insensitive: bool,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let op = if case_insensitive { "ILIKE" } else { "LIKE" };
        let x = self.expr(x)?;
        want_str(op, &x)?;
        let p = self.expr(pattern)?;
        want_str(op, &p)?;
        let escape = match escape {
            None => None,
            Some(e) => {
                let t = self.expr(e)?;
                let mut chars = match &t.node {
                    Node::Lit(Value::Str(s)) => s.chars(),
                    _ => "".chars(),
                };
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(ExprError::new(
                            "ESCAPE expects a one-character string literal",
                            t.range,
                        ));
                    }
                }
            }
        };
        let pattern = match p.node {
            Node::Lit(Value::Str(s)) => Like::Static(
                LikePattern::new(&s, escape, case_insensitive)
                    .map_err(|m| ExprError::new(m, p.range))?,
            ),
            node => Like::Dynamic {
                pattern: Box::new(node),
                escape,
                case_insensitive,
            },
        };
        Ok(typed(
            Node::Like {
                expr: boxed(x),
                pattern,
                negated,
            },
            Type::Bool,
            range,
        ))
    }

    fn case(
        &mut self,
        operand: Option<&SqlExpr>,
        arms: &[(&SqlExpr, &SqlExpr)],
        default: Option<&SqlExpr>,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let operand = operand.map(|o| self.expr(o)).transpose()?;
        let mut whens = Vec::with_capacity(arms.len());
        let mut results = Vec::with_capacity(arms.len() + 1);
        for (when, then) in arms {
            let w = self.expr(when)?;
            match &operand {
                Some(o) if !comparable(o.ty, w.ty) => {
                    return Err(ExprError::new(
                        format!("cannot compare {} with {}", o.ty.name(), w.ty.name()),
                        w.range,
                    ));
                }
                Some(_) => {}
                None => want_bool("CASE WHEN", &w)?,
            }
            whens.push(w.node);
            results.push(self.expr(then)?);
        }
        let default = default.map(|d| self.expr(d)).transpose()?;
        let ty = unify(results.iter().chain(&default).map(|t| t.ty));
        let arms: Vec<(Node, Node)> = whens
            .into_iter()
            .zip(results)
            .map(|(w, r)| (w, coerce(r, ty).node))
            .collect();
        Ok(typed(
            Node::Case {
                operand: operand.map(boxed),
                arms: arms.into_boxed_slice(),
                default: default.map(|d| boxed(coerce(d, ty))),
            },
            ty,
            range,
        ))
    }

    fn cast(
        &mut self,
        kind: &CastKind,
        x: &SqlExpr,
        data_type: &DataType,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let to = match data_type {
            DataType::Int(_)
            | DataType::Integer(_)
            | DataType::BigInt(_)
            | DataType::SmallInt(_)
            | DataType::TinyInt(_)
            | DataType::Int2(_)
            | DataType::Int4(_)
            | DataType::Int8(_)
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Signed
            | DataType::SignedInteger => CastTo::Int,
            DataType::Double(_)
            | DataType::DoublePrecision
            | DataType::Float(_)
            | DataType::Float4
            | DataType::Float8
            | DataType::Float32
            | DataType::Float64
            | DataType::Real => CastTo::Float,
            DataType::Varchar(_)
            | DataType::Nvarchar(_)
            | DataType::CharVarying(_)
            | DataType::CharacterVarying(_)
            | DataType::Text
            | DataType::String(_) => CastTo::Str,
            DataType::Boolean | DataType::Bool => CastTo::Bool,
            other => {
                return Err(ExprError::new(
                    format!(
                        "cannot cast to `{other}` (supported: INT, BIGINT, INTEGER, DOUBLE, \
                         FLOAT, REAL, VARCHAR, TEXT, STRING, BOOLEAN)"
                    ),
                    range,
                ));
            }
        };
        let t = self.expr(x)?;
        let ty = match to {
            CastTo::Int => Type::Int,
            CastTo::Float => Type::Float,
            CastTo::Str => Type::Str,
            CastTo::Bool => Type::Bool,
        };
        if t.ty == ty {
            return Ok(typed(t.node, ty, range));
        }
        if matches!(t.ty, Type::List | Type::Map) && to != CastTo::Str {
            return Err(ExprError::new(
                format!("cannot cast {} to {}", t.ty.name(), cast_name(to)),
                t.range,
            ));
        }
        let lenient = matches!(kind, CastKind::TryCast | CastKind::SafeCast);
        Ok(typed(
            Node::Cast {
                expr: boxed(t),
                to,
                lenient,
            },
            ty,
            range,
        ))
    }

    fn function(&mut self, f: &Function, range: Range) -> Result<Typed, ExprError> {
        let name_range = self
            .spans
            .span(sqlparser::ast::Spanned::span(&f.name))
            .unwrap_or(range);
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(id)] => id.value.as_str(),
            _ => return Err(ExprError::new("unsupported function name", name_range)),
        };
        if f.filter.is_some()
            || f.over.is_some()
            || f.null_treatment.is_some()
            || !f.within_group.is_empty()
            || f.uses_odbc_syntax
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err(ExprError::new(
                format!("unsupported clause in call of `{name}`"),
                range,
            ));
        }
        let args: Vec<&SqlExpr> = match &f.args {
            FunctionArguments::None => Vec::new(),
            FunctionArguments::Subquery(_) => {
                return Err(ExprError::new("subqueries are not supported", range));
            }
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(ExprError::new(
                        format!("unsupported clause in call of `{name}`"),
                        range,
                    ));
                }
                let mut args = Vec::with_capacity(list.args.len());
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e),
                        _ => {
                            return Err(ExprError::new(
                                format!("unsupported argument in call of `{name}`"),
                                range,
                            ));
                        }
                    }
                }
                args
            }
        };
        self.call_exprs(name, name_range, range, &args)
    }

    fn call_exprs(
        &mut self,
        name: &str,
        name_range: Range,
        range: Range,
        args: &[&SqlExpr],
    ) -> Result<Typed, ExprError> {
        let args = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>, _>>()?;
        functions::compile(name, name_range, range, args)
    }
}

fn want_bool(op: &str, t: &Typed) -> Result<(), ExprError> {
    if t.ty.fits(Type::Bool) {
        Ok(())
    } else {
        Err(ExprError::new(
            format!("{op} expects a bool, got {}", t.ty.name()),
            t.range,
        ))
    }
}

fn want_str(op: &str, t: &Typed) -> Result<(), ExprError> {
    if t.ty.fits(Type::Str) {
        Ok(())
    } else {
        Err(ExprError::new(
            format!("{op} expects a string, got {}", t.ty.name()),
            t.range,
        ))
    }
}
