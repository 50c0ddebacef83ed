//! Schemas: the names and static types of a row's fields, fixed when a plan is built.
//!
//! Types are checked at load time so that `lower(value.amount) + 1` is rejected with a line
//! and column before anything runs. JSON documents (`value`, `old`) are `Type::Json`: their
//! shape is only known at run time, so paths into them type as `Json` and a bad use of one
//! becomes a row on the pipeline's error output instead.

use serde::{Deserialize, Serialize};

/// The static type of a field or expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    Null,
    Bool,
    Int,
    Float,
    Str,
    List,
    Map,
    /// Known only at run time: a JSON document or a path into one.
    Json,
}

impl Type {
    /// True when a value of this type may be used where `want` is expected.
    pub fn fits(self, want: Type) -> bool {
        self == want
            || self == Type::Json
            || self == Type::Null
            || want == Type::Json
            || (want == Type::Float && self == Type::Int)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Json | Type::Null)
    }

    pub fn name(self) -> &'static str {
        match self {
            Type::Null => "null",
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Float => "float",
            Type::Str => "string",
            Type::List => "list",
            Type::Map => "map",
            Type::Json => "json",
        }
    }
}

/// One named, typed field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub ty: Type,
}

/// The fields of a row, in position order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub fields: Vec<Field>,
}

impl Schema {
    pub fn new(fields: impl IntoIterator<Item = (impl Into<String>, Type)>) -> Schema {
        Schema {
            fields: fields
                .into_iter()
                .map(|(name, ty)| Field {
                    name: name.into(),
                    ty,
                })
                .collect(),
        }
    }

    /// The position of the field called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    pub fn field(&self, index: usize) -> &Field {
        &self.fields[index]
    }

    pub fn names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Fields of the events view: every change, append-only.
    pub fn events() -> Schema {
        Schema::new([
            ("key", Type::Str),
            ("ts", Type::Int),
            ("kind", Type::Str),
            ("seq", Type::Int),
            ("value", Type::Json),
            ("old", Type::Json),
        ])
    }

    /// Fields of the table view: the live state of each key.
    pub fn table() -> Schema {
        Schema::new([
            ("key", Type::Str),
            ("ts", Type::Int),
            ("seq", Type::Int),
            ("value", Type::Json),
        ])
    }
}

/// The field positions of the two source views (see [`Schema::events`], [`Schema::table`]).
pub mod pos {
    pub const KEY: usize = 0;
    pub const TS: usize = 1;
    pub const EVENT_KIND: usize = 2;
    pub const EVENT_SEQ: usize = 3;
    pub const EVENT_VALUE: usize = 4;
    pub const EVENT_OLD: usize = 5;
    pub const TABLE_SEQ: usize = 2;
    pub const TABLE_VALUE: usize = 3;
}
