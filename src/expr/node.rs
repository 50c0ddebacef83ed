//! The compiled expression tree: fields are row positions, literals are values, LIKE patterns
//! and regular expressions are compiled, and functions are resolved, so evaluation never
//! parses or looks up a name.

use std::sync::atomic::{AtomicU8, Ordering};

use regex::Regex;

use crate::value::{FieldName, Value};

use super::like::LikePattern;

/// One node of a compiled expression.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// The value of field `i` of the row.
    Field(usize),
    /// A constant.
    Lit(Value),
    /// A JSON path into the value of `base`; a missing key or index yields NULL.
    Path(Box<Node>, Box<[Step]>),
    /// Unary minus.
    Neg(Box<Node>),
    /// Logical NOT (NULL stays NULL).
    Not(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    /// `a || b`: text concatenation, NULL if either side is NULL.
    Concat(Box<Node>, Box<Node>),
    /// Three-valued AND of all operands (a chain `a AND b AND c` is one node).
    And(Box<[Node]>),
    /// Three-valued OR of all operands.
    Or(Box<[Node]>),
    /// `x IS [NOT] NULL/TRUE/FALSE`.
    Is(IsTest, bool, Box<Node>),
    /// `a IS [NOT] DISTINCT FROM b`: NULL-safe inequality (`negated` = NOT DISTINCT).
    Distinct(bool, Box<Node>, Box<Node>),
    In {
        expr: Box<Node>,
        list: Box<[Node]>,
        negated: bool,
    },
    Between {
        expr: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
        negated: bool,
    },
    Like {
        expr: Box<Node>,
        pattern: Like,
        negated: bool,
    },
    /// Searched CASE (`operand` None) or simple CASE (`CASE x WHEN v ...`).
    Case {
        operand: Option<Box<Node>>,
        arms: Box<[(Node, Node)]>,
        default: Option<Box<Node>>,
    },
    Cast {
        expr: Box<Node>,
        to: CastTo,
        /// TRY_CAST: a failed conversion yields NULL instead of an error.
        lenient: bool,
    },
    Call(Func, Box<[Node]>),
    /// `->>`-style access: the text of a path value (NULL stays NULL).
    Text(Box<Node>),
}

/// A resolved built-in function.
#[derive(Clone, Debug)]
pub(crate) enum Func {
    Lower,
    Upper,
    Length,
    Concat,
    Coalesce,
    NullIf,
    Abs,
    Round,
    Floor,
    Ceil,
    Substr,
    Trim(Side),
    Replace,
    StartsWith,
    EndsWith,
    SplitPart,
    /// `split_part` whose delimiter is one ASCII byte and whose position is positive, both
    /// literals: resolved when the expression is compiled (the arguments stay, for analysis).
    /// The position is 0-based here.
    SplitPartByte(u8, usize),
    /// The pattern, compiled once when the expression is compiled.
    RegexpLike(Box<Regex>),
}

/// Which ends `trim` strips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Both,
    Leading,
    Trailing,
}

/// One step of a JSON path.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// `.name` or `['name']`.
    Key(PathKey),
    /// `[i]`, 0-based.
    Index(i64),
    /// `[expr]`: an integer indexes a list, a string keys a map.
    Dyn(Node),
}

/// A key of a JSON path, with where it was last found.
///
/// The objects one path reads are mostly alike (a source's values have the same fields), so
/// the key is looked for first where it was found the last time, and a small object's scan
/// is one comparison (`ValueMap::get_at`). The place is a hint shared by every worker that
/// evaluates the tree: a relaxed atomic, written only when it changes, so it costs a plain
/// load and the answer never depends on it.
#[derive(Debug)]
pub(crate) struct PathKey {
    pub(crate) name: FieldName,
    pub(crate) last_at: AtomicU8,
}

impl PathKey {
    pub(crate) fn new(name: impl Into<FieldName>) -> PathKey {
        PathKey {
            name: name.into(),
            last_at: AtomicU8::new(0),
        }
    }
}

impl Clone for PathKey {
    fn clone(&self) -> PathKey {
        PathKey {
            name: self.name.clone(),
            last_at: AtomicU8::new(self.last_at.load(Ordering::Relaxed)),
        }
    }
}

/// A LIKE pattern: compiled once when it is a literal.
#[derive(Clone, Debug)]
pub(crate) enum Like {
    Static(LikePattern),
    Dynamic {
        pattern: Box<Node>,
        escape: Option<char>,
        case_insensitive: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IsTest {
    Null,
    True,
    False,
}

/// The target of a CAST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CastTo {
    Int,
    Float,
    Str,
    Bool,
}

/// A compiled sub-expression with its static type and its byte range in the text.
#[derive(Debug)]
pub(crate) struct Typed {
    pub node: Node,
    pub ty: crate::schema::Type,
    pub range: super::span::Range,
}
