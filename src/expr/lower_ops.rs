//! Lowering of operators: arithmetic, comparison, logic, IS, IN, BETWEEN and LIKE, with
//! their compile-time type checks.

use sqlparser::ast::{BinaryOperator, Expr as SqlExpr, UnaryOperator, Value as SqlValue};

use crate::schema::Type;
use crate::value::Value;

use super::ExprError;
use super::like::LikePattern;
use super::node::{ArithOp, CmpOp, IsTest, Like, Node, Typed};
use super::parse::{Compiler, boxed, comparable, typed, want_bool, want_str};
use super::span::Range;

impl Compiler<'_> {
    pub(super) fn unary(
        &mut self,
        op: &UnaryOperator,
        x: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
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

    pub(super) fn binary(
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
        match op {
            BinaryOperator::Arrow => return self.arrow(left, false, right, range),
            BinaryOperator::LongArrow => return self.arrow(left, true, right, range),
            BinaryOperator::And | BinaryOperator::Or => {
                return self.logic(left, op, right, range);
            }
            _ => {}
        }
        let supported =
            arith.is_some() || cmp.is_some() || matches!(op, BinaryOperator::StringConcat);
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
        Ok(typed(Node::Concat(boxed(a), boxed(b)), Type::Str, range))
    }

    /// A chain `a AND b AND c` (or OR) as one n-ary node. The chain's left spine is walked
    /// iteratively, so long chains neither recurse deeply here nor nest in the tree.
    fn logic(
        &mut self,
        left: &SqlExpr,
        op: &BinaryOperator,
        right: &SqlExpr,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let mut operands = vec![right];
        let mut cur = left;
        while let SqlExpr::BinaryOp { left, op: o, right } = cur
            && o == op
        {
            operands.push(right);
            cur = left;
        }
        operands.push(cur);
        operands.reverse();
        let is_and = *op == BinaryOperator::And;
        let name = if is_and { "AND" } else { "OR" };
        let mut nodes = Vec::with_capacity(operands.len());
        for o in operands {
            let t = self.expr(o)?;
            want_bool(name, &t)?;
            match t.node {
                Node::And(list) if is_and => nodes.extend(list),
                Node::Or(list) if !is_and => nodes.extend(list),
                node => nodes.push(node),
            }
        }
        let nodes = nodes.into_boxed_slice();
        let node = if is_and {
            Node::And(nodes)
        } else {
            Node::Or(nodes)
        };
        Ok(typed(node, Type::Bool, range))
    }

    pub(super) fn is(
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

    pub(super) fn distinct(
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

    pub(super) fn in_list(
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

    pub(super) fn between(
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

    pub(super) fn like(
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
}
