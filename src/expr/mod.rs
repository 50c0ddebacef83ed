//! The expression language: SQL expression syntax, parsed once with `sqlparser`, type-checked
//! against a [`Schema`] and compiled into a closure tree evaluated over a [`Row`].
//!
//! (Interface fixed; implementation in progress.)

use crate::schema::{Schema, Type};
use crate::value::{Row, Value};

/// A compiled expression. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Expr {
    text: String,
    ty: Type,
}

/// A load-time error: `offset`/`len` are a byte range in the expression text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    pub suggestion: Option<String>,
}

/// A run-time error evaluating one record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
}

impl Expr {
    pub fn compile(text: &str, schema: &Schema) -> Result<Expr, ExprError> {
        let _ = schema;
        Err(ExprError { message: format!("not yet: {text}"), offset: 0, len: 0, suggestion: None })
    }
    pub fn eval(&self, row: &Row) -> Result<Value, EvalError> {
        let _ = row;
        Err(EvalError { message: "not yet".into() })
    }
    pub fn ty(&self) -> Type { self.ty }
    pub fn text(&self) -> &str { &self.text }
    pub fn as_field(&self) -> Option<usize> { None }
}
