//! The expression language: SQL expression syntax, parsed once with `sqlparser`, type-checked
//! against a [`Schema`] and compiled into a tree of `Node`s (`node.rs`) evaluated over a [`Row`].
//!
//! Layout of the module:
//! - `span.rs`: token table and byte ranges of `sqlparser` AST nodes (for error positions);
//! - `parse.rs`: parses with `sqlparser` and lowers the AST into the typed node tree, with
//!   `lower_fields.rs` (names, JSON paths), `lower_ops.rs` (operators) and `lower_calls.rs`
//!   (CASE, CAST, function calls); every error is an [`ExprError`] with a byte range;
//! - `node.rs`: the compiled tree (with the resolved functions and compiled LIKE patterns of
//!   `like.rs` in its nodes);
//! - `eval.rs`: evaluates the tree over a row, with `numbers.rs` folding arithmetic without
//!   values;
//! - `ops.rs`: operator semantics shared by evaluation (arithmetic, comparison, casts);
//! - `functions.rs`: the built-in functions' catalogue and type checks; `builtins.rs`: their
//!   evaluation, handed the evaluator for their arguments, with `intern.rs` sharing their
//!   short string results;
//!
//! Imports go one way: `node` uses only `like`; `ops`, `functions` and `builtins` use
//! `node` (and `builtins` uses `ops`); `numbers` uses `node`, `ops` and `eval`'s leaves;
//! `eval` uses `node`, `like`, `ops`, `builtins` and `numbers`.
//! - `suggest.rs`: "did you mean" by edit distance;
//! - `analysis.rs`: the fields an expression reads, and whether it can fail (for plans that
//!   narrow rows).
//!
//! Fields resolve by name to row positions when compiling, so evaluating `value.amount` is an
//! index and a map lookup. A field name may contain dots (`orders.value` after a join): for a
//! dotted identifier the longest prefix that names a field wins and the rest is a JSON path.

mod analysis;
mod builtins;
mod eval;
mod functions;
mod intern;
mod like;
mod lower_calls;
mod lower_fields;
mod lower_ops;
mod node;
mod numbers;
mod ops;
mod own_copy;
mod parse;
mod span;
mod suggest;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

use std::sync::Arc;

use crate::schema::{Schema, Type};
use crate::value::{Row, Value};

pub use analysis::Shape;
pub(crate) use parse::parser_message;
pub use suggest::{did_you_mean, edit_distance, suggest};

/// A compiled expression. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Expr {
    text: Arc<str>,
    ty: Type,
    root: Arc<node::Node>,
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

impl ExprError {
    pub(crate) fn new(message: impl Into<String>, range: (usize, usize)) -> ExprError {
        ExprError {
            message: message.into(),
            offset: range.0,
            len: range.1.saturating_sub(range.0),
            suggestion: None,
        }
    }

    pub(crate) fn with_suggestion(mut self, suggestion: Option<String>) -> ExprError {
        self.suggestion = suggestion;
        self
    }
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> EvalError {
        EvalError {
            message: message.into(),
        }
    }
}

impl Expr {
    /// Parses `text`, resolves its fields against `schema` and type-checks it.
    pub fn compile(text: &str, schema: &Schema) -> Result<Expr, ExprError> {
        let (root, ty) = parse::compile(text, schema)?;
        Ok(Expr {
            text: Arc::from(text),
            ty,
            root: Arc::new(root),
        })
    }

    /// Evaluates the expression over one row (positions as in the compile-time schema).
    pub fn eval(&self, row: &Row) -> Result<Value, EvalError> {
        // NB: a leaf — a field, a literal, `value.name`, the commonest expressions of all —
        // without the interpreter's dispatch: a pipeline evaluates it for every row.
        match eval::leaf(&self.root, row) {
            Some(value) => Ok(value.clone()),
            None => eval::eval(&self.root, row).map(std::borrow::Cow::into_owned),
        }
    }

    /// Evaluates the expression as a filter predicate: true only for `Bool(true)`.
    pub fn eval_predicate(&self, row: &Row) -> Result<bool, EvalError> {
        eval::predicate(&self.root, row)
    }

    /// The static result type.
    pub fn ty(&self) -> Type {
        self.ty
    }

    /// The source text the expression was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the expression is a leaf: a field, a literal or one key into a field, which
    /// [`Self::eval`] reads without the interpreter.
    pub fn is_leaf(&self) -> bool {
        eval::is_leaf(&self.root)
    }

    /// `Some(i)` if the expression is exactly a reference to field `i`.
    pub fn as_field(&self) -> Option<usize> {
        match &*self.root {
            node::Node::Field(i) => Some(*i),
            _ => None,
        }
    }

    /// The value of the expression if it does not depend on the row (a literal).
    pub fn as_constant(&self) -> Option<&Value> {
        match &*self.root {
            node::Node::Lit(v) => Some(v),
            _ => None,
        }
    }
}

/// True only for `Bool(true)`: how filters treat a predicate's value (NULL is not true).
pub fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}
