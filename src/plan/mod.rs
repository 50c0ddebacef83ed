//! The typed plan every front end lowers into, and that render turns into a dataflow.
//!
//! A [`Plan`] is fully resolved: expressions are compiled against the schema of their input,
//! every node knows its output schema, and references between pipelines are checked. Render
//! never sees raw configuration; `kvflow explain` prints exactly what render will build.
pub mod bounds;
pub mod explain;
pub mod lower;
mod lower_joins;
pub mod node;
pub mod projection;
pub mod sinks;
pub mod windowed;

pub use node::*;
