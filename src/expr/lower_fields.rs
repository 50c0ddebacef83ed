//! Lowering of names and paths: dotted identifiers resolve to fields (the longest prefix
//! that names a field wins, the rest is a JSON path), subscripts and `->` / `->>` become path
//! steps, and unknown names get "did you mean" suggestions.

use sqlparser::ast::{AccessExpr, Expr as SqlExpr, Ident, Subscript};

use crate::schema::Type;
use crate::value::Value;

use super::ExprError;
use super::functions::article;
use super::node::{Node, PathKey, Step, Typed};
use super::parse::{Compiler, boxed, pathable, typed};
use super::span::{Range, join};
use super::suggest::did_you_mean;

impl Compiler<'_> {
    /// A dotted identifier, optionally followed by more path steps (`a.b[0].c`).
    pub(super) fn field_path(
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
                .map(|p| Step::Key(PathKey::new(*p)))
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
    pub(super) fn field_access(
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
            AccessExpr::Dot(SqlExpr::Identifier(id)) => {
                Ok(Step::Key(PathKey::new(id.value.as_str())))
            }
            AccessExpr::Dot(other) => Err(self.unsupported("this field access is", other)),
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
            Node::Lit(Value::Str(s)) => Step::Key(PathKey::new(&*s)),
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

    /// `x -> 'key'` (JSON value) and `x ->> 'key'` (its text).
    pub(super) fn arrow(
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
}
