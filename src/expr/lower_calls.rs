//! Lowering of CASE, CAST and function calls (including the special syntax `sqlparser` has
//! for SUBSTRING, TRIM, CEIL and FLOOR).

use sqlparser::ast::{
    CaseWhen, CastKind, DataType, Expr as SqlExpr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, ObjectNamePart, TrimWhereField,
};

use crate::schema::Type;
use crate::value::Value;

use super::ExprError;
use super::functions::{self, coerce, unify};
use super::node::{CastTo, Node, Typed};
use super::ops::cast_name;
use super::parse::{Compiler, boxed, comparable, typed, want_bool};
use super::span::Range;

impl Compiler<'_> {
    pub(super) fn case(
        &mut self,
        operand: Option<&SqlExpr>,
        arms: &[CaseWhen],
        default: Option<&SqlExpr>,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let operand = operand.map(|o| self.expr(o)).transpose()?;
        let mut whens = Vec::with_capacity(arms.len());
        let mut results = Vec::with_capacity(arms.len() + 1);
        for CaseWhen {
            condition: when,
            result: then,
        } in arms
        {
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

    pub(super) fn cast(
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

    pub(super) fn function(&mut self, f: &Function, range: Range) -> Result<Typed, ExprError> {
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

    pub(super) fn call_exprs(
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

    pub(super) fn substring(
        &mut self,
        x: &SqlExpr,
        from: Option<&SqlExpr>,
        len: Option<&SqlExpr>,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let mut args = vec![self.expr(x)?];
        match (from, len) {
            (Some(from), _) => args.push(self.expr(from)?),
            (None, Some(_)) => args.push(typed(Node::Lit(Value::Int(1)), Type::Int, range)),
            (None, None) => {}
        }
        if let Some(len) = len {
            args.push(self.expr(len)?);
        }
        functions::compile("substr", range, range, args)
    }

    pub(super) fn trim(
        &mut self,
        side: Option<&TrimWhereField>,
        what: Option<&SqlExpr>,
        x: &SqlExpr,
        characters: Option<&[SqlExpr]>,
        range: Range,
    ) -> Result<Typed, ExprError> {
        let name = match side {
            None | Some(TrimWhereField::Both) => "trim",
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
        };
        let mut args: Vec<&SqlExpr> = vec![x];
        args.extend(what);
        args.extend(characters.into_iter().flatten());
        self.call_exprs(name, range, range, &args)
    }
}
